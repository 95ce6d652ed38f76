"""``specdiff clean-urmp-midi``: URMP scores with each track on its instrument's program."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "clean-urmp-midi",
        help="write URMP score MIDI with programs from the piece folder names",
        description="For each URMP piece folder (e.g. 01_Jupiter_vn_vc) write OUT_DIR/<folder>.mid: "
        "a copy of its Sco_*.mid where the i-th instrument track plays the GM program of the "
        "i-th instrument code. The inputs are never modified.",
    )
    p.add_argument("urmp_root")
    p.add_argument("out_dir")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from specdiff.data.example import require_dir
    from specdiff.data.problems import Problems
    from specdiff.data.urmp import clean_midi, folder_programs, piece_folders, score_midi
    from specdiff.errors import SpecdiffError

    root = require_dir(args.urmp_root, "URMP")
    out = Path(args.out_dir)
    if out.resolve() == root.resolve():
        raise SpecdiffError(f"{out}: OUT_DIR must differ from URMP_ROOT (inputs are never modified)")
    problems = Problems()
    folders = piece_folders(root)
    if not folders:
        raise SpecdiffError(f"{root}: no URMP piece folders like 01_Jupiter_vn_vc")
    written = 0
    for folder in folders:
        try:
            clean_midi(score_midi(folder), out / f"{folder.name}.mid", folder_programs(folder.name))
            written += 1
        except SpecdiffError as error:
            problems.add_error("bad URMP piece", folder, error)
    print(f"wrote {written} MIDI files to {out}; {problems.summary()}")
    return 0 if written else 1
