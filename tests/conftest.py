"""Root conftest of the tests: puts ``tests/`` on ``sys.path`` so shared test helpers such as
``midi_files`` import by name from every test folder (pytest's default "prepend" import mode
would add this folder anyway when loading this file; the explicit insert also covers
``--import-mode=importlib``)."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
