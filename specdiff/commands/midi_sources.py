"""``specdiff midi-sources``: MIDI material that installs offline, for ``specdiff render``."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "midi-sources",
        help="generate MIDI to render: music21 corpus, mma grooves, procedural parts",
        description="music21: export the music21 corpus (Bach chorales first, then its other "
        "scores) with a random instrument per part. mma: chord charts played by Debian mma, "
        "cycling through its library grooves. procedural: melodies, chords, arpeggios and bass "
        "lines over every GM program, with drum-kit parts. Existing files are kept.",
    )
    p.add_argument("source", choices=("music21", "mma", "procedural"))
    p.add_argument("out", help="output folder for the .mid files")
    p.add_argument("--count", type=int, default=None,
                   help="number of files (music21: default all; mma: default one per groove; "
                   "procedural: default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from specdiff.data.problems import Problems

    problems = Problems()
    progress = not args.no_progress
    if args.source == "music21":
        from specdiff.data.source_music21 import export_music21

        n = export_music21(args.out, args.count, args.seed, problems, progress)
    elif args.source == "mma":
        from specdiff.data.source_mma import generate_mma, grooves

        count = args.count if args.count is not None else len(grooves())
        n = generate_mma(args.out, count, args.seed, problems=problems, progress=progress)
    else:
        from specdiff.data.source_procedural import generate_procedural

        n = generate_procedural(args.out, args.count if args.count is not None else 256,
                                args.seed, progress)
    print(f"{n} MIDI files in {args.out}; {problems.summary()}")
    return 0 if n else 1
