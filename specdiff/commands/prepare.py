"""``specdiff prepare``: corpora -> a fast, memory-mapped training cache."""

from __future__ import annotations

import os

CORPORA = ("maestro", "musicnet", "guitarset", "urmp", "slakh")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="convert corpora (and rendered corpora) into a training cache",
        description="Decode, mix down and resample every example to mono 16 kHz once, parse its "
        "notes once, and store both in memory-mappable shards under OUT with an index. Give the "
        "root of each corpus you have; omit the others. Re-running resumes. Bad files are "
        "reported, skipped and counted.",
    )
    p.add_argument("out", help="cache folder")
    for name in CORPORA:
        p.add_argument(f"--{name}", metavar="ROOT", help=f"{name} dataset root")
    p.add_argument("--urmp-midi", metavar="DIR",
                   help="cleaned URMP MIDI from `specdiff clean-urmp-midi` (default: re-program "
                   "the raw scores in memory)")
    p.add_argument("--rendered", metavar="ROOT", action="append", default=[],
                   help="a corpus written by `specdiff render` (repeatable; corpus name "
                   "rendered:<folder name>)")
    p.add_argument("--splits", default="train,validation,test",
                   help="comma-separated splits to include (default: all)")
    p.add_argument("--slakh-submixes", type=int, default=10, help="random sub-mixes per track")
    p.add_argument("--audio-dtype", choices=("float32", "int16"), default="float32")
    p.add_argument("--max-overhang", type=float, default=1.0,
                   help="seconds notes may last past the audio before the pair is skipped")
    p.add_argument("--max-silent-tail", type=float, default=60.0,
                   help="seconds the audio may last past the last note before the pair is skipped")
    p.add_argument("--mel", action="store_true",
                   help="also store each example's log-mel (float16), so training windows need "
                   "no STFT")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=0, help="seeds the Slakh sub-mix draw")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from specdiff.data.prepare import PrepareConfig, gather_examples, prepare_cache
    from specdiff.data.problems import Problems
    from specdiff.errors import SpecdiffError

    corpora: dict[str, dict] = {}
    for name in CORPORA:
        root = getattr(args, name)
        if root:
            corpora[name] = {"root": root}
    if "urmp" in corpora and args.urmp_midi:
        corpora["urmp"]["midi_root"] = args.urmp_midi
    if "slakh" in corpora:
        corpora["slakh"].update(seed=args.seed, submixes=args.slakh_submixes)
    for root in args.rendered:
        corpora[f"rendered:{Path(root).name}"] = {"root": root, "name": Path(root).name}
    if not corpora:
        raise SpecdiffError("no corpus given: pass at least one of "
                            + ", ".join(f"--{c}" for c in (*CORPORA, "rendered")))
    problems = Problems()
    splits = [s for s in args.splits.split(",") if s.strip()]
    examples = gather_examples(corpora, splits, problems)
    config = PrepareConfig(audio_dtype=args.audio_dtype, max_overhang=args.max_overhang,
                           max_silent_tail=args.max_silent_tail,
                           jobs=args.jobs, mel=args.mel)
    report = prepare_cache(examples, args.out, config, problems, progress=not args.no_progress)
    print(f"cached {report.items} new examples ({report.already} already cached) in {args.out}; "
          f"{problems.summary()}")
    return 0 if report.items or report.already else 1
