"""Bounded FluidSynth rendering of MIDI files into a paired, split, resumable corpus."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specdiff.data.midi import read_midi_tracks
from specdiff.data.midi_edit import end_at_last_note, open_midi, save_midi, set_programs, voices
from specdiff.data.problems import Problems
from specdiff.data.rendered import MANIFEST
from specdiff.errors import SpecdiffError

SAMPLE_RATE = 16000
MIDI_SUFFIXES = (".mid", ".midi", ".MID", ".MIDI")
DEFAULT_PROGRAMS = tuple(range(112))  # GM melodic programs; 112-127 are percussive/SFX


@dataclass(frozen=True)
class RenderConfig:
    """How ``render_corpus`` renders.

    Attributes:
        soundfont: the .sf2 file.
        tail: seconds kept after the last note end (release); output is capped there.
        gain: FluidSynth master gain (``-g``).
        effects: keep FluidSynth's reverb and chorus (off gives drier, better-aligned targets).
        random_programs: give every voice a program drawn from ``programs`` (seeded per file).
        programs: pool for ``random_programs``.
        variants: renders per file with ``random_programs`` (ids ``<id>~v<k>`` for k >= 1), so
            one score teaches several instruments; all variants of a file share its split.
        split: train/validation/test fractions; each file's split comes from a hash of its id.
        seed: seeds program draws.
        timeout_base, timeout_factor: a render is killed after base + factor * MIDI duration (s).
    """

    soundfont: str
    tail: float = 2.0
    gain: float = 0.5
    effects: bool = False
    random_programs: bool = False
    variants: int = 1
    programs: tuple[int, ...] = DEFAULT_PROGRAMS
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    timeout_base: float = 30.0
    timeout_factor: float = 2.0


@dataclass
class RenderReport:
    rendered: int = 0
    skipped_existing: int = 0
    problems: Problems = field(default_factory=Problems)


def find_midi(inputs: list[str | Path]) -> list[tuple[Path, str]]:
    """``(file, id)`` for MIDI files given directly or found recursively in folders; the id is
    the path relative to its folder (or the file stem), without suffix, '/'-separated."""
    out = []
    for item in map(Path, inputs):
        if item.is_dir():
            for f in sorted(p for p in item.rglob("*") if p.suffix in MIDI_SUFFIXES):
                out.append((f, f.relative_to(item).with_suffix("").as_posix()))
        elif item.is_file():
            out.append((item, item.stem))
        else:
            raise SpecdiffError(f"{item}: no such MIDI file or folder")
    ids = [i for _, i in out]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
        raise SpecdiffError(f"two inputs give the same id {dup}: pass their common parent folder")
    return out


def split_of(uid: str, fractions: tuple[float, float, float]) -> str:
    """Deterministic split of an id: a hash of the id placed on the cumulative fractions."""
    u = zlib.crc32(uid.encode()) / 2**32
    edges = np.cumsum(np.asarray(fractions, float) / sum(fractions))
    return ("train", "validation", "test")[int(np.searchsorted(edges, u, side="right").clip(0, 2))]


def fluidsynth_command(config: RenderConfig, midi: Path, wav: Path) -> list[str]:
    cmd = ["fluidsynth", "-ni", "-q", "-g", str(config.gain), "-r", str(SAMPLE_RATE),
           "-T", "wav", "-F", str(wav)]
    if not config.effects:
        cmd += ["-R", "0", "-C", "0"]
    return cmd + [config.soundfont, str(midi)]


def run_bounded(cmd: list[str], out: Path, max_bytes: int, timeout: float) -> str | None:
    """Run ``cmd`` writing ``out``; kill it when ``out`` grows past ``max_bytes`` or it runs
    longer than ``timeout`` seconds. Returns None on success, else the problem."""
    # Own process group, so a kill also stops anything the command started.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    start = time.monotonic()
    problem = None
    while proc.poll() is None:
        size = out.stat().st_size if out.exists() else 0
        if size > max_bytes:
            problem = f"output passed {max_bytes / 1e6:.1f} MB (MIDI duration + tail); killed"
        elif time.monotonic() - start > timeout:
            problem = f"render ran longer than {timeout:.0f} s; killed"
        if problem:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return problem
        time.sleep(0.02)
    err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
    if proc.returncode != 0:
        return f"fluidsynth exited with {proc.returncode}: {err[-300:]}"
    return None


def render_file(source: Path, uid: str, out_dir: Path, config: RenderConfig,
                score: str | None = None) -> dict:
    """Render one MIDI file as ``uid``; returns its manifest entry. ``score`` (default: uid)
    decides the split. Raises ``SpecdiffError`` on failure."""
    score = score or uid
    import soundfile as sf

    midi = open_midi(source)
    found = voices(midi)
    programs = {}
    if config.random_programs:
        rng = random.Random(zlib.crc32(f"{config.seed}/{uid}".encode()))
        programs = {(t, c): rng.choice(config.programs) for t, c, _ in found}
        set_programs(midi, programs)
    end_at_last_note(midi)  # else FluidSynth renders silence up to a late end of track
    midi_out = out_dir / "midi" / f"{uid}.mid"
    save_midi(midi, midi_out)
    try:
        tracks = read_midi_tracks(midi_out)
    except SpecdiffError as error:
        midi_out.unlink(missing_ok=True)
        raise SpecdiffError(f"{source}: {str(error).removeprefix(f'{midi_out}: ')}") from None
    duration = max((float(t.notes["end"].max()) for t in tracks), default=0.0)
    if duration <= 0:
        midi_out.unlink()
        raise SpecdiffError(f"{source}: MIDI has no notes")
    keep = round((duration + config.tail) * SAMPLE_RATE)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".render-") as tmp:
        wav = Path(tmp) / "out.wav"
        max_bytes = keep * 2 * 2 + (1 << 20)  # stereo int16 + slack for the header
        timeout = config.timeout_base + config.timeout_factor * duration
        problem = run_bounded(fluidsynth_command(config, midi_out, wav), wav, max_bytes, timeout)
        if problem is None:
            try:
                audio, rate = sf.read(str(wav), dtype="float32", always_2d=True)
            except Exception as error:  # noqa: BLE001 - libsndfile errors vary
                problem = f"unreadable FluidSynth output ({error})"
        if problem is not None:
            midi_out.unlink(missing_ok=True)
            raise SpecdiffError(f"{source}: {problem}")
    if rate != SAMPLE_RATE:
        raise SpecdiffError(f"{source}: FluidSynth wrote {rate} Hz, expected {SAMPLE_RATE}")
    mono = audio.mean(axis=1)[:keep]
    audio_out = out_dir / "audio" / f"{uid}.wav"
    audio_out.parent.mkdir(parents=True, exist_ok=True)
    partial = audio_out.with_name(audio_out.name + ".partial")
    sf.write(str(partial), mono, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    partial.replace(audio_out)
    return {
        "id": uid,
        "split": split_of(score, config.split),
        "score": score,
        "audio": audio_out.relative_to(out_dir).as_posix(),
        "midi": midi_out.relative_to(out_dir).as_posix(),
        "source": str(source),
        "duration": len(mono) / SAMPLE_RATE,
        "midi_duration": duration,
        "programs": sorted({int(t.program) for t in tracks if not t.is_drum}),
        "drums": any(t.is_drum for t in tracks),
        "soundfont": Path(config.soundfont).name,
    }


def render_corpus(inputs: list[str | Path], out_dir: str | Path, config: RenderConfig,
                  jobs: int = 1, progress: bool = True) -> RenderReport:
    """Render every MIDI file of ``inputs`` into ``out_dir`` (``audio/``, ``midi/``,
    ``manifest.jsonl``). Files already in the manifest with their audio on disk are skipped;
    failures are reported, skipped and counted in the returned report."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from tqdm import tqdm

    if not Path(config.soundfont).is_file():
        raise SpecdiffError(f"{config.soundfont}: SoundFont not found")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = RenderReport()
    manifest = out_dir / MANIFEST
    done = set()
    if manifest.is_file():
        for line in manifest.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut by an interrupted run
            if (out_dir / entry["audio"]).is_file():
                done.add(entry["id"])
    todo = []
    inside = out_dir.resolve()
    variants = config.variants if config.random_programs else 1
    for source, score in find_midi(inputs):
        if source.resolve().is_relative_to(inside):
            continue  # our own MIDI copies when OUT lies inside an input folder
        for k in range(max(1, variants)):
            uid = score if k == 0 else f"{score}~v{k}"
            if uid in done:
                report.skipped_existing += 1
            else:
                todo.append((source, uid, score))
    with manifest.open("a") as log, ThreadPoolExecutor(max(1, jobs)) as pool:
        futures = {pool.submit(render_file, s, u, out_dir, config, score): s
                   for s, u, score in todo}
        bar = tqdm(as_completed(futures), total=len(futures), disable=not progress,
                   desc="render", unit="file")
        for future in bar:
            try:
                entry = future.result()
            except SpecdiffError as error:
                report.problems.add_error("render failed", futures[future], error)
                continue
            log.write(json.dumps(entry) + "\n")
            log.flush()
            os.fsync(log.fileno())
            report.rendered += 1
    return report
