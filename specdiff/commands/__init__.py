"""Subcommands of the ``specdiff`` CLI, one module each (see ``specdiff.cli.COMMANDS``)."""
