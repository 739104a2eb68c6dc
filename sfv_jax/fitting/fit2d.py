"""The 2D fit: keypoints in full-image pixels -> pose, shape and HMR's crop camera, per frame.

Input: 2D keypoints (..., K, 3) with confidence; output: pose, betas and HMR's crop camera
``[s, tx, ty]`` with the crop (``crop_scale``, ``crop_start``) derived from the keypoints' box
as in HMR's preprocessing. Two ways in:

- from keypoints alone (``fit_2d`` without ``init``), built for acrobatics: every frame tries
  the whole rotation (``lift.orientation_hypotheses``: upright, upside down, lying, on the side)
  on the rigid torso and both depth orders of each limb chain, scored by the 2D fit plus a
  plausibility prior (``lift``), vmapped over frames and hypotheses; short gaps of a keypoint
  along a track are interpolated first (``temporal.fill_gaps``); a temporal pass
  (``temporal.choose``, Viterbi along each track given by ``tracks``) picks one hypothesis per
  frame so that the motion stays continuous; inverse kinematics turns it into a pose, and a
  short Adam refinement on skeleton keypoints (``refine``) fits the keypoints; frames whose
  fit is degenerate are flagged (``degenerate``);
- seeded by a 3D fit (``init``, e.g. ``fit_3d`` of MediaPipe's world landmarks): one hypothesis
  per frame, refined with the full body model in two stages (orientation + camera, then pose,
  shape, camera with the priors).
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from sfv_jax import skeletons
from sfv_jax.body import BodyModel, forward
from sfv_jax.fitting import degenerate, lift, limb_prior, refine, temporal
from sfv_jax.fitting.core import (TORSO_NAMES, Fit2D, Fit3D, FitOptions, _bucket, _pad, _points,
                                  _restrict, _staged_adam, fit_3d, neutral_body_pose,
                                  prior_loss, torso_mask)
from sfv_jax.geometry import cameras, crops
from sfv_jax.geometry.rotations import axis_angle_to_matrix, axis_rotation, matrix_to_axis_angle

Array = jnp.ndarray

# The torso centre that short keypoint gaps are interpolated relative to (temporal.fill_gaps).
GAP_ANCHOR_NAMES = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
# Hand and foot points fill relative to their parent point instead, where it is seen: a limb
# chain's end (wrist, ankle) its middle joint, a foot point its ankle.
GAP_PARENT_NAMES = {**{end: mid for _, mid, end in limb_prior.LIMB_CHAINS},
                    **{f"{s}_{p}": f"{s}_ankle" for s in ("left", "right")
                       for p in ("big_toe", "small_toe", "heel")}}


# ------------------------------------------------------------------------------------------
# From keypoints alone: hypotheses -> temporal pass -> IK + refinement
# ------------------------------------------------------------------------------------------
def _frame_input(kp: Array, opts: FitOptions) -> tuple[Array, Array, Array, Array, Array]:
    """(K, 3) px -> crop_scale, crop_start, valid, uv (K, 2) normalized crop, weights (K,)."""
    scale, start, valid = crops.keypoint_crop(kp, opts.min_confidence, opts.person_height_px,
                                              opts.crop_size)
    uv = crops.image_to_crop_norm(kp[:, :2], scale, start, opts.crop_size)
    w = jnp.where(kp[:, 2] > opts.min_confidence, kp[:, 2], 0.0)
    return scale, start, valid, uv, w


@functools.partial(jax.jit, static_argnames=("opts",))
def _hypotheses_jit(kps: Array, sk: lift.Skeleton, rots: Array, opts: FitOptions) -> Any:
    _, _, valid, uv, w = jax.vmap(lambda kp: _frame_input(kp, opts))(kps)
    return lift.hypotheses(uv, w, sk, rots, opts) + (valid,)


@functools.partial(jax.jit, static_argnames=("opts", "parents"))
def _chosen_jit(model: BodyModel, kps: Array, observed: Array, sk: lift.Skeleton,
                skin: refine.SkinnedKeypoints, rots: Array, combos: Array,
                parents: tuple[int, ...], opts: FitOptions) -> Any:
    """Lift, IK and refinement of the chosen hypotheses on ``kps`` (gaps filled); the 2D
    error against the ``observed`` keypoints (the detections as given)."""
    idx = sk.limb_idx
    bone_idx = jnp.stack([jnp.concatenate([idx[:, 0], idx[:, 1]]),
                          jnp.concatenate([idx[:, 1], idx[:, 2]])], axis=1)      # (8, 2)
    nj = len(parents)

    def prepare(kp: Array, rot: Array, combo: Array) -> Any:
        scale, start, valid, uv, w = _frame_input(kp, opts)
        lf = lift.lift_limbs(uv, w, sk, rot, opts)
        pts = lf.points[jnp.arange(4), combo]                                     # (4, 3, 3)
        pose = lift.inverse_kinematics(rot, pts, sk, nj)
        bones = jnp.concatenate([pts[:, 1] - pts[:, 0], pts[:, 2] - pts[:, 1]])   # (8, 3)
        return scale, start, valid, uv, w, pose[1:].reshape(-1), bones, lf.limb_ratio

    scale, start, valid, uv, w, body0, bones, ratio = jax.vmap(prepare)(kps, rots, combos)
    root, body, cam, loss = refine.refine(skin, parents, uv, w, rots, body0, bones, bone_idx,
                                          opts)
    pose72 = jnp.concatenate([jax.vmap(matrix_to_axis_angle)(root), body], -1)
    betas = jnp.zeros((kps.shape[0], model.num_betas), kps.dtype)
    full = forward(model, pose72, betas).keypoints
    proj = crops.crop_norm_to_image(cameras.project_crop(full, cam), scale, start,
                                    opts.crop_size)
    seen = observed[..., 2] > opts.min_confidence
    err = jnp.where(seen, jnp.linalg.norm(proj - observed[..., :2], axis=-1), jnp.nan)
    return pose72, betas, cam, scale, start, proj, err, valid, loss, ratio


def _fit_from_keypoints(model: BodyModel, kps: Array, opts: FitOptions,
                        tracks: Sequence[int] | None, n: int) -> Fit2D:
    """Hypotheses, temporal pass, IK and refinement of (N_padded, K, 3) px keypoints."""
    restricted = _restrict(model)
    # Both static pieces from the keypoint-restricted model: same points, fewer vertices.
    sk = lift.skeleton(restricted, TORSO_NAMES, opts.head_weight,
                       np.asarray(neutral_body_pose(opts.arms_down_angle)),
                       limb_prior.load(opts.limb_prior_path))
    rots = jnp.asarray(lift.orientation_hypotheses(opts.yaw_substeps), kps.dtype)
    observed = kps
    if tracks is not None and max(opts.gap_fill_frames, opts.gap_hold_frames) > 0:
        names = model.keypoint_names
        anchor = [names.index(p) for p in GAP_ANCHOR_NAMES if p in names]
        parents = [names.index(GAP_PARENT_NAMES[p]) if GAP_PARENT_NAMES.get(p) in names else -1
                   for p in names]
        filled = temporal.fill_gaps(np.asarray(kps[:n]), tracks, anchor, opts.min_confidence,
                                    opts.gap_fill_frames, opts.gap_fill_confidence,
                                    opts.gap_fill_end_confidence, opts.gap_hold_frames,
                                    parents)
        kps = jnp.concatenate([jnp.asarray(filled, kps.dtype), kps[n:]])
    r, cost, pts, pen, cand, valid = _hypotheses_jit(kps, sk, rots, opts)
    r, cost, pts, pen = (np.asarray(x[:n], np.float64) for x in (r, cost, pts, pen))
    cand = np.asarray(cand[:n])
    valid_np = np.asarray(valid[:n])
    h_idx, combos = temporal.choose(r, cost, pts, pen, valid_np, tracks, opts)
    chosen = r[np.arange(n), h_idx]
    pad = kps.shape[0] - n
    skin = refine.skinned_keypoints(restricted)
    out = _chosen_jit(restricted, kps, observed, sk, skin,
                      _pad(jnp.asarray(chosen, kps.dtype), pad),
                      _pad(jnp.asarray(combos, jnp.int32), pad), tuple(model.parents), opts)
    pose, betas, cam, scale, start, proj, err, valid, loss, ratio = (x[:n] for x in out)
    codes = degenerate.frame_reasons(np.asarray(cam), np.asarray(ratio), np.asarray(err),
                                     np.asarray(observed[:n]), np.asarray(valid), opts)
    return Fit2D(pose, betas, cam, scale, start, int(opts.crop_size), proj, err, valid, loss,
                 degenerate=codes, hypothesis=cand[np.arange(n), h_idx].astype(np.int32))


# ------------------------------------------------------------------------------------------
# Seeded by a 3D fit (one hypothesis per frame, full body model)
# ------------------------------------------------------------------------------------------
def _fit_2d_hypothesis(model: BodyModel, uv: Array, w: Array, torso: Array, rot_init: Array,
                       body_init: Array, betas_init: Array, opts: FitOptions
                       ) -> tuple[Array, Array, Array, Array, Array]:
    """One frame, one starting orientation -> (rot (3,3), body (69,), betas, cam (3,), loss)."""
    inv_s2 = 1.0 / opts.sigma_2d ** 2
    c2 = opts.robust_scale_2d ** 2

    def data(pts: Array, cam: Array, wk: Array) -> Array:
        r2 = jnp.sum((cameras.project_crop(pts, cam) - uv) ** 2, -1)
        rho = r2 * c2 / (r2 + c2) if opts.robust_scale_2d > 0 else r2
        return inv_s2 * jnp.sum(wk * rho) / jnp.maximum(jnp.sum(wk), 1e-9)

    def unpack(p: dict[str, Array]) -> tuple[Array, Array]:
        rot = rot_init @ axis_angle_to_matrix(p["rot"])
        cam = jnp.concatenate([jnp.exp(p["log_s"])[None], p["t"]])
        return rot, cam

    def loss(p: dict[str, Array], first: Array) -> Array:
        # Stage 1 (first): torso points, no priors; stage 2: every point, priors.
        rot, cam = unpack(p)
        pts = _points(model, p["body"], p["betas"], rot)
        prior = prior_loss(p["body"], p["betas"], opts, opts.prior_scale_2d)
        return data(pts, cam, jnp.where(first, w_torso, w)) + jnp.where(first, 0.0, prior)

    w_torso = w * torso
    w_torso = jnp.where(jnp.sum(w_torso > 0) >= 2, w_torso, w)
    cam0 = cameras.weak_perspective_fit(_points(model, body_init, betas_init, rot_init), uv,
                                        w_torso)
    params = {"rot": jnp.zeros((3,), uv.dtype), "log_s": jnp.log(cam0[0]), "t": cam0[1:],
              "body": body_init, "betas": betas_init}
    params = _staged_adam(loss, params, opts.learning_rate_2d, opts.steps_2d_global,
                          opts.steps_2d_full, frozen_first=("body", "betas"))
    rot, cam = unpack(params)
    return rot, params["body"], params["betas"], cam, loss(params, jnp.asarray(False))


def _fit_2d_frame(model: BodyModel, kp: Array, torso: Array, rots: Array, bodies: Array,
                  betas: Array, opts: FitOptions) -> tuple[Array, ...]:
    scale, start, valid = crops.keypoint_crop(kp, opts.min_confidence, opts.person_height_px,
                                              opts.crop_size)
    uv = crops.image_to_crop_norm(kp[:, :2], scale, start, opts.crop_size)
    w = jnp.where(kp[:, 2] > opts.min_confidence, kp[:, 2], 0.0)
    fn = lambda r, b, s: _fit_2d_hypothesis(model, uv, w, torso, r, b, s, opts)  # noqa
    rot, body, bet, cam, loss = jax.vmap(fn)(rots, bodies, betas)
    best = jnp.argmin(jnp.where(jnp.isfinite(loss), loss, jnp.inf))
    rot, body, bet, cam, loss = (x[best] for x in (rot, body, bet, cam, loss))
    pose = jnp.concatenate([matrix_to_axis_angle(rot), body])
    pts = _points(model, body, bet, rot)
    proj = crops.crop_norm_to_image(cameras.project_crop(pts, cam), scale, start,
                                    opts.crop_size)
    err = jnp.where(w > 0, jnp.linalg.norm(proj - kp[:, :2], axis=-1), jnp.nan)
    return pose, bet, cam, scale, start, proj, err, valid, loss


@functools.partial(jax.jit, static_argnames=("opts",))
def _fit_2d_jit(model: BodyModel, kps: Array, torso: Array, rots: Array, bodies: Array,
                betas: Array, opts: FitOptions) -> Any:
    fn = lambda k, r, b, s: _fit_2d_frame(model, k, torso, r, b, s, opts)  # noqa
    return jax.vmap(fn)(kps, rots, bodies, betas)


def upright_rotations(num_yaw: int, dtype: Any = jnp.float32) -> Array:
    """(num_yaw, 3, 3) root rotations of an upright body in HMR's camera frame (y down).

    A rotation of pi about x turns SMPL's Y-up body upright in the image, facing the camera;
    the hypotheses then turn it about the vertical by 2 pi i / num_yaw.
    """
    yaw = jnp.arange(num_yaw, dtype=dtype) * (2.0 * jnp.pi / num_yaw)
    return axis_rotation("y", yaw) @ axis_rotation("x", jnp.asarray(jnp.pi, dtype))


def fit_2d(model: BodyModel, keypoints: Any, cfg: Any, *, init: Fit3D | None = None,
           tracks: Sequence[int] | None = None) -> Fit2D:
    """Fits pose, shape and HMR's crop camera to 2D keypoints, frame by frame.

    Args:
      model: body model whose keypoint set is the keypoints' format (e.g.
        ``body.with_keypoints(model, "body25")`` for BODY_25); it must name shoulders, elbows,
        wrists, hips, knees and ankles.
      keypoints: (..., K, 3) full-image pixels x, y and confidence; any leading dims.
      cfg: ``FitOptions`` (= ``FittingSettings``) or a ``fitting`` ConfigDict section.
      init: optional 3D fit in HMR's camera frame (x right, y down; e.g. ``fit_3d`` of
        MediaPipe's world landmarks) with leading dims ``...``: its root rotation, body pose
        and betas seed a single hypothesis per frame instead of the lifted hypotheses.
      tracks: lengths of the consecutive tracks along the flattened leading dims (summing to
        their size): the temporal pass picks each track's hypotheses jointly. None: every
        frame is fitted on its own (then a batch equals its frames one by one).

    Returns:
      ``Fit2D`` with leading dims ``...``; betas are the mean shape (zeros) without ``init``;
      ``degenerate`` holds per-frame reason codes (``fitting.degenerate``) without ``init``.
    """
    opts = FitOptions.from_config(cfg)  # a settings instance passes through unchanged
    kps = jnp.asarray(keypoints)
    k = model.num_keypoints
    if kps.ndim < 2 or kps.shape[-2:] != (k, 3):
        raise ValueError(f"fit_2d: keypoints have shape {kps.shape}, expected (..., {k}, 3) "
                         f"for the model's {model.keypoint_format} keypoints")
    if not jnp.issubdtype(kps.dtype, jnp.floating):
        kps = kps.astype(jnp.float32)
    batch = kps.shape[:-2]
    n = int(np.prod(batch, dtype=np.int64))
    dtype = kps.dtype
    nb = model.num_betas
    pad = _bucket(n, opts.min_batch) - n
    flat = _pad(kps.reshape(n, k, 3), pad)
    if init is None:
        fit = _fit_from_keypoints(model, flat, opts, tracks, n)
        unflat = lambda x: None if x is None else jnp.reshape(  # noqa: E731
            jnp.asarray(x), batch + jnp.shape(x)[1:])
        return Fit2D(*[unflat(x) if i != 5 else x for i, x in enumerate(fit)])
    pose = jnp.broadcast_to(jnp.asarray(init.pose, dtype), batch + (72,)).reshape(n, 1, 72)
    rots = axis_angle_to_matrix(pose[..., :3])
    bodies = pose[..., 3:]
    b = jnp.asarray(init.betas, dtype)
    betas = jnp.broadcast_to(b, batch + b.shape[-1:]).reshape(n, 1, -1)
    if betas.shape[-1] != nb:
        betas = jnp.zeros((n, 1, nb), dtype).at[..., :min(nb, betas.shape[-1])].set(
            betas[..., :nb])
    out = _fit_2d_jit(_restrict(model), flat,
                      jnp.asarray(torso_mask(model.keypoint_names), dtype), _pad(rots, pad),
                      _pad(bodies, pad), _pad(betas, pad), opts)
    pose, bet, cam, scale, start, proj, err, valid, loss = (
        x[:n].reshape(batch + x.shape[1:]) for x in out)
    return Fit2D(pose, bet, cam, scale, start, int(opts.crop_size), proj, err, valid, loss,
                 hypothesis=jnp.full(batch, -1, jnp.int32))


def fit_detections(model: BodyModel, keypoints: Any, cfg: Any,
                   world_landmarks: Any = None, tracks: Sequence[int] | None = None) -> Fit2D:
    """The HMR-free per-frame init from a detector's output (BODY_25 + MediaPipe world points).

    Args:
      model: body model with BODY_25 keypoints (``body.with_keypoints(model, "body25")``).
      keypoints: (..., 25, 3) BODY_25 full-image pixels and confidence.
      cfg: ``FitOptions`` (= ``FittingSettings``) or a ``fitting`` ConfigDict section.
      world_landmarks: optional (..., 33, 4) MediaPipe world landmarks (x, y, z metres in the
        camera frame, visibility). When given, a 3D fit of them (points with visibility above
        ``min_confidence``) seeds the 2D fit; otherwise the lifted hypotheses do.
      tracks: lengths of consecutive tracks (see ``fit_2d``; used without world landmarks).

    Returns:
      ``Fit2D`` (pose, betas, crop camera, crop) with leading dims ``...``.
    """
    opts = FitOptions.from_config(cfg)  # a settings instance passes through unchanged
    if model.keypoint_format != "body25":
        raise ValueError(f"fit_detections needs a model with BODY_25 keypoints, got "
                         f"{model.keypoint_format!r}; use body.with_keypoints(model, 'body25')")
    if world_landmarks is None:
        return fit_2d(model, keypoints, opts, tracks=tracks)
    world = np.asarray(world_landmarks, dtype=np.float32)
    if world.ndim < 2 or world.shape[-2:] != (33, 4):
        raise ValueError(f"fit_detections: world_landmarks have shape {world.shape}, expected "
                         "(..., 33, 4) MediaPipe world landmarks (x, y, z, visibility)")
    w25 = skeletons.convert_keypoints(world, "mediapipe33", "body25")
    weights = np.where(w25[..., 3] > opts.min_confidence, w25[..., 3], 0.0).astype(np.float32)
    init = fit_3d(model, w25[..., :3], weights, opts)
    return fit_2d(model, keypoints, opts, init=init)

