"""`specdiff eval`: score folders of generated audio against reference audio (and MIDI)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

METRICS = ("vggish", "trill", "transcription", "spectral")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score folders of generated audio against reference audio and MIDI",
        description=(
            "Pair files by stem and compute the paper's metrics (VGGish / TRILL reconstruction "
            "distance and FAD), transcription F1 with basic-pitch against the MIDI (drums "
            "excluded), log-mel L1 and multi-resolution STFT distance. Prints a Markdown table "
            "(rows = systems) and writes JSON, CSV (and PNG with --plot). Results are cached "
            "per file by content hash, so re-running only adds what is new."
        ),
    )
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="[PRED_DIR ...] REF_DIR: generated audio folders, then the reference")
    p.add_argument("--pred", action="append", default=[], metavar="NAME=DIR",
                   help="a named system folder (repeatable); adds to the PRED_DIRs")
    p.add_argument("--system", action="append", default=[], metavar="NAME",
                   help="row names for the PRED_DIRs, in order (default: folder names)")
    p.add_argument("--midi-dir", type=Path, help="input MIDI files (same stems): enables F1")
    p.add_argument("--out", type=Path, default=Path("specdiff-eval"),
                   help="output folder for eval.json / eval.csv / eval.md / eval.png")
    p.add_argument("--plot", action="store_true", help="also write bar charts (eval.png)")
    p.add_argument("--jobs", type=int, default=1, help="parallel worker threads over files")
    p.add_argument("--cache-dir", type=Path,
                   help="per-file result cache (default: OUT/cache)")
    p.add_argument("--no-cache", action="store_true", help="keep results in memory only")
    p.add_argument("--metrics", default="auto",
                   help=f"comma list from {','.join(METRICS)}; 'auto' = all that are available")
    p.add_argument("--vggish-weights", type=Path,
                   help="torchvggish state dict (.pth); default $SPECDIFF_VGGISH_WEIGHTS")
    p.add_argument("--download-vggish", action="store_true",
                   help="download the VGGish weights once into the user cache (checksum-verified)"
                        " when no --vggish-weights are given")
    p.add_argument("--trill-model", type=Path,
                   help="TRILL TF SavedModel folder; default $SPECDIFF_TRILL_MODEL")
    p.add_argument("--ref-name", default="ground truth",
                   help="name of the row scoring the reference against itself")
    p.add_argument("--no-ref-row", action="store_true", help="omit the reference row")
    p.add_argument("--fad-method", choices=("scipy", "eigh"), default="scipy",
                   help="matrix square root for FAD (scipy = official)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _systems(args) -> dict[str, Path]:
    from specdiff.errors import SpecdiffError

    pred_dirs = [Path(d) for d in args.dirs[:-1]]
    if len(args.system) > len(pred_dirs):
        raise SpecdiffError(f"--system given {len(args.system)} times for {len(pred_dirs)} "
                            "PRED_DIR(s)")  # fmt: skip
    systems: dict[str, Path] = {}
    names = args.system + [d.name or str(d) for d in pred_dirs[len(args.system):]]
    entries = list(zip(names, pred_dirs))
    for item in args.pred:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise SpecdiffError(f"--pred {item!r}: expected NAME=DIR")
        entries.append((name, Path(folder)))
    for name, folder in entries:
        if name in systems:
            raise SpecdiffError(f"system name {name!r} given twice; name rows with --system")
        systems[name] = folder
    if not systems and args.no_ref_row:
        raise SpecdiffError("nothing to evaluate: give a PRED_DIR or --pred NAME=DIR")
    return systems


def _wanted(args) -> tuple[set[str], bool]:
    from specdiff.errors import SpecdiffError

    if args.metrics == "auto":
        return set(METRICS), False
    wanted = {m.strip() for m in args.metrics.split(",") if m.strip()}
    unknown = wanted - set(METRICS)
    if unknown:
        raise SpecdiffError(f"--metrics: unknown {sorted(unknown)}; choose from {METRICS}")
    return wanted, True


def run(args: argparse.Namespace) -> int:
    from specdiff.errors import SpecdiffError
    from specdiff.evaluation import (
        BasicPitchTranscriber,
        EvalOptions,
        TrillEmbedder,
        VGGishEmbedder,
        evaluate_systems,
    )
    from specdiff.evaluation.vggish import VGGISH_WEIGHTS_URL, cache_dir

    systems = _systems(args)
    wanted, explicit = _wanted(args)
    skipped: list[str] = []
    embedders = []
    if "vggish" in wanted:
        cached = (cache_dir() / Path(VGGISH_WEIGHTS_URL).name).is_file()
        if (explicit or args.vggish_weights or args.download_vggish or cached
                or os.environ.get("SPECDIFF_VGGISH_WEIGHTS")):
            embedders.append(VGGishEmbedder.from_file(args.vggish_weights,
                                                      download=args.download_vggish))
        else:
            skipped.append("VGGish skipped: no weights; --download-vggish fetches them once "
                           f"from {VGGISH_WEIGHTS_URL}, or give --vggish-weights PATH (or "
                           "$SPECDIFF_VGGISH_WEIGHTS)")  # fmt: skip
    if "trill" in wanted:
        if explicit or args.trill_model or os.environ.get("SPECDIFF_TRILL_MODEL"):
            embedders.append(TrillEmbedder.from_dir(args.trill_model))
        else:
            skipped.append("TRILL skipped: no model (optional; give --trill-model DIR)")
    transcriber = None
    if "transcription" in wanted:
        if args.midi_dir is not None:
            transcriber = BasicPitchTranscriber()
        elif explicit:
            raise SpecdiffError("--metrics transcription needs --midi-dir DIR")
        else:
            skipped.append("Transcription F1 skipped: no --midi-dir")
    cache_dir = None if args.no_cache else (args.cache_dir or args.out / "cache")
    options = EvalOptions(
        jobs=max(1, args.jobs), cache_dir=cache_dir, progress=not args.no_progress,
        spectral="spectral" in wanted, fad_method=args.fad_method,
    )  # fmt: skip
    report = evaluate_systems(
        systems, args.dirs[-1], args.midi_dir, embedders=embedders, transcriber=transcriber,
        reference_name=None if args.no_ref_row else args.ref_name, options=options,
    )  # fmt: skip
    report.notes.extend(skipped)
    paths = report.write(args.out)
    if args.plot:
        paths["png"] = report.plot(args.out)
    print(report.to_markdown())
    print("\nwrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 0
