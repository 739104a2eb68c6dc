"""The world-grounded objective (solver mode 'world'): perspective camera, ground plane, contacts.

Per clip (T frames, K fitted keypoints) the variables are ``{"pose": (T, 72), "betas": (T, 10),
"root": (T, 3)}`` with ``root = (u, v, w)`` a per-frame root translation in camera coordinates
``transl = (u e^w, v e^w, e^w)`` (u, v: the root's image direction, w: log depth; the
perspective analogue of the crop camera's (tx, ty, s), so Adam's step sizes mean the same).
The keypoints are projected with the clip's pinhole camera (focal f, principal point c, full
image pixels), ``px = f (X + T)_xy / (X + T)_z + c``, and then taken into HMR's normalized crop
coordinates, so the paper's keypoint weights and crops keep their meaning.

The body is the keypoint model with S = 4 extra points (``FOOT_POINTS``: the lowest sole
vertices under each heel and toe). The ground is a plane ``n . p + d = 0`` in camera coordinates
(unit n up), one per video: it is data of the objective, re-estimated every
``world.plane_every`` iterations in closed form (``fit_planes``: the weighted total least
squares plane of the contact foot points of all clips of the video, which minimizes the
contact-height term over the plane) - an alternation, exact block-coordinate descent on that
term. Contact weights (``losses.soft_foot_contacts``) are recomputed from the current motion at
every evaluation and held fixed within it.
"""
from __future__ import annotations

from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sfv_jax import losses
from sfv_jax.body import BodyModel, keypoint_model, with_keypoints
from sfv_jax.body.keypoint_pairs import PairModel, pair_forward, pair_model
from sfv_jax.geometry import cameras, crops
from sfv_jax.solver.config import SolverSettings
from sfv_jax.solver.objective import ClipData, body_terms, local_rotations, root_indices

Array = jnp.ndarray
Params = Mapping[str, Array]

FOOT_POINTS = ("left_heel_sole", "left_toe_sole", "right_heel_sole", "right_toe_sole")
# SMPL joints whose skinning dominates each foot: (ankle, foot) left, then right.
_FOOT_JOINTS = ((7, 10), (8, 11))


def foot_sole_vertices(model: BodyModel) -> tuple[int, ...]:
    """Vertex ids of the heel and toe sole points (``FOOT_POINTS`` order), from the rest mesh.

    For each foot (vertices mostly skinned to its ankle or foot joint; rest pose, Y up, facing
    +Z): the heel point is the lowest vertex of the foot's rear quarter (by Z), the toe point
    the lowest of its front quarter (ties: the rearmost / foremost), so both lie on the sole.
    """
    w = np.asarray(model.lbs_weights, np.float64)
    v = np.asarray(model.v_template, np.float64)
    owner = np.argmax(w, axis=1)
    ids = []
    for joints in _FOOT_JOINTS:
        foot = np.flatnonzero(np.isin(owner, joints))
        if foot.size == 0:
            raise ValueError(f"model {model.name!r}: no vertex is skinned to the foot joints "
                             f"{joints}; the world mode needs feet")
        z = v[foot, 2]
        lo, hi = z.min(), z.max()
        for part, sign in ((foot[z <= lo + 0.25 * (hi - lo)], 1.0),
                           (foot[z >= hi - 0.25 * (hi - lo)], -1.0)):
            # Lowest first, then rearmost (heel) / foremost (toe); 1 mm height bins.
            order = np.lexsort((sign * v[part, 2], np.round(v[part, 1] / 1e-3)))
            ids.append(int(part[order[0]]))
    return tuple(ids)


def world_pair_model(model: BodyModel) -> PairModel:
    """The world mode's body: ``model``'s keypoints then the 4 ``FOOT_POINTS`` (pair form).

    Args:
      model: the full body model with the keypoint set the clips are in.
    """
    reg = np.asarray(model.kp_vertex_regressor, np.float64)
    jw = np.asarray(model.kp_joint_weights, np.float64)
    soles = np.zeros((len(FOOT_POINTS), reg.shape[1]))
    soles[np.arange(len(FOOT_POINTS)), foot_sole_vertices(model)] = 1.0
    ext = with_keypoints(model, np.concatenate([reg, soles]),
                         joint_weights=np.concatenate([jw, np.zeros((len(FOOT_POINTS),
                                                                     jw.shape[1]))]),
                         names=tuple(model.keypoint_names) + FOOT_POINTS)
    return pair_model(keypoint_model(ext))


def root_to_transl(root: Array) -> Array:
    """(..., 3) root variable (u, v, log z) -> (..., 3) translation (u z, v z, z), metres."""
    z = jnp.exp(root[..., 2:3])
    return jnp.concatenate([root[..., :2] * z, z], -1)


def transl_to_root(transl: Array) -> Array:
    """Inverse of ``root_to_transl`` (needs Tz > 0)."""
    z = transl[..., 2:3]
    return jnp.concatenate([transl[..., :2] / z, jnp.log(z)], -1)


class WorldData(NamedTuple):
    """Fixed inputs of one clip's world objective.

    clip: the paper's ``ClipData`` (keypoints, crops, init-pose data).
    focal: () pixels; center: (2,) principal point, pixels.
    up_prior: (3,) the clip's mean body-up direction of the initial estimate (camera frame).
    group: (G,) int batch slots of the clips of this clip's video (itself included), in the
      caller's order; group_mask: (G,) 1 for the used entries.
    image_still: (T, S) in [0, 1] how still each foot point's 2D keypoint is in the image
      (``image_stillness``); -1 where the image does not say (keypoint unobserved, or the
      option off).
    """
    clip: ClipData
    focal: Array
    center: Array
    up_prior: Array
    group: Array
    group_mask: Array
    image_still: Array


# The 2D keypoint that shows each of ``FOOT_POINTS`` in the image, best first (a format
# without foot points falls back to the ankle).
_FOOT_KEYPOINTS = (("left_heel", "left_ankle"), ("left_big_toe", "left_ankle"),
                   ("right_heel", "right_ankle"), ("right_big_toe", "right_ankle"))


def foot_keypoint_indices(keypoint_names: tuple[str, ...], k: int) -> tuple[int, ...]:
    """Index among the K fitted keypoints of the 2D point observing each foot point, -1 if
    the format has none (static: from the model's keypoint names)."""
    names = tuple(keypoint_names[:k])
    out = []
    for options in _FOOT_KEYPOINTS:
        out.append(next((names.index(n) for n in options if n in names), -1))
    return tuple(out)


def image_stillness(target: Array, conf: Array, frame_mask: Array, crop_scale: Array,
                    crop_start: Array, crop_size: Array, indices: tuple[int, ...],
                    speed_scale: float, gap: int = 0) -> Array:
    """How still each foot point's 2D keypoint is in the (static camera's) image.

    The keypoint's full-image position ``p_t`` (pixels) moves ``v_t = |p_{t+1} - p_{t-1}| / 2``
    per frame (one-sided at clip ends and gaps), measured in normalized crop units of frame t
    (``v_t * crop_scale_t * 2 / crop_size``, so it is relative to the person's size);
    ``still_t = exp(-(v_t / v0)^2)``. A foot planted on the ground does not move in the image
    of a static camera whatever the 3D estimate does, so this is evidence of contact that does
    not depend on the solve's own (possibly jittering) motion.

    Across a run of at most ``gap`` frames where the keypoint is not seen (occluded by the
    other leg, a missed detection), the image still says how far the point went: its mean
    speed from the last frame before the run to the first after it,
    ``|p_b - p_a| / (b - a)``. A foot planted through the run is found where it was left, so
    the frames inside it keep their evidence instead of falling back on the solve's own
    (there merely interpolated) motion.

    Args:
      target: (T, K, 2) normalized crop keypoints; conf: (T, K) (0 = unobserved);
      frame_mask: (T,); crop_scale: (T,); crop_start: (T, 2); crop_size: ();
      indices: (S,) static keypoint index per foot point (-1: none); speed_scale: v0 > 0,
      normalized crop units per frame; gap: the longest run of unseen frames bridged (static;
      0 = none).

    Returns:
      (T, S): stillness in [0, 1] where the keypoint is observed at t and at a neighbour, or
      (with ``gap``) where t lies in a bridged run, else -1.
    """
    if not indices or speed_scale <= 0:
        return -jnp.ones(target.shape[:1] + (len(indices),), target.dtype)
    idx = jnp.asarray([max(i, 0) for i in indices])
    has = jnp.asarray([i >= 0 for i in indices])
    px = crops.crop_norm_to_image(target[:, idx], crop_scale, crop_start, crop_size)  # (T, S, 2)
    seen = ((conf[:, idx] > 0) & (frame_mask[:, None] > 0) & has[None]).astype(target.dtype)
    # Pixels per frame, then relative to the person's size (normalized crop units of frame t).
    rel = crop_scale[:, None] * 2.0 / crop_size
    v = losses.point_speeds(px, seen) * rel
    pair = seen[1:] * seen[:-1]
    none = jnp.zeros_like(pair[:1])
    has_neighbour = (jnp.concatenate([pair, none]) + jnp.concatenate([none, pair])) > 0
    still = jnp.where((seen > 0) & has_neighbour, jnp.exp(-jnp.square(v / speed_scale)), -1.0)
    if gap <= 0:
        return still
    n = target.shape[0]
    t = jnp.arange(n)[:, None]
    is_seen = seen > 0
    # The last seen frame before t and the first seen frame after t (-1 / n: none).
    last = jax.lax.cummax(jnp.where(is_seen, t, -1), axis=0)
    first = jax.lax.cummin(jnp.where(is_seen, t, n), axis=0, reverse=True)
    before = jnp.concatenate([jnp.full_like(last[:1], -1), last[:-1]])
    after = jnp.concatenate([first[1:], jnp.full_like(first[:1], n)])
    bridged = ((~is_seen) & (frame_mask[:, None] > 0) & has[None] & (before >= 0)
               & (after < n) & (after - before - 1 <= gap))
    pick = lambda i: jnp.take_along_axis(px, jnp.clip(i, 0, n - 1)[..., None], axis=0)  # noqa: E731
    span = jnp.maximum(after - before, 1).astype(px.dtype)
    v_gap = jnp.linalg.norm(pick(after) - pick(before), axis=-1) / span * rel
    return jnp.where(bridged, jnp.exp(-jnp.square(v_gap / speed_scale)), still)


def num_fit_keypoints(data: WorldData) -> int:
    """K: the keypoints the 2D term fits (the body's points after them are ``FOOT_POINTS``)."""
    return data.clip.target.shape[-2]


def prepare_world_data(model: PairModel, params0: Params, batch: Mapping[str, Array],
                       settings: SolverSettings) -> WorldData:
    """A clip's fixed world data from its initial estimate (see ``objective.prepare_data``).

    The init-pose weights use the initial estimate's perspective projection.
    """
    pose0, betas0 = params0["pose"], params0["betas"]
    mask = batch["frame_mask"]
    conf = batch["conf"] * mask[:, None]
    k = batch["target"].shape[-2]
    rot0 = local_rotations(pose0)
    if settings.weighted_init_pose:
        kp0 = pair_forward(model, rot0, betas0).keypoints[:, :k]
        px = cameras.project_perspective(kp0, root_to_transl(params0["root"]), batch["focal"],
                                         batch["center"])
        proj = crops.image_to_crop_norm(px, batch["crop_scale"], batch["crop_start"],
                                        batch["crop_size"])
        e = losses.keypoint_residual_l1(proj, batch["target"], conf)
        weights = losses.init_pose_weights(e, mask,
                                           settings.e_max if settings.e_max > 0 else None)
    else:
        weights = mask
    clip = ClipData(
        target=batch["target"], conf=conf, frame_mask=mask, crop_scale=batch["crop_scale"],
        crop_start=batch["crop_start"], crop_size=batch["crop_size"], rot_init=rot0,
        init_weights=weights, betas_target=losses.masked_mean(betas0, mask))
    up = losses.masked_mean(rot0[:, 0, :, 1], mask)   # the root's +Y axis: the body's up
    up = up / jnp.maximum(jnp.linalg.norm(up), 1e-9)
    still = image_stillness(batch["target"], conf, mask, batch["crop_scale"],
                            batch["crop_start"], batch["crop_size"],
                            foot_keypoint_indices(model.keypoint_names, k),
                            settings.world.contact_image_speed_scale,
                            settings.world.contact_image_gap)
    return WorldData(clip=clip, focal=batch["focal"], center=batch["center"], up_prior=up,
                     group=batch["group"], group_mask=batch["group_mask"],
                     image_still=still)


def world_points(model: PairModel, params: Params, k: int) -> tuple[Array, Array, Array]:
    """(keypoints (T, K, 3) body frame, all points (T, K + S, 3) camera frame, transl (T, 3))."""
    pose = params["pose"]
    out = pair_forward(model, local_rotations(pose), params["betas"])
    transl = root_to_transl(params["root"])
    return out.keypoints[:, :k], out.keypoints + transl[:, None], transl


def world_terms(model: PairModel, params: Params, data: WorldData, plane: Array,
                settings: SolverSettings, l1_smoothing: float = 0.0
                ) -> tuple[dict[str, Array], dict[str, Array]]:
    """Weighted terms of one clip in the world mode, and what the solve reports.

    Args:
      model: ``world_pair_model``; params: pose (T, 72), betas (T, 10), root (T, 3);
      data: ``WorldData``; plane: (4,) [n, d] the video's current ground plane;
      settings: weights and options; l1_smoothing: > 0 also gives the smoothed keypoint term
      (``losses.keypoint_smooth_l1``, the L-BFGS option's search function) in aux.

    Returns:
      (name -> weighted scalar for ``settings.active_terms`` (the true objective), aux: proj
      (T, K, 2) normalized crop, kp3d (T, K, 3), points (T, K + S, 3) camera, transl (T, 3),
      contacts (T, S), and with l1_smoothing "keypoints_smooth" (weighted scalar)).
    """
    d = data.clip
    mask = d.frame_mask
    active = settings.active_terms
    k = num_fit_keypoints(data)
    pose, betas = params["pose"], params["betas"]
    rot = local_rotations(pose)
    out = pair_forward(model, rot, betas)
    kp3d = out.keypoints[:, :k]
    transl = root_to_transl(params["root"])
    pts = out.keypoints + transl[:, None]
    px = cameras.project_perspective(kp3d, transl, data.focal, data.center)
    proj = crops.image_to_crop_norm(px, d.crop_scale, d.crop_start, d.crop_size)
    terms: dict[str, Array] = {}
    aux: dict[str, Array] = {}
    if "keypoints" in active:
        terms["keypoints"] = losses.keypoint_l1(proj, d.target, d.conf, mask)
        if l1_smoothing > 0:
            # The search function's term, from the same forward pass.
            aux["keypoints_smooth"] = settings.weight("keypoints") * losses.keypoint_smooth_l1(
                proj, d.target, d.conf, mask, l1_smoothing)
    if "keypoints_gmof" in active:
        terms["keypoints_gmof"] = losses.keypoint_gmof(proj, d.target, d.conf, mask,
                                                       settings.gmof_sigma)
    if "camera_smooth" in active:
        # The paper's term on the crop camera equivalent to the translation.
        cam = cameras.perspective_to_crop(transl, d.crop_scale, d.crop_start, d.crop_size,
                                          data.focal, data.center)
        terms["camera_smooth"] = losses.camera_smoothness(cam, d.crop_scale, d.crop_start,
                                                          d.crop_size, mask)
    terms.update(body_terms(model, pose, rot, betas, kp3d, d, settings))
    roots = root_indices(model)
    heights = losses.plane_heights(pts, plane[:3], plane[3])
    feet, h_feet = pts[:, k:], heights[:, k:]
    contacts = jax.lax.stop_gradient(losses.soft_foot_contacts(
        h_feet, losses.point_speeds(feet, mask), mask, settings.world.contact_height_scale,
        settings.world.contact_speed_scale, data.image_still))
    if "contact_static" in active:
        terms["contact_static"] = losses.contact_static(feet, contacts, mask)
    if "contact_height" in active:
        terms["contact_height"] = losses.contact_height(h_feet, contacts, mask)
    if "ground_penetration" in active:
        terms["ground_penetration"] = losses.ground_penetration(
            heights + settings.world.penetration_margin, mask)
    if "root_accel" in active:
        terms["root_accel"] = losses.root_acceleration(
            jnp.mean(pts[:, roots], axis=1), mask)
    weighted = {n: settings.weight(n) * terms[n] for n in active}
    aux.update(proj=proj, kp3d=kp3d, points=pts, transl=transl, contacts=contacts)
    return weighted, aux


def plane_moments(feet: Array, plane: Array, frame_mask: Array, height_scale: float,
                  softmin: float) -> tuple[Array, Array, Array]:
    """Weighted moments of one clip's foot points for the plane fit.

    The floor supports each frame's lowest foot point, so the weight of point s in frame t
    is a soft selection of the frame's lowest point times a height gate (whether it touches
    the current plane; not whether it moves)::

        w_ts = m_t softmax_s(-h_ts / tau) exp(-(max(min_s h_ts, 0) / h0)^2)

    Args:
      feet: (T, S, 3) camera frame; plane: (4,); frame_mask: (T,); height_scale: h0 metres;
      softmin: tau metres (the selection's softness).

    Returns:
      (sum w (), sum w p (3,), sum w p p^T (3, 3)).
    """
    h = losses.plane_heights(feet, plane[:3], plane[3])
    low = jax.nn.relu(jnp.min(h, axis=1)) / height_scale
    w = (jax.nn.softmax(-h / softmin, axis=1) * (jnp.exp(-low * low) * frame_mask)[:, None])
    return (jnp.sum(w), jnp.einsum("ts,tsi->i", w, feet),
            jnp.einsum("ts,tsi,tsj->ij", w, feet, feet))


def group_sum(x: Array, group: Array, group_mask: Array) -> Array:
    """Per slot, the sum of ``x`` over its video's slots, in a fixed order.

    Args:
      x: (C, ...) per-slot values; group: (C, G) int slots; group_mask: (C, G).

    Returns:
      (C, ...). The G entries are added one after the other (a static loop), so a slot's
      sum depends only on its own video's values, whatever else is in the batch.
    """
    acc = jnp.zeros_like(x)
    for g in range(group.shape[1]):
        m = group_mask[:, g].reshape((-1,) + (1,) * (x.ndim - 1)).astype(x.dtype)
        acc = acc + m * x[group[:, g]]
    return acc


def fit_planes(moments: tuple[Array, Array, Array], up_prior: Array, group: Array,
               group_mask: Array, old: Array, prior_weight: float,
               level_weight: float = 0.0) -> Array:
    """Each video's ground plane from the moments of all its clips (batch level).

    Minimizes ``sum_i w_i (n . p_i + d)^2 / sum_i w_i + lambda (1 - (n . u)^2) + mu n_x^2``
    over unit n and d (u: the video's mean body-up, lambda = ``prior_weight``; mu =
    ``level_weight``, a level camera's floor normal has no x component; both metres^2): n is
    the eigenvector of the smallest eigenvalue of ``Cov + lambda (I - u u^T) + mu e_x e_x^T``
    (Cov the weighted covariance of the points), signed along u, and ``d = -n . mean``. A
    video with (almost) no weighted point keeps its old plane.

    Args:
      moments: per-slot (sw (C,), sp (C, 3), spp (C, 3, 3)) from ``plane_moments``;
      up_prior: (C, 3); group, group_mask: (C, G); old: (C, 4); prior_weight: lambda;
      level_weight: mu.

    Returns:
      (C, 4) planes; every slot of a video gets the same one.
    """
    sw, sp, spp = (group_sum(m, group, group_mask) for m in moments)
    u = group_sum(up_prior, group, group_mask)
    u = u / jnp.maximum(jnp.linalg.norm(u, axis=-1, keepdims=True), 1e-9)
    safe = jnp.maximum(sw, 1e-9)[:, None]
    mean = sp / safe
    cov = spp / safe[..., None] - mean[:, :, None] * mean[:, None, :]
    eye = jnp.eye(3, dtype=cov.dtype)
    m = (cov + prior_weight * (eye - u[:, :, None] * u[:, None, :])
         + level_weight * (eye[0][:, None] * eye[0][None, :]))
    _, vecs = jnp.linalg.eigh(m)
    n = vecs[..., 0]
    n = n * jnp.where(jnp.sum(n * u, -1, keepdims=True) < 0, -1.0, 1.0)
    plane = jnp.concatenate([n, -jnp.sum(n * mean, -1, keepdims=True)], -1)
    ok = (sw > 1.0)[:, None] & jnp.all(jnp.isfinite(plane), -1, keepdims=True)
    return jnp.where(ok, plane, old)


def refit_planes(feet: Array, planes: Array, data: WorldData, settings: SolverSettings) -> Array:
    """Each video's plane refitted to its clips' feet, weighted by their contact with ``planes``.

    Args:
      feet: (C, T, S, 3) camera-frame foot points; planes: (C, 4) the current planes;
      data: (C, ...) ``WorldData``.

    Returns:
      (C, 4): ``fit_planes`` of every clip's ``plane_moments``; a clip whose moments are not
      finite adds nothing (a video with none left keeps its plane).
    """
    w = settings.world

    def moments(f: Array, plane: Array, frame_mask: Array) -> tuple[Array, Array, Array]:
        m = plane_moments(f, plane, frame_mask, w.contact_height_scale, w.plane_softmin)
        ok = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in m]))
        return jax.tree.map(lambda x: jnp.where(ok, x, 0.0), m)

    return fit_planes(jax.vmap(moments)(feet, planes, data.clip.frame_mask), data.up_prior,
                      data.group, data.group_mask, planes, w.normal_prior, w.level_prior)


def initial_planes(model: PairModel, params0: Params, data: WorldData, settings: SolverSettings
                   ) -> Array:
    """Batch of first planes (C, 4): normal = the video's mean body-up, through each clip's
    mean lowest foot point, then ``world.initial_plane_fits`` closed-form refits shared by
    each video.

    Args:
      model: ``world_pair_model``; params0: (C, ...) initial variables; data: (C, ...).
    """
    k = num_fit_keypoints(data)

    def one(p, dd):
        _, pts, _ = world_points(model, p, k)
        feet = pts[:, k:]
        low = jnp.min(jnp.sum(feet * dd.up_prior, -1), axis=1)          # (T,) along up
        d0 = -losses.masked_mean(low, dd.clip.frame_mask)
        return feet, d0

    feet, d0 = jax.vmap(one)(params0, data)
    u = group_sum(data.up_prior, data.group, data.group_mask)
    u = u / jnp.maximum(jnp.linalg.norm(u, axis=-1, keepdims=True), 1e-9)
    count = group_sum(jnp.ones_like(d0), data.group, data.group_mask)
    d0 = group_sum(d0, data.group, data.group_mask) / jnp.maximum(count, 1.0)
    # Each fit weights the feet by their contact with the previous plane; a few rounds let a
    # start whose body-up is tilted (a 2D fit's lean) find the feet's own floor. One traced
    # fit in a loop, not one copy per round in the compiled program.
    return jax.lax.fori_loop(0, settings.world.initial_plane_fits,
                             lambda _, plane: refit_planes(feet, plane, data, settings),
                             jnp.concatenate([u, d0[:, None]], -1))
