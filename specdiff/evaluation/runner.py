"""Evaluate folders of audio (one folder per system) against reference audio and MIDI.

Files are paired by stem (``song1.wav`` <-> ``song1.flac`` <-> ``song1.mid``). Work is done per
file in parallel threads and cached by content hash, so re-running adds only what is new.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from specdiff.errors import SpecdiffError
from specdiff.evaluation.cache import EvalCache, content_hash
from specdiff.evaluation.embeddings import EMBEDDING_SAMPLE_RATE, Embedder, prepare_for_embedding
from specdiff.evaluation.frechet import frechet_audio_distance, reconstruction_distance
from specdiff.evaluation.report import EvalReport
from specdiff.evaluation.spectral import log_mel_l1, multi_resolution_stft_distance
from specdiff.evaluation.transcription import (
    BASIC_PITCH_SAMPLE_RATE,
    NOTE_SCORE_KEYS,
    midi_reference_notes,
    note_scores,
)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
MIDI_SUFFIXES = (".mid", ".midi")
SPECTRAL_VERSION = "spectral-v1"
DRUM_NOTE = "Transcription F1: basic-pitch (ONNX) vs the input MIDI with drum notes excluded; a " \
    "substitute for the paper's MT3 F1, compare with the reference row."  # fmt: skip


@dataclass(frozen=True)
class EvalOptions:
    """How to run an evaluation.

    Attributes:
        jobs: worker threads over files (1 = sequential).
        cache_dir: where per-file results persist; None keeps them in memory for this run.
        progress: show tqdm progress bars.
        spectral: compute log-mel L1 and multi-resolution STFT distances.
        fad_method: "scipy" (official sqrtm) or "eigh" (see ``frechet_distance``).
        clip_midi_to_audio: score only MIDI notes starting within the reference audio.
    """

    jobs: int = 1
    cache_dir: str | os.PathLike | None = None
    progress: bool = True
    spectral: bool = True
    fad_method: str = "scipy"
    clip_midi_to_audio: bool = True


@dataclass
class _FileResult:
    hash: str
    duration: float  # seconds
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    notes: np.ndarray | None = None


def list_files(folder: str | os.PathLike, suffixes: Sequence[str], what: str) -> dict[str, Path]:
    """{stem: path} of the files in ``folder`` (not recursive) with one of ``suffixes``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SpecdiffError(f"{folder}: {what} folder not found")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in suffixes and path.is_file():
            if path.stem in found:
                raise SpecdiffError(f"{path}: two {what} files with stem {path.stem!r} in {folder}")
            found[path.stem] = path
    if not found:
        raise SpecdiffError(f"{folder}: no {what} files ({', '.join(suffixes)})")
    return found


Files = Mapping[str, "str | os.PathLike"]  # {stem: path}, e.g. generated audio in a cache


def resolve_files(spec: str | os.PathLike | Files, suffixes: Sequence[str], what: str
                  ) -> dict[str, Path]:  # fmt: skip
    """{stem: path} from a folder (see ``list_files``) or from an explicit {stem: path} mapping,
    whose files must exist."""
    if not isinstance(spec, Mapping):
        return list_files(spec, suffixes, what)
    files = {str(stem): Path(path) for stem, path in spec.items()}
    for path in files.values():
        if not path.is_file():
            raise SpecdiffError(f"{path}: {what} file not found")
    if not files:
        raise SpecdiffError(f"no {what} files given")
    return files


def _map(fn: Callable, items: list, jobs: int, desc: str, progress: bool) -> list:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), desc=desc, disable=not progress or not items, leave=False)
    try:
        if jobs <= 1:
            out = []
            for item in items:
                out.append(fn(item))
                bar.update()
            return out
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(fn, item) for item in items]
            for future in futures:
                future.add_done_callback(lambda _: bar.update())
            return [f.result() for f in futures]
    finally:
        bar.close()


def _process_file(path: Path, cache: EvalCache, embedders: Sequence[Embedder], transcriber
                  ) -> _FileResult:  # fmt: skip
    from specdiff.audio import load_audio

    key = content_hash(path)
    meta = cache.get_json("meta", key)
    audio = None
    if meta is None:
        audio = load_audio(path, EMBEDDING_SAMPLE_RATE)
        meta = {"duration": len(audio) / EMBEDDING_SAMPLE_RATE}
        cache.put_json("meta", key, meta)
    result = _FileResult(hash=key, duration=float(meta["duration"]))
    for embedder in embedders:
        emb = cache.get_array(embedder.identity, key)
        if emb is None:
            if audio is None:
                audio = load_audio(path, EMBEDDING_SAMPLE_RATE)
            emb = embedder.embed(prepare_for_embedding(audio, EMBEDDING_SAMPLE_RATE))
            cache.put_array(embedder.identity, key, emb.astype(np.float32))
        result.embeddings[embedder.name] = emb
    if transcriber is not None:
        notes = cache.get_array(transcriber.identity, key)
        if notes is None:
            audio22 = load_audio(path, BASIC_PITCH_SAMPLE_RATE)
            notes = transcriber.transcribe(audio22, BASIC_PITCH_SAMPLE_RATE)
            cache.put_array(transcriber.identity, key, notes)
        result.notes = notes
    return result


def _spectral_pair(pair: tuple[Path, str, Path, str], cache: EvalCache) -> dict[str, float]:
    from specdiff.audio import load_audio

    pred_path, pred_hash, ref_path, ref_hash = pair
    key = f"{pred_hash}-{ref_hash}"
    found = cache.get_json(SPECTRAL_VERSION, key)
    if found is None:
        pred = load_audio(pred_path, EMBEDDING_SAMPLE_RATE)
        ref = load_audio(ref_path, EMBEDDING_SAMPLE_RATE)
        found = {"logmel_l1": log_mel_l1(pred, ref), **multi_resolution_stft_distance(pred, ref)}
        cache.put_json(SPECTRAL_VERSION, key, found)
    return found


def _nanmean(values: list[float]) -> float:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def evaluate_systems(
    systems: Mapping[str, str | os.PathLike | Files],
    reference_dir: str | os.PathLike | Files,
    midi_dir: str | os.PathLike | Files | None = None,
    *,
    embedders: Sequence[Embedder] = (),
    transcriber=None,
    reference_name: str | None = "ground truth",
    options: EvalOptions = EvalOptions(),
) -> EvalReport:
    """Score each system's audio folder against the reference folder (and MIDI folder).

    Args:
        systems: {row name: folder of generated audio, or a {stem: audio path} mapping};
            files are paired with the reference by stem; stems without a reference are
            reported and skipped.
        reference_dir: folder (or {stem: path}) of reference (ground-truth) audio.
        midi_dir: folder (or {stem: path}) of the input MIDI files; needed for transcription F1.
        embedders: embedding models (e.g. ``VGGishEmbedder``) for ``<name>_recon`` and
            ``<name>_fad``.
        transcriber: e.g. ``BasicPitchTranscriber()``; used only when ``midi_dir`` is given.
        reference_name: when set, a first row scores the reference audio against itself (its
            transcription F1 is the ceiling of the generated audio's).
        options: jobs, cache folder, progress, which metrics.
    Returns:
        An ``EvalReport`` (rows = systems, metric means; per-file values; notes).
    """
    refs = resolve_files(reference_dir, AUDIO_SUFFIXES, "reference audio")
    rows: dict[str, dict[str, Path]] = {}
    notes: list[str] = []
    if reference_name:
        rows[reference_name] = dict(refs)
    for name, folder in systems.items():
        if name in rows:
            raise SpecdiffError(f"system name {name!r} used twice")
        found = resolve_files(folder, AUDIO_SUFFIXES, f"{name!r} audio")
        missing = sorted(set(found) - set(refs))
        if missing:
            notes.append(f"{name}: {len(missing)} file(s) without a reference skipped "
                         f"(e.g. {missing[0]!r})")  # fmt: skip
        rows[name] = {s: p for s, p in found.items() if s in refs}
        if not rows[name]:
            where = folder if not isinstance(folder, Mapping) else f"system {name!r}"
            raise SpecdiffError(f"{where}: no file stem matches a reference file")
    midis = resolve_files(midi_dir, MIDI_SUFFIXES, "MIDI") if midi_dir is not None else {}
    use_transcriber = transcriber if midis else None
    if use_transcriber is not None:
        notes.append(DRUM_NOTE)

    cache = EvalCache(options.cache_dir)
    paths = sorted({p for files in rows.values() for p in files.values()} | set(refs.values()))
    pairs = [(name, stem, path, refs[stem]) for name, files in rows.items()
             for stem, path in files.items()]  # fmt: skip
    spectral: dict[tuple[str, str], dict[str, float]] = {}
    torch_threads = torch.get_num_threads()
    if options.jobs > 1:  # share the cores between the workers instead of oversubscribing
        torch.set_num_threads(max(1, torch_threads // options.jobs))
    try:
        results = dict(zip(paths, _map(
            lambda p: _process_file(p, cache, embedders, use_transcriber),
            paths, options.jobs, "files", options.progress)))  # fmt: skip
        if options.spectral:
            jobs = [(p, results[p].hash, r, results[r].hash) for _, _, p, r in pairs]
            values = _map(lambda j: _spectral_pair(j, cache), jobs, options.jobs, "spectral",
                          options.progress)  # fmt: skip
            spectral = {(n, s): v for (n, s, _, _), v in zip(pairs, values)}
    finally:
        torch.set_num_threads(torch_threads)

    ref_notes: dict[str, np.ndarray] = {}
    for stem in sorted(set(midis) & set(refs)) if use_transcriber is not None else ():
        duration = results[refs[stem]].duration if options.clip_midi_to_audio else None
        ref_notes[stem] = midi_reference_notes(midis[stem], duration)
    gt_scores = {s: note_scores(n, results[refs[s]].notes) for s, n in ref_notes.items()}

    report = EvalReport(systems=list(rows), notes=notes)
    for name, files in rows.items():
        stems = sorted(files)
        per_file: dict[str, dict[str, float]] = {stem: {} for stem in stems}
        row: dict[str, float] = {"n_files": len(stems)}
        for embedder in embedders:
            targets = [results[refs[s]].embeddings[embedder.name] for s in stems]
            preds = [results[files[s]].embeddings[embedder.name] for s in stems]
            for stem, t, p in zip(stems, targets, preds):
                per_file[stem][f"{embedder.name}_recon"] = reconstruction_distance([t], [p])
            row[f"{embedder.name}_recon"] = reconstruction_distance(targets, preds)
            row[f"{embedder.name}_fad"] = frechet_audio_distance(targets, preds, options.fad_method)
        scored = [s for s in stems if s in ref_notes] if use_transcriber is not None else []
        for stem in scored:
            per_file[stem].update(note_scores(ref_notes[stem], results[files[stem]].notes))
        if scored:
            row["n_transcribed"] = len(scored)
            for key in NOTE_SCORE_KEYS:
                row[key] = _nanmean([per_file[s][key] for s in scored])
        if spectral:
            for stem in stems:
                per_file[stem].update(spectral[(name, stem)])
            for key in spectral[(name, stems[0])]:
                row[key] = _nanmean([per_file[s][key] for s in stems])
        report.metrics[name] = row
        report.per_file[name] = per_file
        if scored:  # the same scores for the reference audio, over the same files
            for key in ("onset_f1", "onset_offset_f1"):
                ceiling = _nanmean([gt_scores[s][key] for s in scored])
                row[f"{key}_vs_ref"] = row[key] / ceiling if ceiling > 0 else float("nan")
    return report
