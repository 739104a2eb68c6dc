"""SFV's objective terms as pure functions (one per term, explicit masks, usable under jax.grad).

Every term works on one clip of T frames (``vmap`` it over clips). Padded frames are excluded
by ``frame_mask: (T,)`` (1 = real frame, 0 = padding); missing keypoints by a zero confidence.

Reductions follow TensorFlow 1's ``tf.losses`` (SUM_BY_NONZERO_WEIGHTS), which SFV's weights
were tuned with: the weighted sum of the element losses divided by the number of non-zero
weights *after broadcasting the weights to the losses' shape* (so an (N, 1) weight on an
(N, 2) loss counts twice per row); 0 when every weight is zero.

Keypoint coordinates inside these terms are HMR's normalized crop coordinates (-1..1 over the
crop, see ``geometry.cameras``), as in the original, so the paper's weights keep their meaning.
The paper's defaults are the plain terms; the robust / rotation / acceleration / joint-limit
terms are optional extensions (off in the paper config).
"""
from __future__ import annotations

from typing import Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np

from sfv_jax.shapes import check_shapes

Array = jnp.ndarray

# Axis-angle components (index into the (72,) SMPL pose) that bend knees and elbows, and the
# sign of the *forbidden* direction (hyper-extension), after SMPLify's angle prior:
# left elbow y (+), right elbow y (-), left knee x (-), right knee x (-).
_LIMIT_COMPONENTS = (18 * 3 + 1, 19 * 3 + 1, 4 * 3 + 0, 5 * 3 + 0)
_LIMIT_SIGNS = (1.0, -1.0, -1.0, -1.0)


def nonzero_weighted_mean(losses: Array, weights: Array) -> Array:
    """TF1 SUM_BY_NONZERO_WEIGHTS: ``sum(w * l) / count_nonzero(broadcast(w))`` (0 if none).

    Args:
      losses: element losses, any shape.
      weights: broadcastable to ``losses``.
    """
    chex.assert_is_broadcastable(np.shape(weights), np.shape(losses))
    w = jnp.broadcast_to(weights, losses.shape).astype(losses.dtype)
    count = jnp.sum((w != 0).astype(losses.dtype))
    total = jnp.sum(w * losses)
    # max(count, 1) keeps the gradient finite when nothing is weighted (total is 0 then).
    return jnp.where(count > 0, total / jnp.maximum(count, 1.0), 0.0)


def _pair_mask(frame_mask: Array, order: int = 1) -> Array:
    """(T - order,) mask of windows whose frames are all real."""
    m = frame_mask[order:]
    for k in range(1, order + 1):
        m = m * frame_mask[order - k:frame_mask.shape[0] - k]
    return m


def keypoint_l1(pred: Array, target: Array, conf: Array, frame_mask: Array) -> Array:
    """Confidence-weighted L1 keypoint reprojection (SFV's ``keypoint_l1_loss``).

    ``sum_{t,k,c} w_tk |pred - target|_tkc / #{(t,k,c): w_tk != 0}`` with
    ``w_tk = conf_tk * frame_mask_t``, c over x, y (so each visible keypoint counts twice).

    Args:
      pred: (T, K, 2) projected model keypoints, normalized crop coordinates.
      target: (T, K, 2) observed keypoints, same coordinates.
      conf: (T, K) confidence (0 = missing).
      frame_mask: (T,).
    """
    check_shapes("keypoint_l1", pred=(pred, "T K 2"), target=(target, "T K 2"),
                 conf=(conf, "T K"), frame_mask=(frame_mask, "T"))
    w = (conf * frame_mask[:, None])[..., None]
    return nonzero_weighted_mean(jnp.abs(pred - target), w)


def keypoint_smooth_l1(pred: Array, target: Array, conf: Array, frame_mask: Array,
                       eps: float) -> Array:
    """``keypoint_l1`` with ``|r|`` smoothed to ``sqrt(r^2 + eps^2) - eps`` (within eps of
    ``|r|``, differentiable at 0 with curvature 1 / eps there): the L-BFGS option's search
    function. Same weights and normalization as ``keypoint_l1``; shapes as there; eps > 0 in
    the coordinates' units.
    """
    check_shapes("keypoint_smooth_l1", pred=(pred, "T K 2"), target=(target, "T K 2"),
                 conf=(conf, "T K"), frame_mask=(frame_mask, "T"))
    r = pred - target
    e = jnp.asarray(eps, r.dtype)
    w = (conf * frame_mask[:, None])[..., None]
    return nonzero_weighted_mean(jnp.sqrt(r * r + e * e) - e, w)


def keypoint_gmof(pred: Array, target: Array, conf: Array, frame_mask: Array,
                  sigma: float) -> Array:
    """Robust (Geman-McClure) keypoint reprojection.

    ``rho(r) = sigma^2 r^2 / (sigma^2 + r^2)`` of each keypoint's 2D residual norm r, weighted
    by ``conf * frame_mask`` and divided by the number of non-zero weights (one per keypoint).

    Args:
      pred, target: (T, K, 2) normalized crop coordinates; conf: (T, K); frame_mask: (T,);
      sigma: scale of the robust kernel in normalized crop units.
    """
    check_shapes("keypoint_gmof", pred=(pred, "T K 2"), target=(target, "T K 2"),
                 conf=(conf, "T K"), frame_mask=(frame_mask, "T"))
    r2 = jnp.sum(jnp.square(pred - target), axis=-1)
    s2 = sigma * sigma
    rho = s2 * r2 / (s2 + r2)
    return nonzero_weighted_mean(rho, conf * frame_mask[:, None])


def keypoint_residual_l1(pred: Array, target: Array, conf: Array) -> Array:
    """Per-frame L1 norm of the confidence-weighted 2D residual, ``e_t = sum_k,c conf |d|``.

    Args:
      pred, target: (T, K, 2); conf: (T, K).

    Returns:
      (T,) residual e used by ``init_pose_weights``.
    """
    check_shapes("keypoint_residual_l1", pred=(pred, "T K 2"), target=(target, "T K 2"),
                 conf=(conf, "T K"))
    return jnp.sum(conf[..., None] * jnp.abs(target - pred), axis=(-2, -1))


def init_pose_weights(residual: Array, frame_mask: Array, e_max: float | None = None) -> Array:
    """SFV's per-frame weight on the stay-near-initial-pose term: ``exp(-(e / e_max)^2)``.

    Args:
      residual: (T,) per-frame residual e of the initial estimate (``keypoint_residual_l1``).
      frame_mask: (T,).
      e_max: normalizer; None = the largest e over the clip's real frames (the original).

    Returns:
      (T,) weights in (0, 1], 0 on padded frames. Frames that fit the 2D keypoints well keep
      their initial pose more strongly.
    """
    check_shapes("init_pose_weights", residual=(residual, "T"), frame_mask=(frame_mask, "T"))
    if e_max is None:
        scale = jnp.max(jnp.where(frame_mask > 0, residual, 0.0))
    else:
        scale = jnp.asarray(e_max, residual.dtype)
    # A clip whose initial estimate fits perfectly (scale 0) gets weight 1 everywhere.
    ratio = jnp.where(scale > 0, residual / jnp.where(scale > 0, scale, 1.0), 0.0)
    return jnp.exp(-jnp.square(ratio)) * frame_mask


def shape_consistency(betas: Array, betas_target: Array, frame_mask: Array) -> Array:
    """Mean squared difference of each frame's shape to one clip shape.

    ``sum_{t,i} m_t (beta_ti - target_i)^2 / (10 * #real frames)``.

    Args:
      betas: (T, B) per-frame shape; betas_target: (B,) e.g. the mean initial shape
      (``masked_mean``); frame_mask: (T,).
    """
    check_shapes("shape_consistency", betas=(betas, "T B"), betas_target=(betas_target, "B"),
                 frame_mask=(frame_mask, "T"))
    return nonzero_weighted_mean(jnp.square(betas - betas_target), frame_mask[:, None])


def masked_mean(x: Array, frame_mask: Array) -> Array:
    """Mean over real frames: (T, ...) -> (...)."""
    check_shapes("masked_mean", x=(x, "T ..."), frame_mask=(frame_mask, "T"))
    m = frame_mask.reshape(frame_mask.shape + (1,) * (x.ndim - 1))
    return jnp.sum(x * m, axis=0) / jnp.maximum(jnp.sum(frame_mask), 1.0)


def rotation_cosine(rot_a: Array, rot_b: Array) -> Array:
    """cos of the angle between rotations: ``(tr(A B^T) - 1) / 2``; (..., 3, 3) -> (...)."""
    check_shapes("rotation_cosine", rot_a=(rot_a, "... 3 3"), rot_b=(rot_b, "... 3 3"))
    chex.assert_equal_shape([rot_a, rot_b], custom_message="rotation_cosine: rot_a vs rot_b")
    return 0.5 * (jnp.sum(rot_a * rot_b, axis=(-2, -1)) - 1.0)


def init_pose(rot: Array, rot_init: Array, frame_weights: Array) -> Array:
    """Stay near the initial pose, per joint in rotation space (SFV's ``init_pose``).

    ``sum_{t,j} w_t (1 - cos_tj)^2 / (J * #{t: w_t != 0})`` with
    ``cos_tj = (tr(R0_tj R_tj^T) - 1) / 2`` on the local joint rotations.

    Args:
      rot: (T, J, 3, 3) current local rotations.
      rot_init: (T, J, 3, 3) initial local rotations.
      frame_weights: (T,) per-frame weights (``init_pose_weights``; 0 on padded frames).
    """
    check_shapes("init_pose", rot=(rot, "T J 3 3"), rot_init=(rot_init, "T J 3 3"),
                 frame_weights=(frame_weights, "T"))
    cos = rotation_cosine(rot_init, rot)
    return nonzero_weighted_mean(jnp.square(1.0 - cos), frame_weights[:, None])


def root_centered(points: Array, root_indices: Sequence[int]) -> Array:
    """Subtracts the mean of ``points[..., root_indices, :]`` (e.g. the hips): (T, K, 3)."""
    check_shapes("root_centered", points=(points, "... K 3"))
    root = jnp.mean(points[..., tuple(root_indices), :], axis=-2, keepdims=True)
    return points - root


def joint_smoothness(points: Array, frame_mask: Array, root_indices: Sequence[int]) -> Array:
    """Mean squared velocity of root-relative 3D keypoints (SFV's ``joint_smoothness``).

    ``sum_{t,k,c} p_t (x_{t+1} - x_t)^2 / (3 K #{t: p_t})`` where x are the points minus the
    mid-hip (mean of ``root_indices``) and ``p_t = m_t m_{t+1}``.

    Args:
      points: (T, K, 3) model keypoints (metres); frame_mask: (T,);
      root_indices: static indices of the points whose mean is the root (left/right hip).
    """
    check_shapes("joint_smoothness", points=(points, "T K 3"), frame_mask=(frame_mask, "T"))
    x = root_centered(points, root_indices)
    d = x[1:] - x[:-1]
    return nonzero_weighted_mean(jnp.square(d), _pair_mask(frame_mask)[:, None, None])


def acceleration_smoothness(points: Array, frame_mask: Array,
                            root_indices: Sequence[int]) -> Array:
    """Mean squared second difference of root-relative 3D keypoints (optional term).

    ``sum p_t (x_{t+1} - 2 x_t + x_{t-1})^2 / (3 K #{t: p_t})``, p over windows of 3 real frames.

    Args:
      points: (T, K, 3); frame_mask: (T,); root_indices: static root point indices.
    """
    check_shapes("acceleration_smoothness", points=(points, "T K 3"), frame_mask=(frame_mask, "T"))
    x = root_centered(points, root_indices)
    a = x[2:] - 2.0 * x[1:-1] + x[:-2]
    return nonzero_weighted_mean(jnp.square(a), _pair_mask(frame_mask, 2)[:, None, None])


def robust_acceleration_smoothness(points: Array, frame_mask: Array,
                                   root_indices: Sequence[int], sigma: float) -> Array:
    """Edge-preserving acceleration prior on root-relative 3D keypoints (optional term).

    A Charbonnier (pseudo-Huber) kernel on each keypoint's 3D acceleration norm::

        a_tk = x_{t+1,k} - 2 x_tk + x_{t-1,k}       (x: points minus the mid-hip)
        rho(a) = sigma^2 (sqrt(1 + |a|^2 / sigma^2) - 1)
        sum_{t,k} p_t rho(|a_tk|) / (K #{t: p_t})

    with p over windows of 3 real frames. ``rho ~ |a|^2 / 2`` for ``|a| << sigma`` (per-frame
    jitter is penalized quadratically, like ``acceleration_smoothness``) and ``~ sigma |a|`` for
    ``|a| >> sigma`` (a genuine fast motion pays only linearly, so it is not flattened).

    Args:
      points: (T, K, 3) keypoints (metres); frame_mask: (T,);
      root_indices: static root point indices; sigma: kernel scale, metres / frame^2 (> 0).
    """
    check_shapes("robust_acceleration_smoothness", points=(points, "T K 3"),
                 frame_mask=(frame_mask, "T"))
    x = root_centered(points, root_indices)
    a = x[2:] - 2.0 * x[1:-1] + x[:-2]
    a2 = jnp.sum(jnp.square(a), axis=-1)
    # sigma^2 (sqrt(1 + u) - 1) written as |a|^2 / (sqrt(1 + u) + 1), u = |a|^2 / sigma^2: no
    # cancellation for small |a| in float32, and smooth at a = 0 (no NaN gradient, unlike |a|).
    rho = a2 / (jnp.sqrt(1.0 + a2 / (sigma * sigma)) + 1.0)
    return nonzero_weighted_mean(rho, _pair_mask(frame_mask, 2)[:, None])


def pose_smoothness(rot: Array, frame_mask: Array, root_weight: float = 1.0) -> Array:
    """Rotation-space pose smoothness (SFV's unused ``pose_smoothness``; optional term).

    ``sum_{t,j} w_tj (1 - cos_tj)^2 / #{w != 0}`` with ``cos_tj = (tr(R_tj R_{t+1,j}^T) - 1)/2``
    and ``w_tj = p_t`` (``root_weight * p_t`` for joint 0; the original's ``global_only`` is 10).

    Args:
      rot: (T, J, 3, 3) local rotations; frame_mask: (T,); root_weight: extra root weight.
    """
    check_shapes("pose_smoothness", rot=(rot, "T J 3 3"), frame_mask=(frame_mask, "T"))
    cos = rotation_cosine(rot[:-1], rot[1:])
    joint_w = jnp.ones((rot.shape[1],), rot.dtype).at[0].set(root_weight)
    w = _pair_mask(frame_mask)[:, None] * joint_w[None, :]
    return nonzero_weighted_mean(jnp.square(1.0 - cos), w)


def camera_smoothness(cam: Array, crop_scale: Array, crop_start: Array, crop_size: float,
                      frame_mask: Array) -> Array:
    """Smoothness of the camera with each frame's crop undone (SFV's ``camera_smoothness``).

    With ``a_t = s_t / crop_scale_t`` and ``b_t = ((t_t + 1) crop_size / 2 + crop_start_t) /
    crop_size`` (the original's formulas: the translation is read as a crop position and moved
    by the crop offset; it is not rescaled by ``crop_scale``)::

        sum_t p_t (a_{t+1} - a_t)^2 / #p  +  sum_{t,c} p_t (b_{t+1} - b_t)_c^2 / (2 #p)

    Args:
      cam: (T, 3) crop cameras [s, tx, ty]; crop_scale: (T,); crop_start: (T, 2) pixels;
      crop_size: crop side in pixels (HMR: 224); frame_mask: (T,).
    """
    check_shapes("camera_smoothness", cam=(cam, "T 3"), crop_scale=(crop_scale, "T"),
                 crop_start=(crop_start, "T 2"), frame_mask=(frame_mask, "T"))
    a = cam[:, 0] / crop_scale
    b = ((cam[:, 1:3] + 1.0) * (0.5 * crop_size) + crop_start) / crop_size
    p = _pair_mask(frame_mask)
    scale_term = nonzero_weighted_mean(jnp.square(a[1:] - a[:-1]), p)
    trans_term = nonzero_weighted_mean(jnp.square(b[1:] - b[:-1]), p[:, None])
    return scale_term + trans_term


def joint_limits(pose: Array, frame_mask: Array) -> Array:
    """Knee and elbow hyper-extension penalty (optional term).

    Squared hinge on the bending axis-angle component in the forbidden direction
    (after SMPLify's angle prior: left elbow +y, right elbow -y, knees -x)::

        sum_{t,j} m_t relu(sign_j * theta_tj)^2 / (4 #real frames)

    Args:
      pose: (T, 72) local axis-angle (radians); frame_mask: (T,).
    """
    check_shapes("joint_limits", pose=(pose, "T 72"), frame_mask=(frame_mask, "T"))
    bend = jnp.asarray(pose)[:, _LIMIT_COMPONENTS]
    theta = bend * jnp.asarray(_LIMIT_SIGNS, bend.dtype)
    return nonzero_weighted_mean(jnp.square(jax.nn.relu(theta)), frame_mask[:, None])


# ----------------------------------------------------------------------------------------------
# World-grounded terms (solver mode "world"): a static camera, one ground plane, foot contacts.
# Points are in camera coordinates (metres, x right, y down, z forward); the plane is
# ``{p: n . p + d = 0}`` with the unit normal n pointing up (away from the floor), so
# ``h = n . p + d`` is the height of p above the floor. A static camera makes the camera frame
# a world frame: velocities and accelerations measured in it are world ones.
# ----------------------------------------------------------------------------------------------
def plane_heights(points: Array, normal: Array, offset: Array) -> Array:
    """Signed height above the plane: ``h = n . p + d``; (..., 3) points -> (...).

    Args:
      points: (..., 3) camera coordinates (metres); normal: (3,) unit up normal;
      offset: () plane offset d (metres).
    """
    check_shapes("plane_heights", points=(points, "... 3"), normal=(normal, "3"),
                 offset=(offset, ""))
    return jnp.sum(points * normal, axis=-1) + offset


def point_speeds(points: Array, frame_mask: Array) -> Array:
    """Per-frame speed of each point (units / frame), central differences.

    ``v_t = |x_{t+1} - x_{t-1}| / 2`` where both neighbours are real frames, the one-sided
    difference where only one is, 0 where none is (and on padded frames).

    Args:
      points: (T, S, D) (3D points, or 2D image points); frame_mask: (T,) real frames, or
        (T, S) a mask per point (e.g. where a 2D keypoint is observed).

    Returns:
      (T, S).
    """
    per_point = jnp.ndim(frame_mask) == 2
    check_shapes("point_speeds", points=(points, "T S D"),
                 frame_mask=(frame_mask, "T S" if per_point else "T"))
    m = frame_mask if per_point else frame_mask[:, None]           # (T, S) or (T, 1)
    d = points[1:] - points[:-1]                                   # (T-1, S, D)
    p = (m[1:] * m[:-1])[..., None]
    zero = jnp.zeros_like(points[:1])
    fwd = jnp.concatenate([d * p, zero], 0)                        # x_{t+1} - x_t at t
    bwd = jnp.concatenate([zero, d * p], 0)                        # x_t - x_{t-1} at t
    none = jnp.zeros((1,) + p.shape[1:-1], p.dtype)
    n_f = jnp.concatenate([p[..., 0], none])
    n_b = jnp.concatenate([none, p[..., 0]])
    count = jnp.maximum(n_f + n_b, 1.0)[..., None]
    v = (fwd + bwd) / count
    # sqrt(|v|^2 + tiny): a finite gradient at v = 0.
    return jnp.sqrt(jnp.sum(v * v, -1) + 1e-12) * m


def soft_foot_contacts(heights: Array, speeds: Array, frame_mask: Array,
                       height_scale: float, speed_scale: float,
                       image_still: Array | None = None) -> Array:
    """Soft contact weight of each foot point in each frame, from its height and speed.

    ``c_ts = m_t exp(-(max(h_ts, 0) / h0)^2) g_ts`` with the stillness
    ``g_ts = exp(-(v_ts / v0)^2)`` of the 3D point: 1 for a point on (or below) the floor and
    still, falling off smoothly with height (scale h0) and speed (scale v0). Where
    ``image_still`` is given and >= 0 (the point's 2D keypoint is observed), it replaces the
    3D stillness: a static camera sees a planted foot stand still in the image however the
    3D estimate jitters.

    Args:
      heights: (T, S) heights above the plane (metres); speeds: (T, S) metres / frame
      (``point_speeds``); frame_mask: (T,); height_scale: h0 (metres, > 0);
      speed_scale: v0 (metres / frame, > 0); image_still: optional (T, S) in [0, 1], or < 0
      where the image does not say.

    Returns:
      (T, S) in [0, 1], 0 on padded frames. The solver holds it fixed within an iteration
      (no gradient flows through it), so a foot cannot leave its contact to escape the terms.
    """
    h = jax.nn.relu(heights) / height_scale
    v = speeds / speed_scale
    still = jnp.exp(-(v * v))
    if image_still is not None:
        still = jnp.where(image_still >= 0, image_still, still)
    return jnp.exp(-(h * h)) * still * frame_mask[:, None]


def contact_static(points: Array, contacts: Array, frame_mask: Array) -> Array:
    """A foot point in contact does not move in the world.

    ``sum_{t,s} p_t c_ts c_{t+1,s} |x_{t+1,s} - x_ts|^2 / (S #{t: p_t})`` with
    ``p_t = m_t m_{t+1}`` (metres^2 per frame^2).

    Args:
      points: (T, S, 3) foot points, camera (= world) coordinates; contacts: (T, S) in [0, 1]
      (``soft_foot_contacts``); frame_mask: (T,).
    """
    check_shapes("contact_static", points=(points, "T S 3"), contacts=(contacts, "T S"),
                 frame_mask=(frame_mask, "T"))
    p = _pair_mask(frame_mask)
    w = contacts[1:] * contacts[:-1] * p[:, None]
    d2 = jnp.sum(jnp.square(points[1:] - points[:-1]), -1)
    return jnp.sum(w * d2) / jnp.maximum(jnp.sum(p) * points.shape[1], 1.0)


def contact_height(heights: Array, contacts: Array, frame_mask: Array) -> Array:
    """A foot point in contact rests on the plane: ``sum m_t c_ts h_ts^2 / (S #real frames)``.

    Args:
      heights: (T, S) metres; contacts: (T, S); frame_mask: (T,).
    """
    check_shapes("contact_height", heights=(heights, "T S"), contacts=(contacts, "T S"),
                 frame_mask=(frame_mask, "T"))
    w = contacts * frame_mask[:, None]
    return jnp.sum(w * jnp.square(heights)) / jnp.maximum(
        jnp.sum(frame_mask) * heights.shape[1], 1.0)


def ground_penetration(heights: Array, frame_mask: Array) -> Array:
    """No body point below the plane: ``sum m_t max(-h_tk, 0)^2 / (K #real frames)``.

    Args:
      heights: (T, K) heights of body points above the plane (metres); frame_mask: (T,).
    """
    check_shapes("ground_penetration", heights=(heights, "T K"), frame_mask=(frame_mask, "T"))
    below = jax.nn.relu(-heights) * frame_mask[:, None]
    return jnp.sum(jnp.square(below)) / jnp.maximum(jnp.sum(frame_mask) * heights.shape[1], 1.0)


def root_acceleration(root: Array, frame_mask: Array) -> Array:
    """World-frame root acceleration prior: mean squared second difference of the root.

    ``sum_t p_t |r_{t+1} - 2 r_t + r_{t-1}|^2 / (3 #{t: p_t})`` with p over windows of 3 real
    frames; r in camera (= world, static camera) coordinates, metres (so metres^2 / frame^4).

    Args:
      root: (T, 3) root positions (e.g. the hip midpoint plus the translation);
      frame_mask: (T,).
    """
    check_shapes("root_acceleration", root=(root, "T 3"), frame_mask=(frame_mask, "T"))
    a = root[2:] - 2.0 * root[1:-1] + root[:-2]
    return nonzero_weighted_mean(jnp.square(a), _pair_mask(frame_mask, 2)[:, None])
