"""The one exception type that speaks to the user."""

from __future__ import annotations


class SpecdiffError(Exception):
    """A problem the user can fix: bad input file, missing weights, wrong option.

    The CLI prints its message as one line (no traceback) and exits with status 2. The message
    names the file or option and says what was expected.
    """
