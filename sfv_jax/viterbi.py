"""Minimum-cost label sequences (Viterbi dynamic programming in NumPy), one chain or many.

Shared by the 2D fit's temporal pass (``fitting.temporal``: torso orientation and limb depth
order per frame) and the tracker's left/right limb-swap repair (``inputs.limb_swaps``).
"""
from __future__ import annotations

import numpy as np


def viterbi(unary: np.ndarray, pairwise: np.ndarray) -> np.ndarray:
    """Minimum-cost path: unary (T, S), pairwise (T - 1, S, S) [from, to] -> states (T,) int."""
    return viterbi_batch(unary[None], pairwise[None])[0]


def viterbi_batch(unary: np.ndarray, pairwise: np.ndarray) -> np.ndarray:
    """Minimum-cost paths of B chains at once: unary (B, T, S), pairwise (B, T - 1, S, S)
    [from, to] -> states (B, T) int.

    Chains shorter than T are padded at the end with zero unary and pairwise costs: the padded
    steps then carry the best end state along, so each chain's path over its own frames is the
    one it would get alone (ties resolve to the lowest state either way).
    """
    b, t_len, n_states = unary.shape
    cost = unary[:, 0].copy()
    back = np.zeros((b, t_len, n_states), np.int64)
    rows = np.arange(b)[:, None]
    cols = np.arange(n_states)[None, :]
    for t in range(1, t_len):
        total = cost[:, :, None] + pairwise[:, t - 1]
        back[:, t] = np.argmin(total, axis=1)
        cost = total[rows, back[:, t], cols] + unary[:, t]
    path = np.zeros((b, t_len), np.int64)
    path[:, -1] = np.argmin(cost, axis=1)
    for t in range(t_len - 1, 0, -1):
        path[:, t - 1] = back[np.arange(b), t, path[:, t]]
    return path
