"""The ``Estimates`` record (per-frame HMR-style camera, pose, shape of one person), its limits
and its flat-layout constructor: shared by every estimates reader (``estimates``: .npz, HMMR,
VIBE; ``hmr_h5``: SFV's .h5), so that those readers do not import each other.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from sfv_jax import skeletons
from sfv_jax.inputs.track import InputError, first_bad_row

NUM_THETA = 3 + skeletons.NUM_SMPL_JOINTS * 3 + skeletons.NUM_BETAS  # 85
NPZ_LAYOUT = "sfv_jax.estimates/1"
# The largest per-frame field read is a (24, 3, 3) float64 rotation stack.
BYTES_PER_FRAME = skeletons.NUM_SMPL_JOINTS * 9 * 8
# Implausible values (HMR poses are within a few radians, shapes within a few units): beyond
# these the estimate is refused instead of driving the solve and the exports to inf / NaN.
MAX_ABS_POSE = 100.0
MAX_ABS_BETAS = 100.0
MAX_ABS_CAM = 1e4
# Every key any reader uses; other keys of a file are never read.
_KEYS = ("theta", "thetas", "omegas", "cam", "cams", "pred_cam", "pose", "poses", "betas",
         "shapes", "shape", "frames", "frame_ids", "frame_indices", "crop_scale", "crop_start",
         "crop_size", "layout")


@dataclasses.dataclass(frozen=True, eq=False)
class Estimates:
    """Per-frame 3D estimates of one person.

    Attributes:
      cam: (T, 3) HMR crop camera ``[s, tx, ty]``.
      pose: (T, 72) axis-angle.
      betas: (T, 10).
      frames: (T,) video frame indices, or None when the file only gives track positions.
      crop_scale: (T,) and crop_start: (T, 2): the crop ``cam`` refers to, or None.
      crop_size: crop side in pixels.
      source: the file read.
      track_id: the person's id in the file (VIBE), or None.
    """

    cam: np.ndarray
    pose: np.ndarray
    betas: np.ndarray
    frames: np.ndarray | None = None
    crop_scale: np.ndarray | None = None
    crop_start: np.ndarray | None = None
    crop_size: int = 224
    source: str = ""
    track_id: int | None = None

    def __post_init__(self) -> None:
        src = f"{self.source}: " if self.source else ""
        T = np.asarray(self.cam).shape[0] if np.ndim(self.cam) else 0

        def check(name: str, v, shape):
            if v is None:
                return None
            a = np.asarray(v, dtype=np.float64)
            if a.shape != shape:
                raise InputError(f"{src}{name} must have shape {shape}, got {a.shape}")
            bad = first_bad_row(a) if a.ndim else None
            if bad is not None:
                raise InputError(f"{src}{name} has NaN/inf at row {bad}"
                                 + (f" (frame {int(self.frames[bad])})" if self.frames is not None else ""))
            return a

        object.__setattr__(self, "cam", check("cam", self.cam, (T, 3)))
        object.__setattr__(self, "pose", check("pose", self.pose, (T, 72)))
        object.__setattr__(self, "betas", check("betas", self.betas, (T, 10)))
        if T == 0:
            raise InputError(f"{src}no frames")
        if self.frames is not None:
            fr = np.asarray(self.frames).reshape(-1)
            if fr.shape != (T,):
                raise InputError(f"{src}{fr.shape[0]} frame indices for {T} estimates")
            fr = fr.astype(np.int64)
            if np.any(np.diff(fr) <= 0):
                raise InputError(f"{src}frame indices are not strictly increasing")
            object.__setattr__(self, "frames", fr)
        object.__setattr__(self, "crop_scale", check("crop_scale", self.crop_scale, (T,)))
        object.__setattr__(self, "crop_start", check("crop_start", self.crop_start, (T, 2)))
        if (self.crop_scale is None) != (self.crop_start is None):
            raise InputError(f"{src}crop_scale and crop_start come together")
        self._check_plausible(src)
        object.__setattr__(self, "crop_size", int(self.crop_size))

    def _check_plausible(self, src: str) -> None:
        def first(mask: np.ndarray) -> str:
            row = int(np.argmax(mask.reshape(mask.shape[0], -1).any(axis=1)))
            return (f"frame {int(self.frames[row])}" if self.frames is not None
                    else f"position {row}")

        for name, arr, lim in (("pose", self.pose, MAX_ABS_POSE),
                               ("betas", self.betas, MAX_ABS_BETAS),
                               ("cam", self.cam, MAX_ABS_CAM)):
            bad = np.abs(arr) > lim
            if np.any(bad):
                raise InputError(f"{src}{name} value {arr[bad][0]:g} at {first(bad)} is "
                                 f"implausible (|{name}| <= {lim:g} expected)")
        if self.crop_scale is not None and np.any(self.crop_scale <= 0):
            bad = self.crop_scale <= 0
            raise InputError(f"{src}crop_scale must be > 0, got {self.crop_scale[bad][0]:g} at "
                             f"{first(bad)}")

    @property
    def num_frames(self) -> int:
        return int(self.cam.shape[0])


def _split_theta(theta: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 2 or theta.shape[1] != NUM_THETA:
        raise InputError(f"{where}: theta must be (T, {NUM_THETA}) (camera 3, pose 72, shape 10), "
                         f"got {theta.shape}")
    return theta[:, :3], theta[:, 3:75], theta[:, 75:]


def _rotmats_to_axis_angle(rot: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation  # edge-only conversion of file data

    rot = np.asarray(rot, dtype=np.float64)
    return Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_rotvec().reshape(rot.shape[0], -1)


def _pick(d: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return None


def estimates_from_mapping(d: Mapping[str, Any], source: str) -> Estimates:
    """The flat layout (see module doc) from a mapping of arrays."""
    theta = _pick(d, ("theta", "thetas", "omegas"))
    if theta is not None and np.asarray(theta).shape[-1:] == (NUM_THETA,):
        cam, pose, betas = _split_theta(np.asarray(theta).reshape(-1, NUM_THETA), source)
    else:
        cam = _pick(d, ("cam", "cams", "pred_cam"))
        pose = _pick(d, ("pose", "poses"))
        betas = _pick(d, ("betas", "shapes", "shape"))
        missing = [n for n, v in (("cam", cam), ("pose", pose), ("betas", betas)) if v is None]
        if missing and theta is not None:
            raise InputError(f"{source}: 'theta' has shape {np.shape(theta)}, expected (T, "
                             f"{NUM_THETA}) (camera 3, pose 72, shape 10)")
        if missing:
            raise InputError(f"{source}: no 'theta' (T, 85) and no {missing} "
                             f"(found keys {sorted(map(str, d))})")
        pose = np.asarray(pose, dtype=np.float64)
        if pose.ndim == 4 and pose.shape[1:] == (24, 3, 3):
            pose = _rotmats_to_axis_angle(pose)
    frames = _pick(d, ("frames", "frame_ids", "frame_indices"))
    crop_size = np.asarray(d.get("crop_size", 224))
    if crop_size.size != 1 or not np.isfinite(crop_size.astype(np.float64)).all() or \
            not 0 < float(crop_size.reshape(())) <= 1e5:
        raise InputError(f"{source}: crop_size must be one positive number, got {crop_size!r}")
    return Estimates(cam=np.asarray(cam), pose=np.asarray(pose), betas=np.asarray(betas),
                     frames=None if frames is None else np.asarray(frames),
                     crop_scale=_pick(d, ("crop_scale",)), crop_start=_pick(d, ("crop_start",)),
                     crop_size=int(np.asarray(crop_size)), source=source)


def _as_int(k: Any) -> int | None:
    if isinstance(k, (int, np.integer)):
        return int(k)
    if isinstance(k, str) and k.lstrip("-").isdigit():
        return int(k)
    return None
