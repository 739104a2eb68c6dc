"""The truth of the accuracy benchmark: DeepMimic motion capture carried onto the body model.

1. ``load_mocap``: a DeepMimic clip -> humanoid forward kinematics (``export.humanoid``), resampled to
   a fixed frame rate (local rotations slerped, root position interpolated linearly, then FK again),
   turned into SMPL's world frame (Y up, body faces +Z; the humanoid faces +X with its right side on
   +Z, so a -90 degree turn about Y), plus two virtual markers per foot and one on the head that pin
   the foot and head rotations the humanoid's joints alone leave free.
2. ``fit_truth``: the body model's joints fitted to those points (3D keypoint fit with a
   correspondence: DeepMimic joint -> SMPL joint), one shape per clip, a pose and a translation per
   frame, all frames of a clip in one problem so the truth has no per-frame jumps. ``TruthClip.marker_error`` reports how closely the body model's joints follow the mocap.

The humanoid's and SMPL's skeletons differ (joint placement, bone lengths); the residual of the fit
is the price of carrying the motion over and is reported, not hidden. Hips, knees, ankles,
shoulders, elbows and wrists correspond directly; the humanoid's neck joint sits where SMPL's neck
does; its chest joint lies between SMPL's spine2 and spine3 and is left out.
"""
from __future__ import annotations

import dataclasses
import os

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from scipy.spatial.transform import Rotation, Slerp

from sfv_jax import atomic, body
from sfv_jax.evaluation import metrics
from sfv_jax.export import deepmimic, humanoid as hum

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


@dataclasses.dataclass(frozen=True)
class MocapClip:
    """Motion-capture points of one clip in SMPL's world frame.

    name: clip name (file stem). fps: frames per second.
    points: (T, P, 3) metres; point names in ``point_names`` (humanoid joints + virtual markers).
    root: (T, 3) the humanoid's root position, metres.
    """
    name: str
    fps: float
    points: np.ndarray
    point_names: tuple[str, ...]
    root: np.ndarray

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


def resample_local(times: np.ndarray, root_pos: np.ndarray, local_rots: np.ndarray,
                   new_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Resamples a motion: root position linearly, local rotations by slerp.

    Args:
      times: (T,) increasing sample times, seconds.
      root_pos: (T, 3). local_rots: (T, J, 3, 3).
      new_times: (N,) times inside [times[0], times[-1]].
    Returns:
      root_pos (N, 3), local_rots (N, J, 3, 3).
    """
    pos = np.stack([np.interp(new_times, times, root_pos[:, i]) for i in range(3)], -1)
    rots = []
    for j in range(local_rots.shape[1]):
        slerp = Slerp(times, Rotation.from_matrix(local_rots[:, j]))
        rots.append(slerp(new_times).as_matrix())
    return pos, np.stack(rots, 1)


_SAGITTAL_MIRROR = np.diag([1.0, 1.0, -1.0])  # humanoid frame: right side on +Z


def mirrored_half_offset(local_rots: np.ndarray, names: Sequence[str], tol: float = 1e-4,
                         min_frames: int = 3) -> int:
    """Frame h where a clip restarts as the left/right mirror of its own beginning, else 0.

    DeepMimic builds its cyclic gaits (walk, run) from half a cycle: frames h.. are frames 0..
    with left and right swapped and mirrored about the sagittal plane. The two halves do not meet
    smoothly: the step from frame h-1 to frame h jumps (run: ~100 mm/frame^2 on every joint),
    a joint-space seam no captured motion has.

    Args:
      local_rots: (T, J, 3, 3) local rotations (joint 0 the root). names: the J joint names.
    Returns:
      the smallest h >= min_frames with local_rots[h + k] == mirror(local_rots[k]) for every
      k < h with h + k < T - 1 (at least ``min_frames`` of them), else 0.
    """
    names = list(names)
    partner = [names.index("left_" + n[6:]) if n.startswith("right_") else
               names.index("right_" + n[5:]) if n.startswith("left_") else j
               for j, n in enumerate(names)]
    m = _SAGITTAL_MIRROR
    mirrored = m @ local_rots[:, partner] @ m
    t = local_rots.shape[0]
    for h in range(min_frames, t - min_frames):
        n = min(h, t - 1 - h)  # the last frame may be a loop's closing frame; leave it out
        if np.max(np.abs(local_rots[h:h + n] - mirrored[:n])) < tol:
            return h
    return 0


def repair_seam(root_pos: np.ndarray, local_rots: np.ndarray, seam: int,
                width: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Spreads a jump between frames seam-1 and seam over ``width`` frames on each side.

    The jump's excess (the seam step minus the mean of the steps just before and after it, per
    joint: a rotation vector in the parent's frame, and a displacement for the root) is taken out
    of the seam step and paid back by a smooth (sine) ramp: frame k is corrected by
    (s_k - [k >= seam]) * excess, s rising from 0 at seam-1-width to 1 at seam+width. Frames
    outside the window and every step but those inside it are unchanged.

    Args:
      root_pos: (T, 3). local_rots: (T, J, 3, 3). seam: first frame after the jump.
    Returns:
      root_pos (T, 3), local_rots (T, J, 3, 3), corrected copies (unchanged when the seam lies
      within two frames of either end).
    """
    root_pos, local_rots = root_pos.copy(), local_rots.copy()
    t = root_pos.shape[0]
    if seam < 2 or seam > t - 2:
        return root_pos, local_rots
    k = np.arange(t)
    u = np.clip((k - (seam - 0.5)) / (width + 0.5), -1.0, 1.0)
    r = 0.5 + 0.5 * np.sin(0.5 * np.pi * u) - (k >= seam)  # (T,)
    d = np.diff(root_pos, axis=0)
    excess = d[seam - 1] - 0.5 * (d[seam - 2] + d[seam])
    root_pos += r[:, None] * excess
    step = lambda a, b: Rotation.from_matrix(local_rots[b] @ np.swapaxes(  # noqa: E731
        local_rots[a], -1, -2)).as_rotvec()  # (J, 3) rotation a -> b in the parent's frame
    excess = step(seam - 1, seam) - 0.5 * (step(seam - 2, seam - 1) + step(seam, seam + 1))
    corr = Rotation.from_rotvec((r[:, None, None] * excess[None]).reshape(-1, 3)).as_matrix()
    local_rots[:] = corr.reshape(local_rots.shape) @ local_rots
    return root_pos, local_rots


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
                     point_names=tuple(names), root=root_pos @ DM_TO_SMPL.T)


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
    """
    name: str
    fps: float
    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    marker_error_mm: float
    per_point_mm: dict
    accel_error_mm: float = 0.0

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
    """Static options of ``fit_truth`` (from the ``evaluation`` section's truth_* keys)."""
    steps: int = 400
    learning_rate: float = 0.05
    betas_weight: float = 1e-3
    pose_weight: float = 1e-4
    smooth_weight: float = 0.0

    @classmethod
    def from_config(cls, cfg: ml_collections.ConfigDict) -> "TruthFitSettings":
        return cls(steps=int(cfg.truth_fit_steps), learning_rate=float(cfg.truth_fit_lr),
                   betas_weight=float(cfg.truth_betas_weight),
                   pose_weight=float(cfg.truth_pose_weight),
                   smooth_weight=float(cfg.truth_smooth_weight))


def truth_cache_key(cfg: ml_collections.ConfigDict) -> tuple:
    """Everything the truth depends on (for the workdir cache)."""
    return ("v4", float(cfg.fps), int(cfg.frames_max), int(cfg.model_seed),
            dataclasses.astuple(TruthFitSettings.from_config(cfg)), CORRESPONDENCE, _MARKERS)


def torso_orientation(left_hip: np.ndarray, right_hip: np.ndarray, neck: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotation taking SMPL's rest axes (left +X, up +Y, facing +Z) onto a torso."""
    x = left_hip - right_hip
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    y = neck - 0.5 * (left_hip + right_hip)
    y = y - np.sum(y * x, axis=-1, keepdims=True) * x
    y = y / np.linalg.norm(y, axis=-1, keepdims=True)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


@functools.partial(jax.jit, static_argnames=("joint_ids", "settings"))
def _fit(model: body.BodyModel, pose0: jax.Array, betas0: jax.Array, transl0: jax.Array,
         targets: jax.Array, weights: jax.Array, mask: jax.Array, joint_ids: tuple[int, ...],
         settings: TruthFitSettings) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Adam fit of pose (N, T, 72), betas (N, B), transl (N, T, 3) to targets (N, T, C, 3).

    All frames of a clip are one problem (one shape; optional acceleration penalty), so the
    solution moves continuously from frame to frame. mask: (N, T) real frames; weights: (C,).
    """
    ids = jnp.asarray(joint_ids)
    count = jnp.sum(mask)

    def loss_fn(p):
        betas = jnp.broadcast_to(p["betas"][:, None, :],
                                 p["pose"].shape[:2] + p["betas"].shape[-1:])
        joints = body.forward(model, p["pose"], betas, p["transl"]).joints[..., ids, :]
        sq = jnp.sum(jnp.square(joints - targets), axis=-1)  # (N, T, C)
        loss = jnp.sum(sq * weights * mask[..., None]) / (count * jnp.sum(weights))
        loss += settings.betas_weight * jnp.mean(jnp.sum(jnp.square(p["betas"]), axis=-1))
        loss += settings.pose_weight * jnp.sum(
            jnp.square(p["pose"][..., 3:]) * mask[..., None]) / count
        if settings.smooth_weight > 0:
            acc = joints[:, 2:] - 2.0 * joints[:, 1:-1] + joints[:, :-2]
            m3 = mask[:, 2:] * mask[:, 1:-1] * mask[:, :-2]
            loss += settings.smooth_weight * jnp.sum(
                jnp.sum(jnp.square(acc), axis=-1) * m3[..., None]) / jnp.maximum(jnp.sum(m3), 1.0)
        return loss

    opt = optax.adam(settings.learning_rate)
    params = {"pose": pose0, "betas": betas0, "transl": transl0}

    def step(carry, _):
        params, state = carry
        grads = jax.grad(loss_fn)(params)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=settings.steps)
    return params["pose"], params["betas"], params["transl"]


def fit_truth(model: body.BodyModel, clips: Sequence[MocapClip],
              cfg: ml_collections.ConfigDict) -> list[TruthClip]:
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
      cfg: the ``evaluation`` section (truth_* keys).
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
                               tuple(int(j) for j in ids), settings)
    pose, betas, transl = (np.asarray(a, np.float64) for a in (pose, betas, transl))
    names = [p[0] for p in CORRESPONDENCE]
    out = []
    for i, c in enumerate(clips):
        tt = c.num_frames
        joints = np.asarray(body.forward(joint_model, f32(pose[i, :tt]), f32(np.broadcast_to(
            betas[i], (tt, num_betas))), f32(transl[i, :tt])).joints, np.float64)[:, ids]
        err = np.linalg.norm(joints - targets[i, :tt], axis=-1) * 1000.0
        hips = (col[1], col[2])
        acc = metrics.accel_error(metrics.root_center(joints, hips),
                                  metrics.root_center(targets[i, :tt], hips))
        out.append(TruthClip(
            name=c.name, fps=c.fps, pose=pose[i, :tt], betas=betas[i], transl=transl[i, :tt],
            marker_error_mm=float(err.mean()), accel_error_mm=float(acc) * 1000.0,
            per_point_mm={nm: round(float(e), 2) for nm, e in zip(names, err.mean(axis=0))}))
    return out


def save_truth(path: str, truth: TruthClip) -> None:
    """Writes a ``TruthClip`` to ``path`` (.npz, atomically)."""
    atomic.save_npz(path, name=np.array(truth.name), fps=np.array(truth.fps), pose=truth.pose,
                    betas=truth.betas, transl=truth.transl,
                    marker_error_mm=np.array(truth.marker_error_mm),
                    accel_error_mm=np.array(truth.accel_error_mm),
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
                         per_point_mm={str(n): float(v) for n, v in
                                       zip(z["point_names"], z["point_mm"])})
    except (OSError, KeyError, ValueError):
        return None


