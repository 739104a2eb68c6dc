"""DeepMimic motion files played on pybullet's DeepMimic humanoid: what a character feels.

The library of ``launch/check_deepmimic.py FILE [FILE ...]`` (needs pip install '.[physics]';
``main`` is its command line).

Each file is read as DeepMimic's own code reads it (pybullet_envs.deep_mimic's
MotionCaptureData / HumanoidPoseInterpolator conventions: frame = duration, root position,
root quaternion (w, x, y, z), chest, neck, right hip, right knee, right ankle, right shoulder,
right elbow, left hip, left knee, left ankle, left shoulder, left elbow; quaternions reordered to
pybullet's (x, y, z, w); Y up), and every keyframe is set on pybullet_data's
``humanoid/humanoid.urdf`` loaded with ``globalScaling=0.25`` (the DeepMimic humanoid, as
HumanoidStablePD loads it) by resetBasePositionAndOrientation / resetJointStateMultiDof. No
physics step is taken: this measures the reference motion a policy would be asked to imitate.

Per file:
  frames, duration (s, keyframe durations but the last's: DeepMimic's cycle time);
  lowest-foot height (cm): per frame the lower of the two feet's collision boxes (AABB bottom),
    min / mean / max, and the fraction of frames with the lower foot above 5 cm;
  foot skating (m/s): mean horizontal speed of the lower foot's box centre over frame pairs
    where that foot is within 2.5 cm of its own lowest height in the clip;
  root speed mean / std and the first frame's (m/s) and root acceleration (mean norm, m/s^2)
    from the keyframes' root positions and durations;
  loop seam (degrees): mean over the 12 joints of the rotation from the last frame to the first
    (spherical joints: quaternion angle; knees/elbows: angle difference), which a looping
    character jumps through every cycle (pybullet's DeepMimic environment loops every clip);
  the last frame's duration (DeepMimic's own files end with 0).
The last line is JSON: {"files": {path: {...}}}.
(pybullet_envs itself needs gym to import; only pybullet and pybullet_data are used here.)
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys

import numpy as np

# (name, pybullet joint index, first column in a frame, 4 = quaternion / 1 = angle)
JOINTS: tuple[tuple[str, int, int, int], ...] = (
    ("chest", 1, 8, 4), ("neck", 2, 12, 4),
    ("right_hip", 3, 16, 4), ("right_knee", 4, 20, 1), ("right_ankle", 5, 21, 4),
    ("right_shoulder", 6, 25, 4), ("right_elbow", 7, 29, 1),
    ("left_hip", 9, 30, 4), ("left_knee", 10, 34, 1), ("left_ankle", 11, 35, 4),
    ("left_shoulder", 12, 39, 4), ("left_elbow", 13, 43, 1),
)
FEET = (5, 11)  # right and left ankle links (the foot boxes)
FRAME_SIZE = 44
FLOAT_CM = 5.0
CONTACT_CM = 2.5


def read_frames(path: str) -> tuple[np.ndarray, str]:
    """(T, 44) frames and the Loop field of a DeepMimic file; ValueError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        frames = np.asarray(doc["Frames"], np.float64)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a DeepMimic motion file ({e})") from None
    if frames.ndim != 2 or frames.shape[1] != FRAME_SIZE or frames.shape[0] < 3:
        raise ValueError(f"{path}: expected at least 3 frames of {FRAME_SIZE} numbers, got "
                         f"{frames.shape}")
    if not np.all(np.isfinite(frames)):
        raise ValueError(f"{path}: non-finite numbers in the frames")
    return frames, str(doc.get("Loop", "none"))


def _xyzw(wxyz: np.ndarray) -> list[float]:
    q = np.asarray(wxyz, np.float64)
    q = q / max(np.linalg.norm(q), 1e-12)
    return [float(q[1]), float(q[2]), float(q[3]), float(q[0])]


def _quat_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (rad) of the rotation between two (w, x, y, z) quaternions."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return 2.0 * math.acos(min(1.0, abs(float(np.dot(a, b)))))


def seam_degrees(frames: np.ndarray) -> float:
    """Mean joint-angle jump (degrees) from the last frame to the first (see module doc)."""
    first, last = frames[0], frames[-1]
    jumps = []
    for _, _, col, n in JOINTS:
        if n == 4:
            jumps.append(_quat_angle(last[col:col + 4], first[col:col + 4]))
        else:
            jumps.append(abs(float(last[col] - first[col])))
    return float(np.degrees(np.mean(jumps)))


@contextlib.contextmanager
def _quiet_stdout():
    """Silences C-level stdout (pybullet prints URDF warnings there) so the table stays clean."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class Humanoid:
    """pybullet_data's DeepMimic humanoid in a DIRECT pybullet session."""

    def __init__(self) -> None:
        import pybullet
        import pybullet_data
        self.p = pybullet
        with _quiet_stdout():
            self.client = pybullet.connect(pybullet.DIRECT)
            pybullet.setAdditionalSearchPath(pybullet_data.getDataPath(),
                                             physicsClientId=self.client)
            self.uid = pybullet.loadURDF("humanoid/humanoid.urdf", [0, 0.889540259, 0],
                                         globalScaling=0.25, useFixedBase=True,
                                         flags=pybullet.URDF_MAINTAIN_LINK_ORDER,
                                         physicsClientId=self.client)

    def close(self) -> None:
        self.p.disconnect(physicsClientId=self.client)

    def set_frame(self, frame: np.ndarray) -> None:
        """Resets the humanoid to one keyframe (as HumanoidStablePD.initializePose does)."""
        p, c = self.p, self.client
        p.resetBasePositionAndOrientation(self.uid, frame[1:4].tolist(), _xyzw(frame[4:8]),
                                          physicsClientId=c)
        for _, j, col, n in JOINTS:
            value = _xyzw(frame[col:col + 4]) if n == 4 else [float(frame[col])]
            p.resetJointStateMultiDof(self.uid, j, value, physicsClientId=c)

    def feet(self) -> np.ndarray:
        """(2, 4): per foot (right, left) the box bottom height and the box centre x, y, z (m)."""
        out = []
        for link in FEET:
            lo, hi = self.p.getAABB(self.uid, link, physicsClientId=self.client)
            lo, hi = np.asarray(lo), np.asarray(hi)
            out.append(np.concatenate([[lo[1]], 0.5 * (lo + hi)]))
        return np.stack(out)


def check_motion(frames: np.ndarray, humanoid: Humanoid) -> dict:
    """The figures of the module docstring for (T, 44) frames."""
    t = frames.shape[0]
    feet = np.zeros((t, 2, 4))
    for i in range(t):
        humanoid.set_frame(frames[i])
        feet[i] = humanoid.feet()
    dur = frames[:-1, 0]
    if np.any(dur <= 0):
        raise ValueError(f"frame {int(np.argmax(dur <= 0))} has a non-positive duration")
    height = feet[..., 0]                      # (T, 2)
    lower = np.argmin(height, axis=1)          # (T,)
    low = height[np.arange(t), lower]
    # Skating: the lower foot at t, within 2.5 cm of its own clip minimum, horizontal speed to t+1.
    rows = np.arange(t - 1)
    f = lower[:-1]
    near = height[rows, f] <= height[:, :].min(axis=0)[f] + CONTACT_CM / 100.0
    step = feet[rows + 1, f][:, [1, 3]] - feet[rows, f][:, [1, 3]]
    speed_foot = np.linalg.norm(step, axis=-1) / dur
    root = frames[:, 1:4]
    vel = np.diff(root, axis=0) / dur[:, None]
    speed = np.linalg.norm(vel, axis=-1)
    acc = np.linalg.norm(np.diff(vel, axis=0), axis=-1) / (0.5 * (dur[1:] + dur[:-1]))
    return {
        "frames": int(t), "duration_s": round(float(dur.sum()), 4),
        "foot_height_cm": {"min": round(float(low.min() * 100), 2),
                           "mean": round(float(low.mean() * 100), 2),
                           "max": round(float(low.max() * 100), 2)},
        "foot_above_5cm_frac": round(float(np.mean(low > FLOAT_CM / 100.0)), 4),
        "foot_skate_m_s": round(float(speed_foot[near].mean()), 4) if near.any() else None,
        "root_speed_m_s": {"mean": round(float(speed.mean()), 4),
                           "std": round(float(speed.std()), 4),
                           "first": round(float(speed[0]), 4)},
        "root_accel_m_s2": round(float(acc.mean()), 3),
        "loop_seam_deg": round(seam_degrees(frames), 3),
        "last_duration_s": round(float(frames[-1, 0]), 6),
    }


def format_row(path: str, r: dict, loop: str) -> str:
    h = r["foot_height_cm"]
    s = r["root_speed_m_s"]
    skate = "n/a" if r["foot_skate_m_s"] is None else f"{r['foot_skate_m_s']:.3f}"
    label = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(path))),
                         os.path.basename(path))[-34:]  # exports share a file name
    return (f"{label:<34}{r['frames']:>6}{r['duration_s']:>7.2f}"
            f"{h['min']:>7.2f}{h['mean']:>7.2f}{h['max']:>7.2f}"
            f"{100 * r['foot_above_5cm_frac']:>7.1f}"
            f"{skate:>7}{s['mean']:>7.2f}{s['std']:>6.2f}{s['first']:>7.2f}"
            f"{r['root_accel_m_s2']:>8.2f}{r['loop_seam_deg']:>7.2f}{r['last_duration_s']:>7.3f}"
            f"  {loop}")


HEADER = (f"{'file':<34}{'frames':>6}{'dur s':>7}{'foot cm: min':>14}{'mean':>7}{'max':>7}"
          f"{'>5cm%':>7}{'skate':>7}{'v m/s':>7}{'std':>6}{'first':>7}{'a m/s2':>8}"
          f"{'seam':>7}{'last':>7}  loop")


def main(argv: list[str] | None = None) -> int:
    """The command line: a table row per file, then one JSON line; 1 if a file failed."""
    ap = argparse.ArgumentParser(prog="check_deepmimic.py",
                                 description="Plays DeepMimic motion files on pybullet's "
                                             "DeepMimic humanoid (see sfv_jax.evaluation."
                                             "deepmimic_check).")
    ap.add_argument("files", nargs="+", help="DeepMimic motion files")
    args = ap.parse_args(argv)
    try:
        humanoid = Humanoid()
    except ImportError:
        print("check_deepmimic needs pybullet: pip install '.[physics]' (pybullet==3.2.7)",
              file=sys.stderr)
        return 2
    results, failed = {}, {}
    print(HEADER)
    try:
        for path in args.files:
            try:
                frames, loop = read_frames(path)
                r = check_motion(frames, humanoid)
            except ValueError as e:
                failed[path] = str(e)
                print(f"{path}: {e}", file=sys.stderr)
                continue
            r["loop"] = loop
            results[path] = r
            print(format_row(path, r, loop))
    finally:
        humanoid.close()
    print(json.dumps({"files": results, "failed": failed}))
    return 1 if failed else 0

