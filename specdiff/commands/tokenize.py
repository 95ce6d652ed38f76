"""``specdiff tokenize FILE.mid``: MIDI -> official note tokens, one list per 5.12 s segment."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tokenize", help="MIDI file -> official note tokens (5.12 s segments)",
        description="Tokenize a MIDI file into the official checkpoints' note tokens: one list "
                    "of ids per 5.12 s segment, each ending with EOS (1), without zero padding.")
    parser.add_argument("midi", metavar="FILE.mid", help="MIDI file")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--json", action="store_true",
                      help='print {"segments": [[id, ...], ...]} to stdout')
    view.add_argument("--events", action="store_true",
                      help="print a human-readable view: time, event type, value")
    parser.add_argument("--no-program-map", action="store_true",
                        help="keep raw GM programs (default: map them to Slakh class programs, "
                             "as the official inference does)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    import warnings

    from specdiff.codec import (
        OFFICIAL_CODEC,
        TruncationWarning,
        decode_events,
        read_midi,
        tokenize_notes,
    )

    seq = read_midi(args.midi)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TruncationWarning)
        segments = tokenize_notes(seq, program_map=not args.no_program_map, name=args.midi)
    for warning in caught:  # over-long segments: one line each on stderr
        if issubclass(warning.category, TruncationWarning):
            print(f"specdiff tokenize: warning: {warning.message}", file=sys.stderr)
    out = sys.stdout
    if args.json:
        json.dump({"segments": [s.tolist() for s in segments]}, out, separators=(",", ":"))
        out.write("\n")
    elif args.events:
        seconds = OFFICIAL_CODEC.segment_seconds
        for k, ids in enumerate(segments):
            t0 = k * seconds
            out.write(f"# segment {k}  {t0:.2f}-{t0 + seconds:.2f} s  {len(ids)} ids\n")
            for event in decode_events(ids, OFFICIAL_CODEC, t0):
                out.write(f"{event.time:9.2f}  {event.kind:<8} {event.value}\n")
    else:
        lengths = ", ".join(str(len(s)) for s in segments)
        out.write(f"{args.midi}: {len(seq)} notes, {seq.total_time:.2f} s, "
                  f"{len(segments)} segments of {lengths or '-'} ids "
                  f"(use --json or --events to print them)\n")
    return 0
