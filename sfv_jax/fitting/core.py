"""Fitting the body model to keypoints: options, results, priors, shared pieces and ``fit_3d``.

Batched fitters, each one compiled program per input shape, vmapped over every frame (any
leading batch dims: frames, clips, ...). ``fit_3d``: 3D keypoint targets (..., K, 3) with
weights (..., K) -> pose (72), betas (10), root translation. Global rotation and translation
start from a weighted Procrustes (Kabsch) fit of the torso points, then Adam (per-coordinate:
a batch gives the same result as one-by-one) refines them on the torso (stage 1), then every
parameter on every point (stage 2). Targets may be any frame (mocap world, MediaPipe's camera
frame). The 2D fit is in ``fitting.fit2d``.

Correspondence: the model's keypoint set (``body.with_keypoints(model, "body25")`` or a user
regressor) must list the targets' points in order; ``body.with_keypoints(model, "smpl24")``
fits the 24 SMPL joints (mocap joints mapped onto SMPL's). Priors have no learned weights: L2
on pose and betas, knee/elbow hinge limits, a mild bias toward a neutral standing pose.

Conventions: metres; the 2D fit works in HMR's camera frame (image x right, y down, no axis
flip; an upright person facing the camera has a root rotation of pi about x), like MediaPipe's
world landmarks, so a 3D fit of those can seed the 2D fit directly.
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from sfv_jax import skeletons
from sfv_jax.body import BodyModel, forward, keypoint_model
from sfv_jax.fitting.config import FittingSettings
from sfv_jax.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

Array = jnp.ndarray

# Points (in any keypoint set's naming) that define the torso: orientation and camera come
# from these first because they move least with the limbs.
TORSO_NAMES = frozenset({
    "left_shoulder", "right_shoulder", "left_hip", "right_hip", "neck", "mid_hip", "pelvis",
    "spine1", "spine2", "spine3", "left_collar", "right_collar",
})
_J = {n: i for i, n in enumerate(skeletons.SMPL_JOINT_NAMES)}
# Offsets into the 69 non-root pose values (joint j's axis-angle at 3 (j - 1)).
_KNEES = (3 * (_J["left_knee"] - 1), 3 * (_J["right_knee"] - 1))
_L_ELBOW = 3 * (_J["left_elbow"] - 1)
_R_ELBOW = 3 * (_J["right_elbow"] - 1)


# Static options of the fitters: the ``fitting`` config section itself (one schema, hashable;
# ``FitOptions.from_config(cfg)`` is the strict bridge from a ConfigDict).
FitOptions = FittingSettings


class Fit3D(NamedTuple):
    """Result of ``fit_3d`` (leading dims ``...`` those of the targets without (K, 3)).

    pose: (..., 72) axis-angle (root first); betas: (..., 10); transl: (..., 3) metres, so that
    ``body.forward(model, pose, betas, transl)`` reproduces the targets; error: (..., K) distance
    of each fitted point to its target (metres); loss: (...,) final objective.
    """
    pose: Array
    betas: Array
    transl: Array
    error: Array
    loss: Array


class Fit2D(NamedTuple):
    """Result of ``fit_2d``: the per-frame init in the solver's contract.

    pose: (..., 72); betas: (..., 10); cam: (..., 3) HMR crop camera [s, tx, ty];
    crop_scale: (...,); crop_start: (..., 2) (see ``geometry.cameras``); crop_size: int;
    projected: (..., K, 2) fitted model keypoints in full-image px; error_px: (..., K) pixel
    distance to the input keypoints (NaN where the input's confidence is below the threshold);
    valid: (...,) bool, False for frames with too few confident points (their result is the
    neutral pose); loss: (...,); degenerate: (...,) int32 reason code per frame (0: fine; see
    ``fitting.degenerate.REASONS``), None where not checked; hypothesis: (...,) int32 index of
    the torso orientation hypothesis chosen (-1 when seeded by a 3D fit).
    """
    pose: Array
    betas: Array
    cam: Array
    crop_scale: Array
    crop_start: Array
    crop_size: int
    projected: Array
    error_px: Array
    valid: Array
    loss: Array
    degenerate: Any = None
    hypothesis: Any = None


# ------------------------------------------------------------------------------------------
# Priors
# ------------------------------------------------------------------------------------------
def neutral_body_pose(arms_down_angle: float, dtype: Any = jnp.float32) -> Array:
    """(69,) non-root pose of a neutral standing body: SMPL's T-pose with the arms lowered."""
    p = np.zeros(69)
    # SMPL's left arm points along +x: a negative z rotation lowers it; the right mirrors it.
    p[3 * (_J["left_shoulder"] - 1) + 2] = -arms_down_angle
    p[3 * (_J["right_shoulder"] - 1) + 2] = arms_down_angle
    return jnp.asarray(p, dtype)


def hinge_penalty(body_pose: Array) -> Array:
    """Knee / elbow limits of a (..., 69) body pose -> (...,).

    Knees bend about +x only, the left elbow about -y, the right about +y: the wrong-way bend is
    squared, plus the knees' rotation off their hinge axis.
    """
    knees = jnp.stack([body_pose[..., k:k + 3] for k in _KNEES], axis=-2)  # (..., 2, 3)
    wrong = (jnp.sum(jax.nn.relu(-knees[..., 0]) ** 2, axis=-1)
             + jax.nn.relu(body_pose[..., _L_ELBOW + 1]) ** 2
             + jax.nn.relu(-body_pose[..., _R_ELBOW + 1]) ** 2)
    off_axis = jnp.sum(knees[..., 1:] ** 2, axis=(-2, -1))
    return wrong + off_axis


def prior_loss(body_pose: Array, betas: Array, opts: FitOptions, scale: float = 1.0) -> Array:
    """Sum of the priors for (..., 69) body pose and (..., B) betas -> (...,)."""
    neutral = neutral_body_pose(opts.arms_down_angle, body_pose.dtype)
    return scale * (opts.pose_weight * jnp.sum(body_pose ** 2, axis=-1)
                    + opts.betas_weight * jnp.sum(betas ** 2, axis=-1)
                    + opts.hinge_weight * hinge_penalty(body_pose)
                    + opts.neutral_weight * jnp.sum((body_pose - neutral) ** 2, axis=-1))


# ------------------------------------------------------------------------------------------
# Shared pieces
# ------------------------------------------------------------------------------------------
def torso_mask(names: tuple[str, ...]) -> np.ndarray:
    """(K,) float mask of the torso points among keypoint ``names`` (static, NumPy)."""
    return np.asarray([n in TORSO_NAMES for n in names], dtype=np.float32)


def _points(model: BodyModel, body_pose: Array, betas: Array, rot: Array) -> Array:
    """Model points of one frame: body pose (69,), betas (B,), root rotation (3, 3) -> (K, 3).

    The body is posed with a zero root rotation and then rotated about the root joint, which is
    exactly SMPL's root rotation (pose blend shapes do not use the root), so the orientation can
    be optimized as a matrix update without axis-angle singularities.
    """
    pose = jnp.concatenate([jnp.zeros((3,), body_pose.dtype), body_pose])
    out = forward(model, pose, betas)
    root = out.joints[0]
    return (out.keypoints - root) @ rot.T + root


def _bucket(n: int, min_batch: int) -> int:
    """Frames are padded to a power of two >= min_batch: few compiled shapes across calls."""
    size = max(int(min_batch), 1)
    while size < n:
        size *= 2
    return size


def _pad(x: Array, pad: int) -> Array:
    """Pads the leading (frame) axis with ``pad`` copies of zeros (zero weight: ignored)."""
    if pad == 0:
        return x
    return jnp.concatenate([x, jnp.zeros((pad,) + x.shape[1:], x.dtype)], axis=0)


def _restrict(model: BodyModel) -> BodyModel:
    """The model restricted to its keypoints' vertices (the fits read nothing else)."""
    return keypoint_model(model)


def _kabsch(src: Array, dst: Array, w: Array) -> tuple[Array, Array]:
    """Weighted rotation R and translation t minimizing sum w |R src + t - dst|^2.

    src, dst: (K, 3); w: (K,). Falls back to the identity without at least some weight.
    """
    wsum = jnp.sum(w)
    wn = w / jnp.maximum(wsum, 1e-9)
    ms, md = wn @ src, wn @ dst
    h = ((src - ms) * wn[:, None]).T @ (dst - md)
    u, _, vt = jnp.linalg.svd(h)
    d = jnp.sign(jnp.linalg.det(vt.T @ u.T))
    d = jnp.where(d == 0, 1.0, d)
    rot = vt.T @ jnp.diag(jnp.asarray([1.0, 1.0, 1.0], src.dtype).at[2].set(d)) @ u.T
    rot = jnp.where(wsum > 1e-9, rot, jnp.eye(3, dtype=src.dtype))
    return rot, md - rot @ ms


def _staged_adam(loss_fn: Any, params: dict[str, Array], lr: float, steps_first: int,
                 steps_second: int, frozen_first: tuple[str, ...] = (),
                 frozen: dict[str, Array] | None = None) -> dict[str, Array]:
    """Two-stage Adam inside one lax.scan (one traced loss: half the compile time of two).

    ``loss_fn(params, first)`` gets ``first``, a traced bool that is True during the first
    ``steps_first`` steps. Gradients of the ``frozen_first`` entries are zeroed during the first
    stage (Adam then leaves them exactly where they are), those of ``frozen`` (key -> traced
    bool, so that freezing does not change the compiled program) whenever the bool is True.
    """
    total = steps_first + steps_second
    if total <= 0:
        return params
    opt = optax.adam(lr)
    grad_fn = jax.grad(loss_fn)

    def step(carry: Any, i: Array) -> tuple[Any, None]:
        p, s = carry
        first = i < steps_first
        g = grad_fn(p, first)
        g = {k: jnp.where(first, 0.0, v) if k in frozen_first else v for k, v in g.items()}
        g = {k: jnp.where(frozen[k], 0.0, v) if k in (frozen or {}) else v
             for k, v in g.items()}
        updates, s = opt.update(g, s, p)
        return (optax.apply_updates(p, updates), s), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(total))
    return params


# ------------------------------------------------------------------------------------------
# 3D fit
# ------------------------------------------------------------------------------------------
def _fit_3d_frame(model: BodyModel, target: Array, weight: Array, betas0: Array,
                  fixed_betas: Array, torso: Array, opts: FitOptions
                  ) -> tuple[Array, Array, Array, Array, Array]:
    dtype = target.dtype
    neutral = neutral_body_pose(opts.arms_down_angle, dtype)
    inv_s2 = 1.0 / opts.sigma_3d ** 2

    # Orientation + translation in closed form from the torso (all points if no torso).
    w_torso = weight * torso
    w_torso = jnp.where(jnp.sum(w_torso > 0) >= 3, w_torso, weight)
    pts0 = _points(model, neutral, betas0, jnp.eye(3, dtype=dtype))
    rot0, t0 = _kabsch(pts0, target, w_torso)

    def data(pts: Array, w: Array) -> Array:
        return inv_s2 * jnp.sum(w * jnp.sum((pts - target) ** 2, -1)) / jnp.maximum(
            jnp.sum(w), 1e-9)

    def unpack(p: dict[str, Array]) -> tuple[Array, Array, Array]:
        rot = rot0 @ axis_angle_to_matrix(p["rot"])
        return rot, p["body"], p["betas"]

    def loss(p: dict[str, Array], first: Array) -> Array:
        # Stage 1 (first): torso points, no priors; stage 2: every point, priors.
        rot, body, betas = unpack(p)
        pts = _points(model, body, betas, rot) + p["transl"]
        return (data(pts, jnp.where(first, w_torso, weight))
                + jnp.where(first, 0.0, prior_loss(body, betas, opts)))

    params = {"rot": jnp.zeros((3,), dtype), "transl": t0, "body": neutral,
              "betas": betas0}
    params = _staged_adam(loss, params, opts.learning_rate, opts.steps_3d_global,
                          opts.steps_3d_full, frozen_first=("body", "betas"),
                          frozen={"betas": fixed_betas})
    rot, body, betas = unpack(params)
    pts = _points(model, body, betas, rot) + params["transl"]
    pose = jnp.concatenate([matrix_to_axis_angle(rot), body])
    err = jnp.linalg.norm(pts - target, axis=-1)
    final = data(pts, weight) + prior_loss(body, betas, opts)
    return pose, betas, params["transl"], err, final


def fit_3d(model: BodyModel, targets: Any, weights: Any, cfg: Any, *,
           betas: Any = None) -> Fit3D:
    """Fits pose, shape, global rotation and root translation to 3D points, frame by frame.

    Args:
      model: body model whose keypoint set lists the targets' points in order; for mocap joints
        mapped onto SMPL's joints use ``body.with_keypoints(model, "smpl24")``.
      targets: (..., K, 3) metres, any leading dims (frames, clips).
      weights: (..., K) per-point weights >= 0 (0 = missing point), or (K,) for all frames.
      cfg: ``FitOptions`` (= ``FittingSettings``) or a ``fitting`` ConfigDict section.
      betas: optional (..., B) or (B,) shape held fixed (e.g. a clip's mean from a first pass);
        None optimizes per-frame betas from zero.

    Returns:
      ``Fit3D`` with leading dims ``...``.
    """
    opts = FitOptions.from_config(cfg)  # a settings instance passes through unchanged
    names = model.keypoint_names
    targets = jnp.asarray(targets)
    if targets.ndim < 2 or targets.shape[-2:] != (len(names), 3):
        raise ValueError(f"fit_3d: targets have shape {targets.shape}, expected (..., "
                         f"{len(names)}, 3) for the model's {model.keypoint_format} keypoints")
    if not jnp.issubdtype(targets.dtype, jnp.floating):
        targets = targets.astype(jnp.float32)
    batch = targets.shape[:-2]
    weights = jnp.broadcast_to(jnp.asarray(weights, targets.dtype), batch + (len(names),))
    fixed = betas is not None
    nb = model.num_betas
    betas0 = jnp.zeros(batch + (nb,), targets.dtype) if betas is None else jnp.broadcast_to(
        jnp.asarray(betas, targets.dtype), batch + (jnp.shape(betas)[-1],))
    n = int(np.prod(batch, dtype=np.int64))
    pad = _bucket(n, opts.min_batch) - n
    flat = lambda x: _pad(x.reshape((n,) + x.shape[len(batch):]), pad)  # noqa: E731
    out = _fit_3d_jit(_restrict(model), flat(targets), flat(weights), flat(betas0),
                      jnp.asarray(fixed), jnp.asarray(torso_mask(names), targets.dtype), opts)
    return Fit3D(*[x[:n].reshape(batch + x.shape[1:]) for x in out])


@functools.partial(jax.jit, static_argnames=("opts",))
def _fit_3d_jit(model: BodyModel, targets: Array, weights: Array, betas0: Array,
                fixed_betas: Array, torso: Array, opts: FitOptions) -> Any:
    fn = lambda t, w, b: _fit_3d_frame(model, t, w, b, fixed_betas, torso, opts)  # noqa
    return jax.vmap(fn)(targets, weights, betas0)


