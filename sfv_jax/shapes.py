"""Shape checks at the public edges of the pure functions (chex; shapes are static under jit).

``check_shapes("keypoint_l1", pred=(pred, "T K 2"), conf=(conf, "T K"))`` asserts each
argument's shape against a small spec and names the function, the argument, the spec and the
shape it got, so a wrong-shaped input fails where it enters, not deep inside an einsum.
"""
from __future__ import annotations

from typing import Any

import chex
import numpy as np


def check_shapes(where: str, **args: tuple[Any, str]) -> None:
    """Asserts the shapes of a function's inputs (with chex; static, so free under jit).

    Each keyword is ``name=(array, spec)``; spec: space-separated axis sizes, each a number or a
    letter (one size shared by every argument naming it), with ``...`` for any number of axes
    at the front or the back: ``pred=(pred, "T K 2"), conf=(conf, "T K")``. AssertionError
    naming ``where``, the argument and its spec otherwise.
    """
    sizes: dict[str, int] = {}
    for name, (x, spec) in args.items():
        shape = tuple(np.shape(x))
        tokens = spec.split()
        if "..." in tokens:
            # Any number of axes there: as many wildcards as the input has extra axes.
            cut = tokens.index("...")
            extra = max(len(shape) - len(tokens) + 1, 0)
            tokens = tokens[:cut] + ["*"] * extra + tokens[cut + 1:]
        if len(tokens) == len(shape):
            for tok, size in zip(tokens, shape):
                if tok.isalpha():
                    sizes.setdefault(tok, size)
        expected = tuple(int(t) if t.isdigit() else sizes.get(t) for t in tokens)
        chex.assert_shape(x, expected,
                          custom_message=f"{where}: {name} should be ({spec}), got {shape}")
