"""The ``specdiff`` command line: one subcommand per module in ``specdiff.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from specdiff import __version__
from specdiff.errors import SpecdiffError

# Subcommand modules, in the order `specdiff --help` lists them. Each module defines
# `register(subparsers)`, which adds its parser and sets `func(args) -> int | None` as default.
COMMANDS = [
    "specdiff.commands.synth",
    "specdiff.commands.info",
    "specdiff.commands.tokenize",
    "specdiff.commands.eval",
    "specdiff.commands.train",
    "specdiff.commands.export",
    "specdiff.commands.render",
    "specdiff.commands.clean_urmp_midi",
    "specdiff.commands.midi_sources",
    "specdiff.commands.prepare",
    "specdiff.commands.demo",
    "specdiff.commands.convert",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specdiff",
        description="Multi-instrument music synthesis with spectrogram diffusion.",
    )
    parser.add_argument("--version", action="version", version=f"specdiff {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 user error, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except SpecdiffError as error:
        print(f"specdiff {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"specdiff {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `specdiff tokenize x.mid --events | head`
        sys.stderr.close()
        return 0
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
