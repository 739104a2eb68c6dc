"""Degenerate 2D fits: per-frame reason codes and the track-level failure they lead to.

A fit is degenerate when its crop camera scale is out of range (e.g. ~0.001: every keypoint
projects onto one pixel), when the limbs need a camera scale far above the torso's (the 2D
limbs are inconsistent with any body of the model's proportions), or when the fitted keypoints
miss the input by a large fraction of the person's 2D size. A track with too many degenerate
frames is a named failure (``DegenerateFit``) with the reason, never "ok".
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

# Code -> reason (code 0: not degenerate).
REASONS = {
    1: "camera scale out of range",
    2: "limb lengths inconsistent with the torso",
    3: "2D error too large for the person's size",
}


class DegenerateFit(ValueError):
    """A track's initial 2D fit is degenerate; ``reason`` says why (for the job's summary)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def frame_reasons(cam: np.ndarray, limb_ratio: np.ndarray, error_px: np.ndarray,
                  keypoints: np.ndarray, valid: np.ndarray, opts: Any) -> np.ndarray:
    """(N,) int32 reason code per frame (0 where fine or invalid).

    cam: (N, 3) crop cameras; limb_ratio: (N,) limbs' scale over the torso's; error_px: (N, K)
    (NaN for unseen points); keypoints: (N, K, 3) px + confidence; valid: (N,).
    """
    seen = keypoints[..., 2] > opts.min_confidence
    big = 1e9
    lo = np.min(np.where(seen[..., None], keypoints[..., :2], big), axis=1)
    hi = np.max(np.where(seen[..., None], keypoints[..., :2], -big), axis=1)
    size = np.where(seen.sum(1) >= 2, np.max(hi - lo, axis=-1), 1.0)
    with warnings.catch_warnings():  # frames without a seen point: NaN, counted as fine
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(np.where(np.isfinite(error_px), error_px, np.nan), axis=1)
    s = cam[:, 0]
    codes = np.zeros(len(s), np.int32)
    codes = np.where(np.nan_to_num(med, nan=0.0) > opts.max_error_frac * np.maximum(size, 1.0),
                     3, codes)
    codes = np.where(limb_ratio > opts.max_limb_torso_ratio, 2, codes)
    codes = np.where(~np.isfinite(s) | (s < opts.min_cam_scale) | (s > opts.max_cam_scale), 1,
                     codes)
    return np.where(np.asarray(valid, bool), codes, 0).astype(np.int32)


def track_failure(codes: Any, valid: Any, cam: Any, opts: Any) -> str | None:
    """The reason a track's fit fails, or None when it holds.

    codes, valid: (T,) per-frame reason codes and validity of one track's frames; cam: (T, 3).
    Fails when more than ``max_degenerate_fraction`` of the valid frames are degenerate (or no
    frame is valid); the reason names the most common cause with counts.
    """
    if codes is None:
        return None
    codes, valid = np.asarray(codes), np.asarray(valid, bool)
    n = int(valid.sum())
    if n == 0:
        return "degenerate fit: no frame has enough confident keypoints"
    bad = codes[valid]
    k = int((bad > 0).sum())
    if k <= opts.max_degenerate_fraction * n:
        return None
    top = int(np.bincount(bad[bad > 0]).argmax())
    msg = f"degenerate fit: {REASONS[top]} on {int((bad == top).sum())} of {n} frames"
    if top == 1:
        s = np.asarray(cam)[valid, 0]
        msg += (f" (median crop scale {float(np.median(s)):.3g}, allowed "
                f"[{opts.min_cam_scale:g}, {opts.max_cam_scale:g}])")
    return msg
