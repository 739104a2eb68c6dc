"""A solve batch that raises costs only the clips that make it raise.

Clips are validated while their video is read (``sfv_jax.track_checks``), so a batch should not
raise; if one still does (a clip the checks let through, a numerical failure in one clip),
``solve_isolating`` re-solves the batch without the failing clip: a clip the error names
(``clip N`` in the solver's messages) is dropped directly, otherwise the batch is split in
halves until the failing clips are alone. Every track's result is bitwise independent of how
clips are grouped into batches (fixed ``solver.clips_per_device``), so the re-solved clips
come out exactly as they would have in the full batch.
"""
from __future__ import annotations

import math
import re
from typing import Callable, Sequence, TypeVar

from absl import logging

C = TypeVar("C")
R = TypeVar("R")
_NAMED = re.compile(r"^clip (\d+)\b")


def named_clip(error: Exception, group: Sequence[C]) -> int | None:
    """The position in ``group`` of the clip a solver ValueError names (``clip N: ...``)."""
    m = _NAMED.match(str(error))
    if isinstance(error, ValueError) and m and int(m.group(1)) < len(group):
        return int(m.group(1))
    return None


def solve_isolating(solve: Callable[[list[C]], Sequence[R]], clips: Sequence[C],
                    max_attempts: int | None = None,
                    culprit: Callable[[Exception, Sequence[C]], int | None] = named_clip
                    ) -> list[R | Exception]:
    """``solve(clips)`` with failing clips isolated.

    Args:
      solve: solves a list of clips, returning one result per clip in order, or raising.
      clips: the batch.
      max_attempts: most calls of ``solve`` (default ``4 ceil(log2(n + 1)) + 4``: enough to
        isolate a few bad clips; an error every subset shares, such as running out of memory,
        then fails the remaining clips instead of solving each alone).
      culprit: the position in the failing group of the clip an error names, or None
        (default ``named_clip``; the pipeline maps window clips back to tracks).
    Returns:
      per clip its result, or the exception that its solve (alone or in the smallest failing
      group) raised.
    """
    n = len(clips)
    out: list[R | Exception | None] = [None] * n
    limit = max_attempts or 4 * math.ceil(math.log2(n + 1)) + 4
    groups: list[list[int]] = [list(range(n))] if n else []
    attempts = 0
    while groups:
        idx = groups.pop()
        if attempts >= limit:
            for i in idx:
                out[i] = RuntimeError(f"not solved: the batch kept failing after {attempts} "
                                      f"attempts to isolate the failing clips")
            continue
        attempts += 1
        try:
            res = list(solve([clips[i] for i in idx]))
            if len(res) != len(idx):
                raise RuntimeError(f"the solve returned {len(res)} results for {len(idx)} clips")
            for i, r in zip(idx, res):
                out[i] = r
            continue
        except Exception as e:  # noqa: BLE001 - isolate whatever the failure is
            err = e
        if len(idx) == 1:
            out[idx[0]] = err
            continue
        pos = culprit(err, [clips[i] for i in idx])
        if pos is not None and 0 <= pos < len(idx):
            bad = idx[pos]
            logging.error("solve: clip %d failed (%s); re-solving the %d others", bad, err,
                          len(idx) - 1)
            out[bad] = err
            groups.append([i for i in idx if i != bad])
            continue
        logging.error("solve of %d clips failed (%s: %s); splitting the batch to isolate it",
                      len(idx), type(err).__name__, err)
        half = len(idx) // 2
        groups.extend([idx[half:], idx[:half]])
    return out  # type: ignore[return-value]
