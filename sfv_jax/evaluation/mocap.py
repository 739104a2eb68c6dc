"""The truth of the accuracy benchmark: DeepMimic motion capture carried onto the body model.

1. ``load_mocap``: a DeepMimic clip -> humanoid forward kinematics (``export.humanoid``), resampled to
   a fixed frame rate (local rotations slerped, root position interpolated linearly, then FK again),
   turned into SMPL's world frame (Y up, body faces +Z; the humanoid faces +X with its right side on
   +Z, so a -90 degree turn about Y), plus two virtual markers per foot and one on the head that pin
   the foot and head rotations the humanoid's joints alone leave free.
2. ``fit_truth``: the body model's joints fitted to those points (3D keypoint fit with a
   correspondence: DeepMimic joint -> SMPL joint), one shape per clip, a pose and a translation per
   frame, all frames of a clip in one problem so the truth has no per-frame jumps; a velocity
   term ties SMPL's global rotations' frame-to-frame change to the mocap links'
   (``ROTATION_CORRESPONDENCE``; the twists and the spine split that the joint positions leave
   free would otherwise flip in single frames: 1300-1900 deg/s spine spikes), and one vertical
   shift per clip puts the body's feet on the mocap floor. ``TruthClip.marker_error`` reports
   how closely the body model's joints follow the mocap.

The humanoid's and SMPL's skeletons differ (joint placement, bone lengths); the residual of the fit
is the price of carrying the motion over and is reported, not hidden. Hips, knees, ankles,
shoulders, elbows and wrists correspond directly; the humanoid's neck joint sits where SMPL's neck
does; its chest joint lies between SMPL's spine2 and spine3 and is left out.
"""
from __future__ import annotations

import dataclasses
import os

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy.spatial.transform import Rotation

from sfv_jax import atomic, body
from sfv_jax.evaluation import metrics
from sfv_jax.evaluation.config import DEFAULTS as _D, EvaluationSettings
from sfv_jax.evaluation.mocap_motion import (  # noqa: F401 - re-exported
    angular_speed, mirrored_half_offset, repair_seam, resample_local)
from sfv_jax.export import bvh, deepmimic, humanoid as hum
from sfv_jax.geometry import rotations

# Humanoid frame -> SMPL frame: +X (facing) -> +Z, +Z (right) -> -X.
DM_TO_SMPL = np.array([[0.0, 0.0, -1.0],
                       [0.0, 1.0, 0.0],
                       [1.0, 0.0, 0.0]])

# Virtual markers in a humanoid link's frame, metres (humanoid frame: x forward, y up).
# The ball of the foot lies ~0.1 m ahead of and ~4.5 cm below the ankle (the foot box of the URDF
# spans 0.045 +- 0.089 m forward, its sole 5 cm below the ankle); the heel ~4 cm behind it.
# The head marker sits 0.1 m up the neck link (SMPL's head joint above its neck joint).
_MARKERS: tuple[tuple[str, str, tuple[float, float, float]], ...] = (
    ("left_toe", "left_ankle", (0.10, -0.045, 0.0)),
    ("right_toe", "right_ankle", (0.10, -0.045, 0.0)),
    ("head", "neck", (0.0, 0.10, 0.0)),
)

# Mocap point -> SMPL joint index (skeletons.SMPL_JOINT_NAMES) and fit weight.
CORRESPONDENCE: tuple[tuple[str, int, float], ...] = (
    ("left_hip", 1, 1.0), ("right_hip", 2, 1.0),
    ("left_knee", 4, 1.0), ("right_knee", 5, 1.0),
    ("left_ankle", 7, 1.0), ("right_ankle", 8, 1.0),
    ("left_toe", 10, 0.5), ("right_toe", 11, 0.5),
    ("neck", 12, 1.0), ("head", 15, 0.5),
    ("left_shoulder", 16, 1.0), ("right_shoulder", 17, 1.0),
    ("left_elbow", 18, 1.0), ("right_elbow", 19, 1.0),
    ("left_wrist", 20, 1.0), ("right_wrist", 21, 1.0),
)


# SMPL joint index -> the humanoid link whose world angular velocity its global rotation follows
# (``fit_truth``'s velocity term). SMPL's spine1/spine2 and collars have no counterpart (the
# humanoid's chest is one link): the spine's bend is split evenly instead, the collars stay
# near rest (pose prior).
ROTATION_CORRESPONDENCE: tuple[tuple[int, str], ...] = (
    (0, "root"), (9, "chest"), (12, "neck"), (15, "neck"),
    (1, "left_hip"), (2, "right_hip"), (4, "left_knee"), (5, "right_knee"),
    (7, "left_ankle"), (8, "right_ankle"), (10, "left_ankle"), (11, "right_ankle"),
    (16, "left_shoulder"), (17, "right_shoulder"), (18, "left_elbow"), (19, "right_elbow"),
    (20, "left_wrist"), (21, "right_wrist"),
)
_SPINE = (3, 6, 9)  # SMPL spine1, spine2, spine3
FLOOR_PERCENTILE = 10.0  # of the per-frame lowest foot vertex that the truth's floor lift zeroes
FOOT_JOINTS = (7, 8, 10, 11)  # SMPL's ankles and feet


@dataclasses.dataclass(frozen=True)
class MocapClip:
    """Motion-capture points of one clip in SMPL's world frame.

    name: clip name (file stem). fps: frames per second.
    points: (T, P, 3) metres; point names in ``point_names`` (humanoid joints + virtual markers).
    root: (T, 3) the humanoid's root position, metres.
    link_rotations: (T, J, 3, 3) global rotations of the humanoid's links (joint order of
      ``export.humanoid``), turned into SMPL's world frame (``DM_TO_SMPL @ R``): their
      frame-to-frame change ``R[t+1] R[t]^T`` is the link's world angular velocity.
    """
    name: str
    fps: float
    points: np.ndarray
    point_names: tuple[str, ...]
    root: np.ndarray
    link_rotations: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])

    def select(self, names: tuple[str, ...]) -> np.ndarray:
        """(T, len(names), 3) positions of the named points."""
        idx = [self.point_names.index(n) for n in names]
        return self.points[:, idx]


def clip_name(path: str | os.PathLike) -> str:
    """``humanoid3d_walk.txt`` -> ``walk``."""
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return stem[len("humanoid3d_"):] if stem.startswith("humanoid3d_") else stem


def load_mocap(path: str | os.PathLike, fps: float = 30.0, frames_max: int = 0) -> MocapClip:
    """Reads a DeepMimic clip and returns its joints and markers in SMPL's world frame.

    Args:
      path: DeepMimic motion file (JSON).
      fps: resample to this rate (frames/s); <= 0 keeps the file's frames as they are.
      frames_max: keep at most this many frames (0: all).
    Returns:
      ``MocapClip``. Raises ValueError naming the file when the clip is unusable.
    """
    path = os.fspath(path)
    motion = deepmimic.read_motion(path)
    h = hum.deepmimic_humanoid()
    root_pos, local = (np.asarray(a, np.float64) for a in
                       hum.frames_to_local(h, jnp.asarray(motion.frames, jnp.float32)))
    durations = motion.durations
    times = np.concatenate([[0.0], np.cumsum(durations[:-1])])
    half = mirrored_half_offset(local, h.names)
    if half:  # a mirrored half-cycle: bridge the seam where the two halves meet
        root_pos, local = repair_seam(root_pos, local, half)
    if fps > 0:
        if np.any(np.diff(times) <= 0):
            bad = int(np.argmax(np.diff(times) <= 0))
            raise ValueError(f"{path}: frame {bad} has a non-positive duration; cannot resample")
        count = int(np.floor(times[-1] * fps + 1e-6)) + 1
        new_times = np.arange(count) / fps
        root_pos, local = resample_local(times, root_pos, local, new_times)
    else:
        fps = 1.0 / float(np.median(motion.durations))
    if frames_max > 0:
        root_pos, local = root_pos[:frames_max], local[:frames_max]
    if root_pos.shape[0] < 3:
        raise ValueError(f"{path}: {root_pos.shape[0]} frames after resampling; need at least 3")
    pos, rot = (np.asarray(a, np.float64) for a in hum.forward_kinematics(
        h, jnp.asarray(root_pos, jnp.float32), jnp.asarray(local, jnp.float32)))
    names = list(h.names)
    markers = []
    for name, link, offset in _MARKERS:
        i = h.index(link)
        markers.append(pos[:, i] + rot[:, i] @ np.asarray(offset))
        names.append(name)
    points = np.concatenate([pos, np.stack(markers, 1)], axis=1) @ DM_TO_SMPL.T
    return MocapClip(name=clip_name(path), fps=float(fps), points=points,
                     point_names=tuple(names), root=root_pos @ DM_TO_SMPL.T,
                     link_rotations=DM_TO_SMPL @ rot)


def list_motions(folder: str | os.PathLike) -> list[str]:
    """Sorted DeepMimic motion files (``*.txt`` / ``*.json``) in ``folder``; ValueError if none."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"{folder}: not a folder of DeepMimic motions")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if f.endswith((".txt", ".json")) and not f.startswith("."))
    if not files:
        raise ValueError(f"{folder}: no DeepMimic motion files (*.txt, *.json)")
    return files


# ----------------------------------------------------------------------------------------------
# Body-model truth
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TruthClip:
    """A mocap clip carried onto the body model (SMPL world frame, metres).

    pose: (T, 72) axis-angle; betas: (B,) one shape for the clip; transl: (T, 3).
    marker_error_mm: mean distance between the fitted body model's joints and the mocap points
      they correspond to (``CORRESPONDENCE``), mm; per_point_mm: the same per mocap point.
    accel_error_mm: HMMR acceleration error of those joints against the mocap points, hip-centred
      (mm/frame^2): how much jitter the carrying-over adds to the motion.
    floor_lift_mm: the vertical shift that put the body on the mocap floor (``fit_truth``;
      applied to ``transl`` after the errors above were measured).
    """
    name: str
    fps: float
    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    marker_error_mm: float
    per_point_mm: dict
    accel_error_mm: float = 0.0
    floor_lift_mm: float = 0.0

    @property
    def num_frames(self) -> int:
        return int(self.pose.shape[0])


def correspondence_targets(clip: MocapClip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mocap targets of the SMPL joints: positions (T, C, 3), SMPL joint ids (C,), weights (C,)."""
    names = tuple(c[0] for c in CORRESPONDENCE)
    return (clip.select(names), np.array([c[1] for c in CORRESPONDENCE]),
            np.array([c[2] for c in CORRESPONDENCE], np.float64))


@dataclasses.dataclass(frozen=True)
class TruthFitSettings:
    """Static options of ``fit_truth``: the ``evaluation`` section's truth_* keys (meaning and
    default in ``evaluation.config.EvaluationSettings``, which the defaults refer to)."""
    steps: int = _D.truth_fit_steps
    learning_rate: float = _D.truth_fit_lr
    betas_weight: float = _D.truth_betas_weight
    pose_weight: float = _D.truth_pose_weight
    smooth_weight: float = _D.truth_smooth_weight
    velocity_weight: float = _D.truth_velocity_weight
    spine_weight: float = _D.truth_spine_weight

    @classmethod
    def from_config(cls, cfg: Any) -> "TruthFitSettings":
        """From the ``evaluation`` section (ConfigDict or ``EvaluationSettings``; strict)."""
        if isinstance(cfg, cls):
            return cfg
        ev = EvaluationSettings.from_config(cfg)
        return cls(steps=ev.truth_fit_steps, learning_rate=ev.truth_fit_lr,
                   betas_weight=ev.truth_betas_weight, pose_weight=ev.truth_pose_weight,
                   smooth_weight=ev.truth_smooth_weight,
                   velocity_weight=ev.truth_velocity_weight, spine_weight=ev.truth_spine_weight)


def truth_cache_key(cfg: EvaluationSettings) -> tuple:
    """Everything the truth depends on (for the workdir cache); ``cfg``: the ``evaluation``
    section (settings or ConfigDict)."""
    cfg = EvaluationSettings.from_config(cfg)
    return ("v6", cfg.fps, cfg.frames_max, cfg.model_seed,
            dataclasses.astuple(TruthFitSettings.from_config(cfg)), CORRESPONDENCE, _MARKERS,
            ROTATION_CORRESPONDENCE, FLOOR_PERCENTILE)


def torso_orientation(left_hip: np.ndarray, right_hip: np.ndarray, neck: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotation taking SMPL's rest axes onto a torso (``rotations.torso_frame``)."""
    return np.asarray(rotations.torso_frame(left_hip, right_hip, neck))


@functools.partial(jax.jit, static_argnames=("joint_ids", "rot_ids", "settings"))
def _fit(model: body.BodyModel, pose0: jax.Array, betas0: jax.Array, transl0: jax.Array,
         targets: jax.Array, weights: jax.Array, mask: jax.Array, link_vel: jax.Array,
         joint_ids: tuple[int, ...], rot_ids: tuple[int, ...],
         settings: TruthFitSettings) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Adam fit of pose (N, T, 72), betas (N, B), transl (N, T, 3) to targets (N, T, C, 3).

    All frames of a clip are one problem (one shape; optional acceleration penalty), so the
    solution moves continuously from frame to frame. mask: (N, T) real frames; weights: (C,).
    link_vel: (N, T-1, R, 3, 3) the mocap links' frame-to-frame world rotations ``L[t+1] L[t]^T``
    that SMPL joints ``rot_ids`` (R) follow: the velocity term
    ``mean || G[t+1] G[t]^T - L[t+1] L[t]^T ||_F^2`` over real frame pairs (G: SMPL's global
    rotations; a constant offset between a SMPL segment's and a link's axes cancels), which
    ties the rotations the joint positions leave free (twists, the spine's split) to the
    mocap's motion and so keeps one-frame flips out of the truth.
    """
    ids = jnp.asarray(joint_ids)
    rids = jnp.asarray(rot_ids)
    count = jnp.sum(mask)
    pair = mask[:, 1:] * mask[:, :-1]

    def loss_fn(p):
        betas = jnp.broadcast_to(p["betas"][:, None, :],
                                 p["pose"].shape[:2] + p["betas"].shape[-1:])
        out = body.forward(model, p["pose"], betas, p["transl"])
        joints = out.joints[..., ids, :]
        sq = jnp.sum(jnp.square(joints - targets), axis=-1)  # (N, T, C)
        loss = jnp.sum(sq * weights * mask[..., None]) / (count * jnp.sum(weights))
        if settings.velocity_weight > 0:
            g = out.rotations[:, :, rids]  # (N, T, R, 3, 3)
            vel = g[:, 1:] @ jnp.swapaxes(g[:, :-1], -1, -2)
            dv = jnp.sum(jnp.square(vel - link_vel), axis=(-2, -1))  # (N, T-1, R)
            loss += settings.velocity_weight * jnp.sum(jnp.mean(dv, -1) * pair) / jnp.maximum(
                jnp.sum(pair), 1.0)
        if settings.spine_weight > 0:
            sp = p["pose"].reshape(p["pose"].shape[:2] + (24, 3))[:, :, jnp.asarray(_SPINE)]
            dsp = jnp.sum(jnp.square(sp[:, :, 1:] - sp[:, :, :-1]), axis=(-2, -1))
            loss += settings.spine_weight * jnp.sum(dsp * mask) / count
        loss += settings.betas_weight * jnp.mean(jnp.sum(jnp.square(p["betas"]), axis=-1))
        loss += settings.pose_weight * jnp.sum(
            jnp.square(p["pose"][..., 3:]) * mask[..., None]) / count
        if settings.smooth_weight > 0:
            acc = joints[:, 2:] - 2.0 * joints[:, 1:-1] + joints[:, :-2]
            m3 = mask[:, 2:] * mask[:, 1:-1] * mask[:, :-2]
            loss += settings.smooth_weight * jnp.sum(
                jnp.sum(jnp.square(acc), axis=-1) * m3[..., None]) / jnp.maximum(jnp.sum(m3), 1.0)
        return loss

    # Cosine decay to a tenth: the last steps settle instead of leaving Adam's step noise (one-frame
    # wobbles) in the truth.
    opt = optax.adam(optax.cosine_decay_schedule(settings.learning_rate, settings.steps, 0.1))
    params = {"pose": pose0, "betas": betas0, "transl": transl0}

    def step(carry, _):
        params, state = carry
        grads = jax.grad(loss_fn)(params)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=settings.steps)
    return params["pose"], params["betas"], params["transl"]


def foot_vertex_model(model: body.BodyModel) -> body.BodyModel:
    """``model`` restricted to its foot vertices (skinned mostly to SMPL's ankles and feet,
    joints 7, 8, 10, 11; no faces): ``bvh.lowest_mesh_points`` of it is the sole's height."""
    w = np.asarray(model.lbs_weights)
    keep = np.isin(np.argmax(w, axis=1), FOOT_JOINTS)
    if not keep.any():
        raise ValueError("fit_truth: the body model has no vertices skinned to its feet")
    return dataclasses.replace(
        model, v_template=np.asarray(model.v_template)[keep],
        shapedirs=np.asarray(model.shapedirs)[keep], posedirs=np.asarray(model.posedirs)[keep],
        lbs_weights=w[keep], faces=np.zeros((0, 3), np.int32),
        kp_vertex_regressor=np.asarray(model.kp_vertex_regressor)[:, keep], j_regressor=None,
        cocoplus_regressor=None, vertex_ids=tuple(int(i) for i in np.flatnonzero(keep)))


def fit_truth(model: body.BodyModel, clips: Sequence[MocapClip],
              cfg: EvaluationSettings | TruthFitSettings) -> list[TruthClip]:
    """Fits the body model's joints to the mocap points of several clips (one compiled fit).

    Each clip gets one shape and a pose and translation per frame, fitted jointly over all its
    frames (weighted mean squared distance of SMPL joints to their mocap points, small priors on
    betas and the non-root pose so free degrees of freedom such as the hands and the spine's split
    stay near rest). The root orientation starts from the mocap torso, the rest from SMPL's rest
    pose. (``fitting.fit_3d`` solves every frame on its own; its per-frame local minima put
    jumps of tens of mm/frame^2 into the truth, which would swamp the acceleration metric.)

    Args:
      model: the body model (only its joints are used).
      clips: mocap clips in SMPL's world frame.
      cfg: the ``evaluation`` section (truth_* keys; settings or ConfigDict), or a
        ``TruthFitSettings``.
    Returns:
      one ``TruthClip`` per clip, in order.
    """
    if not clips:
        raise ValueError("fit_truth: no clips")
    settings = TruthFitSettings.from_config(cfg)
    joint_model = body.keypoint_model(body.with_keypoints(model, "smpl24"))
    n, t_max = len(clips), max(c.num_frames for c in clips)
    _, ids, weights = correspondence_targets(clips[0])
    num_betas = model.num_betas
    targets = np.zeros((n, t_max, len(ids), 3))
    mask = np.zeros((n, t_max))
    pose0 = np.zeros((n, t_max, 72))
    transl0 = np.zeros((n, t_max, 3))
    rest = np.asarray(body.rest_joints(model, jnp.zeros((num_betas,), jnp.float32)), np.float64)
    rest_mid = 0.5 * (rest[1] + rest[2])
    col = {int(j): k for k, j in enumerate(ids)}
    hnames = list(hum.DEEPMIMIC_HUMANOID.names)
    rot_ids = tuple(j for j, _ in ROTATION_CORRESPONDENCE)
    links = [hnames.index(n) for _, n in ROTATION_CORRESPONDENCE]
    link_vel = np.tile(np.eye(3), (n, t_max - 1, len(links), 1, 1))
    for i, c in enumerate(clips):
        if c.link_rotations is None:
            raise ValueError(f"fit_truth: clip {c.name!r} has no link rotations (load_mocap)")
        lr = c.link_rotations[:, links]
        link_vel[i, :c.num_frames - 1] = lr[1:] @ np.swapaxes(lr[:-1], -1, -2)
    for i, c in enumerate(clips):
        tgt, _, _ = correspondence_targets(c)
        tt = c.num_frames
        # Pad by repeating the last frame (masked out of the objective).
        targets[i] = np.concatenate([tgt, np.repeat(tgt[-1:], t_max - tt, 0)], 0)
        mask[i, :tt] = 1.0
        lh, rh, nk = (targets[i][:, col[j]] for j in (1, 2, 12))
        rot = torso_orientation(lh, rh, nk)
        pose0[i, :, :3] = Rotation.from_matrix(rot).as_rotvec()
        transl0[i] = 0.5 * (lh + rh) - np.einsum("tij,j->ti", rot, rest_mid - rest[0]) - rest[0]
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    pose, betas, transl = _fit(joint_model, f32(pose0), jnp.zeros((n, num_betas), jnp.float32),
                               f32(transl0), f32(targets), f32(weights), f32(mask),
                               f32(link_vel), tuple(int(j) for j in ids), rot_ids, settings)
    pose, betas, transl = (np.asarray(a, np.float64) for a in (pose, betas, transl))
    names = [p[0] for p in CORRESPONDENCE]
    foot_model = foot_vertex_model(model)
    out = []
    for i, c in enumerate(clips):
        tt = c.num_frames
        joints = np.asarray(body.forward(joint_model, f32(pose[i, :tt]), f32(np.broadcast_to(
            betas[i], (tt, num_betas))), f32(transl[i, :tt])).joints, np.float64)[:, ids]
        err = np.linalg.norm(joints - targets[i, :tt], axis=-1) * 1000.0
        hips = (col[1], col[2])
        acc = metrics.accel_error(metrics.root_center(joints, hips),
                                  metrics.root_center(targets[i, :tt], hips))
        # The mocap floor carried onto the body: SMPL's feet, fitted to the humanoid's ankles
        # and toes, do not end where the humanoid's soles do (y = 0); one vertical shift per
        # clip puts the 10th percentile of the per-frame lowest FOOT vertex on the floor (feet:
        # the humanoid's hands are boxes, SMPL's reach further and would set a cartwheel's floor).
        low = bvh.lowest_mesh_points(foot_model, pose[i, :tt], betas[i], transl[i, :tt],
                                     np.eye(3))
        lift = -float(np.percentile(low, FLOOR_PERCENTILE))
        tr = transl[i, :tt] + np.array([0.0, lift, 0.0])
        out.append(TruthClip(
            name=c.name, fps=c.fps, pose=pose[i, :tt], betas=betas[i], transl=tr,
            marker_error_mm=float(err.mean()), accel_error_mm=float(acc) * 1000.0,
            per_point_mm={nm: round(float(e), 2) for nm, e in zip(names, err.mean(axis=0))},
            floor_lift_mm=lift * 1000.0))
    return out


def save_truth(path: str, truth: TruthClip) -> None:
    """Writes a ``TruthClip`` to ``path`` (.npz, atomically)."""
    atomic.save_npz(path, name=np.array(truth.name), fps=np.array(truth.fps), pose=truth.pose,
                    betas=truth.betas, transl=truth.transl,
                    marker_error_mm=np.array(truth.marker_error_mm),
                    accel_error_mm=np.array(truth.accel_error_mm),
                    floor_lift_mm=np.array(truth.floor_lift_mm),
                    point_names=np.array(list(truth.per_point_mm)),
                    point_mm=np.array(list(truth.per_point_mm.values())))


def load_truth(path: str) -> TruthClip | None:
    """Reads ``save_truth``'s file; None (refit) when it is unreadable or incomplete."""
    try:
        z = atomic.load_npz(path, "truth cache")
        return TruthClip(name=str(z["name"]), fps=float(z["fps"]), pose=z["pose"],
                         betas=z["betas"], transl=z["transl"],
                         marker_error_mm=float(z["marker_error_mm"]),
                         accel_error_mm=float(z["accel_error_mm"]),
                         floor_lift_mm=float(z["floor_lift_mm"]),
                         per_point_mm={str(n): float(v) for n, v in
                                       zip(z["point_names"], z["point_mm"])})
    except (OSError, KeyError, ValueError):
        return None


