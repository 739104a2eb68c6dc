"""The truth of the accuracy benchmark: DeepMimic motion capture carried onto the body model.

1. ``load_mocap``: a DeepMimic clip -> humanoid forward kinematics (``export.humanoid``), resampled to
   a fixed frame rate (local rotations slerped, root position interpolated linearly, then FK again),
   turned into SMPL's world frame (Y up, body faces +Z; the humanoid faces +X with its right side on
   +Z, so a -90 degree turn about Y), plus two virtual markers per foot and one on the head that pin
   the foot and head rotations the humanoid's joints alone leave free.
2. ``fit_truth``: the body model fitted to those markers (``sfv_jax.fitting``'s 3D keypoint fit with a
   correspondence: DeepMimic joint -> SMPL joint), one shape per clip, a pose and a translation per
   frame. ``TruthClip.marker_error`` reports how closely the body model's joints follow the mocap.

The humanoid's and SMPL's skeletons differ (joint placement, bone lengths); the residual of the fit
is the price of carrying the motion over and is reported, not hidden. Hips, knees, ankles,
shoulders, elbows and wrists correspond directly; the humanoid's neck joint sits where SMPL's neck
does; its chest joint lies between SMPL's spine2 and spine3 and is left out.
"""
from __future__ import annotations

import dataclasses
import os

from typing import Sequence

import jax.numpy as jnp
import ml_collections
import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from sfv_jax import atomic, body, fitting, skeletons
from sfv_jax.detect.config import fitting_config
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
                       hum.frames_to_local(h, motion.frames.astype(np.float64)))
    if fps > 0:
        durations = motion.durations
        times = np.concatenate([[0.0], np.cumsum(durations[:-1])])
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
    pos, rot = (np.asarray(a, np.float64) for a in hum.forward_kinematics(h, root_pos, local))
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
    """
    name: str
    fps: float
    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    marker_error_mm: float
    per_point_mm: dict

    @property
    def num_frames(self) -> int:
        return int(self.pose.shape[0])


def correspondence_targets(clip: MocapClip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mocap targets of the SMPL joints: positions (T, C, 3), SMPL joint ids (C,), weights (C,)."""
    names = tuple(c[0] for c in CORRESPONDENCE)
    return (clip.select(names), np.array([c[1] for c in CORRESPONDENCE]),
            np.array([c[2] for c in CORRESPONDENCE], np.float64))


def fit_options(cfg: ml_collections.ConfigDict) -> fitting.FitOptions:
    """``fitting.FitOptions`` of the truth fit: the fitting section's defaults with the
    ``evaluation`` section's truth_fit_* overrides."""
    opts = fitting.FitOptions.from_config(fitting_config())
    return dataclasses.replace(opts, steps_3d_full=int(cfg.truth_fit_steps),
                               learning_rate=float(cfg.truth_fit_lr),
                               betas_weight=float(cfg.truth_betas_weight))


def truth_cache_key(cfg: ml_collections.ConfigDict) -> tuple:
    """Everything the truth depends on (for the workdir cache)."""
    return ("v1", float(cfg.fps), int(cfg.frames_max), int(cfg.model_seed),
            dataclasses.astuple(fit_options(cfg)), CORRESPONDENCE, _MARKERS)


def fit_truth(model: body.BodyModel, clips: Sequence[MocapClip],
              cfg: ml_collections.ConfigDict) -> list[TruthClip]:
    """Carries mocap clips onto the body model with ``fitting.fit_3d`` on the 24 SMPL joints.

    Two passes over all frames of all clips at once: the first fits pose, shape and translation per
    frame; the clip's shape is the mean of those; the second refits pose and translation with that
    shape held fixed (one body per clip, as a person has). SMPL joints without a mocap
    counterpart (pelvis, spine, collars, hands) have weight 0.

    Args:
      model: the body model (only its joints are used).
      clips: mocap clips in SMPL's world frame.
      cfg: the ``evaluation`` section (truth_fit_* keys).
    Returns:
      one ``TruthClip`` per clip, in order.
    """
    if not clips:
        raise ValueError("fit_truth: no clips")
    opts = fit_options(cfg)
    joint_model = body.with_keypoints(model, "smpl24")
    num_joints = len(skeletons.SMPL_JOINT_NAMES)
    weights = np.zeros(num_joints)
    targets, lengths = [], []
    for c in clips:
        tgt, ids, w = correspondence_targets(c)
        full = np.zeros((c.num_frames, num_joints, 3))
        full[:, ids] = tgt
        weights[ids] = w
        targets.append(full)
        lengths.append(c.num_frames)
    all_t = jnp.asarray(np.concatenate(targets), jnp.float32)
    first = fitting.fit_3d(joint_model, all_t, jnp.asarray(weights, jnp.float32), opts)
    splits = np.cumsum(lengths)[:-1]
    betas = [b.mean(axis=0) for b in np.split(np.asarray(first.betas, np.float64), splits)]
    betas_frames = np.concatenate([np.broadcast_to(b, (n, b.shape[0]))
                                   for b, n in zip(betas, lengths)])
    second = fitting.fit_3d(joint_model, all_t, jnp.asarray(weights, jnp.float32), opts,
                            betas=jnp.asarray(betas_frames, jnp.float32))
    pose, transl, err = (np.split(np.asarray(a, np.float64), splits)
                         for a in (second.pose, second.transl, second.error))
    names = [p[0] for p in CORRESPONDENCE]
    ids = [p[1] for p in CORRESPONDENCE]
    out = []
    for i, c in enumerate(clips):
        e = err[i][:, ids] * 1000.0
        out.append(TruthClip(name=c.name, fps=c.fps, pose=pose[i], betas=betas[i],
                             transl=transl[i], marker_error_mm=float(e.mean()),
                             per_point_mm={n: round(float(v), 2)
                                           for n, v in zip(names, e.mean(axis=0))}))
    return out


def save_truth(path: str, truth: TruthClip) -> None:
    """Writes a ``TruthClip`` to ``path`` (.npz, atomically)."""
    atomic.save_npz(path, name=np.array(truth.name), fps=np.array(truth.fps), pose=truth.pose,
                    betas=truth.betas, transl=truth.transl,
                    marker_error_mm=np.array(truth.marker_error_mm),
                    point_names=np.array(list(truth.per_point_mm)),
                    point_mm=np.array(list(truth.per_point_mm.values())))


def load_truth(path: str) -> TruthClip | None:
    """Reads ``save_truth``'s file; None (refit) when it is unreadable or incomplete."""
    try:
        with np.load(path) as z:
            return TruthClip(name=str(z["name"]), fps=float(z["fps"]), pose=z["pose"],
                             betas=z["betas"], transl=z["transl"],
                             marker_error_mm=float(z["marker_error_mm"]),
                             per_point_mm={str(n): float(v) for n, v in
                                           zip(z["point_names"], z["point_mm"])})
    except (OSError, KeyError, ValueError):
        return None


