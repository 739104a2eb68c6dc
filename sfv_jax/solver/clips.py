"""One clip in, one clip out: the solver's NumPy-side data types and input validation."""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from sfv_jax.geometry.crops import image_to_crop_norm


@dataclasses.dataclass(frozen=True)
class Clip:
    """One tracked person's frames, as the solver takes them (NumPy, full-image pixels).

    Fields (T frames, K keypoints in the body model's keypoint order):
      keypoints: (T, K, 3) 2D keypoints x, y in full-image pixels and a confidence (0 = missing).
      pose: (T, 72) initial SMPL pose, axis-angle (HMR's per-frame estimate).
      betas: (T, 10) initial shape.
      cam: (T, 3) initial HMR crop camera [s, tx, ty] (normalized crop coordinates).
      crop_scale: (T,) image resize factor of each frame's crop (SFV's ``proc_param['scale']``,
        averaged over x and y).
      crop_start: (T, 2) crop top-left (x, y) in the resized image (``proc_param['start_pt']``).
      crop_size: side of the square crop, pixels (HMR: 224).
      name: for error messages and results.
      focal: focal length of the video's camera, full-image pixels (the world mode's
        perspective camera; 0 = unknown, which the world mode refuses).
      center: (2,) principal point x, y in full-image pixels (usually the image centre), or
        None (the world mode needs it).
      video: the video the clip comes from: the world mode solves the clips of one video
        together with one shared ground plane ("" = a video of its own).
    """
    keypoints: np.ndarray
    pose: np.ndarray
    betas: np.ndarray
    cam: np.ndarray
    crop_scale: np.ndarray
    crop_start: np.ndarray
    crop_size: float = 224.0
    name: str = ""
    focal: float = 0.0
    center: Optional[np.ndarray] = None
    video: str = ""

    @property
    def num_frames(self) -> int:
        return int(np.shape(self.pose)[0])


@dataclasses.dataclass
class ClipResult:
    """The solve's output for one clip (NumPy, T real frames, padding removed).

    Fields:
      pose: (T, 72) axis-angle; betas: (T, 10).
      cam: (T, 3) crop camera [s, tx, ty]; cam_full: (T, 3) full-image weak perspective
        [s_img (px / m), tx_img, ty_img (m)] (see ``geometry.cameras``).
      keypoints_2d: (T, K, 2) projected model keypoints, full-image pixels.
      keypoints_3d: (T, K, 3) model keypoints (metres, no translation).
      joints_3d: (T, 24, 3) SMPL joints (metres, no translation).
      history: term name -> (iterations,) weighted value per iteration (before each update),
        plus 'total'; the final objective value is in ``final_loss``.
      final_loss: term name -> weighted value at the returned parameters, plus 'total'.
      nonfinite: True when the objective turned non-finite; the parameters are then the last
        ones with a finite objective and gradient.
      vertices: (T, V, 3) mesh vertices when asked for, else None.
      World mode only (None in the paper mode):
      transl: (T, 3) the solved root translation, camera coordinates (metres; the body's
        points are ``keypoints_3d + transl``); focal: () pixels; center: (2,) pixels;
      plane: (4,) the video's ground plane [n_x, n_y, n_z, d] in camera coordinates, unit n
        pointing up, height of p = n . p + d; contacts: (T, 4) soft contact weights of the
        foot points (left heel, left toe, right heel, right toe); foot_points: (T, 4, 3)
        those points in camera coordinates.
    """
    name: str
    pose: np.ndarray
    betas: np.ndarray
    cam: np.ndarray
    cam_full: np.ndarray
    keypoints_2d: np.ndarray
    keypoints_3d: np.ndarray
    joints_3d: np.ndarray
    history: dict[str, np.ndarray]
    final_loss: dict[str, float]
    nonfinite: bool
    vertices: Optional[np.ndarray] = None
    transl: Optional[np.ndarray] = None
    focal: Optional[float] = None
    center: Optional[np.ndarray] = None
    plane: Optional[np.ndarray] = None
    contacts: Optional[np.ndarray] = None
    foot_points: Optional[np.ndarray] = None


def _label(clip: Clip, index: int) -> str:
    return f"clip {index}" + (f" ({clip.name!r})" if clip.name else "")


def _first_bad_frame(bad: np.ndarray) -> int:
    return int(np.argwhere(bad.reshape(bad.shape[0], -1).any(axis=1))[0, 0])


def validate_clip(clip: Clip, index: int, num_keypoints: int) -> None:
    """Raises ValueError naming the clip, field and frame when ``clip`` is malformed."""
    label = _label(clip, index)
    t = np.shape(clip.pose)[0] if np.ndim(clip.pose) >= 1 else 0
    if t < 1:
        raise ValueError(f"{label}: field 'pose' must have shape (T, 72) with T >= 1, "
                         f"got {np.shape(clip.pose)}")
    expected = {
        "keypoints": (t, num_keypoints, 3), "pose": (t, 72), "betas": (t, 10), "cam": (t, 3),
        "crop_scale": (t,), "crop_start": (t, 2),
    }
    for field, shape in expected.items():
        got = np.shape(getattr(clip, field))
        if got != shape:
            hint = (" (keypoints must be in the body model's keypoint order and count)"
                    if field == "keypoints" else "")
            raise ValueError(f"{label}: field {field!r} has shape {got}, expected {shape}{hint}")
    for field in ("pose", "betas", "cam", "crop_scale", "crop_start"):
        arr = np.asarray(getattr(clip, field), np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{label}: field {field!r} is not finite at frame "
                             f"{_first_bad_frame(~np.isfinite(arr))}")
    kp = np.asarray(clip.keypoints, np.float64)
    conf = kp[..., 2]
    if not np.all(np.isfinite(conf)) or np.any(conf < 0):
        bad = ~np.isfinite(conf) | (conf < 0)
        raise ValueError(f"{label}: field 'keypoints' has a negative or non-finite confidence "
                         f"at frame {_first_bad_frame(bad)}")
    bad_xy = (conf[..., None] > 0) & ~np.isfinite(kp[..., :2])
    if np.any(bad_xy):
        raise ValueError(f"{label}: field 'keypoints' has non-finite x/y with a non-zero "
                         f"confidence at frame {_first_bad_frame(bad_xy)}")
    scale = np.asarray(clip.crop_scale, np.float64)
    if np.any(scale <= 0):
        raise ValueError(f"{label}: field 'crop_scale' must be > 0, frame "
                         f"{_first_bad_frame(scale <= 0)} is {scale[scale <= 0][0]}")
    s = np.asarray(clip.cam, np.float64)[:, 0]
    if np.any(s <= 0):
        raise ValueError(f"{label}: field 'cam' scale s must be > 0, frame "
                         f"{_first_bad_frame(s <= 0)} is {s[s <= 0][0]}")
    if not (np.isfinite(clip.crop_size) and clip.crop_size > 0):
        raise ValueError(f"{label}: crop_size must be a positive number, got {clip.crop_size}")


def validate_world_clip(clip: Clip, index: int) -> None:
    """The world mode's extra requirements: a focal length and a principal point."""
    label = _label(clip, index)
    if not (np.isfinite(clip.focal) and clip.focal > 0):
        raise ValueError(f"{label}: the world mode needs the camera's focal length in pixels "
                         f"(Clip.focal > 0), got {clip.focal}")
    if clip.center is None or np.shape(clip.center) != (2,) or \
            not np.all(np.isfinite(np.asarray(clip.center, np.float64))):
        raise ValueError(f"{label}: the world mode needs the principal point (Clip.center, "
                         f"(2,) pixels), got {clip.center!r}")


def normalized_keypoints(clip: Clip, vis_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Full-image pixel keypoints -> HMR's normalized crop coordinates and confidences.

    Returns:
      (T, K, 2) ``2 (xy * crop_scale - crop_start) / crop_size - 1`` and (T, K) confidence with
      points at or below ``vis_threshold`` set to 0 (their coordinates to 0, as SFV does).
    """
    kp = np.asarray(clip.keypoints, np.float64)
    conf = kp[..., 2]
    vis = conf > vis_threshold
    xy = image_to_crop_norm(kp[..., :2], np.asarray(clip.crop_scale, np.float64),
                            np.asarray(clip.crop_start, np.float64), clip.crop_size)
    xy = np.where(vis[..., None], xy, 0.0)
    return xy, np.where(vis, conf, 0.0)
