"""Retargeting SMPL motion to the DeepMimic humanoid, and DeepMimic export.

Per frame, from SMPL's posed joints and global joint rotations (``body.forward``), the
humanoid's global link rotations are chosen so that its bones point where SMPL's do; local
rotations follow as ``G_parent^T G_child``. All in DeepMimic's frame (``world.py``: SMPL's
Y-up frame turned +90 degrees about Y, so the humanoid faces +X like the clips).

Per link (humanoid <- SMPL joints):
  - root: +Y (root -> chest) along pelvis -> spine3 (0 -> 9), +Z (left hip -> right hip)
    as close as possible to SMPL's left hip -> right hip (1 -> 2).
  - chest: +Y (chest -> neck) along spine3 -> neck (9 -> 12), +Z towards SMPL's left ->
    right shoulder (16 -> 17).
  - neck: +Y along neck -> head (12 -> 15), twist (facing) from SMPL's head rotation.
  - hips / shoulders (parents of the revolute knees / elbows): the bone (-Y) along the
    thigh (2 -> 5, 1 -> 4) / upper arm (17 -> 19, 16 -> 18), and the twist chosen so the
    knee's / elbow's z axis is normal to the hip-knee-ankle / shoulder-elbow-wrist plane,
    with the sign that bends the hinge the way its URDF limits allow (knees [-3.14, 0],
    elbows [0, 3.14]). When the limb is nearly straight the plane is undefined and the twist
    falls back to SMPL's own (``hinge_twist_blend``).
  - knees / elbows: the angle of the lower bone projected onto the hinge plane, clipped to
    the limits; the out-of-plane part of SMPL's lower bone cannot be represented.
  - ankles: SMPL's ankle rotation as is (both rest feet are flat, so soles stay parallel).
  - wrists are fixed joints in the humanoid; SMPL's wrist and hand rotations are dropped.
Root position: SMPL's hip midpoint (or pelvis), then the ground option lifts the root so
the humanoid's collision shapes stay above y = 0 (per clip or per frame).
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from sfv_jax import body, chunking
from sfv_jax.body import chunked
from sfv_jax.export import deepmimic, world
from sfv_jax.export import humanoid as hmd
from sfv_jax.export.config import ExportSettings
from sfv_jax.geometry import rotations

# Bones compared by ``bone_direction_errors``: (name, humanoid joint a, humanoid joint b,
# SMPL joint c, SMPL joint d); humanoid a -> b against SMPL c -> d. "head" uses the neck
# link's +Y axis (the humanoid has no head joint).
BONES: tuple[tuple[str, str, str, int, int], ...] = (
    ("spine", "root", "chest", 0, 9),
    ("neck", "chest", "neck", 9, 12),
    ("head", "neck", "head", 12, 15),
    ("hips", "left_hip", "right_hip", 1, 2),
    ("right_thigh", "right_hip", "right_knee", 2, 5),
    ("right_shin", "right_knee", "right_ankle", 5, 8),
    ("left_thigh", "left_hip", "left_knee", 1, 4),
    ("left_shin", "left_knee", "left_ankle", 4, 7),
    ("right_upper_arm", "right_shoulder", "right_elbow", 17, 19),
    ("right_forearm", "right_elbow", "right_wrist", 19, 21),
    ("left_upper_arm", "left_shoulder", "left_elbow", 16, 18),
    ("left_forearm", "left_elbow", "left_wrist", 18, 20),
)


class Retargeted(NamedTuple):
    """Humanoid motion from SMPL.

    root_pos: (T, 3) metres (DeepMimic frame, ground lift applied).
    local_rots: (T, J, 3, 3) local rotations (joint 0: the root's global rotation).
    angles: (T, J) revolute angles (radians; zero for other joints).
    positions: (T, J, 3), global_rots: (T, J, 3, 3): humanoid FK of the above.
    smpl_joints: (T, 24, 3) SMPL's joints in the DeepMimic frame with the same lift.
    lift: (T,) metres added to the root height.
    """
    root_pos: Array
    local_rots: Array
    angles: Array
    positions: Array
    global_rots: Array
    smpl_joints: Array
    lift: Array


def _normalize(v: Array, eps: float = 1e-9) -> Array:
    return v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), eps)


def _frame_yz(y: Array, z: Array) -> Array:
    """Rotation whose +Y column is along ``y`` and +Z column is ``z`` made orthogonal."""
    y = _normalize(y)
    z = _normalize(z - jnp.sum(z * y, -1, keepdims=True) * y)
    return jnp.stack([jnp.cross(y, z), y, z], axis=-1)


def _align(a: Array, b: Array) -> Array:
    """Smallest rotation taking unit direction ``a`` (3,) to ``b`` (3,); safe when a ~ -b
    (then a half turn about an axis perpendicular to ``a``)."""
    a, b = _normalize(a), _normalize(b)
    c = jnp.dot(a, b)
    axis = jnp.cross(a, b)
    # Perpendicular fallback axis for the antiparallel case.
    perp = jnp.where(jnp.abs(a[0]) < 0.9, jnp.cross(a, jnp.array([1.0, 0.0, 0.0], a.dtype)),
                     jnp.cross(a, jnp.array([0.0, 1.0, 0.0], a.dtype)))
    s = jnp.linalg.norm(axis)
    ang = jnp.arctan2(s, c)
    unit = jnp.where(s > 1e-7, axis / jnp.maximum(s, 1e-12), _normalize(perp))
    return rotations.axis_angle_to_matrix(unit * ang)


def _hinge_parent(upper: Array, lower: Array, ref_z: Array, sign: float,
                  blend: Array) -> Array:
    """Global rotation of a link whose rest bone is -Y and whose child hinges about +Z.

    upper, lower: unit bone directions (3,); ref_z: fallback hinge axis (3,); sign: +1 if
    the hinge bends with positive angles (elbows), -1 if negative (knees).
    """
    z_tri = sign * jnp.cross(upper, lower)  # |z_tri| = sin(bend angle)
    z_ref = ref_z - jnp.dot(ref_z, upper) * upper
    z_ref = _normalize(z_ref)
    z = z_tri + blend * z_ref
    z = z - jnp.dot(z, upper) * upper
    z = jnp.where(jnp.linalg.norm(z) > 1e-6, z, z_ref)
    return _frame_yz(-upper, z)


def _retarget_frame(p: Array, gs: Array, rest_align: dict[str, Array], hum: hmd.Humanoid,
                    blend: Array, clip: Array) -> tuple[Array, Array]:
    """One frame: SMPL joints p (24, 3) and global rotations gs (24, 3, 3), both in the
    DeepMimic frame -> humanoid global rotations (J, 3, 3) and revolute angles (J,)."""
    n = hum.names
    g = [None] * hum.num_joints
    ang = [jnp.zeros((), p.dtype)] * hum.num_joints
    g[n.index("root")] = _frame_yz(p[9] - p[0], p[2] - p[1])
    g[n.index("chest")] = _frame_yz(p[12] - p[9], p[17] - p[16])
    head = gs[15]
    g[n.index("neck")] = _align(head[:, 1], p[15] - p[12]) @ head
    limbs = (("right_hip", "right_knee", "right_ankle", 2, 5, 8),
             ("left_hip", "left_knee", "left_ankle", 1, 4, 7),
             ("right_shoulder", "right_elbow", "right_wrist", 17, 19, 21),
             ("left_shoulder", "left_elbow", "left_wrist", 16, 18, 20))
    for up, mid, end, a, b, c in limbs:
        i_up, i_mid, i_end = n.index(up), n.index(mid), n.index(end)
        lo, hi = hum.lower[i_mid], hum.upper[i_mid]
        sign = 1.0 if hi > 0 else -1.0
        d1, d2 = _normalize(p[b] - p[a]), _normalize(p[c] - p[b])
        ref = gs[a] @ rest_align[up]  # SMPL's limb frame, rest bone mapped onto -Y
        g_up = _hinge_parent(d1, d2, ref[:, 2], sign, blend)
        u = g_up.T @ d2
        theta = jnp.arctan2(u[0], -u[1])
        theta = jnp.where(clip, jnp.clip(theta, lo, hi), theta)
        axis = jnp.asarray(hum.axes[i_mid], p.dtype)
        g[i_up] = g_up
        g[i_mid] = g_up @ rotations.axis_angle_to_matrix(theta * axis)
        ang[i_mid] = theta
        if hum.kinds[i_end] == "spherical":  # ankles: SMPL's ankle rotation
            g[i_end] = gs[b + 3]
        else:  # wrists: fixed
            g[i_end] = g[i_mid]
    return jnp.stack(g), jnp.stack(ang)


@functools.partial(jax.jit, static_argnums=(3,))
def _retarget_arrays(joints_dm: Array, rots_dm: Array, rest_dm: Array, hum: hmd.Humanoid,
                     blend: Array, clip: Array, hips_anchor: Array
                     ) -> tuple[Array, Array, Array, Array, Array, Array]:
    """(T, 24, 3), (T, 24, 3, 3), rest (24, 3) all DeepMimic frame -> root position (T, 3),
    (the options are traced scalars so that changing them does not recompile)
    local rotations (T, J, 3, 3), angles (T, J), FK positions (T, J, 3), FK global
    rotations (T, J, 3, 3), lowest body point (T,) before any ground lift."""
    down = jnp.array([0.0, -1.0, 0.0], joints_dm.dtype)
    # Rest alignment of SMPL's limb bones (T-pose arms, legs) onto the humanoid's -Y.
    rest_align = {name: _align(down, rest_dm[b] - rest_dm[a])
                  for name, a, b in (("right_hip", 2, 5), ("left_hip", 1, 4),
                                     ("right_shoulder", 17, 19), ("left_shoulder", 16, 18))}
    glob, ang = jax.vmap(lambda p, r: _retarget_frame(p, r, rest_align, hum, blend, clip))(
        joints_dm, rots_dm)
    par = [max(q, 0) for q in hum.parents]
    parent_g = glob[:, jnp.asarray(par)]
    local = jnp.swapaxes(parent_g, -1, -2) @ glob
    local = local.at[:, 0].set(glob[:, 0])
    root = jnp.where(hips_anchor, 0.5 * (joints_dm[:, 1] + joints_dm[:, 2]), joints_dm[:, 0])
    pos, grot = hmd.forward_kinematics(hum, root, local)
    return root, local, ang, pos, grot, hmd.lowest_point(hum, pos, grot)


def retarget_smpl(joints: Any, global_rots: Any, rest_joints: Any,
                  settings: ExportSettings,
                  humanoid: hmd.Humanoid | None = None) -> Retargeted:
    """SMPL motion -> DeepMimic humanoid motion.

    Args:
      joints: (T, 24, 3) posed SMPL joints, metres, in ``settings.input_frame``
        (translation included).
      global_rots: (T, 24, 3, 3) SMPL global joint rotations (``BodyOutput.rotations``).
      rest_joints: (24, 3) SMPL rest joints for the clip's shape.
      settings: the ``export`` section (input_frame, deepmimic.*, ground.*).
      humanoid: defaults to the shipped DeepMimic humanoid at ``deepmimic.urdf_scale``.
    """
    dc = settings.deepmimic
    hum = humanoid or hmd.deepmimic_humanoid(dc.urdf_scale)
    joints = np.asarray(joints, np.float32)
    global_rots = np.asarray(global_rots, np.float32)
    if (joints.ndim != 3 or joints.shape[1:] != (24, 3)
            or global_rots.shape != joints.shape[:2] + (3, 3)):
        raise ValueError(f"expected joints (T, 24, 3) and rotations (T, 24, 3, 3), got "
                         f"{joints.shape} and {global_rots.shape}")
    # The frame change in NumPy around one compiled call per bucket length (no op-by-op
    # dispatch per clip length).
    q = np.asarray(world.SMPL_TO_DEEPMIMIC, np.float32)
    m = q @ np.asarray(world.input_to_world(settings.input_frame), np.float32)
    joints_dm = joints @ m.T
    # A global SMPL rotation maps SMPL-rest vectors to input-frame vectors; in DeepMimic's
    # frame with DeepMimic-rest vectors (= Q SMPL-rest) it is M R Q^T.
    rots_dm = m @ global_rots @ q.T
    rest_dm = np.asarray(rest_joints, np.float32) @ q.T
    # Every output is per frame: chunked (a few compiled shapes, memory bounded by the
    # chunk, not by the clip's length).
    opts = (np.float32(dc.hinge_twist_blend), np.bool_(dc.clip_joint_limits),
            np.bool_(dc.root_anchor == "hips"))
    root, local, ang, pos, grot, low = chunking.apply_chunked(
        lambda j, r: _retarget_arrays(j, r, rest_dm, hum, *opts), joints_dm, rots_dm,
        max_chunk=512)
    lift = world.ground_lift(low, settings.ground.mode, settings.ground.clearance,
                             settings.ground.quantile)
    lift = lift.astype(np.float32)
    up = np.stack([np.zeros_like(lift), lift, np.zeros_like(lift)], -1)
    return Retargeted(root + up, local, ang, pos + up[:, None], grot,
                      joints_dm + up[:, None], lift)


def bone_direction_errors(ret: Retargeted, humanoid: hmd.Humanoid | None = None
                          ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Angle (radians) between each humanoid bone and its SMPL counterpart: (T, len(BONES)).

    Bones are the ``BONES`` table; positions from humanoid FK (``ret.positions``).
    """
    hum = humanoid or hmd.DEEPMIMIC_HUMANOID
    pos = np.asarray(ret.positions, np.float64)
    grot = np.asarray(ret.global_rots, np.float64)
    sj = np.asarray(ret.smpl_joints, np.float64)
    out = []
    for _, a, b, c, d in BONES:
        if b == "head":
            hv = grot[:, hum.index("neck"), :, 1]  # neck link's +Y
        else:
            hv = pos[:, hum.index(b)] - pos[:, hum.index(a)]
        sv = sj[:, d] - sj[:, c]
        cos = np.sum(hv * sv, -1) / (np.linalg.norm(hv, axis=-1) * np.linalg.norm(sv, axis=-1))
        out.append(np.arccos(np.clip(cos, -1.0, 1.0)))
    return np.stack(out, 1), tuple(b[0] for b in BONES)


_matrix_to_quaternion = jax.jit(rotations.matrix_to_quaternion)


def _continuous(q: np.ndarray) -> np.ndarray:
    """Flips quaternion signs (T, ..., 4) so consecutive frames lie in one hemisphere."""
    q = q.copy()
    for t in range(1, q.shape[0]):
        flip = np.sum(q[t] * q[t - 1], -1) < 0
        q[t][flip] *= -1
    return q


def to_motion(ret: Retargeted, fps: float, settings: ExportSettings,
              humanoid: hmd.Humanoid | None = None) -> deepmimic.DeepMimicMotion:
    """Packs a ``Retargeted`` into a DeepMimic motion (Loop from ``settings.deepmimic``).

    Durations 1/fps with the last frame's 0, as in DeepMimic's own files. With Loop "wrap" the
    seam is blended (``deepmimic.blend_loop_seam`` over ``deepmimic.loop_blend_frames``): the
    last frame becomes the first frame's pose, so the loop pybullet plays has no jump.
    """
    hum = humanoid or hmd.DEEPMIMIC_HUMANOID
    quat_idx = [0] + [hum.index(nm) for nm in deepmimic.SPHERICAL_JOINTS]
    quats = np.asarray(chunking.apply_chunked(
        _matrix_to_quaternion, np.asarray(ret.local_rots, np.float32)[:, quat_idx]), np.float64)
    quats = _continuous(quats / np.linalg.norm(quats, axis=-1, keepdims=True))
    angles = np.asarray(ret.angles, np.float64)[:, [hum.index(nm)
                                                   for nm in deepmimic.REVOLUTE_JOINTS]]
    t = quats.shape[0]
    frames = deepmimic.pack_frames(deepmimic.clip_durations(t, fps),
                                   np.asarray(ret.root_pos, np.float64), quats, angles)
    loop = settings.deepmimic.loop
    if loop == "wrap":  # pybullet loops the clip: its last frame must lead into its first
        frames = deepmimic.blend_loop_seam(frames, settings.deepmimic.loop_blend_frames)
    return deepmimic.DeepMimicMotion(frames, loop)


def export_deepmimic(path: str, pose: Any, betas: Any, transl: Any, model: Any, fps: float,
                     settings: ExportSettings) -> Retargeted:
    """SMPL clip -> DeepMimic motion file at ``path`` (atomic); returns the retargeting.

    pose (T, 72) axis-angle, betas (B,) or (T, B) (averaged), transl (T, 3) or None, all in
    ``settings.input_frame``; ``model`` the body model; ``fps`` of the video.
    """
    pose = np.asarray(pose, np.float32)
    if pose.ndim != 2 or pose.shape[1] != 72 or pose.shape[0] == 0:
        raise ValueError(f"{path}: pose must be (T, 72) axis-angle, got {pose.shape}")
    t = pose.shape[0]
    betas = np.asarray(betas, np.float32)
    betas = betas.mean(0) if betas.ndim == 2 else betas
    transl = np.zeros((t, 3), np.float32) if transl is None else np.asarray(transl, np.float32)
    if transl.shape != (t, 3):
        raise ValueError(f"{path}: transl must be ({t}, 3), got {transl.shape}")
    # Joints and rotations only: the keypoint-restricted model gives them exactly, without
    # a (T, V, 3) mesh (gigabytes for a long track); compiled per chunk shape, not per length.
    out = chunked.forward_np(model, pose, betas, transl, fields=("joints", "rotations"))
    rest = chunked.rest_joints_np(model, betas)
    ret = retarget_smpl(out["joints"], out["rotations"], rest, settings)
    deepmimic.write_motion(path, to_motion(ret, fps, settings), settings.deepmimic.decimals)
    return ret
