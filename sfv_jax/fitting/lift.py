"""Per-frame hypotheses of the 2D fit: whole-rotation torso fits, limb depth orders, IK.

Weak perspective loses depth: a rigid torso seen in 2D fits several orientations (upright,
upside down, lying, on the side, leaning toward or away from the camera), and a bone of known
length L whose 2D length is l (metres after the camera scale) points either toward or away from
the camera by dz = sqrt(L^2 - l^2) (Taylor 2000). Per frame this module

1. refines every orientation hypothesis (``orientation_hypotheses``: the 24 rotations of a cube
   times turns about the body's vertical) on the rigid torso template, camera in closed form
   (``torso``), and keeps the best distinct ones;
2. lifts the four limb chains (shoulder-elbow-wrist, hip-knee-ankle) for both depth signs of
   each of their two bones (4 depth orders per limb) from the torso's position;
3. scores each depth order with a plausibility prior (knee / elbow bending against its hinge
   given the hip / shoulder twist limits, thigh or arm far behind the body, limb joints inside
   the torso, and how often people hold the limb that way: ``limb_prior``), all in closed form
   and batched with vmap over hypotheses;

and ``inverse_kinematics`` turns a chosen torso orientation and lifted limbs into an SMPL pose
(root rotation; hips / shoulders twisted so that the knees / elbows bend about their hinge).
Frames are in HMR's camera frame (x right, y down, z forward); the body frame is SMPL's (x to
the body's left, y up, z forward).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sfv_jax.body import BodyModel
from sfv_jax.body.chunked import forward_np
from sfv_jax.fitting import limb_prior, torso
from sfv_jax.geometry import cameras
from sfv_jax.geometry.rotations import axis_rotation, matrix_to_axis_angle, torso_frame

Array = jnp.ndarray

# Limb chains (keypoint names), their SMPL joints and the rest bending axis of the middle joint
# in the body frame (knees bend about +x; the left elbow about -y, the right about +y).
LIMBS = limb_prior.LIMB_CHAINS
LIMB_NAMES = ("left_arm", "right_arm", "left_leg", "right_leg")
LIMB_JOINTS = ((16, 18, 20), (17, 19, 21), (1, 4, 7), (2, 5, 8))
HINGE_AXES = ((0.0, -1.0, 0.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (1.0, 0.0, 0.0))
HEAD_NAMES = frozenset({"nose", "left_eye", "right_eye", "left_ear", "right_ear", "head_top"})
# Depth orders of a limb: signs of the (upper, lower) bone's depth step, combo c -> bits of c.
COMBO_SIGNS = np.asarray([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]], np.float32)
_EPS = 1e-8


class Skeleton(NamedTuple):
    """Static geometry of the lift (a pytree of arrays, built once per call by ``skeleton``).

    rest_kp: (K, 3) keypoints of the neutral pose (arms down, mean shape), root joint at 0.
    torso_w: (K,) weights of the rigid torso template (torso 1, head ``head_weight``, else 0).
    limb_idx: (4, 3) int32 keypoint indices of the limb chains; bone_len: (4, 2) metres.
    rest_joints: (J, 3) SMPL joints of the mean shape, root at 0. box: (4,) the torso volume in
    the body frame (half width, bottom y, top y, half depth), metres. torso_idx: (Kt,) int32
    indices of the template's points (torso_w > 0). frame: (3, 3) the rest torso's frame in
    the body frame (``rotations.torso_frame`` of the rest hips and neck). prior: the limb
    direction prior (``limb_prior.PriorTerms``).
    """
    rest_kp: Array
    torso_w: Array
    limb_idx: Array
    bone_len: Array
    rest_joints: Array
    box: Array
    torso_idx: Array
    frame: Array
    prior: limb_prior.PriorTerms


def skeleton(model: BodyModel, torso_names: frozenset, head_weight: float,
             neutral_body: np.ndarray, prior: limb_prior.LimbPrior) -> Skeleton:
    """The lift's static geometry of ``model`` (NumPy; ValueError when a limb point is missing)."""
    names = list(model.keypoint_names)
    missing = sorted({n for chain in LIMBS for n in chain} - set(names))
    if missing:
        raise ValueError(f"fit_2d: the model's {model.keypoint_format!r} keypoints lack "
                         f"{missing}; the 2D fit needs shoulders, elbows, wrists, hips, knees "
                         "and ankles")
    pose = np.concatenate([np.zeros(3, np.float32), np.asarray(neutral_body, np.float32)])
    # One compiled forward (op-by-op dispatch of the eager one costs ~0.1 s per call).
    out = forward_np(model, pose[None], np.zeros((1, model.num_betas), np.float32),
                     fields=("joints", "keypoints"))
    root = out["joints"][0, 0]
    rest_kp = out["keypoints"][0] - root
    joints = np.asarray(model.j_template, np.float32) - np.asarray(model.j_template)[0]
    torso_w = np.asarray([1.0 if n in torso_names else head_weight if n in HEAD_NAMES else 0.0
                          for n in names], np.float32)
    idx = np.asarray([[names.index(n) for n in chain] for chain in LIMBS], np.int32)
    bones = np.linalg.norm(rest_kp[idx[:, 1:]] - rest_kp[idx[:, :2]], axis=-1)
    half_width = 0.75 * 0.5 * abs(joints[16, 0] - joints[17, 0])
    box = np.asarray([half_width, 0.0, joints[16, 1], 0.1], np.float32)
    # The neck, or the shoulders' midpoint for keypoint sets without one.
    neck = (rest_kp[names.index("neck")] if "neck" in names else
            0.5 * (rest_kp[names.index("left_shoulder")] + rest_kp[names.index("right_shoulder")]))
    frame = torso_frame(rest_kp[names.index("left_hip")], rest_kp[names.index("right_hip")], neck)
    return Skeleton(jnp.asarray(rest_kp, jnp.float32), jnp.asarray(torso_w),
                    jnp.asarray(idx), jnp.asarray(np.maximum(bones, 1e-3), jnp.float32),
                    jnp.asarray(joints), jnp.asarray(box),
                    jnp.asarray(np.flatnonzero(torso_w > 0).astype(np.int32)),
                    jnp.asarray(frame, jnp.float32), limb_prior.prepare(prior))


def orientation_hypotheses(yaw_substeps: int) -> np.ndarray:
    """(24 * yaw_substeps, 3, 3) root rotations covering SO(3) (body frame -> camera frame).

    The 24 rotations of a cube (signed permutation matrices with det +1: upright, upside
    down, lying on the back / front / sides, each facing any of four ways), each turned about
    the body's vertical by 90 / yaw_substeps degree steps.
    """
    cube = []
    for perm in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
        for signs in np.ndindex(2, 2, 2):
            m = np.zeros((3, 3))
            for r, c in enumerate(perm):
                m[r, c] = 1.0 - 2.0 * signs[r]
            if np.linalg.det(m) > 0:
                cube.append(m)
    steps = max(int(yaw_substeps), 1)
    yaw = np.asarray(axis_rotation("y", jnp.arange(steps) * (0.5 * np.pi / steps)))
    return np.einsum("aij,bjk->abik", np.asarray(cube), yaw).reshape(-1, 3, 3).astype(np.float32)


def _torso_weights(w: Array, sk: Skeleton) -> Array:
    wt = w * sk.torso_w
    return jnp.where(jnp.sum(wt > 0) >= 3, wt, w)


class Lift(NamedTuple):
    """Limbs lifted from one frame under one torso orientation (camera frame, root at 0).

    points: (4, 4, 3, 3) limb x depth order x (root, middle, end) x xyz, metres;
    penalty: (4, 4) plausibility penalty; scale: () crop camera scale s; t: (2,) its
    translation; limb_ratio: () scale the limbs need over the torso's.
    """
    points: Array
    penalty: Array
    scale: Array
    t: Array
    limb_ratio: Array


def lift_limbs(uv: Array, w: Array, sk: Skeleton, rot: Array, opts: Any) -> Lift:
    """Both depth signs of both bones of every limb under torso orientation ``rot`` (3, 3)."""
    wt = _torso_weights(w, sk)
    x0 = jnp.sum(sk.rest_kp[:, None, :] * rot[None], axis=-1)                 # P R^T
    cam = cameras.weak_perspective_fit(x0, uv, wt)
    seen = w > 0
    idx = sk.limb_idx
    d_uv = jnp.linalg.norm(uv[idx[:, 1:]] - uv[idx[:, :2]], axis=-1)          # (4, 2)
    both = seen[idx[:, 1:]] & seen[idx[:, :2]]
    s_limbs = jnp.max(jnp.where(both, d_uv / sk.bone_len, 0.0)) / opts.max_bone_stretch
    s = jnp.maximum(cam[0], s_limbs)
    wn = wt / jnp.maximum(jnp.sum(wt), 1e-9)
    t = wn @ (uv / s - x0[:, :2])
    obs = uv / s - t                                                            # (K, 2)

    def chain(ids: Array, lengths: Array) -> Array:
        """(4 depth orders, 3, 3) points of one limb."""
        rest_dirs = (x0[ids[1:]] - x0[ids[:2]]) / jnp.maximum(
            jnp.linalg.norm(x0[ids[1:]] - x0[ids[:2]], axis=-1, keepdims=True), _EPS)
        root = jnp.where(seen[ids[0]], jnp.concatenate([obs[ids[0]], x0[ids[0], 2:]]),
                         x0[ids[0]])

        def one(signs: Array) -> Array:
            pts = [root]
            for b in range(2):
                parent = pts[-1]
                xy = obs[ids[b + 1]]
                dz = jnp.sqrt(jnp.maximum(lengths[b] ** 2 - jnp.sum((xy - parent[:2]) ** 2), 0.0))
                lifted = jnp.concatenate([xy, parent[2:] + signs[b] * dz])
                # An unseen point hangs from its parent in the neutral pose's direction.
                rest = parent + lengths[b] * rest_dirs[b]
                pts.append(jnp.where(seen[ids[b + 1]], lifted, rest))
            return jnp.stack(pts)

        return jax.vmap(one)(jnp.asarray(COMBO_SIGNS, uv.dtype))

    points = jnp.stack([chain(idx[i], sk.bone_len[i]) for i in range(4)])     # (4, 4, 3, 3)
    penalty = plausibility(points, rot, sk, opts)
    return Lift(points, penalty, s, t, s_limbs / jnp.maximum(cam[0], 1e-9))


def plausibility(points: Array, rot: Array, sk: Skeleton, opts: Any) -> Array:
    """(4, 4) squared penalties of each limb's depth orders (see the module docstring)."""
    body = jnp.sum(points[..., :, None] * rot, axis=-2)  # camera -> body frame (R^T x)
    a = body[..., 1, :] - body[..., 0, :]
    c = body[..., 2, :] - body[..., 1, :]
    a = a / jnp.maximum(jnp.linalg.norm(a, axis=-1, keepdims=True), _EPS)
    c = c / jnp.maximum(jnp.linalg.norm(c, axis=-1, keepdims=True), _EPS)
    n = jnp.cross(a, c)                                  # bending axis, |n| = sin(bend)
    n_len = jnp.linalg.norm(n, axis=-1)
    hinge = jnp.asarray(HINGE_AXES, points.dtype)[:, None, :]
    n0 = hinge - jnp.sum(hinge * a, -1, keepdims=True) * a
    n0 = n0 / jnp.maximum(jnp.linalg.norm(n0, axis=-1, keepdims=True), _EPS)
    cos = jnp.sum(n * n0, -1) / jnp.maximum(n_len, _EPS)
    limit = jnp.asarray([opts.elbow_twist_cos] * 2 + [opts.knee_twist_cos] * 2, points.dtype)
    twist = (n_len * jax.nn.relu(limit[:, None] - cos)) ** 2
    # Thighs far behind the body (hip extension > ~30 deg), arms far behind the back.
    behind = jnp.asarray([0.8, 0.8, 0.5, 0.5], points.dtype)[:, None]
    back = jax.nn.relu(-a[..., 2] - behind) ** 2
    # Middle and end joints inside the torso volume.
    hw, y0, y1, hd = sk.box[0], sk.box[1], sk.box[2], sk.box[3]
    p = body[..., 1:, :]
    depth = jnp.minimum(jnp.minimum(hw - jnp.abs(p[..., 0]), hd - jnp.abs(p[..., 2])),
                        jnp.minimum(p[..., 1] - y0, y1 - p[..., 1]))
    inside = jnp.sum((jax.nn.relu(depth) / 0.05) ** 2, -1)
    # How often people hold a limb this way (limb_prior), relative to the limb's likeliest
    # depth order: it ranks the depth orders, not the torso orientations.
    dirs = jnp.concatenate([a @ sk.frame, c @ sk.frame], -1)     # torso frame: F^T x
    nll = limb_prior.neg_log_density(sk.prior, dirs)
    nll = nll - jnp.min(nll, axis=-1, keepdims=True)
    return twist + back + inside + opts.limb_prior_weight * nll


def hypotheses(uv: Array, w: Array, sk: Skeleton, rots: Array, opts: Any
               ) -> tuple[Array, Array, Array, Array, Array]:
    """Every frame, every orientation refined on the torso, the best M = ``lift_candidates``
    distinct ones lifted: uv (N, K, 2), w (N, K), rots (H, 3, 3) -> (rots (N, M, 3, 3), torso
    cost (N, M) (inf for slots without a distinct candidate), limb points of the middle and end
    joints (N, M, 4, 4, 2, 3), plausibility penalties (N, M, 4, 4), indices (N, M) into H)."""
    r, cost = torso.torso_fits(uv, w, sk, rots, opts, opts.torso_steps)
    # Only the best distinct orientations go on: a few more torso iterations, then the limbs
    # are lifted for them (the temporal pass picks among them).
    idx, found = torso.distinct_candidates(r, cost, max(int(opts.lift_candidates), 1),
                                           opts.candidate_min_angle)
    r = jnp.take_along_axis(r, idx[..., None, None], axis=1)
    if opts.torso_polish_steps > 0:
        r, cost = torso.torso_fits(uv, w, sk, r, opts, opts.torso_polish_steps)
    else:
        cost = jnp.take_along_axis(cost, idx, axis=1)
    cost = jnp.where(found, cost, jnp.inf)
    one = lambda u, ww, q: lift_limbs(u, ww, sk, q, opts)  # noqa: E731
    lifts = jax.vmap(jax.vmap(one, in_axes=(None, None, 0)))(uv, w, r)
    return r, cost, lifts.points[..., 1:, :], lifts.penalty, idx


def _normalize(v: Array) -> Array:
    return v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), _EPS)


def inverse_kinematics(rot: Array, points: Array, sk: Skeleton, num_joints: int) -> Array:
    """Root rotation (3, 3) and lifted limbs (4, 3, 3) (camera frame) -> pose (J, 3) axis-angle.

    Spine, collars, neck, head, hands and feet stay at zero; the hip / shoulder rotation maps
    the rest upper bone onto the lifted one, twisted so that the lifted limb bends about the
    knee's / elbow's rest hinge axis; the knee / elbow rotates about that axis only.
    """
    pose = jnp.zeros((num_joints, 3), points.dtype).at[0].set(matrix_to_axis_angle(rot))
    for i, (jr, jm, je) in enumerate(LIMB_JOINTS):
        a_t = _normalize(points[i, 1] - points[i, 0])
        c_t = _normalize(points[i, 2] - points[i, 1])
        a_r = _normalize(sk.rest_joints[jm] - sk.rest_joints[jr])
        c_r = _normalize(sk.rest_joints[je] - sk.rest_joints[jm])
        hinge = jnp.asarray(HINGE_AXES[i], points.dtype)
        n = jnp.cross(a_t, c_t)
        # A straight limb has no bending plane: keep the rest twist (hinge carried by rot).
        n = jnp.where(jnp.linalg.norm(n) > 0.1, n, rot @ hinge)
        n_t = _normalize(n - jnp.dot(n, a_t) * a_t)
        b_r = _normalize(hinge - jnp.dot(hinge, a_r) * a_r)
        f_rest = jnp.stack([a_r, b_r, jnp.cross(a_r, b_r)], axis=1)
        f_tgt = jnp.stack([a_t, n_t, jnp.cross(a_t, n_t)], axis=1)
        g = f_tgt @ f_rest.T
        v = g @ c_r
        theta = jnp.arctan2(jnp.dot(jnp.cross(v, c_t), n_t), jnp.dot(v, c_t))
        pose = pose.at[jr].set(matrix_to_axis_angle(rot.T @ g)).at[jm].set(b_r * theta)
    return pose
