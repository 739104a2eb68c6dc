"""Counted warnings: one line per file and kind of problem, however often it occurs.

A real keypoint file can hold the same flaw thousands of times (a nested ``idx`` in every
AlphaPose entry, NaN points in every frame). Readers record each occurrence in a ``Tally``
and emit one warning per kind at the end, with the count and the first example.
"""
from __future__ import annotations

import warnings


class Tally:
    """Collects occurrences of problems per kind; ``emit`` warns once per kind.

    Args:
      source: the file or folder the problems are in (starts every message).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._kinds: dict[str, list] = {}  # kind -> [count, first example, consequence]

    def add(self, kind: str, example: str, consequence: str = "") -> None:
        """Records one occurrence of ``kind`` (a short description), e.g. at ``example``."""
        entry = self._kinds.setdefault(kind, [0, example, consequence])
        entry[0] += 1

    def count(self, kind: str) -> int:
        return self._kinds.get(kind, [0])[0]

    def messages(self) -> list[str]:
        out = []
        for kind, (n, example, consequence) in self._kinds.items():
            count = f": {n} times, first {example}" if n > 1 else f": {example}"
            tail = f"; {consequence}" if consequence else ""
            out.append(f"{self.source}: {kind}{count}{tail}")
        return out

    def emit(self) -> None:
        """One ``UserWarning`` per kind recorded; then the tally is empty."""
        for m in self.messages():
            warnings.warn(m, stacklevel=3)
        self._kinds.clear()
