"""MIDI source: the music21 corpus (Bach chorales first, then its other scores), each part on
a random instrument."""

from __future__ import annotations

import random
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

from specdiff.data.midi_edit import open_midi, save_midi, set_programs, voices
from specdiff.data.problems import Problems

SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mid")
# Melodic GM programs that suit polyphonic parts (keyboards, guitars, strings, brass, reeds,
# pipes, leads, pads).
PART_PROGRAMS = tuple(list(range(8)) + [11, 16, 19, 21, 24, 25, 26, 27] + list(range(40, 44))
                      + [46, 48, 49, 52, 56, 57, 58, 60, 61, 64, 65, 66, 67, 68, 69, 70, 71]
                      + [73, 74, 75, 80, 81, 88, 89])


def corpus_paths() -> list[Path]:
    """music21 core corpus files, Bach chorales first (stable order)."""
    from music21 import corpus

    paths = sorted(p for p in map(Path, corpus.getPaths()) if p.suffix in SUFFIXES)
    return sorted(paths, key=lambda p: (p.parent.name != "bach", str(p)))


def _scores(path: Path) -> Iterator[tuple[str, object]]:
    from music21 import converter, stream

    parsed = converter.parse(str(path))
    import music21

    root = Path(music21.__file__).parent / "corpus"
    rel = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
    base = rel.with_suffix("").as_posix().replace(" ", "_")
    if isinstance(parsed, stream.Opus):
        for i, score in enumerate(parsed.scores):
            yield f"{base}-{i:03d}", score
    else:
        yield base, parsed


def _write_score(score, name: str, target: Path, seed: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".m21.partial")
    try:
        score.write("midi", fp=str(tmp))
        midi = open_midi(tmp)
        rng = random.Random(zlib.crc32(f"{seed}/{name}".encode()))
        set_programs(midi, {(t, c): rng.choice(PART_PROGRAMS) for t, c, _ in voices(midi)})
        save_midi(midi, target)
    finally:
        tmp.unlink(missing_ok=True)


def export_music21(out_dir: str | Path, limit: int | None = None, seed: int = 0,
                   problems: Problems | None = None, progress: bool = True) -> int:
    """Write up to ``limit`` corpus scores to ``out_dir/<corpus path>.mid`` with a random
    program per part (seeded by name). Existing files are kept and counted. Returns the number
    of files; failures (e.g. badly formed repeats) are reported to ``problems`` and skipped."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    problems = problems if problems is not None else Problems()
    written = 0
    bar = tqdm(total=limit, disable=not progress, desc="music21", unit="file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 warns about overfull measures etc.
        for path in corpus_paths():
            if limit is not None and written >= limit:
                break
            try:
                scores = list(_scores(path))
            except Exception as error:  # noqa: BLE001 - music21 raises many exception types
                problems.add("music21 parse failed", path, f"{type(error).__name__}: {error}")
                continue
            for name, score in scores:
                if limit is not None and written >= limit:
                    break
                target = out_dir / f"{name}.mid"
                try:
                    if not target.is_file():
                        _write_score(score, name, target, seed)
                except Exception as error:  # noqa: BLE001
                    problems.add("music21 export failed", f"{path} ({name})",
                                 f"{type(error).__name__}: {error}")
                    continue
                written += 1
                bar.update()
    bar.close()
    return written
