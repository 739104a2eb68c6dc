"""Running a jitted function over a track's frames in padded power-of-two chunks (an edge helper).

Outputs, exports and summaries apply JAX functions to per-track arrays of every length. Run
op by op, each primitive is compiled anew for every distinct length; jitted on the exact
length, the whole function is. Here the leading (frame) axis is cut into chunks of
``chunk_length`` frames - a power of two or 1.5 times one, so a handful of compiled shapes
serve every track -
the last chunk padded by repeating its final frame, and the results come back as NumPy with
the padding dropped.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import jax
import numpy as np


def chunk_length(num_frames: int, max_chunk: int) -> int:
    """Frames per compiled call: the smallest of 32, 48, 64, 96, 128, 192, ... (powers of two
    and 1.5 times them: at most a third of a chunk is padding) >= ``num_frames``, at most
    ``max_chunk``."""
    n, cap = max(1, int(num_frames)), max(1, int(max_chunk))
    size = 32
    while size < n:
        size = size * 3 // 2 if size & (size - 1) == 0 else size * 4 // 3
    return min(size, cap)


def pad_to(x: np.ndarray, length: int) -> np.ndarray:
    """(n, ...) -> (length, ...) by repeating the last row (1 <= n <= length): padded frames
    repeat the clip's last one, so they add no motion (the one padding of the package)."""
    x = np.asarray(x)
    n = x.shape[0]
    if n > length:
        raise ValueError(f"cannot pad {n} frames down to {length}")
    return x if n == length else np.concatenate([x, np.repeat(x[-1:], length - n, 0)])


def map_chunks(fn: Callable[..., Any], arrays: Sequence[np.ndarray], max_chunk: int = 256
               ) -> Iterator[tuple[int, int, Any]]:
    """Yields (start, stop, fn's output pytree as NumPy, cut to stop - start frames).

    ``fn``: a jitted function of the chunked arrays (each (C, ...), C = ``chunk_length``)
    returning arrays with the same leading C; ``arrays``: (T, ...) each, one T.
    """
    arrays = [np.asarray(a) for a in arrays]
    t = arrays[0].shape[0]
    if t == 0 or any(a.shape[:1] != (t,) for a in arrays):
        raise ValueError(f"arrays must share a leading frame axis T >= 1, got "
                         f"{[a.shape for a in arrays]}")
    size = chunk_length(t, max_chunk)
    for start in range(0, t, size):
        stop = min(t, start + size)
        out = fn(*(pad_to(a[start:stop], size) for a in arrays))
        yield start, stop, jax.tree_util.tree_map(lambda v: np.asarray(v)[:stop - start], out)


def apply_chunked(fn: Callable[..., Any], *arrays: np.ndarray, max_chunk: int = 256) -> Any:
    """``fn`` over the whole track: the chunks of ``map_chunks`` joined back to T frames."""
    parts = [p[2] for p in map_chunks(fn, arrays, max_chunk)]
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts)
