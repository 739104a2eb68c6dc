"""World-frame and contact metrics: what a physics-based character feels of a motion.

Pure JAX functions over arrays (NumPy input works). Frames are Y up with the floor at y = 0
(``export.world_motion``'s frame for a reconstruction, the mocap's floor for the truth); units
follow the input (metres in; ``metrics.to_mm`` for millimetres). An all-masked input gives NaN.

Definitions (T frames, J joints, F foot points):
  - ``w_mpjpe`` (WHAM's W-MPJPE): mean joint error after ONE similarity transform (rotation,
    translation, scale; Umeyama) fitted on the joints of the first two frames and applied to the
    whole clip: drift of the world trajectory and orientation counts.
  - ``wa_mpjpe`` (WHAM's WA-MPJPE): the same with the transform fitted on all frames.
    (WHAM scores 100-frame segments; the benchmark's clips are 24-82 frames, scored whole.)
  - ``root_accel``: mean norm of the root's second difference ``r[t-1] - 2 r[t] + r[t+1]``
    (per frame^2): how much the root jerks in the world.
  - contact (``contact_mask``, from the TRUTH): foot point f is in contact on the frame pair
    (t, t+1) when it is within ``height`` of the floor on both frames (y < height) and its
    horizontal displacement between them is below ``still`` (a planted foot, heel or toe).
  - ``foot_skate``: mean horizontal (x, z) displacement per frame of each foot point over the
    truth's contact pairs (a still, planted foot scores 0; one sliding at v per frame scores v).
  - ``foot_float``: on frames where any truth foot point is in contact, the height of the
    lowest foot point above the floor, ``max(min_f y_f, 0)``, averaged (a foot below the floor
    is penetration, not float).
  - ``ground_penetration``: per frame, the depth of the lowest body point below the floor,
    ``max(-min_points y, 0)``, averaged over all frames (a body sunk by 5 cm scores 5 cm).
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from sfv_jax.evaluation import metrics


def _mean(values: Array, mask: Array | None) -> Array:
    return metrics._masked_mean(values, mask)  # noqa: SLF001 - one NaN-on-empty convention


def align_on_frames(pred: ArrayLike, true: ArrayLike, frames: ArrayLike) -> Array:
    """(T, J, 3) ``pred`` moved by the similarity transform that best maps its ``frames``
    ((T,) bool) onto ``true``'s (one transform for the whole clip)."""
    pred, true = jnp.asarray(pred), jnp.asarray(true)
    t, j = pred.shape[:2]
    w = jnp.broadcast_to(jnp.asarray(frames, pred.dtype)[:, None], (t, j)).reshape(-1)
    aligned = metrics.procrustes_align(pred.reshape(-1, 3), true.reshape(-1, 3), w)
    return aligned.reshape(pred.shape)


def w_mpjpe(pred: ArrayLike, true: ArrayLike, first: int = 2) -> Array:
    """W-MPJPE: (T, J, 3) world joints aligned on the first ``first`` frames; mean error."""
    pred = jnp.asarray(pred)
    frames = jnp.arange(pred.shape[0]) < first
    return jnp.mean(metrics.joint_errors(align_on_frames(pred, true, frames), true))


def wa_mpjpe(pred: ArrayLike, true: ArrayLike) -> Array:
    """WA-MPJPE: (T, J, 3) world joints aligned with one transform over all frames."""
    pred = jnp.asarray(pred)
    frames = jnp.ones(pred.shape[0], bool)
    return jnp.mean(metrics.joint_errors(align_on_frames(pred, true, frames), true))


def root_accel(root: ArrayLike) -> Array:
    """Mean ``|| r[t-1] - 2 r[t] + r[t+1] ||`` of a (T, 3) root trajectory (T >= 3)."""
    r = jnp.asarray(root)
    if r.shape[0] < 3:
        raise ValueError(f"root_accel needs at least 3 frames, got {r.shape}")
    return jnp.mean(jnp.linalg.norm(r[2:] - 2.0 * r[1:-1] + r[:-2], axis=-1))


def horizontal_steps(points: ArrayLike) -> Array:
    """(T-1, F) horizontal (x, z) displacement of (T, F, 3) Y-up points between frames."""
    p = jnp.asarray(points)
    d = p[1:] - p[:-1]
    return jnp.sqrt(d[..., 0] ** 2 + d[..., 2] ** 2)


def contact_mask(feet: ArrayLike, height: float, still: float) -> Array:
    """(T-1, F) bool: truth foot points (T, F, 3) planted on the frame pair (t, t+1).

    Planted: y < ``height`` on both frames and a horizontal step below ``still`` (per frame).
    """
    p = jnp.asarray(feet)
    low = p[..., 1] < height
    return low[1:] & low[:-1] & (horizontal_steps(p) < still)


def foot_skate(feet: ArrayLike, contact: ArrayLike) -> Array:
    """Mean horizontal step (per frame) of (T, F, 3) foot points over (T-1, F) contact pairs."""
    return _mean(horizontal_steps(feet), jnp.asarray(contact, bool))


def foot_float(feet: ArrayLike, contact: ArrayLike) -> Array:
    """Mean ``max(lowest foot point height, 0)`` over frames touching a truth contact pair.

    feet: (T, F, 3) Y-up foot points; contact: (T-1, F) bool (``contact_mask`` of the truth).
    """
    c = jnp.asarray(contact, bool).any(axis=-1)  # (T-1,) pairs
    no = jnp.zeros(1, bool)
    frames = jnp.concatenate([c, no]) | jnp.concatenate([no, c])  # (T,) frames of those pairs
    lowest = jnp.min(jnp.asarray(feet)[..., 1], axis=-1)
    return _mean(jnp.maximum(lowest, 0.0), frames)


def ground_penetration(points: ArrayLike) -> Array:
    """Mean over frames of ``max(-lowest y, 0)`` of (T, N, 3) Y-up body points (e.g. the mesh)."""
    lowest = jnp.min(jnp.asarray(points)[..., 1], axis=-1)
    return jnp.mean(jnp.maximum(-lowest, 0.0))
