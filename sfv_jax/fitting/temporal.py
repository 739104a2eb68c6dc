"""The temporal pass of the 2D fit: per frame, the hypothesis that keeps the motion continuous.

Per frame the lift offers H torso orientations (each with 4 depth orders per limb). Along each
track a Viterbi pass (dynamic programming, NumPy) first picks the torso orientation among a
few distinct good candidates per frame (per-frame cost: torso 2D residual plus the best
plausibility of each limb; transition: squared rotation angle between frames over
``rotation_step``^2), then, given that orientation, one Viterbi pass per limb picks its depth
order (per-frame cost: plausibility; transition: squared motion of the limb's middle and end
joints over ``motion_step``^2). A depth flip (a limb in front swapped behind from one frame to
the next) costs its jump, so it is removed rather than averaged. Without tracks every frame
takes its best per-frame candidate.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def viterbi(unary: np.ndarray, pairwise: np.ndarray) -> np.ndarray:
    """Minimum-cost path: unary (T, S), pairwise (T - 1, S, S) [from, to] -> states (T,) int."""
    t_len = unary.shape[0]
    cost = unary[0].copy()
    back = np.zeros(unary.shape, np.int64)
    for t in range(1, t_len):
        total = cost[:, None] + pairwise[t - 1]
        back[t] = np.argmin(total, axis=0)
        cost = total[back[t], np.arange(unary.shape[1])] + unary[t]
    path = np.zeros(t_len, np.int64)
    path[-1] = int(np.argmin(cost))
    for t in range(t_len - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def torso_candidates(rots: np.ndarray, cost: np.ndarray, k: int, min_angle: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``k`` distinct good orientations per frame (greedy non-maximum suppression).

    rots: (N, H, 3, 3); cost: (N, H). Returns indices (N, k) into H and their costs (N, k),
    inf where fewer than k distinct candidates exist (the index then repeats the best).
    """
    n, h = cost.shape
    tr = np.einsum("nhij,ngij->nhg", rots, rots)
    close = np.arccos(np.clip(0.5 * (tr - 1.0), -1.0, 1.0)) < min_angle   # (N, H, H)
    left = np.where(np.isfinite(cost), cost, np.inf)
    idx = np.zeros((n, k), np.int64)
    out = np.full((n, k), np.inf)
    rows = np.arange(n)
    for i in range(k):
        best = np.argmin(left, axis=1)
        val = left[rows, best]
        idx[:, i] = np.where(np.isfinite(val), best, idx[:, 0])
        out[:, i] = val
        left = np.where(close[rows, best], np.inf, left)
    return idx, out


def choose(rots: np.ndarray, torso_cost: np.ndarray, points: np.ndarray,
           penalty: np.ndarray, valid: np.ndarray, tracks: Sequence[int] | None,
           opts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Hypothesis per frame: (orientation index (N,) into H, depth order per limb (N, 4)).

    rots (N, H, 3, 3); torso_cost (N, H); points (N, H, 4, 4, 2, 3) the limbs' middle / end
    joints per orientation and depth order; penalty (N, H, 4, 4) plausibility; valid (N,);
    tracks: lengths of consecutive tracks along N (their sum is N), or None.
    """
    n = rots.shape[0]
    w = float(opts.plausibility_weight)
    best_limbs = np.min(penalty, axis=-1).sum(-1)                     # (N, H)
    unary = torso_cost + w * best_limbs
    cand, cand_cost = torso_candidates(rots, unary, max(int(opts.torso_candidates), 1),
                                       float(opts.candidate_min_angle))
    rows = np.arange(n)
    h_idx = cand[:, 0].copy()
    combos = np.argmin(penalty[rows, h_idx], axis=-1)                # (N, 4)
    if tracks is None:
        return h_idx, combos
    if int(np.sum(tracks)) != n:
        raise ValueError(f"fit_2d: track lengths sum to {int(np.sum(tracks))}, but there are "
                         f"{n} frames")
    start = 0
    for length in tracks:
        fr = np.arange(start, start + int(length))
        start += int(length)
        fr = fr[valid[fr]]
        if len(fr) < 2:
            continue
        cr = rots[fr[:, None], cand[fr]]                              # (T, k, 3, 3)
        tr = np.einsum("tail,tbil->tab", cr[:-1], cr[1:])
        ang = np.arccos(np.clip(0.5 * (tr - 1.0), -1.0, 1.0))
        gap = (fr[1:] - fr[:-1]).astype(np.float64)[:, None, None]
        unary_t = np.where(np.isfinite(cand_cost[fr]), cand_cost[fr], 1e12)
        path = viterbi(unary_t, (ang / float(opts.rotation_step)) ** 2 / gap)
        h_idx[fr] = cand[fr, path]
        pts = points[fr, h_idx[fr]]                                   # (T, 4, 4, 2, 3)
        pen = penalty[fr, h_idx[fr]]                                  # (T, 4, 4)
        for limb in range(pts.shape[1]):
            p = pts[:, limb]                                          # (T, 4, 2, 3)
            d = p[:-1, :, None] - p[1:, None, :]                      # (T-1, 4, 4, 2, 3)
            move = np.sum(d ** 2, axis=(-1, -2)) / float(opts.motion_step) ** 2 / gap
            combos[fr, limb] = viterbi(w * pen[:, limb], move)
    return h_idx, combos
