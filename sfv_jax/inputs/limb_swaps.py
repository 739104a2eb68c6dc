"""Left/right limb swaps of a track's detections, found and undone along the track.

2D detectors now and then give a person's left limb the right one's label and vice versa, for
a frame or a few (OpenPose on a leg seen from the side or on a person seen from behind; both
arms with their shoulders when it takes the back for the front). Fitted as they are, those
frames pull the body into a twisted pose: the 2D fit lifts the twist, and the temporal solve
spreads it over the neighbouring frames instead of removing it.

Per track and per limb group (``GROUPS``: arms = shoulder, elbow, wrist and hand points; legs =
hip, knee, ankle and foot points) every frame has three labelings (``STATES``): as detected,
the whole group's left and right exchanged, or only its distal points (the group without its
shoulders / hips: the usual knee-and-ankle swap). A Viterbi pass along the track picks per
frame the labeling that keeps the points' motion continuous:

  - between consecutive frames, each point seen in both (confidence > ``min_confidence``)
    costs rho(|p_t - p_{t-1} - s_t|^2 / (motion_scale * size)^2), s_t the body's own shift
    (the median step of the points no labeling moves: neck, mid hip, head points), size the
    track's median keypoint-box diagonal, rho(x) = cap x / (cap + x) (one wild point costs at
    most ``cap``);
  - every relabelled frame costs ``swap_cost``, so ties (limbs that cross, frames without
    neighbours) keep the detector's labels, and a swap is undone only when its jumps cost more
    than ``swap_cost`` per frame it lasts.

A swap that starts or ends in a frame where the group is not seen leaves no jump there, so it
is not found; neither is one that lasts the whole track (nothing tells which labeling is right).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sfv_jax.geometry import crops
from sfv_jax.inputs.config import TrackingSettings
from sfv_jax.viterbi import viterbi_batch

# Limb groups, by the part names after "left_" / "right_" (any keypoint format's names); the
# first part of each is its root (kept in place by the "distal" labeling).
GROUPS: dict[str, tuple[str, ...]] = {
    "arms": ("shoulder", "elbow", "wrist", "pinky", "index", "thumb"),
    "legs": ("hip", "knee", "ankle", "big_toe", "small_toe", "heel", "foot_index"),
}
STATES = ("as_detected", "group", "distal")


def group_pairs(names: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per group present in ``names``: (left indices (P,), right indices (P,), distal (P,) bool)."""
    out = {}
    for group, parts in GROUPS.items():
        rows = [(names.index("left_" + p), names.index("right_" + p), i > 0)
                for i, p in enumerate(parts)
                if "left_" + p in names and "right_" + p in names]
        if len(rows) >= 2:
            left, right, distal = (np.asarray(c) for c in zip(*rows))
            out[group] = (left.astype(np.int64), right.astype(np.int64), distal.astype(bool))
    return out


def _labelings(kps: np.ndarray, left: np.ndarray, right: np.ndarray,
               distal: np.ndarray) -> np.ndarray:
    """(T, S, 2P, 3) the group's points (left then right) under each labeling of ``STATES``."""
    idx_l = np.stack([left, right, np.where(distal, right, left)])      # (S, P)
    idx_r = np.stack([right, left, np.where(distal, left, right)])
    idx = np.concatenate([idx_l, idx_r], axis=1)                         # (S, 2P)
    return kps[:, idx]


def find_swaps(keypoints: np.ndarray, names: Sequence[str], min_confidence: float,
               motion_scale: float, swap_cost: float, cap: float) -> dict[str, np.ndarray]:
    """Per group of ``group_pairs(names)``: (T,) int labeling per frame (index into ``STATES``).

    keypoints: (T, K, 3) one track's full-image px and confidence (0 where unseen), frames
    consecutive. See the module docstring for the costs.
    """
    kps = np.asarray(keypoints, np.float64)
    t_len = kps.shape[0]
    pairs = group_pairs(list(names))
    if t_len < 2 or swap_cost <= 0 or not pairs:
        return {g: np.zeros(t_len, np.int64) for g in pairs}
    seen = kps[..., 2] > min_confidence
    # The body's own motion between frames: the median step of the points no labeling moves
    # (neck, mid hip, head points) seen in both frames; 0 where there are none.
    grouped = np.concatenate([np.concatenate(v[:2]) for v in pairs.values()])
    ref = np.setdiff1d(np.arange(kps.shape[1]), grouped)
    both_ref = seen[1:, ref] & seen[:-1, ref]
    steps = np.where(both_ref[..., None], kps[1:, ref, :2] - kps[:-1, ref, :2], np.nan)
    steps[~both_ref.any(axis=1)] = 0.0
    shift = np.nanmedian(steps, axis=1)                                       # (T-1, 2)
    # The person's size: the median diagonal of the seen points' box (crops.person_box).
    _, diag, count = crops.person_box(kps[..., :2], seen)
    size = float(np.median(diag[count > 0])) if (count > 0).any() else 0.0
    if not size > 0:
        return {g: np.zeros(t_len, np.int64) for g in pairs}
    scale2 = (motion_scale * size) ** 2
    unary_row = np.asarray([0.0] + [swap_cost] * (len(STATES) - 1))
    unary, pairwise = [], []
    for left, right, distal in pairs.values():
        lab = _labelings(kps, left, right, distal)                        # (T, S, 2P, 3)
        xy = lab[..., :2]
        ok = lab[..., 2] > min_confidence
        # Frame t-1 under labeling a (rows) against frame t under b (columns), the body's own
        # shift taken out.
        step = xy[1:, None] - xy[:-1, :, None] - shift[:, None, None, None, :]
        d2 = np.sum(step ** 2, axis=-1) / scale2                              # (T-1,S,S,2P)
        both = ok[:-1, :, None] & ok[1:, None]
        pairwise.append(np.sum(np.where(both, cap * d2 / (cap + d2), 0.0), axis=-1))
        unary.append(np.broadcast_to(unary_row, (t_len, len(STATES))))
    paths = viterbi_batch(np.stack(unary), np.stack(pairwise))
    return {g: paths[i] for i, g in enumerate(pairs)}


def undo_swaps(keypoints: np.ndarray, names: Sequence[str],
               labelings: dict[str, np.ndarray]) -> np.ndarray:
    """(T, K, 3) copy of ``keypoints`` with each group relabelled per frame as ``find_swaps``
    chose (positions and confidences move together)."""
    kps = np.array(keypoints, dtype=np.float64)
    pairs = group_pairs(list(names))
    for group, states in labelings.items():
        left, right, distal = pairs[group]
        lab = _labelings(kps, left, right, distal)                        # (T, S, 2P, 3)
        chosen = lab[np.arange(kps.shape[0]), states]                     # (T, 2P, 3)
        kps[:, np.concatenate([left, right])] = chosen
    return kps


def repair_swaps(keypoints: np.ndarray, names: Sequence[str], settings: TrackingSettings
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(keypoints with the swaps undone (T, K, 3), ``find_swaps``'s labelings per group), with
    the ``tracking`` section's ``vis_thresh``, ``swap_motion_scale``, ``swap_cost`` and
    ``swap_point_cap``.

    ``swap_cost`` <= 0 returns an unchanged copy (every labeling 0). See ``find_swaps``.
    """
    labelings = find_swaps(keypoints, names, settings.vis_thresh, settings.swap_motion_scale,
                           settings.swap_cost, settings.swap_point_cap)
    return undo_swaps(keypoints, names, labelings), labelings
