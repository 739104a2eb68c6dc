"""DeepMimic motion files: reading, writing, packing frames.

Format (JSON): ``{"Loop": "wrap" | "none", "Frames": [[duration, root pos (3), root quat
(4), chest (4), neck (4), right hip (4), right knee (1), right ankle (4), right shoulder
(4), right elbow (1), left hip (4), left knee (1), left ankle (4), left shoulder (4), left
elbow (1)], ...]}``: Y up, metres, quaternions (w, x, y, z), knees/elbows one angle in
radians about the joint's z axis, non-root rotations local to the parent, ``duration`` =
seconds from this frame to the next. See ``humanoid.py`` for the skeleton.

Files and NumPy only at this edge; ``pack_frames`` / ``unpack_frames`` are pure array code.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os

import numpy as np
from scipy.spatial.transform import Rotation

from sfv_jax import atomic
from sfv_jax.export.config import LOOP_MODES, DeepMimicSettings
from sfv_jax.export.humanoid import DEEPMIMIC_HUMANOID, Humanoid

_DECIMALS = DeepMimicSettings.decimals  # the config's default, written once there
FRAME_SIZE = DEEPMIMIC_HUMANOID.frame_size  # 44
# Order of the quaternions / angles inside a frame (after root position and rotation).
SPHERICAL_JOINTS: tuple[str, ...] = tuple(
    DEEPMIMIC_HUMANOID.names[i] for i in DEEPMIMIC_HUMANOID.motion_joints
    if DEEPMIMIC_HUMANOID.kinds[i] == "spherical")
REVOLUTE_JOINTS: tuple[str, ...] = tuple(
    DEEPMIMIC_HUMANOID.names[i] for i in DEEPMIMIC_HUMANOID.motion_joints
    if DEEPMIMIC_HUMANOID.kinds[i] == "revolute")


@dataclasses.dataclass(frozen=True)
class DeepMimicMotion:
    """A DeepMimic clip. frames: (T, 44) float64; loop: "wrap" or "none"."""
    frames: np.ndarray
    loop: str = "none"

    def __post_init__(self) -> None:
        f = np.asarray(self.frames, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != FRAME_SIZE or f.shape[0] == 0:
            raise ValueError(f"DeepMimic frames must be (T>0, {FRAME_SIZE}), got {f.shape}")
        if self.loop not in LOOP_MODES:
            raise ValueError(f"Loop must be one of {LOOP_MODES}, got {self.loop!r}")
        object.__setattr__(self, "frames", f)

    @property
    def durations(self) -> np.ndarray:
        """(T,) seconds from each frame to the next."""
        return self.frames[:, 0]

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


def pack_frames(durations: np.ndarray, root_pos: np.ndarray, quats: np.ndarray,
                angles: np.ndarray) -> np.ndarray:
    """Assembles motion frames.

    Args:
      durations: (T,) seconds, or a scalar for every frame.
      root_pos: (T, 3) metres.
      quats: (T, 1 + 8, 4) (w, x, y, z): the root's global rotation, then the local
        rotations of ``SPHERICAL_JOINTS`` (chest, neck, right hip, right ankle, right
        shoulder, left hip, left ankle, left shoulder).
      angles: (T, 4) radians for ``REVOLUTE_JOINTS`` (right knee, right elbow, left knee,
        left elbow).
    Returns:
      (T, 44) float64 frames.
    """
    root_pos = np.asarray(root_pos, np.float64)
    quats = np.asarray(quats, np.float64)
    angles = np.asarray(angles, np.float64)
    t = root_pos.shape[0]
    if root_pos.shape != (t, 3) or quats.shape != (t, 1 + len(SPHERICAL_JOINTS), 4) \
            or angles.shape != (t, len(REVOLUTE_JOINTS)):
        raise ValueError(f"pack_frames: inconsistent shapes root_pos {root_pos.shape}, "
                         f"quats {quats.shape}, angles {angles.shape}")
    h = DEEPMIMIC_HUMANOID
    cols = h.frame_columns()
    out = np.zeros((t, FRAME_SIZE))
    out[:, 0] = np.broadcast_to(np.asarray(durations, np.float64), (t,))
    out[:, 1:4] = root_pos
    out[:, 4:8] = quats[:, 0]
    for k, name in enumerate(SPHERICAL_JOINTS):
        a, b = cols[name]
        out[:, a:b] = quats[:, 1 + k]
    for k, name in enumerate(REVOLUTE_JOINTS):
        a, _ = cols[name]
        out[:, a] = angles[:, k]
    return out


def unpack_frames(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of ``pack_frames``: (T, 44) -> durations (T,), root_pos (T, 3),
    quats (T, 9, 4), angles (T, 4)."""
    frames = np.asarray(frames, np.float64)
    cols = DEEPMIMIC_HUMANOID.frame_columns()
    quats = [frames[:, 4:8]] + [frames[:, slice(*cols[n])] for n in SPHERICAL_JOINTS]
    angles = [frames[:, cols[n][0]] for n in REVOLUTE_JOINTS]
    return frames[:, 0], frames[:, 1:4], np.stack(quats, 1), np.stack(angles, 1)


def read_motion(path: str | os.PathLike, humanoid: Humanoid = DEEPMIMIC_HUMANOID
                ) -> DeepMimicMotion:
    """Reads a DeepMimic motion file; ValueError naming the file/frame on bad content."""
    path = os.fspath(path)
    try:
        with open(path, "r", encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a readable DeepMimic motion (JSON) file: {e}") from e
    if not isinstance(doc, dict) or "Frames" not in doc:
        raise ValueError(f"{path}: missing the 'Frames' field")
    loop = doc.get("Loop", "none")
    if loop not in LOOP_MODES:
        raise ValueError(f"{path}: field 'Loop' must be one of {LOOP_MODES}, got {loop!r}")
    frames = doc["Frames"]
    if not isinstance(frames, list) or not frames:
        raise ValueError(f"{path}: 'Frames' must be a non-empty list")
    n = humanoid.frame_size
    for i, fr in enumerate(frames):
        if not isinstance(fr, list) or len(fr) != n:
            got = len(fr) if isinstance(fr, list) else type(fr).__name__
            raise ValueError(f"{path}: frame {i} must hold {n} numbers, got {got}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                   and math.isfinite(v) for v in fr):
            raise ValueError(f"{path}: frame {i} holds a non-numeric or non-finite value")
        if fr[0] < 0:
            raise ValueError(f"{path}: frame {i} has a negative duration {fr[0]}")
    return DeepMimicMotion(np.asarray(frames, dtype=np.float64), loop)


def motion_to_json(motion: DeepMimicMotion, decimals: int = _DECIMALS) -> str:
    """The file text of ``motion``; one frame per line, ``decimals`` places per number."""
    fmt = f"{{:.{int(decimals)}f}}"
    lines = []
    for fr in motion.frames:
        # "-0.000" -> "0.000" so files diff cleanly.
        vals = [fmt.format(v + 0.0) for v in fr]
        lines.append("[" + ", ".join(vals) + "]")
    return ('{\n"Loop": ' + json.dumps(motion.loop) + ',\n"Frames":\n[\n'
            + ",\n".join(lines) + "\n]\n}\n")


def write_motion(path: str | os.PathLike, motion: DeepMimicMotion,
                 decimals: int = _DECIMALS) -> None:
    """Writes ``motion`` to ``path`` atomically (temporary file, then os.replace)."""
    if not np.all(np.isfinite(motion.frames)):
        bad = int(np.argwhere(~np.isfinite(motion.frames))[0, 0])
        raise ValueError(f"{os.fspath(path)}: frame {bad} holds a non-finite value")
    atomic.write_text(path, motion_to_json(motion, decimals))


def uniform_durations(num_frames: int, fps: float) -> np.ndarray:
    """(T,) durations of a clip sampled at ``fps``."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return np.full((num_frames,), 1.0 / float(fps))


def clip_durations(num_frames: int, fps: float) -> np.ndarray:
    """(T,) durations as DeepMimic's own files have them: 1/fps, the last frame 0 (it ends the
    clip; pybullet's cycle time is (T - 1) x the first duration)."""
    d = uniform_durations(num_frames, fps)
    d[-1] = 0.0
    return d


def blend_loop_seam(frames: np.ndarray, blend_frames: int) -> np.ndarray:
    """Makes a clip loop seamlessly: its last frame becomes its first frame's pose.

    The jump from the last frame to the first (per joint the rotation ``q_first q_last^-1``, for
    knees/elbows the angle difference, for the root its height and orientation) is spread over the
    last ``blend_frames`` frames with a smooth ramp ``w = (1 - cos(pi s)) / 2`` (s from 0 just before
    the window to 1 on the last frame), so every step stays small and the loop has no seam. The
    root's horizontal position is left alone (a looping character moves on by the clip's root
    offset each cycle, as pybullet's DeepMimic computeCycleOffset does).

    Args:
      frames: (T, 44); blend_frames: window length (clipped to T // 2; <= 0 returns a copy).
    Returns:
      (T, 44) blended frames (durations unchanged).
    """
    out = np.array(frames, np.float64, copy=True)
    t = out.shape[0]
    k = min(int(blend_frames), t // 2)
    if k <= 0:
        return out
    s = np.arange(1, k + 1) / k
    w = 0.5 * (1.0 - np.cos(np.pi * s))  # (k,), 1 on the last frame
    rows = np.arange(t - k, t)
    out[rows, 2] += w * (out[0, 2] - out[-1, 2])  # root height
    cols = DEEPMIMIC_HUMANOID.frame_columns()
    quat_cols = [(4, 8)] + [cols[n] for n in SPHERICAL_JOINTS]
    for a, b in quat_cols:
        q = out[rows, a:b]  # (k, 4) w, x, y, z
        r = Rotation.from_quat(q[:, [1, 2, 3, 0]])
        target = Rotation.from_quat(out[0, [a + 1, a + 2, a + 3, a]])
        delta = target * r[-1].inv()  # what the last frame lacks, in the parent's frame
        fix = Rotation.from_rotvec(w[:, None] * delta.as_rotvec()[None])
        xyzw = (fix * r).as_quat()
        wxyz = xyzw[:, [3, 0, 1, 2]]
        wxyz *= np.where(np.sum(wxyz * q, -1, keepdims=True) < 0, -1.0, 1.0)  # keep hemisphere
        out[rows, a:b] = wxyz
    for name in REVOLUTE_JOINTS:
        a, _ = cols[name]
        out[rows, a] += w * (out[0, a] - out[-1, a])
    return out
