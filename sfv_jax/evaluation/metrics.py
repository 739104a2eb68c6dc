"""Accuracy metrics for 3D human motion: MPJPE, PA-MPJPE, acceleration error, 2D error.

Pure JAX functions over arrays (they also accept NumPy input). Units follow the input: feed metres
and multiply by 1000 for millimetres (``to_mm``). Masks are explicit boolean arrays; a masked-out
entry contributes nothing and an all-masked input gives NaN (an empty mean), never a silent zero.

Conventions (as in HMR / HMMR / VIBE evaluations):
  - MPJPE: mean Euclidean joint distance after aligning both skeletons at their root (a joint index
    or the midpoint of several, e.g. the two hips).
  - PA-MPJPE: mean distance after the similarity transform (rotation, translation and *scale*) that
    best maps the prediction onto the truth per frame (Umeyama / orthogonal Procrustes).
  - Acceleration error (HMMR, Kanazawa et al. 2019): mean over frames and joints of
    ``|| (X[t-1] - 2 X[t] + X[t+1])_pred - (X[t-1] - 2 X[t] + X[t+1])_true ||``; the second difference
    centred on frame t is dropped when any of frames t-1, t, t+1 is invisible.
  - 2D error: mean pixel distance between predicted and true 2D points over a point mask.
"""
from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

_EPS = 1e-12


def _masked_mean(values: Array, mask: Array | None) -> Array:
    """Mean of ``values`` where ``mask`` is true (NaN when nothing is selected)."""
    if mask is None:
        return jnp.mean(values)
    mask = jnp.broadcast_to(jnp.asarray(mask, bool), values.shape)
    total = jnp.sum(jnp.where(mask, values, 0.0))
    count = jnp.sum(mask)
    return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)


def _point_mask(frame_mask: ArrayLike | None, joint_mask: ArrayLike | None,
                shape: tuple[int, ...]) -> Array | None:
    """Combines a (..., T) frame mask and a (J,) or (..., T, J) joint mask into (..., T, J)."""
    if frame_mask is None and joint_mask is None:
        return None
    mask = jnp.ones(shape, bool)
    if frame_mask is not None:
        mask = mask & jnp.asarray(frame_mask, bool)[..., None]
    if joint_mask is not None:
        mask = mask & jnp.asarray(joint_mask, bool)
    return mask


def root_center(points: ArrayLike, root: int | Sequence[int]) -> Array:
    """Subtracts the root (one joint, or the mean of several joints) from every joint.

    Args:
      points: (..., J, D) joint positions.
      root: index of the root joint, or indices whose mean is the root (e.g. both hips).
    Returns:
      (..., J, D) positions relative to the root.
    """
    points = jnp.asarray(points)
    idx = jnp.atleast_1d(jnp.asarray(root))
    return points - jnp.mean(points[..., idx, :], axis=-2, keepdims=True)


def procrustes_align(pred: ArrayLike, true: ArrayLike,
                     weights: ArrayLike | None = None) -> Array:
    """Similarity transform (rotation, translation, scale) of ``pred`` that best fits ``true``.

    Solves ``min_{s,R,t} sum_j w_j || s R pred_j + t - true_j ||^2`` in closed form (Umeyama 1991),
    with a proper rotation (det R = +1). Batched over leading axes.

    Args:
      pred: (..., J, 3) predicted joints.
      true: (..., J, 3) true joints.
      weights: optional (..., J) non-negative point weights (a 0/1 visibility mask works); points with
        weight 0 take no part in the fit but are still transformed.
    Returns:
      (..., J, 3) aligned prediction.
    """
    pred = jnp.asarray(pred, jnp.result_type(float))
    true = jnp.asarray(true, pred.dtype)
    if weights is None:
        w = jnp.ones(pred.shape[:-1], pred.dtype)
    else:
        w = jnp.broadcast_to(jnp.asarray(weights, pred.dtype), pred.shape[:-1])
    wsum = jnp.maximum(jnp.sum(w, axis=-1, keepdims=True), _EPS)[..., None]  # (..., 1, 1)
    wn = (w[..., None] / wsum)  # (..., J, 1), sums to 1
    mu_p = jnp.sum(wn * pred, axis=-2, keepdims=True)
    mu_t = jnp.sum(wn * true, axis=-2, keepdims=True)
    p0, t0 = pred - mu_p, true - mu_t
    # Cross-covariance (..., 3, 3): sum_j w_j t0_j p0_j^T.
    cov = jnp.einsum("...ji,...jk->...ik", wn * t0, p0)
    u, sing, vt = jnp.linalg.svd(cov)
    # Flip the smallest singular direction when the best orthogonal map is a reflection.
    d = jnp.sign(jnp.linalg.det(u) * jnp.linalg.det(vt))
    d = jnp.where(d == 0, 1.0, d)
    diag = jnp.concatenate([jnp.ones(d.shape + (2,), pred.dtype), d[..., None]], axis=-1)
    rot = jnp.einsum("...ij,...j,...jk->...ik", u, diag, vt)
    var_p = jnp.sum(wn * p0 ** 2, axis=(-2, -1))
    scale = jnp.sum(sing * diag, axis=-1) / jnp.maximum(var_p, _EPS)
    aligned = scale[..., None, None] * jnp.einsum("...ik,...jk->...ji", rot, p0) + mu_t
    return aligned


def joint_errors(pred: ArrayLike, true: ArrayLike) -> Array:
    """(..., J) Euclidean distance per joint between (..., J, D) arrays."""
    return jnp.linalg.norm(jnp.asarray(pred) - jnp.asarray(true), axis=-1)


def mpjpe(pred: ArrayLike, true: ArrayLike, root: int | Sequence[int] | None = None,
          frame_mask: ArrayLike | None = None, joint_mask: ArrayLike | None = None) -> Array:
    """Mean per-joint position error.

    Args:
      pred, true: (..., T, J, 3) joints (same units; the result is in them).
      root: root joint index or indices to align both at before measuring; None measures raw.
      frame_mask: optional (..., T) bool, frames to count.
      joint_mask: optional (J,) or (..., T, J) bool, joints to count.
    Returns:
      scalar mean over the selected frames and joints.
    """
    pred, true = jnp.asarray(pred), jnp.asarray(true)
    if root is not None:
        pred, true = root_center(pred, root), root_center(true, root)
    err = joint_errors(pred, true)
    return _masked_mean(err, _point_mask(frame_mask, joint_mask, err.shape))


def pa_mpjpe(pred: ArrayLike, true: ArrayLike, frame_mask: ArrayLike | None = None,
             joint_mask: ArrayLike | None = None) -> Array:
    """MPJPE after a per-frame Procrustes alignment with scale.

    Args:
      pred, true: (..., T, J, 3) joints.
      frame_mask: optional (..., T) bool, frames to count.
      joint_mask: optional (J,) or (..., T, J) bool; only these joints are fitted and counted.
    Returns:
      scalar mean over the selected frames and joints.
    """
    pred, true = jnp.asarray(pred), jnp.asarray(true)
    weights = None
    if joint_mask is not None:
        weights = jnp.broadcast_to(jnp.asarray(joint_mask, pred.dtype), pred.shape[:-1])
    aligned = procrustes_align(pred, true, weights)
    err = joint_errors(aligned, true)
    return _masked_mean(err, _point_mask(frame_mask, joint_mask, err.shape))


def accel_valid_mask(visible: ArrayLike) -> Array:
    """(..., T-2) bool: second differences centred on frames 1..T-2 whose 3 frames are all visible.

    Args:
      visible: (..., T) bool frame visibility.
    """
    v = jnp.asarray(visible, bool)
    return v[..., :-2] & v[..., 1:-1] & v[..., 2:]


def second_difference(x: ArrayLike) -> Array:
    """(..., T-2, J, D) ``x[t-1] - 2 x[t] + x[t+1]`` for t = 1..T-2 of a (..., T, J, D) array."""
    x = jnp.asarray(x)
    return x[..., :-2, :, :] - 2.0 * x[..., 1:-1, :, :] + x[..., 2:, :, :]


def accel_error(pred: ArrayLike, true: ArrayLike, visible: ArrayLike | None = None,
                joint_mask: ArrayLike | None = None) -> Array:
    """HMMR acceleration error: mean || second difference of pred - that of truth ||.

    Args:
      pred, true: (..., T, J, 3) joints, T >= 3 (metres in, metres per frame^2 out).
      visible: optional (..., T) bool; a second difference touching an invisible frame is dropped.
      joint_mask: optional (J,) bool, joints to count.
    Returns:
      scalar mean over valid centre frames and joints (per frame^2 at the clip's frame rate).
    """
    pred, true = jnp.asarray(pred), jnp.asarray(true)
    if pred.shape != true.shape:
        raise ValueError(f"accel_error: pred {pred.shape} and true {true.shape} differ")
    if pred.shape[-3] < 3:
        raise ValueError(f"accel_error needs at least 3 frames, got shape {pred.shape}")
    err = joint_errors(second_difference(pred), second_difference(true))  # (..., T-2, J)
    frame_mask = None if visible is None else accel_valid_mask(visible)
    return _masked_mean(err, _point_mask(frame_mask, joint_mask, err.shape))


def error_2d(pred: ArrayLike, true: ArrayLike, mask: ArrayLike | None = None) -> Array:
    """Mean 2D distance (pixels) between predicted and true points.

    Args:
      pred: (..., K, 2) predicted image points (extra trailing channels beyond 2 are ignored).
      true: (..., K, 2) true image points (a confidence channel is ignored too).
      mask: optional (..., K) bool, points to count.
    Returns:
      scalar mean distance over the selected points.
    """
    pred = jnp.asarray(pred)[..., :2]
    true = jnp.asarray(true)[..., :2]
    err = joint_errors(pred, true)
    return _masked_mean(err, None if mask is None else jnp.asarray(mask, bool))


def to_mm(metres: ArrayLike) -> Array:
    """Metres to millimetres."""
    return jnp.asarray(metres) * 1000.0
