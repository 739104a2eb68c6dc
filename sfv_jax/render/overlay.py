"""Skeleton overlays and labels drawn with OpenCV (2D input keypoints, projected model keypoints).

Keypoints are full-image pixels ``(x, y[, confidence])`` with pixel centres at integer
coordinates. Every function returns a new image and leaves its input untouched, unless called
with ``inplace=True`` (then it draws on ``image`` itself, which may be a view into a larger
canvas, and returns it).
"""
from __future__ import annotations

import functools
from typing import Sequence

import cv2
import numpy as np

from sfv_jax import skeletons
from sfv_jax.render.config import RenderSettings

_SHIFT = 4                      # cv2 fixed-point bits: sub-pixel accurate dots and lines
_ONE = 1 << _SHIFT
_LIMIT = 1 << 20                # clamp far-away points so int conversion cannot overflow


def _fixed(p: np.ndarray) -> tuple[int, int]:
    q = np.clip(np.round(np.asarray(p[:2], dtype=np.float64) * _ONE), -_LIMIT * _ONE, _LIMIT * _ONE)
    return int(q[0]), int(q[1])


def _fixed_all(points: np.ndarray) -> list[tuple[int, int]]:
    """``_fixed`` of every row of (K, 2+) points at once (non-finite rows give (0, 0))."""
    q = np.clip(np.round(np.nan_to_num(np.asarray(points[:, :2], dtype=np.float64)) * _ONE),
                -_LIMIT * _ONE, _LIMIT * _ONE).astype(np.int64)
    return [(int(x), int(y)) for x, y in q.tolist()]


_limb_pairs = functools.lru_cache(maxsize=64)(skeletons.limb_pairs)   # drawn every frame
_num_keypoints = functools.lru_cache(maxsize=64)(skeletons.num_keypoints)


def _check_image(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {img.shape} {img.dtype}")
    return img


def _visible(keypoints: np.ndarray, threshold: float) -> np.ndarray:
    """(K,) bool: finite points whose confidence (if given) reaches ``threshold``."""
    ok = np.isfinite(keypoints[:, :2]).all(axis=1)
    if keypoints.shape[1] >= 3:
        ok &= np.nan_to_num(keypoints[:, 2], nan=0.0) >= threshold
    return ok


def side_colors(fmt: str, cfg: RenderSettings
                ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """BGR colour of every point and every limb of ``fmt``: left, right or centre."""
    key = tuple(tuple(int(c) for c in col)
                for col in (cfg.color_left, cfg.color_right, cfg.color_center))
    points, limbs = _side_colors(fmt, *key)
    return list(points), list(limbs)


@functools.lru_cache(maxsize=64)
def _side_colors(fmt: str, color_left, color_right, color_center):
    names = skeletons.keypoint_names(fmt)
    left = skeletons.is_left(names)
    right = np.asarray([n.startswith("right_") for n in names])

    def pick(is_l: bool, is_r: bool) -> tuple[int, int, int]:
        if is_l and not is_r:
            return color_left
        if is_r and not is_l:
            return color_right
        return color_center

    point_cols = tuple(pick(bool(left[i]), bool(right[i])) for i in range(len(names)))
    limb_cols = tuple(pick(bool(left[a] or left[b]), bool(right[a] or right[b]))
                      for a, b in skeletons.limb_pairs(fmt))
    return point_cols, limb_cols


def draw_keypoints(image: np.ndarray, keypoints: np.ndarray, fmt: str, cfg: RenderSettings,
                   threshold: float | None = None,
                   color: Sequence[int] | None = None, inplace: bool = False) -> np.ndarray:
    """Draws a 2D skeleton: limbs from ``skeletons.limb_pairs(fmt)`` and dots.

    Args:
      image: (H, W, 3) uint8 BGR.
      keypoints: (K, 3) x px, y px, confidence (or (K, 2): all drawn) in format ``fmt``.
      fmt: keypoint format name (``skeletons.FORMATS``).
      cfg: render settings (keypoint_threshold, keypoint_radius, limb_thickness, colours).
      threshold: confidence below which a point and its limbs are skipped; defaults to
        ``cfg.keypoint_threshold``.
      color: one BGR colour for everything instead of the left/right/centre colours.
      inplace: draw on ``image`` itself (it may be a view into a larger canvas).

    Returns:
      (H, W, 3) uint8 image with the skeleton.
    """
    img = _check_image(image) if inplace else _check_image(image).copy()
    kp = np.asarray(keypoints, dtype=np.float64)
    k = _num_keypoints(fmt)
    if kp.ndim != 2 or kp.shape[0] != k or kp.shape[1] not in (2, 3):
        raise ValueError(f"{fmt} keypoints must be ({k}, 2 or 3), got {kp.shape}")
    thr = cfg.keypoint_threshold if threshold is None else threshold
    vis = _visible(kp, thr)
    point_cols, limb_cols = side_colors(fmt, cfg)
    if color is not None:
        c = tuple(int(x) for x in color)
        point_cols, limb_cols = [c] * len(point_cols), [c] * len(limb_cols)
    fixed, shown = _fixed_all(kp), vis.tolist()
    thick, radius = int(cfg.limb_thickness), int(cfg.keypoint_radius) * _ONE
    for (a, b), col in zip(_limb_pairs(fmt), limb_cols):
        if shown[a] and shown[b]:
            cv2.line(img, fixed[a], fixed[b], col, thick, cv2.LINE_AA, _SHIFT)
    for i in np.flatnonzero(vis).tolist():
        cv2.circle(img, fixed[i], radius, point_cols[i], -1, cv2.LINE_AA, _SHIFT)
    return img


def draw_points(image: np.ndarray, points: np.ndarray, color: Sequence[int],
                radius: int = 3, marker: bool = True, inplace: bool = False) -> np.ndarray:
    """Draws (K, 2+) points as crosses (``marker``) or filled dots in one BGR colour."""
    img = _check_image(image) if inplace else _check_image(image).copy()
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] < 2:
        raise ValueError(f"points must be (K, 2+), got {pts.shape}")
    col = tuple(int(c) for c in color)
    for p in pts[np.isfinite(pts[:, :2]).all(axis=1)]:
        x, y = _fixed(p)
        if marker:
            r = max(int(radius), 1) * _ONE
            cv2.line(img, (x - r, y - r), (x + r, y + r), col, 1, cv2.LINE_AA, _SHIFT)
            cv2.line(img, (x - r, y + r), (x + r, y - r), col, 1, cv2.LINE_AA, _SHIFT)
        else:
            cv2.circle(img, (x, y), int(radius) * _ONE, col, -1, cv2.LINE_AA, _SHIFT)
    return img


def put_label(image: np.ndarray, text: str, cfg: RenderSettings,
              origin: tuple[int, int] = (6, 6), inplace: bool = False) -> np.ndarray:
    """Writes ``text`` at the top-left corner over a dark box so it reads on any frame.

    The text shrinks below ``cfg.label_scale`` when needed to fit the image width.
    """
    img = _check_image(image) if inplace else _check_image(image).copy()
    if not text:
        return img
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = float(cfg.label_scale)
    thick = max(1, int(round(scale * 1.7)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    room = img.shape[1] - 2 * origin[0]
    if tw > room > 0:
        scale *= room / tw
        thick = max(1, int(round(scale * 1.7)))
        (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    x, y = origin
    cv2.rectangle(img, (x - 3, y - 3), (x + tw + 3, y + th + base + 3), (0, 0, 0), -1)
    cv2.putText(img, text, (x, y + th), font, scale, tuple(int(c) for c in cfg.label_color),
                thick, cv2.LINE_AA)
    return img
