"""``prepare_cache``: corpora -> a cache folder (see ``specdiff.data.cache``); resumable, bad
data reported and skipped."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specdiff.data.cache import AUDIO_DTYPES, FORMAT, SAMPLE_RATE, read_jsonl, to_storage
from specdiff.data.example import Example, list_examples, load_notes
from specdiff.data.notes import NOTE_DTYPE
from specdiff.data.problems import Problems
from specdiff.errors import SpecdiffError

SHARD_BYTES = 2 << 30  # start a new audio shard after 2 GiB


@dataclass(frozen=True)
class PrepareConfig:
    """Attributes:
        audio_dtype: ``"float32"`` (exact) or ``"int16"`` (half the disk).
        max_overhang: seconds notes may run past the end of the audio before the pair counts
            as a length mismatch (and is skipped).
        max_stem_mismatch: seconds by which the summed files of one example may differ in
            length.
        max_silent_tail: seconds the audio may last past the last note end (release, applause,
            silence) before the pair counts as a length mismatch.
        jobs: worker processes for decoding audio and parsing notes.
        mel: also store each example's whole-recording log-mel (float16), so that training
            windows need no STFT (``CacheDataset`` then slices it).
    """

    audio_dtype: str = "float32"
    max_overhang: float = 1.0
    max_stem_mismatch: float = 1.0
    max_silent_tail: float = 60.0
    jobs: int = 1
    mel: bool = False


@dataclass
class PrepareReport:
    items: int = 0
    already: int = 0
    problems: Problems = field(default_factory=Problems)


def _load_audio_job(path: str, dtype: str):
    from specdiff.audio import load_audio

    try:
        return path, to_storage(load_audio(path, SAMPLE_RATE), dtype), None
    except SpecdiffError as error:
        return path, None, error
    except Exception as error:  # noqa: BLE001 - e.g. MemoryError, odd codec failures
        return path, None, SpecdiffError(f"{path}: cannot load audio ({type(error).__name__}: "
                                         f"{error})")


def _notes_job(example: Example):
    try:
        return example, load_notes(example), None
    except SpecdiffError as error:
        return example, None, error
    except Exception as error:  # noqa: BLE001 - a corrupt annotation must not stop the run
        return example, None, SpecdiffError(f"{example.notes[0] if example.notes else '?'}: "
                                            f"cannot read notes ({type(error).__name__}: {error})")


def _key(example: Example) -> str:
    return f"{example.corpus}/{example.split}/{example.id}"


class _Writer:
    """Appends audio and notes to the shards and index lines; truncates leftovers of an
    interrupted run so offsets stay exact."""

    def __init__(self, root: Path, dtype: str):
        self.root = root
        self.dtype = np.dtype(AUDIO_DTYPES[dtype])
        self.audio = read_jsonl(root / "audio.jsonl")
        self.items = read_jsonl(root / "items.jsonl")
        self.audio_index = {a["path"]: i for i, a in enumerate(self.audio)}
        self.done = {f"{d['corpus']}/{d['split']}/{d['id']}" for d in self.items}
        ends: dict[str, int] = {}
        for a in self.audio:
            ends[a["shard"]] = max(ends.get(a["shard"], 0), (a["offset"] + a["length"]))
        for shard in root.glob("audio-*.bin"):
            self._truncate(shard, ends.get(shard.name, 0) * self.dtype.itemsize)
        notes_end = max((d["notes_offset"] + d["num_notes"] for d in self.items), default=0)
        self._truncate(root / "notes.bin", notes_end * NOTE_DTYPE.itemsize)
        self.shard = max(ends, default="audio-000.bin")
        self.notes_count = notes_end
        # rewrite the index files without a possibly cut last line
        self._rewrite("audio.jsonl", self.audio)
        self._rewrite("items.jsonl", self.items)

    def _rewrite(self, name: str, rows: list[dict]) -> None:
        (self.root / name).write_text("".join(json.dumps(r) + "\n" for r in rows))

    @staticmethod
    def _truncate(path: Path, size: int) -> None:
        if path.exists() and path.stat().st_size != size:
            with path.open("r+b") as f:
                f.truncate(size)
        elif not path.exists():
            path.touch()

    def _append_line(self, name: str, row: dict) -> None:
        with (self.root / name).open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def add_audio(self, path: str, samples: np.ndarray) -> int:
        shard = self.root / self.shard
        size = shard.stat().st_size if shard.exists() else 0
        if size and size + samples.nbytes > SHARD_BYTES:
            self.shard = f"audio-{int(self.shard[6:9]) + 1:03d}.bin"
            shard, size = self.root / self.shard, 0
        with shard.open("ab") as f:
            f.write(np.ascontiguousarray(samples, self.dtype).tobytes())
        row = {"path": path, "shard": self.shard, "offset": size // self.dtype.itemsize,
               "length": len(samples)}
        self.audio.append(row)
        self.audio_index[path] = len(self.audio) - 1
        self._append_line("audio.jsonl", row)
        return len(self.audio) - 1

    def add_item(self, example: Example, audio: list[int], num_samples: int,
                 notes: np.ndarray) -> None:
        with (self.root / "notes.bin").open("ab") as f:
            f.write(np.ascontiguousarray(notes, NOTE_DTYPE).tobytes())
        row = {"corpus": example.corpus, "split": example.split, "id": example.id,
               "audio": audio, "num_samples": num_samples, "notes_offset": self.notes_count,
               "num_notes": len(notes), "sources": list(example.audio),
               "notes_sources": list(example.notes)}
        self.notes_count += len(notes)
        self.items.append(row)
        self.done.add(_key(example))
        self._append_line("items.jsonl", row)


def check_pair(example: Example, lengths: list[int], notes: np.ndarray,
               config: PrepareConfig) -> str | None:
    """The problem with an (audio, notes) pair, or None when it is usable."""
    if len(notes) == 0:
        return "no notes"
    if max(lengths) - min(lengths) > config.max_stem_mismatch * SAMPLE_RATE:
        return (f"audio files differ in length ({min(lengths) / SAMPLE_RATE:.2f} s to "
                f"{max(lengths) / SAMPLE_RATE:.2f} s)")
    audio_end = max(lengths) / SAMPLE_RATE
    notes_end = float(notes["end"].max())
    if notes_end > audio_end + config.max_overhang:
        return (f"length mismatch: notes end at {notes_end:.2f} s but the audio lasts "
                f"{audio_end:.2f} s")
    if audio_end > notes_end + config.max_silent_tail:
        return (f"length mismatch: the audio lasts {audio_end:.2f} s but the notes end at "
                f"{notes_end:.2f} s")
    return None


def gather_examples(corpora: dict[str, dict], splits, problems: Problems) -> list[Example]:
    """List the examples of every given corpus (``{name: {"root": path, **options}}``); a
    missing or malformed corpus folder is reported and skipped."""
    examples = []
    for name, options in corpora.items():
        options = dict(options)
        root = options.pop("root")
        try:
            found = list_examples(name, root, splits, **options)
        except SpecdiffError as error:
            problems.add_error("corpus skipped", root, error)
            continue
        if not found:
            problems.add("corpus skipped", root, f"no {name} examples for splits {splits}")
        examples.extend(found)
    return examples


def prepare_cache(examples: list[Example], out_dir: str | Path,
                  config: PrepareConfig = PrepareConfig(), problems: Problems | None = None,
                  progress: bool = True) -> PrepareReport:
    """Write ``examples`` into the cache folder ``out_dir`` (resuming a previous run there).

    Audio files that cannot be read, notes that cannot be parsed, pairs whose notes run past
    the audio (``max_overhang``) or without notes are reported, skipped and counted; nothing
    else is shifted.
    """
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    if config.audio_dtype not in AUDIO_DTYPES:
        raise SpecdiffError(f"audio dtype {config.audio_dtype!r}: expected one of "
                            f"{', '.join(AUDIO_DTYPES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "cache.json"
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if old.get("audio_dtype") != config.audio_dtype:
            raise SpecdiffError(f"{out}: existing cache stores {old.get('audio_dtype')} audio; "
                                f"use the same --audio-dtype or a new folder")
    writer = _Writer(out, config.audio_dtype)
    report = PrepareReport(problems=problems if problems is not None else Problems())
    todo = [ex for ex in examples if _key(ex) not in writer.done]
    report.already = len(examples) - len(todo)
    bad_audio: dict[str, str] = {}
    lengths = {a["path"]: a["length"] for a in writer.audio}
    paths = sorted({p for ex in todo for p in ex.audio if p not in writer.audio_index})
    pool = ProcessPoolExecutor(config.jobs) if config.jobs > 1 else None
    mapper = pool.map if pool else map
    try:
        bar = tqdm(total=len(paths) + len(todo), disable=not progress, desc="prepare",
                   unit="file")
        for path, samples, error in mapper(_load_audio_job, paths,
                                           [config.audio_dtype] * len(paths)):
            bar.update()
            if error is not None:
                bad_audio[path] = str(error)
                report.problems.add_error("unreadable audio", path, error)
            else:
                writer.add_audio(path, samples)
                lengths[path] = len(samples)
        for example, notes, error in mapper(_notes_job, todo):
            bar.update()
            missing = [p for p in example.audio if p in bad_audio]
            if missing:
                report.problems.add("missing audio", example.describe(),
                                    f"{len(missing)} unreadable audio file(s), e.g. {missing[0]}")
                continue
            if error is not None:
                report.problems.add_error("bad notes", example.notes[0], error)
                continue
            stem_lengths = [lengths[p] for p in example.audio]
            problem = check_pair(example, stem_lengths, notes, config)
            if problem is not None:
                kind = problem.split(":")[0] if ":" in problem else problem
                report.problems.add(kind, example.describe(), problem)
                continue
            writer.add_item(example, [writer.audio_index[p] for p in example.audio],
                            max(stem_lengths), notes)
            report.items += 1
        bar.close()
    finally:
        if pool:
            pool.shutdown()
    counts = Counter(f"{d['corpus']}/{d['split']}" for d in writer.items)
    meta = {"format": FORMAT, "sample_rate": SAMPLE_RATE, "audio_dtype": config.audio_dtype,
            "items": len(writer.items), "audio_files": len(writer.audio),
            "counts": dict(sorted(counts.items())),
            "last_run": {"added": report.items, "problems": report.problems.counts()}}
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    if config.mel:
        meta["mel_items"] = _write_mels(out, progress)
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return report


def _write_mels(root: Path, progress: bool) -> int:
    """Add the whole-recording log-mel of every cached example that has none yet."""
    from tqdm import tqdm

    from specdiff.data.cache import MEL_DTYPE, CacheReader, recording_mel

    cache = CacheReader(root)
    itemsize = np.dtype(MEL_DTYPE).itemsize
    ends: dict[str, int] = {}
    for d in cache.mel_table.values():
        ends[d["shard"]] = max(ends.get(d["shard"], 0), (d["offset"] + d["frames"]) * d["n_mels"])
    for shard in root.glob("mel-*.bin"):
        _Writer._truncate(shard, ends.get(shard.name, 0) * itemsize)
    rows = list(cache.mel_table.values())
    (root / "mel.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    shard = max(ends, default="mel-000.bin")
    todo = [it for it in cache.items if not cache.has_mel(it)]
    for item in tqdm(todo, disable=not progress, desc="log-mel", unit="item"):
        mel = recording_mel(cache.read_audio(item, 0, item.num_samples))
        path = root / shard
        size = path.stat().st_size if path.exists() else 0
        if size and size + mel.nbytes > SHARD_BYTES:
            shard = f"mel-{int(shard[4:7]) + 1:03d}.bin"
            path, size = root / shard, 0
        with path.open("ab") as f:
            f.write(mel.tobytes())
        row = {"item": item.index, "shard": shard, "offset": size // itemsize // mel.shape[1],
               "frames": int(mel.shape[0]), "n_mels": int(mel.shape[1])}
        with (root / "mel.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
    return len(cache.items)
