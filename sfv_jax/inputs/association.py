"""Matching per-person 3D estimates (HMR, HMMR, VIBE outputs) to the tracker's tracks."""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from sfv_jax.inputs.estimates import Estimates, attach_estimates
from sfv_jax.inputs.track import Track


def _crop_boxes(crop_scale: np.ndarray, crop_start: np.ndarray, crop_size: float) -> np.ndarray:
    """(T, 4) image-pixel boxes of HMR crops."""
    lo = crop_start / crop_scale[:, None]
    hi = (crop_start + crop_size) / crop_scale[:, None]
    return np.concatenate([lo, hi], axis=-1)


def associate_estimates(tracks: Sequence[Track], ests: Sequence[Estimates],
                        min_score: float = 0.3) -> list[Track]:
    """Attaches per-person estimates to the tracker's tracks.

    An estimate with crops is matched to the track whose box centres its crops follow most
    closely: per shared frame ``exp(-(d / r)^2)`` with ``d`` the distance between the crop's
    and the box's centres and ``r`` a quarter of the box diagonal, averaged over the track's
    frames; then an optimal one-to-one assignment. Without crops, the estimate goes to the
    track with the same frames when that is unambiguous. Unmatched tracks keep no estimates
    (the initializer fills them); unmatched estimates are reported.
    """
    from scipy.optimize import linear_sum_assignment

    if not ests or not tracks:
        return list(tracks)
    score = np.zeros((len(ests), len(tracks)))
    for i, e in enumerate(ests):
        for j, t in enumerate(tracks):
            if e.frames is None:
                score[i, j] = float(e.num_frames == t.num_frames)
                continue
            common, ei, ti = np.intersect1d(e.frames, t.frames, return_indices=True)
            if len(common) == 0:
                continue
            if e.crop_scale is None:
                score[i, j] = len(common) / max(t.num_frames, len(e.frames))
                continue
            crops = _crop_boxes(np.asarray(e.crop_scale, np.float64)[ei],
                                np.asarray(e.crop_start, np.float64)[ei], e.crop_size)
            boxes = np.asarray(t.boxes, np.float64)[ti]
            d = np.linalg.norm(0.5 * (crops[:, :2] + crops[:, 2:]) -
                               0.5 * (boxes[:, :2] + boxes[:, 2:]), axis=-1)
            r = 0.25 * np.linalg.norm(boxes[:, 2:] - boxes[:, :2], axis=-1) + 1e-6
            score[i, j] = float(np.exp(-(d / r) ** 2).sum()) / t.num_frames
    rows, cols = linear_sum_assignment(-score)
    out = list(tracks)
    for i, j in zip(rows, cols):
        if score[i, j] < min_score:
            warnings.warn(f"{ests[i].source}: matches no track well enough "
                          f"(best score {score[i, j]:.2f}); left unused")
            continue
        t = tracks[j]
        e = ests[i]
        if e.frames is not None:
            # Keep the track's frames that the estimate covers.
            covered = np.isin(t.frames, e.frames)
            if not covered.all():
                idx = np.flatnonzero(covered)
                t = t.slice(int(idx[0]), int(idx[-1]) + 1)
        out[j] = attach_estimates(t, e)
    return out
