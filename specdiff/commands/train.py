"""``specdiff fit | validate | test --config CONFIG.yaml [overrides]``: LightningCLI subcommands."""

from __future__ import annotations

import argparse

_HELP = {
    "fit": "train a model (LightningCLI fit; e.g. --config configs/diff_small_context.yaml)",
    "validate": "run validation on a checkpoint (LightningCLI validate)",
    "test": "score a system on the test set (LightningCLI test)",
}


def register(subparsers) -> None:
    for name, text in _HELP.items():
        # Everything after the subcommand goes to LightningCLI untouched (its own --help included).
        parser = subparsers.add_parser(name, help=text, description=text, add_help=False,
                                       prefix_chars="\x00")
        parser.add_argument("args", nargs=argparse.REMAINDER)
        parser.set_defaults(func=run, lightning_subcommand=name)


def run(args) -> int:
    from specdiff.training.cli import cli_main

    try:
        cli_main([args.lightning_subcommand, *args.args])
    except SystemExit as exit_:  # jsonargparse exits on --help and on config errors
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    return 0
