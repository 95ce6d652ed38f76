"""Synthesize a folder (or list) of MIDI files into a mirrored folder of audio files.

``specdiff synth IN_DIR -o OUT_DIR`` plans one `Job` per MIDI file (its output keeps the input's
relative name, with the audio extension), groups jobs into units, spreads the units over the
processes of a run (`Engine`: one process, or Lightning Fabric's DDP processes on one or many
machines) and records every file in ``OUT_DIR/manifest.jsonl``. What a file sounds like depends on
its relative name and ``--seed`` only, never on the order, the other files or the number of
processes: each piece's seed comes from its name (`piece_seed`), and the units are fixed before
they are shared out. Outputs are written atomically and a rerun skips the files already written.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from specdiff.errors import SpecdiffError

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf")
MANIFEST = "manifest.jsonl"
SHARDS = ".specdiff-manifest"
"""The folder, inside the output folder, where each process appends its records while it runs."""
MAX_SECONDS = 1800.0
"""Default limit on a piece's length (``--max-seconds``): longer files are reported, not made."""


@dataclass(frozen=True)
class Job:
    """One MIDI file of a corpus and the audio file it becomes.

    Attributes:
        source: the MIDI file's path.
        name: its path relative to the corpus root (POSIX), the manifest's key.
        output: the audio file's path relative to the output folder.
        seed: the piece's seed (`piece_seed`).
        size: the MIDI file's size in bytes (the cost estimate that balances processes).
        problem: why it cannot be made before trying (a name collision), or None.
    """

    source: str
    name: str
    output: str
    seed: int
    size: int
    problem: str | None = None


def piece_seed(name: str, seed: int = 0) -> int:
    """A 31-bit seed from a piece's relative name and the run's ``seed``."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def segment_seeds(seed: int, count: int) -> list[int]:
    """Seeds of a piece's ``count`` segments when segments are generated alone (63-bit)."""
    return [int.from_bytes(hashlib.sha256(f"{seed}/{k}".encode()).digest()[:8], "big") >> 1
            for k in range(count)]


def find_midi(source: str | os.PathLike) -> tuple[Path, list[Path]]:
    """(root, MIDI files) of a folder (searched recursively) or of a ``.txt`` list (one path a
    line, relative to the list's folder; blank lines and ``#`` comments skipped; the root is the
    deepest folder holding them all)."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*")
                       if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
        return path, files
    if path.suffix.lower() == ".txt" and path.is_file():
        lines = [line.strip() for line in path.read_text().splitlines()]
        files = [(path.parent / line).resolve() for line in lines
                 if line and not line.startswith("#")]
        if not files:
            return path.parent, []
        root = Path(os.path.commonpath([f.parent for f in files]))
        return root, sorted(set(files))
    raise SpecdiffError(f"{source}: expected a folder of MIDI files or a .txt list of them")


def plan(source: str | os.PathLike, suffix: str = ".wav", seed: int = 0) -> list[Job]:
    """The jobs of a corpus, sorted by name. Two inputs that would write the same output (``a.mid``
    and ``a.midi``) keep the first by name; the other is a job with a ``problem``."""
    root, files = find_midi(source)
    jobs, taken = [], {}
    for file in files:
        name = file.relative_to(root).as_posix()
        output = Path(name).with_suffix(suffix).as_posix()
        problem = None
        if output in taken:
            problem = f"its output {output} is already {taken[output]}'s"
        else:
            taken[output] = name
        try:
            size = file.stat().st_size
        except OSError:
            size = 0
        jobs.append(Job(str(file), name, output, piece_seed(name, seed), size, problem))
    return jobs


def units_of(jobs: list[Job], per_unit: int) -> list[list[Job]]:
    """Consecutive jobs in units of ``per_unit``: a unit's segments are generated together."""
    return [jobs[i : i + per_unit] for i in range(0, len(jobs), max(1, per_unit))]


def share(units: list[list[Job]], world: int, done: set[str]) -> list[list[int]]:
    """Unit indices per process: the costliest unit first to the least loaded process (cost: bytes
    of MIDI still to make, ``done`` the outputs already there); each list in unit order."""
    loads = [0] * world
    shares: list[list[int]] = [[] for _ in range(world)]
    costs = [sum(j.size + 1 for j in unit if j.output not in done) for unit in units]
    for index in sorted(range(len(units)), key=lambda i: (-costs[i], i)):
        rank = min(range(world), key=lambda r: (loads[r], r))
        loads[rank] += costs[index]
        shares[rank].append(index)
    return [sorted(s) for s in shares]


def existing_outputs(out_dir: Path, jobs: list[Job]) -> set[str]:
    return {j.output for j in jobs if (out_dir / j.output).is_file()}


# ---------------------------------------------------------------------------- running a share
@dataclass(frozen=True)
class CorpusOptions:
    """What every file of a run shares.

    Attributes:
        overwrite: make files whose output already exists again.
        max_seconds: longer pieces are reported as too long.
        batch_size: segments generated together when segments are generated alone.
        program, program_map, part_map: re-orchestration, as ``specdiff synth --program,
            --program-map, --part-map``.
        sample_rate: the outputs' rate (None: the vocoder's).
    """

    overwrite: bool = False
    max_seconds: float = MAX_SECONDS
    batch_size: int = 8
    program: int | None = None
    program_map: dict[int, int] | None = None
    part_map: dict[int, int] | None = None
    sample_rate: int | None = None


def render_unit(synth, unit: list[Job], out_dir: Path, settings, options: CorpusOptions
                ) -> Iterator[dict[str, Any]]:
    """Make a unit's audio files; yields one manifest record per job, in order.

    A job whose output exists is ``exists`` (unless ``options.overwrite``); one that cannot be
    made is ``failed`` with its reason; the others are ``ok``. Each output is written atomically.
    """
    ready = []  # (job, notes, segments, start time)
    for job in unit:
        started = time.time()
        if job.problem is not None:
            yield _record(job, "failed", job.problem)
        elif not options.overwrite and (out_dir / job.output).is_file():
            yield _record(job, "exists")
        else:
            try:
                notes, segments = _prepare(synth, job, options)
            except SpecdiffError as error:
                yield _record(job, "failed", _reason(error, job))
                continue
            except Exception as error:  # noqa: BLE001 - one bad file must not stop the corpus
                yield _record(job, "failed", _internal(error, job))
                continue
            ready.append((job, notes, segments, started))
    if not ready:
        return
    shared = None
    if synth.segments_alone(settings):  # one stream of segments for the whole unit
        seeds = [s for job, _, segments, _ in ready for s in segment_seeds(job.seed, len(segments))]
        shared = synth.mels([s for _, _, segments, _ in ready for s in segments], settings,
                            segment_seeds=seeds, batch_size=options.batch_size, progress=False)
    failure = None
    for job, notes, segments, started in ready:
        if failure is not None:  # the shared stream broke: the rest of the unit cannot follow
            yield _record(job, "failed", failure)
            continue
        if shared is None:
            mels = synth.mels(segments, settings, notes=notes, seed=job.seed,
                              batch_size=options.batch_size, progress=False)
        else:
            mels = itertools.islice(shared, len(segments))
        try:
            samples, rate = _write(synth, notes, segments, mels, settings, out_dir / job.output,
                                   options.sample_rate)
        except Exception as error:  # noqa: BLE001
            reason = _internal(error, job)
            failure = None if shared is None else reason
            yield _record(job, "failed", reason)
            continue
        yield _record(job, "ok", seconds=samples / rate,
                      segments=len(segments), wall_s=round(time.time() - started, 3))


def _prepare(synth, job: Job, options: CorpusOptions):
    from specdiff.codec import read_midi
    from specdiff.codec.truncate import TruncationWarning

    notes = read_midi(job.source)
    if notes.total_time > options.max_seconds:
        raise SpecdiffError(f"too long: {notes.total_time:.0f} s of music (the limit is "
                            f"{options.max_seconds:.0f} s, --max-seconds)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TruncationWarning)
        notes, segments = synth.prepare(notes, options.program, options.program_map,
                                        part_map=options.part_map)
    dense = [w for w in caught if issubclass(w.category, TruncationWarning)]
    if dense:
        raise SpecdiffError(f"too dense: {dense[0].message}")
    return notes, segments


def _write(synth, notes, segments, mels, settings, path: Path, sample_rate: int | None
           ) -> tuple[int, int]:
    """Vocode ``mels`` into ``path`` atomically; (samples written, their rate)."""
    from specdiff.audio import AudioFileWriter, resample_stream

    rate = sample_rate or synth.vocoder.sample_rate
    path.parent.mkdir(parents=True, exist_ok=True)
    with AudioFileWriter(path, sample_rate=rate) as writer:
        pieces = synth.audio_from_mels(notes, len(segments), mels, settings)
        for piece in resample_stream(pieces, synth.vocoder.sample_rate, rate):
            writer.write(piece)
        return writer.frames_written, rate


def _reason(error: SpecdiffError, job: Job) -> str:
    """The error's message without the file's path in front (the record names the file)."""
    text = str(error)
    for prefix in (f"{job.source}: ", "notes: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def _internal(error: Exception, job: Job) -> str:
    traceback.print_exc(file=sys.stderr)
    return f"internal error: {type(error).__name__}: {error}"


def _record(job: Job, status: str, error: str | None = None, **facts: Any) -> dict[str, Any]:
    return {"input": job.name, "output": job.output, "status": status, "error": error,
            "seed": job.seed, **facts, "time": round(time.time(), 3)}


# ---------------------------------------------------------------------------- the manifest
class ShardLog:
    """One process's records, appended (and flushed) as files finish, so that a killed run's
    records survive for `merge_manifest`."""

    def __init__(self, out_dir: Path, rank: int, common: dict[str, Any]):
        folder = out_dir / SHARDS
        folder.mkdir(parents=True, exist_ok=True)
        self.file = (folder / f"rank{rank}.jsonl").open("a")
        self.common = common

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps({**record, **self.common}) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def merge_manifest(out_dir: Path) -> list[dict[str, Any]]:
    """Fold every process's records into ``manifest.jsonl`` (one line per input, sorted by
    input; the latest record wins, except that ``exists`` never replaces an earlier record) and
    remove the per-process files. Returns the merged records."""
    from specdiff.audio import atomic_path

    manifest = out_dir / MANIFEST
    records: dict[str, dict[str, Any]] = {}
    shards = sorted((out_dir / SHARDS).glob("rank*.jsonl")) if (out_dir / SHARDS).is_dir() else []
    lines = []
    for path in ([manifest] if manifest.is_file() else []) + shards:
        for line in path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a kill
    for record in sorted(lines, key=lambda r: r.get("time", 0.0)):
        if record.get("status") == "exists" and record["input"] in records:
            continue
        records[record["input"]] = record
    merged = [records[name] for name in sorted(records)]
    with atomic_path(manifest) as tmp:
        Path(tmp).write_text("".join(json.dumps(r) + "\n" for r in merged))
    for path in shards:
        path.unlink()
    if (out_dir / SHARDS).is_dir() and not any((out_dir / SHARDS).iterdir()):
        (out_dir / SHARDS).rmdir()
    return merged


# ---------------------------------------------------------------------------- processes
class Engine:
    """One process: the whole run. `launch` returns Lightning Fabric's DDP engine instead when a
    run has several processes; both offer ``global_rank``, ``world_size``, ``broadcast`` and
    ``barrier``."""

    global_rank = 0
    world_size = 1

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        return obj

    def barrier(self) -> None:
        pass


def launch(devices: int | None = None, num_nodes: int | None = None, accelerator: str = "cpu"):
    """The processes of a run: `Engine` for one; for more, Lightning Fabric with the DDP strategy,
    which starts the other local processes, or joins those that torchrun started (``devices``
    and ``num_nodes`` then default to torchrun's) or SLURM started (they must match its tasks).

    Raises:
        SpecdiffError: ``devices`` or ``num_nodes`` disagree with torchrun's processes.
    """
    if "LOCAL_WORLD_SIZE" in os.environ:  # started by torchrun
        local, world = int(os.environ["LOCAL_WORLD_SIZE"]), int(os.environ["WORLD_SIZE"])
        if (devices or local, num_nodes or world // local) != (local, world // local):
            raise SpecdiffError(f"--devices {devices} --num-nodes {num_nodes}: torchrun started "
                                f"{local} processes per node on {world // local} nodes")
        devices, num_nodes = local, world // local
    devices, num_nodes = devices or 1, num_nodes or 1
    if devices * num_nodes == 1:
        return Engine()
    from lightning.fabric import Fabric

    fabric = Fabric(accelerator=accelerator, devices=devices, num_nodes=num_nodes, strategy="ddp")
    fabric.launch()
    return fabric


def synthesize_corpus(synth, source: str | os.PathLike, out_dir: str | os.PathLike, *,
                      suffix: str = ".wav", seed: int = 0, settings=None, model: str = "",
                      options: CorpusOptions = CorpusOptions(), engine=None,
                      progress: bool | None = None) -> list[dict[str, Any]] | None:
    """Make the audio of every MIDI file of ``source`` under ``out_dir``.

    Args:
        synth: a `specdiff.Synthesizer` (in every process).
        source: a folder of MIDI files or a ``.txt`` list.
        suffix: the outputs' extension (``.wav`` or ``.flac``).
        seed: the run's seed, mixed with each piece's name.
        settings: the synthesis settings (default: the synthesizer's).
        model: the model's name for the manifest.
        engine: `launch`'s result (default: one process).
        progress: a progress bar over files on stderr (None: when stderr is a terminal).

    Returns:
        The merged manifest's records (in process 0; None in the others).
    """
    from tqdm.auto import tqdm

    engine = engine or Engine()
    out_dir = Path(out_dir)
    settings = settings or synth.settings
    per_unit = options.batch_size if synth.segments_alone(settings) else 1
    shares = None
    if engine.global_rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        jobs = plan(source, suffix, seed)
        units = units_of(jobs, per_unit)
        done = set() if options.overwrite else existing_outputs(out_dir, jobs)
        shares = [[units[i] for i in indices]
                  for indices in share(units, engine.world_size, done)]
    shares = engine.broadcast(shares, 0)
    mine = shares[engine.global_rank]
    common = {"model": model, "settings": asdict(settings), "process": engine.global_rank}
    log = ShardLog(out_dir, engine.global_rank, common)
    enabled = (sys.stderr.isatty() if progress is None else progress) and engine.global_rank == 0
    counts: dict[str, int] = {}
    audio = 0.0
    desc = "files" if engine.world_size == 1 else f"files (process 0 of {engine.world_size})"
    try:
        with tqdm(total=sum(map(len, mine)), unit="file", desc=desc, disable=not enabled,
                  dynamic_ncols=True) as bar:
            for unit in mine:
                for record in render_unit(synth, unit, out_dir, settings, options):
                    log.write(record)
                    counts[record["status"]] = counts.get(record["status"], 0) + 1
                    audio += record.get("seconds", 0.0)
                    bar.update(1)
                    bar.set_postfix_str(f"{audio:.0f} s of audio, "
                                        f"{counts.get('failed', 0)} failed")
    finally:
        log.close()
    engine.barrier()
    if engine.global_rank != 0:
        return None
    return merge_manifest(out_dir)
