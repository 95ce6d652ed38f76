"""Bad-data reporting: each problem names its file, is printed once, skipped and counted."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Problems:
    """Collects ``(file, problem)`` pairs during a long run instead of crashing half-way.

    Args:
        stream: where each problem is printed as it happens (``None`` keeps quiet).
    """

    stream: TextIO | None = field(default_factory=lambda: sys.stderr)
    items: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, file, message)

    def add(self, kind: str, file: object, message: str) -> None:
        """Record one skipped item: ``kind`` is a short category (e.g. ``"unreadable audio"``)."""
        self.items.append((kind, str(file), message))
        if self.stream is not None:
            print(f"skipped: {file}: {kind}: {message}", file=self.stream, flush=True)

    def add_error(self, kind: str, file: object, error: Exception) -> None:
        """Record ``error`` (its message without a leading ``"<file>: "``)."""
        message = str(error)
        prefix = f"{file}: "
        self.add(kind, file, message.removeprefix(prefix))

    def __len__(self) -> int:
        return len(self.items)

    def counts(self) -> dict[str, int]:
        """Number of problems per kind."""
        return dict(Counter(kind for kind, _, _ in self.items))

    def summary(self) -> str:
        """One line: total skipped and the count per kind."""
        if not self.items:
            return "no problems"
        per_kind = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        return f"{len(self.items)} skipped ({per_kind})"
