"""``specdiff render``: MIDI files -> a paired 16 kHz corpus with FluidSynth."""

from __future__ import annotations

import argparse
import os


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or min(parts) < 0 or sum(parts) <= 0:
        raise argparse.ArgumentTypeError("expected three fractions like 0.8,0.1,0.1")
    return parts  # type: ignore[return-value]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "render",
        help="render MIDI files with FluidSynth into a paired audio/MIDI corpus",
        description="Render MIDI files (or folders of them, searched recursively) with the "
        "FluidSynth CLI into OUT/audio/*.wav (mono 16 kHz), OUT/midi/*.mid (the MIDI as "
        "rendered) and OUT/manifest.jsonl. Resumable: files already rendered are skipped.",
    )
    p.add_argument("inputs", nargs="+", metavar="MIDI_DIR_OR_FILE")
    p.add_argument("-o", "--out", required=True, help="output corpus folder")
    p.add_argument("--soundfont", default="/usr/share/sounds/sf2/FluidR3_GM.sf2",
                   help="SoundFont .sf2 (default: %(default)s)")
    p.add_argument("--random-programs", action="store_true",
                   help="give every track/channel a random GM program (seeded per file)")
    p.add_argument("--variants", type=int, default=1,
                   help="with --random-programs: renders per file, each with other programs")
    p.add_argument("--split", type=_fractions, default=(0.8, 0.1, 0.1),
                   help="train,validation,test fractions, assigned per file (default 0.8,0.1,0.1)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel renders")
    p.add_argument("--tail", type=float, default=2.0,
                   help="seconds kept after the last note (output cap), default 2")
    p.add_argument("--effects", action="store_true", help="keep FluidSynth reverb and chorus")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from specdiff.data.render import RenderConfig, render_corpus

    config = RenderConfig(soundfont=args.soundfont, tail=args.tail, effects=args.effects,
                          random_programs=args.random_programs, variants=args.variants,
                          split=args.split, seed=args.seed)
    report = render_corpus(args.inputs, args.out, config, jobs=args.jobs,
                           progress=not args.no_progress)
    print(f"rendered {report.rendered} files, {report.skipped_existing} already done, "
          f"{report.problems.summary()}")
    return 1 if report.problems and not report.rendered else 0
