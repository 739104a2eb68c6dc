"""HMR's crop of a frame: the recipe that places the person in it, and its coordinates.

A frame's crop (SFV's ``proc_param``) is ``crop_scale`` (the factor the full image was resized
by) and ``crop_start`` (x, y of the crop's top-left corner in the resized image, padding margin
already subtracted); a ``crop_size`` square (HMR: 224) is cut there. Three coordinates, (..., 2)
points with per-frame ``crop_scale`` (...,) and ``crop_start`` (..., 2) over the leading dims:

- image pixels: the full image, origin at its top-left corner;
- crop pixels: ``crop_px = image_px * crop_scale - crop_start`` (0..crop_size over the crop);
- crop-normalized: ``2 crop_px / crop_size - 1`` (-1..1 over the crop); HMR's camera projects
  here (``cameras.project_crop``).

The recipe (HMR's demo, SFV's ``src/util/video.py``): the box of the visible keypoints is
resized so that its DIAGONAL is ``person_px`` (150) pixels (``person_box``, ``person_scale``),
and the crop is centred on the box centre rounded to a whole resized pixel (``hmr_crop``).

Array-library agnostic: NumPy arrays in give NumPy out (float64 stays float64), JAX arrays in
(also tracers under ``jit``) give JAX out; see ``array_module``.
"""
from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import numpy as np

# HMR's preprocessing resizes people so that their keypoint box diagonal is this many pixels.
PERSON_PX = 150.0
# HMR's crop side in pixels.
CROP_SIZE = 224


def array_module(*arrays: Any) -> ModuleType:
    """``jax.numpy`` when any argument is a JAX array (or tracer), else ``numpy``.

    JAX is not imported here: when it is not loaded yet, no argument can be a JAX array.
    """
    jax = sys.modules.get("jax")
    if jax is not None and any(isinstance(a, jax.Array) for a in arrays):
        import jax.numpy as jnp
        return jnp
    return np


# ----------------------------------------------------------------------------------------
# The recipe
# ----------------------------------------------------------------------------------------
def visible_box(xy: Any, visible: Any) -> tuple[Any, Any, Any]:
    """Tight box of the visible points.

    Args:
      xy: (..., K, 2) points (pixels).
      visible: (..., K) bool.

    Returns:
      lo (..., 2), hi (..., 2) corners and count (...,) of visible points (lo = hi = 0
      where none is visible).
    """
    xp = array_module(xy, visible)
    small = xp.where(visible[..., None], xy, xp.inf).min(axis=-2)
    big = xp.where(visible[..., None], xy, -xp.inf).max(axis=-2)
    count = visible.sum(axis=-1)
    lo = xp.where(count[..., None] > 0, small, 0.0)
    hi = xp.where(count[..., None] > 0, big, 0.0)
    return lo, hi, count


def person_box(xy: Any, visible: Any) -> tuple[Any, Any, Any]:
    """Centre and diagonal of the visible points' box (the recipe's person size).

    Args: xy (..., K, 2) pixels; visible (..., K) bool.

    Returns:
      center (..., 2), diagonal (...,) pixels (0 where fewer than two points are visible or
      they coincide) and count (...,) of visible points.
    """
    xp = array_module(xy, visible)
    lo, hi, count = visible_box(xy, visible)
    return 0.5 * (lo + hi), xp.linalg.norm(hi - lo, axis=-1), count


def person_scale(diagonal: Any, person_px: float = PERSON_PX) -> Any:
    """The resize factor ``person_px / diagonal`` that makes the person ``person_px`` pixels.

    Args: diagonal (...,) pixels. Returns (...,); inf where the diagonal is not > 0.
    """
    xp = array_module(diagonal)
    return xp.where(diagonal > 0, person_px / xp.maximum(diagonal, 1e-12), xp.inf)


def hmr_crop(center: Any, scale: Any, crop_size: float = CROP_SIZE,
             image_size: tuple[int, int] | None = None) -> tuple[Any, Any]:
    """The crop of SFV's HMR preprocessing around ``center`` after resizing by ``scale``.

    The resized centre is rounded to a whole pixel and a ``crop_size`` square is cut around
    it (margin ``crop_size // 2``). With ``image_size`` the frame's resized sizes are floored to
    whole pixels as HMR's resize does, so the effective factor differs slightly per axis; as
    in SFV's refine step the crop's scale is the mean of the two. Without it the factor is
    ``scale`` itself.

    Args:
      center: (..., 2) person centre ``x, y`` in image pixels.
      scale: (...,) resize factor (``person_scale``).
      crop_size: crop side in pixels.
      image_size: (H, W) pixels, or None.

    Returns:
      crop_scale (...,), crop_start (..., 2), so that
      ``image_px = (crop_px + crop_start) / crop_scale``.

    Raises:
      ValueError (NumPy inputs only; under ``jit`` bad values propagate): a scale that is not
      finite and > 0, or one that shrinks the image below one pixel.
    """
    xp = array_module(center, scale)
    if xp is np:
        center = np.asarray(center, dtype=np.float64)
        scale = np.asarray(scale, dtype=np.float64)
        if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError(f"crop scales must be finite and > 0, got "
                             f"{scale[~(np.isfinite(scale) & (scale > 0))][:3]}")
    if image_size is None:
        fx = fy = scale
    else:
        h, w = image_size
        new_h, new_w = xp.floor(h * scale), xp.floor(w * scale)
        if xp is np and (np.any(new_h < 1) or np.any(new_w < 1)):
            raise ValueError(f"crop scale {scale.min()} shrinks the {h}x{w} image below one "
                             f"pixel")
        fx, fy = new_w / w, new_h / h
    center_scaled = xp.round(center * xp.stack([fx, fy], axis=-1))
    crop_start = center_scaled - crop_size // 2
    crop_scale = scale if image_size is None else 0.5 * (fx + fy)
    return crop_scale, crop_start


def keypoint_crop(keypoints: Any, min_confidence: float, person_px: float = PERSON_PX,
                  crop_size: float = CROP_SIZE, image_size: tuple[int, int] | None = None
                  ) -> tuple[Any, Any, Any]:
    """The whole recipe per frame: keypoints -> HMR crop (no smoothing over frames).

    Args:
      keypoints: (..., K, 3) pixels and confidence; a point is visible above
        ``min_confidence``.
      person_px, crop_size, image_size: see ``person_scale`` and ``hmr_crop``.

    Returns:
      crop_scale (...,), crop_start (..., 2) and valid (...,): at least two visible points.
      A box under one pixel counts as one pixel (a finite scale); an invalid frame gets the
      crop of a one-pixel person at the origin.
    """
    xp = array_module(keypoints)
    center, diagonal, count = person_box(keypoints[..., :2], keypoints[..., 2] > min_confidence)
    valid = count >= 2
    center = xp.where(valid[..., None], center, 0.0)
    scale = person_scale(xp.maximum(diagonal, 1.0), person_px)
    crop_scale, crop_start = hmr_crop(center, scale, crop_size, image_size)
    return crop_scale, crop_start, valid


# ----------------------------------------------------------------------------------------
# Coordinates (operators only, so any array library works)
# ----------------------------------------------------------------------------------------
def crop_to_image(points: Any, crop_scale: Any, crop_start: Any) -> Any:
    """Crop pixels -> image pixels: (..., K, 2), crop_scale (...,), crop_start (..., 2)."""
    return (points + crop_start[..., None, :]) / crop_scale[..., None, None]


def image_to_crop(points: Any, crop_scale: Any, crop_start: Any) -> Any:
    """Image pixels -> crop pixels (inverse of ``crop_to_image``), same shapes."""
    return points * crop_scale[..., None, None] - crop_start[..., None, :]


def crop_norm_to_image(xy: Any, crop_scale: Any, crop_start: Any, crop_size: Any) -> Any:
    """Crop-normalized coordinates -> image pixels.

    Args:
      xy: (..., K, 2) crop-normalized (-1..1 over the crop).
      crop_scale: (...,); crop_start: (..., 2); crop_size: crop side in pixels (scalar).

    Returns:
      (..., K, 2) pixels: ``((xy + 1) * crop_size / 2 + crop_start) / crop_scale``.
    """
    return crop_to_image((xy + 1.0) * (0.5 * crop_size), crop_scale, crop_start)


def image_to_crop_norm(xy: Any, crop_scale: Any, crop_start: Any, crop_size: Any) -> Any:
    """Image pixels -> crop-normalized (inverse of ``crop_norm_to_image``), same shapes:
    ``2 * (xy * crop_scale - crop_start) / crop_size - 1``."""
    return image_to_crop(xy, crop_scale, crop_start) * (2.0 / crop_size) - 1.0


def crop_box(crop_scale: Any, crop_start: Any, crop_size: Any) -> Any:
    """(..., 4) image-pixel box ``x0, y0, x1, y1`` of each crop: crop_scale (...,),
    crop_start (..., 2), crop_size scalar."""
    xp = array_module(crop_scale, crop_start)
    lo = crop_start / crop_scale[..., None]
    hi = (crop_start + crop_size) / crop_scale[..., None]
    return xp.concatenate([lo, hi], axis=-1)
