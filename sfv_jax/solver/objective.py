"""SFV's per-clip objective: the weighted sum of ``sfv_jax.losses`` terms on one clip (pure JAX).

The body enters as a ``body.keypoint_pairs.PairModel`` (``pair_model(body.keypoint_model(m))``):
the keypoint-only forward with the skinning folded into (keypoint, joint) pairs.

Parameters of one clip (T frames): ``{"pose": (T, 72), "betas": (T, 10), "cam": (T, 3)}``.
Data of one clip: see ``ClipData``. The keypoint term runs in HMR's normalized crop coordinates
(``geometry.cameras.project_crop``), the init-pose term on local rotation matrices.
"""
from __future__ import annotations

from typing import Mapping, NamedTuple

import jax.numpy as jnp

from sfv_jax import losses
from sfv_jax.geometry import cameras
from sfv_jax.geometry.rotations import axis_angle_to_matrix
from sfv_jax.solver.config import SolverSettings
from sfv_jax.body.keypoint_pairs import PairModel, pair_forward

Array = jnp.ndarray
Params = Mapping[str, Array]


class ClipData(NamedTuple):
    """Fixed inputs of one clip's objective (T padded frames, K keypoints, J joints).

    target: (T, K, 2) 2D keypoints, normalized crop coordinates.
    conf: (T, K) confidence, 0 for missing / below-threshold points and padded frames' copies.
    frame_mask: (T,) 1 on real frames, 0 on padding.
    crop_scale: (T,); crop_start: (T, 2) pixels; crop_size: () pixels.
    rot_init: (T, J, 3, 3) local rotations of the initial pose.
    init_weights: (T,) per-frame weight of the init-pose term (0 on padding).
    betas_target: (B,) mean initial shape over the real frames.
    """
    target: Array
    conf: Array
    frame_mask: Array
    crop_scale: Array
    crop_start: Array
    crop_size: Array
    rot_init: Array
    init_weights: Array
    betas_target: Array


def root_indices(model: PairModel) -> tuple[int, ...]:
    """Static indices of the keypoints whose mean is the root (the hips, as in SFV)."""
    names = model.keypoint_names
    if "left_hip" in names and "right_hip" in names:
        return (names.index("left_hip"), names.index("right_hip"))
    if "mid_hip" in names:
        return (names.index("mid_hip"),)
    raise ValueError(f"model {model.skeleton.name!r}: its keypoints {names} have neither "
                     f"left_hip and right_hip nor mid_hip, needed to root-center the "
                     f"smoothness terms")


def local_rotations(pose: Array) -> Array:
    """(T, 72) axis-angle -> (T, 24, 3, 3) local rotation matrices."""
    return axis_angle_to_matrix(pose.reshape(pose.shape[:-1] + (-1, 3)))


def prepare_data(model: PairModel, pose0: Array, betas0: Array, cam0: Array,
                 batch: Mapping[str, Array], settings: SolverSettings) -> ClipData:
    """Derives a clip's fixed objective inputs from its initial estimate.

    Args:
      model: the body's ``PairModel``.
      pose0: (T, 72); betas0: (T, 10); cam0: (T, 3) the initial estimate.
      batch: one clip of ``batching.stack_batch``'s data (target, conf, frame_mask,
        crop_scale, crop_start, crop_size).
      settings: the solver settings (init-pose weighting).
    """
    mask = batch["frame_mask"]
    conf = batch["conf"] * mask[:, None]
    rot_init = local_rotations(pose0)
    if settings.weighted_init_pose:
        kp0 = cameras.project_crop(pair_forward(model, rot_init, betas0).keypoints, cam0)
        e = losses.keypoint_residual_l1(kp0, batch["target"], conf)
        weights = losses.init_pose_weights(e, mask,
                                           settings.e_max if settings.e_max > 0 else None)
    else:
        weights = mask
    return ClipData(
        target=batch["target"], conf=conf, frame_mask=mask, crop_scale=batch["crop_scale"],
        crop_start=batch["crop_start"], crop_size=batch["crop_size"],
        rot_init=rot_init, init_weights=weights,
        betas_target=losses.masked_mean(betas0, mask))


def clip_terms(model: PairModel, params: Params, data: ClipData,
               settings: SolverSettings) -> dict[str, Array]:
    """Weighted value of each active term (``settings.active_terms``) for one clip.

    Args:
      model: the body's ``PairModel``.
      params: pose (T, 72), betas (T, 10), cam (T, 3).
      data: the clip's ``ClipData``.
      settings: weights and term options.

    Returns:
      name -> scalar, each already multiplied by its weight; the objective is their sum.
    """
    return _terms_and_projection(model, params, data, settings)[0]


def body_terms(model: PairModel, pose: Array, rot: Array, betas: Array, kp3d: Array,
               data: ClipData, settings: SolverSettings) -> dict[str, Array]:
    """The camera-free terms of one clip (unweighted), shared by the paper and world modes:
    shape, init_pose, pose_smooth, joint_smooth, accel_smooth, accel_robust, joint_limits
    (those of them that are active).

    Args:
      model: the ``PairModel`` (its root keypoints anchor the smoothness terms);
      pose: (T, 72) axis-angle; rot: (T, 24, 3, 3) its local rotations; betas: (T, 10);
      kp3d: (T, K, 3) body-frame keypoints (no translation); data: ``ClipData``.
    """
    mask = data.frame_mask
    active = settings.active_terms
    terms: dict[str, Array] = {}
    if "shape" in active:
        terms["shape"] = losses.shape_consistency(betas, data.betas_target, mask)
    if "init_pose" in active:
        terms["init_pose"] = losses.init_pose(rot, data.rot_init, data.init_weights)
    if "pose_smooth" in active:
        terms["pose_smooth"] = losses.pose_smoothness(rot, mask, settings.pose_smooth_root_weight)
    roots = root_indices(model)
    if "joint_smooth" in active:
        terms["joint_smooth"] = losses.joint_smoothness(kp3d, mask, roots)
    if "accel_smooth" in active:
        terms["accel_smooth"] = losses.acceleration_smoothness(kp3d, mask, roots)
    if "accel_robust" in active:
        terms["accel_robust"] = losses.robust_acceleration_smoothness(
            kp3d, mask, roots, settings.accel_robust_sigma)
    if "joint_limits" in active:
        terms["joint_limits"] = losses.joint_limits(pose, mask)
    return terms


def _terms_and_projection(model: PairModel, params: Params, data: ClipData,
                          settings: SolverSettings) -> tuple[dict[str, Array], Array]:
    """``clip_terms`` and the projected keypoints (T, K, 2) (None without a keypoint term)."""
    pose, betas, cam = params["pose"], params["betas"], params["cam"]
    mask = data.frame_mask
    active = settings.active_terms
    rot = local_rotations(pose)
    kp3d = pair_forward(model, rot, betas).keypoints
    terms: dict[str, Array] = {}
    proj = None
    if "keypoints" in active or "keypoints_gmof" in active:
        proj = cameras.project_crop(kp3d, cam)
        if "keypoints" in active:
            terms["keypoints"] = losses.keypoint_l1(proj, data.target, data.conf, mask)
        if "keypoints_gmof" in active:
            terms["keypoints_gmof"] = losses.keypoint_gmof(proj, data.target, data.conf, mask,
                                                           settings.gmof_sigma)
    if "camera_smooth" in active:
        terms["camera_smooth"] = losses.camera_smoothness(cam, data.crop_scale, data.crop_start,
                                                          data.crop_size, mask)
    terms.update(body_terms(model, pose, rot, betas, kp3d, data, settings))
    return {n: settings.weight(n) * terms[n] for n in active}, proj


def clip_objective(model: PairModel, params: Params, data: ClipData,
                   settings: SolverSettings) -> tuple[Array, dict[str, Array]]:
    """(total, terms) of one clip: the scalar to minimize and its weighted parts."""
    terms = clip_terms(model, params, data, settings)
    total = sum(terms.values()) if terms else jnp.zeros((), params["pose"].dtype)
    return total, terms


def smoothed_clip_objective(model: PairModel, params: Params, data: ClipData,
                            settings: SolverSettings, l1_smoothing: float
                            ) -> tuple[Array, tuple[Array, dict[str, Array]]]:
    """The objective with its L1 keypoint term smoothed, and the true objective as aux.

    The keypoint term's ``|r|`` becomes ``sqrt(r^2 + eps^2) - eps`` (eps = ``l1_smoothing``,
    normalized crop units; within eps of ``|r|``, differentiable at 0, curvature 1 / eps
    there); every other term is unchanged. Only the L-BFGS solver minimizes this; what it
    records and reports is the true objective, computed from the same forward pass.

    Returns:
      (smoothed total, (true total, true weighted terms)); gradients flow only through the
      smoothed total.
    """
    terms, proj = _terms_and_projection(model, params, data, settings)
    total = sum(terms.values()) if terms else jnp.zeros((), params["pose"].dtype)
    if "keypoints" not in terms or l1_smoothing <= 0:
        return total, (total, terms)
    kp_smooth = losses.keypoint_smooth_l1(proj, data.target, data.conf, data.frame_mask,
                                          l1_smoothing)
    smoothed = settings.weight("keypoints") * kp_smooth + sum(
        v for n, v in terms.items() if n != "keypoints")
    return smoothed, (total, terms)
