"""HMR's crop weak-perspective camera and its conversions (JAX, any leading batch shape).

Three descriptions of the same camera are used across the project:

1. **Crop camera** (what HMR predicts and what the solver optimizes): ``cam = [s, tx, ty]``,
   ``proj = s * (X[..., :2] + [tx, ty])`` in the crop's normalized coordinates, -1..1 over a
   ``crop_size`` square crop (HMR: 224). A frame's crop is described by ``crop_scale`` (the
   factor the full image was resized by) and ``crop_start`` (x, y of the crop's top-left corner
   in the resized image, padding margin already subtracted, as in SFV's ``proc_param``), so::

       crop_px  = (proj + 1) * crop_size / 2
       image_px = (crop_px + crop_start) / crop_scale

   (the crop itself, its recipe and these point conversions live in ``geometry.crops``).

2. **Full-image weak perspective**: ``cam_img = [s_img, tx_img, ty_img]`` with
   ``image_px = s_img * (X[..., :2] + [tx_img, ty_img])``; ``s_img`` is in pixels per metre,
   the translation in metres (the body's root at ``X = 0`` lands on ``s_img * t_img``).
   Substituting the crop formulas::

       s_img = s * crop_size / (2 * crop_scale)
       t_img = t + (crop_size / 2 + crop_start) / (crop_scale * s_img)

3. **Perspective camera**: focal length ``f`` (pixels) and principal point ``c`` (pixels) with
   the body translated by ``transl = [Tx, Ty, Tz]``: ``image_px = f * (X + T)[:2] / (X + T)_z + c``.
   Matching it to the weak perspective at the body's depth (``X_z << Tz``)::

       Tz    = f / s_img
       T_xy  = t_img - c / s_img

   HMR renders with ``f = 500`` crop pixels at the crop centre, i.e. in the full image
   ``f = 500 / crop_scale`` and ``c = (crop_size / 2 + crop_start) / crop_scale``; with those
   values ``Tz = 500 / (0.5 * crop_size * s)`` and ``T_xy = [tx, ty]``, SFV's ``get_original``.
   For exports one fixed ``f`` for the whole video is better (see ``perspective_from_full``).

Units: model points in metres (SMPL frame, HMR's convention with no axis flip: image x, y are
the model's x, y), pixels with the origin at the top-left corner of the full image.
"""
from __future__ import annotations

from typing import Any, Union

import jax.numpy as jnp

from sfv_jax.geometry.crops import array_module

Array = jnp.ndarray
Scalar = Union[float, Array]

# HMR's rendering focal length in crop pixels (SFV's renderer.get_original).
HMR_FOCAL_CROP = 500.0


def project_crop(points: Array, cam: Array) -> Array:
    """HMR's weak perspective into normalized crop coordinates.

    Args:
      points: (..., K, 3) model points (metres).
      cam: (..., 3) crop camera [s, tx, ty].

    Returns:
      (..., K, 2) normalized crop coordinates: ``s * (X[..., :2] + t)``.
    """
    s = cam[..., None, 0:1]
    t = cam[..., None, 1:3]
    return s * (points[..., :2] + t)


def weak_perspective_fit(points: Any, targets: Any, weights: Any = None,
                         min_scale: float = 1e-2) -> Any:
    """Least-squares weak-perspective camera [s, tx, ty] per frame, closed form.

    Solves ``min_{s,t} sum_k w_k |s (X_k[:2] + t) - y_k|^2``, linear in (s, s t): s is the
    weighted regression slope of y on X[:2] (kept >= ``min_scale``), s t the intercept.
    NumPy or JAX (see ``crops.array_module``); the dtype follows the inputs.

    Args:
      points: (..., K, 3) or (..., K, 2) points in the camera's axes (x right, y down).
      targets: (..., K, 2) crop-normalized 2D points.
      weights: (..., K) non-negative, or None (all 1).
      min_scale: lower bound of s.

    Returns:
      (..., 3) cameras [s, tx, ty] (``project_crop`` reproduces the targets as well as any).
    """
    xp = array_module(points, targets, weights)
    x, y = points[..., :2], targets
    w = xp.ones(x.shape[:-1], x.dtype) if weights is None else weights
    wsum = xp.maximum(w.sum(axis=-1, keepdims=True), 1e-12)
    mx = (w[..., None] * x).sum(axis=-2) / wsum
    my = (w[..., None] * y).sum(axis=-2) / wsum
    xc, yc = x - mx[..., None, :], y - my[..., None, :]
    s = (w[..., None] * xc * yc).sum(axis=(-2, -1)) / xp.maximum(
        (w[..., None] * xc ** 2).sum(axis=(-2, -1)), 1e-12)
    s = xp.maximum(s, min_scale)
    t = my / s[..., None] - mx
    return xp.concatenate([s[..., None], t], axis=-1)


def crop_to_full(cam: Array, crop_scale: Array, crop_start: Array,
                 crop_size: Scalar) -> Array:
    """Crop camera [s, tx, ty] -> full-image weak perspective [s_img, tx_img, ty_img].

    Args:
      cam: (..., 3) crop camera; crop_scale: (...,); crop_start: (..., 2); crop_size: scalar.

    Returns:
      (..., 3): ``s_img = s * crop_size / (2 crop_scale)`` (pixels per metre),
      ``t_img = t + (crop_size / 2 + crop_start) / (crop_scale * s_img)`` (metres).
    """
    s = cam[..., 0]
    s_img = s * crop_size / (2.0 * crop_scale)
    t_img = cam[..., 1:3] + (0.5 * crop_size + crop_start) / (crop_scale * s_img)[..., None]
    return jnp.concatenate([s_img[..., None], t_img], axis=-1)


def full_to_crop(cam_img: Array, crop_scale: Array, crop_start: Array,
                 crop_size: Scalar) -> Array:
    """Full-image weak perspective -> crop camera (inverse of ``crop_to_full``).

    Args:
      cam_img: (..., 3) [s_img, tx_img, ty_img]; crop_scale: (...,); crop_start: (..., 2).

    Returns:
      (..., 3) crop camera [s, tx, ty].
    """
    s_img = cam_img[..., 0]
    s = s_img * 2.0 * crop_scale / crop_size
    t = cam_img[..., 1:3] - (0.5 * crop_size + crop_start) / (crop_scale * s_img)[..., None]
    return jnp.concatenate([s[..., None], t], axis=-1)


def project_full(points: Array, cam_img: Array) -> Array:
    """Full-image weak perspective: (..., K, 3) points, (..., 3) camera -> (..., K, 2) pixels."""
    return project_crop(points, cam_img)


def perspective_from_full(cam_img: Array, focal: Scalar, center: Array) -> Array:
    """Full-image weak perspective -> root translation of a perspective camera.

    Args:
      cam_img: (..., 3) [s_img, tx_img, ty_img].
      focal: focal length in pixels, scalar or (...,).
      center: (2,) or (..., 2) principal point in pixels (usually the image centre).

    Returns:
      (..., 3) translation ``[t_img - c / s_img, f / s_img]`` (metres) so that
      ``f * (X + T)[:2] / (X + T)_z + c`` matches the weak perspective at the body's depth.
    """
    s_img = cam_img[..., 0]
    tz = focal / s_img
    txy = cam_img[..., 1:3] - jnp.asarray(center) / s_img[..., None]
    return jnp.concatenate([txy, tz[..., None]], axis=-1)


def full_from_perspective(transl: Array, focal: Scalar, center: Array) -> Array:
    """Perspective root translation -> full-image weak perspective (inverse of the above).

    Args:
      transl: (..., 3) [Tx, Ty, Tz] metres; focal: pixels; center: (2,) or (..., 2) pixels.

    Returns:
      (..., 3) [s_img = f / Tz, t_img = T_xy + c / s_img].
    """
    s_img = focal / transl[..., 2]
    t_img = transl[..., :2] + jnp.asarray(center) / s_img[..., None]
    return jnp.concatenate([s_img[..., None], t_img], axis=-1)


def project_perspective(points: Array, transl: Array, focal: Scalar, center: Array) -> Array:
    """Pinhole projection: (..., K, 3) points moved by (..., 3) ``transl`` -> (..., K, 2) px."""
    p = points + transl[..., None, :]
    f = jnp.asarray(focal)[..., None, None]
    return f * p[..., :2] / p[..., 2:3] + jnp.asarray(center)[..., None, :]


def crop_to_perspective(cam: Array, crop_scale: Array, crop_start: Array, crop_size: Scalar,
                        focal: Scalar, center: Array) -> Array:
    """Crop camera -> perspective root translation (T,3) for a given focal / centre (pixels)."""
    return perspective_from_full(crop_to_full(cam, crop_scale, crop_start, crop_size),
                                 focal, center)


def perspective_to_crop(transl: Array, crop_scale: Array, crop_start: Array,
                        crop_size: Scalar, focal: Scalar, center: Array) -> Array:
    """Perspective root translation -> crop camera (inverse of ``crop_to_perspective``)."""
    return full_to_crop(full_from_perspective(transl, focal, center), crop_scale, crop_start,
                        crop_size)


def hmr_render_camera(crop_scale: Array, crop_start: Array, crop_size: Scalar,
                      focal_crop: float = HMR_FOCAL_CROP) -> tuple[Array, Array]:
    """HMR's per-frame rendering camera in full-image pixels.

    Args:
      crop_scale: (...,); crop_start: (..., 2); crop_size: scalar;
      focal_crop: focal length in crop pixels (HMR: 500).

    Returns:
      focal (...,) ``focal_crop / crop_scale`` and centre (..., 2)
      ``(crop_size / 2 + crop_start) / crop_scale``; with them ``crop_to_perspective`` gives
      ``[tx, ty, focal_crop / (0.5 * crop_size * s)]``.
    """
    focal = focal_crop / crop_scale
    center = (0.5 * crop_size + crop_start) / crop_scale[..., None]
    return focal, center
