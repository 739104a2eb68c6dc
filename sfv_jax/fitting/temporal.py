"""The temporal pass of the 2D fit: per frame, the hypothesis that keeps the motion continuous.

Per frame the lift offers M torso orientations (each with 4 depth orders per limb). Along each
track a Viterbi pass (dynamic programming in NumPy, every track and limb of a call batched
together) first picks the torso orientation among a few distinct good candidates per frame
(``torso.distinct_candidates``; per-frame cost: torso 2D residual plus the best plausibility
of each limb; transition: squared rotation angle between frames over ``rotation_step``^2), then, given that orientation, one Viterbi pass per limb picks its depth
order (per-frame cost: plausibility; transition: squared motion of the limb's middle and end
joints over ``motion_step``^2). A depth flip (a limb in front swapped behind from one frame to
the next) costs its jump, so it is removed rather than averaged. Without tracks every frame
takes its best per-frame candidate.

Before the hypotheses, ``fill_gaps`` bridges short runs of frames where a keypoint of a track is
not seen (a wrist behind the body, a missed detection) by interpolating it from the frames
around the run (or, where no run can be bridged, holding its last seen offset for a while), so
the lift places that limb where the motion says it went instead of where the priors alone would
put it. A hand or foot point moves with its seen parent (the wrist with the elbow), the others
with the torso.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from sfv_jax.fitting import torso
from sfv_jax.viterbi import viterbi, viterbi_batch  # noqa: F401 - the temporal pass's DP


def fill_gaps(keypoints: np.ndarray, tracks: Sequence[int], anchor: Sequence[int],
              min_confidence: float, max_gap: int, confidence_scale: float,
              end_confidence: float = 0.0, max_hold: int = 0,
              parents: Sequence[int] | None = None) -> np.ndarray:
    """Keypoints of each track with short unseen runs interpolated or held (a copy; NumPy).

    A keypoint is unseen at frame t when its confidence is <= ``min_confidence``. A run of at
    most ``max_gap`` unseen frames with the point seen at frames a (before) and b (after) gets,
    at a < t < b with w = (t - a) / (b - a),
        p_t = (1 - w) (p_a - c_a) + w (p_b - c_b) + c_t,
    where c is the mean of the ``anchor`` points (shoulders and hips) when they are all seen at
    a, b and t: the point moves with the body in the image and only its offset from the torso
    is interpolated; otherwise c = 0 (plain linear interpolation). A point with a parent
    (``parents[k] >= 0``: the wrist's elbow, the ankle's knee) that is seen at a, b and t takes
    c = that parent instead: a forearm keeps its own direction while the arm swings, which the
    torso's offset does not follow. Its confidence is
    ``confidence_scale`` times the lower of its confidences at a and b. The ends a and b must
    be detections of confidence >= ``end_confidence`` (seen points below it, a detector's
    guesses at occluded points, are neither ends nor filled). Unseen frames that no such run
    bridges (the run touches the track's first or last frame, is longer than ``max_gap``, or
    its other end is not confident) but lie within ``max_hold`` frames of an end a hold the
    nearest end's offset (from the same c): p_t = p_a - c_a + c_t, confidence
    ``confidence_scale`` times a's. Frames where no point at all is seen stay as they are.

    Args:
      keypoints: (N, K, 3) full-image px and confidence, tracks laid end to end.
      tracks: lengths of the consecutive tracks (summing to N).
      anchor: indices of the points whose mean is the torso centre (may be empty).
      min_confidence, max_gap (frames; 0 = no interpolation), confidence_scale,
        end_confidence, max_hold (frames; 0 = no holding): see above.
      parents: (K,) index of each point's parent point, -1 for none (None: no parents).
    Returns:
      (N, K, 3) float array.
    """
    kps = np.array(keypoints, dtype=np.float64)
    n = kps.shape[0]
    if parents is not None:
        par = np.asarray(parents, np.int64)
        if par.shape != (kps.shape[1],) or par.max(initial=-1) >= kps.shape[1]:
            raise ValueError(f"fill_gaps: parents must be {kps.shape[1]} indices below "
                             f"{kps.shape[1]} (-1: none), got {par.tolist()}")
    if max(max_gap, max_hold) <= 0 or n == 0:
        return kps
    lengths = np.asarray(tracks, np.int64)
    if int(lengths.sum()) != n:
        raise ValueError(f"fill_gaps: track lengths sum to {int(lengths.sum())}, but there are "
                         f"{n} frames")
    # Every track at once: the last / next gap end over all frames, kept only within the
    # frame's own track (first..last frame).
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)[:, None]      # (N, 1)
    last = first + np.repeat(lengths, lengths)[:, None] - 1
    seen = kps[..., 2] > min_confidence                                      # (N, K)
    ends = seen & (kps[..., 2] >= end_confidence)
    t = np.arange(n)[:, None]
    prev = np.maximum.accumulate(np.where(ends, t, -1), axis=0)
    after = np.minimum.accumulate(np.where(ends, t, n)[::-1], axis=0)[::-1]
    has_a, has_b = prev >= first, after <= last
    open_ = (~seen) & seen.any(axis=1, keepdims=True)
    bridge = open_ & has_a & has_b & (after - prev - 1 <= max_gap)
    near_a, near_b = has_a & (t - prev <= max_hold), has_b & (after - t <= max_hold)
    hold = open_ & ~bridge & (near_a | near_b)
    fill = bridge | hold
    if not fill.any():
        return kps
    # A held frame takes its nearest end as both ends (w = 0 below).
    from_a = near_a & (~near_b | (t - prev <= after - t))
    prev = np.where(hold, np.where(from_a, prev, after), prev)
    after = np.where(hold, prev, after)
    a, b = np.clip(prev, 0, n - 1), np.clip(after, 0, n - 1)
    cols = np.arange(kps.shape[1])[None, :]
    w = ((t - a) / np.maximum(b - a, 1))[..., None]                         # (N, K, 1)
    pa, pb = kps[a, cols, :2], kps[b, cols, :2]
    p = (1.0 - w) * pa + w * pb

    def relative(p: np.ndarray, c: np.ndarray, c_seen: np.ndarray) -> np.ndarray:
        """p, except where the centre c (N, K, 2) is seen (c_seen (N, K)) at a, b and t: there
        the point's offset from c is interpolated."""
        ok = (c_seen & c_seen[a, cols] & c_seen[b, cols])[..., None]
        return np.where(ok, (1.0 - w) * (pa - c[a, cols]) + w * (pb - c[b, cols]) + c, p)

    anchor = list(anchor)
    if anchor:
        torso = np.broadcast_to(kps[:, anchor, :2].mean(axis=1)[:, None], pa.shape)
        p = relative(p, torso, np.broadcast_to(seen[:, anchor].all(axis=1)[:, None], seen.shape))
    if parents is not None:
        idx = np.maximum(par, 0)
        p = relative(p, kps[:, idx, :2], seen[:, idx] & (par >= 0)[None, :])
    conf = confidence_scale * np.minimum(kps[a, cols, 2], kps[b, cols, 2])
    kps[..., :2] = np.where(fill[..., None], p, kps[..., :2])
    kps[..., 2] = np.where(fill, conf, kps[..., 2])
    return kps


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
    # The distinct good orientations among those lifted, now ranked with their limbs too.
    cand, found = torso.distinct_candidates(rots, unary, max(int(opts.torso_candidates), 1),
                                            float(opts.candidate_min_angle))
    cand_cost = np.where(found, np.take_along_axis(unary, cand, axis=1), np.inf)
    rows = np.arange(n)
    h_idx = cand[:, 0].copy()
    combos = np.argmin(penalty[rows, h_idx], axis=-1)                # (N, 4)
    if tracks is None:
        return h_idx, combos
    if int(np.sum(tracks)) != n:
        raise ValueError(f"fit_2d: track lengths sum to {int(np.sum(tracks))}, but there are "
                         f"{n} frames")
    # The valid frames of each track with at least two, padded to one length (mask False).
    chains, start = [], 0
    for length in tracks:
        fr = np.arange(start, start + int(length))
        start += int(length)
        fr = fr[valid[fr]]
        if len(fr) >= 2:
            chains.append(fr)
    if not chains:
        return h_idx, combos
    t_max = max(len(c) for c in chains)
    idx = np.stack([np.concatenate([c, np.full(t_max - len(c), c[-1])]) for c in chains])
    mask = np.arange(t_max)[None, :] < np.asarray([len(c) for c in chains])[:, None]
    step = mask[:, 1:]                                                  # (B, T-1)
    gap = np.maximum(idx[:, 1:] - idx[:, :-1], 1).astype(np.float64)[..., None, None]
    # Torso orientation among the candidates: rotation angle between frames.
    cr = rots[idx[..., None], cand[idx]]                                # (B, T, k, 3, 3)
    tr = np.einsum("ntail,ntbil->ntab", cr[:, :-1], cr[:, 1:])
    ang = np.arccos(np.clip(0.5 * (tr - 1.0), -1.0, 1.0))
    pair = np.where(step[..., None, None], (ang / float(opts.rotation_step)) ** 2 / gap, 0.0)
    unary_t = np.where(np.isfinite(cand_cost[idx]), cand_cost[idx], 1e12)
    path = viterbi_batch(np.where(mask[..., None], unary_t, 0.0), pair)
    chosen = cand[idx, path]                                            # (B, T)
    h_idx[idx[mask]] = chosen[mask]
    # Depth order of each limb given that orientation: its joints' motion between frames.
    pts = points[idx, chosen]                                           # (B, T, 4, 4, 2, 3)
    pen = penalty[idx, chosen]                                          # (B, T, 4, 4)
    d = pts[:, :-1, :, :, None] - pts[:, 1:, :, None, :]                # (B, T-1, 4, 4, 4, 2, 3)
    move = np.sum(d ** 2, axis=(-1, -2)) / float(opts.motion_step) ** 2 / gap[..., None]
    move = np.where(step[..., None, None, None], move, 0.0)             # (B, T-1, 4, 4, 4)
    limbs = pts.shape[2]
    unary_l = np.where(mask[..., None, None], w * pen, 0.0).transpose(0, 2, 1, 3)
    pair_l = move.transpose(0, 2, 1, 3, 4)
    paths = viterbi_batch(unary_l.reshape((-1,) + unary_l.shape[2:]),
                          pair_l.reshape((-1,) + pair_l.shape[2:]))
    paths = paths.reshape(len(chains), limbs, t_max).transpose(0, 2, 1)  # (B, T, 4)
    combos[idx[mask]] = paths[mask]
    return h_idx, combos
