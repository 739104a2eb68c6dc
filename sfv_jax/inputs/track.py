"""One person's track through a video and per-frame detections.

NumPy only: this is the edge of the engine where files become arrays. A ``Track`` holds
what the solver needs for one person: frame indices, boxes, BODY_25 keypoints in
full-image pixels and, optionally, per-frame 3D estimates (HMR camera, pose, shape) with
the crop they were estimated in. Construction validates every field and names the source
file and the frame of the first bad value.

Crop convention (docs/design.md, ``geometry.crops``): ``image_px = (crop_px + crop_start) /
crop_scale``.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Mapping

import numpy as np

from sfv_jax import skeletons

CANONICAL_FORMAT = "body25"
NUM_KEYPOINTS = skeletons.num_keypoints(CANONICAL_FORMAT)


class InputError(ValueError):
    """Bad input file; the message names the file (and frame / field)."""


def _where(source: str) -> str:
    return f"{source}: " if source else ""


def first_bad_row(arr: np.ndarray) -> int | None:
    """Index along axis 0 of the first row holding a NaN or inf, or None."""
    bad = ~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


@dataclasses.dataclass(frozen=True, eq=False)
class Track:
    """One person through a video (all arrays NumPy, T frames).

    Attributes:
      frames: (T,) int64 video frame indices, strictly increasing.
      keypoints: (T, 25, 3) BODY_25 ``x, y, confidence`` in full-image pixels; missing = 0.
      boxes: (T, 4) ``x0, y0, x1, y1`` pixels (smoothed, gaps interpolated).
      image_size: (H, W) pixels.
      fps: frames per second of the video.
      observed: (T,) bool, True where a real detection was assigned (False in filled gaps).
        Defaults to "any keypoint has confidence > 0".
      pose: (T, 72) axis-angle initial pose, or None.
      betas: (T, 10) initial shape, or None.
      cam: (T, 3) HMR crop camera ``[s, tx, ty]``, or None.
      crop_scale: (T,) image resize factor of each frame's crop, or None.
      crop_start: (T, 2) top-left of the crop in the resized image (pixels), or None.
      crop_size: side of the square crop (pixels; HMR 224).
      source: file or folder the track was read from (for messages).
      video: video name.
      track_id: identity within the video.
    """

    frames: np.ndarray
    keypoints: np.ndarray
    boxes: np.ndarray
    image_size: tuple[int, int]
    fps: float = 30.0
    observed: np.ndarray | None = None
    pose: np.ndarray | None = None
    betas: np.ndarray | None = None
    cam: np.ndarray | None = None
    crop_scale: np.ndarray | None = None
    crop_start: np.ndarray | None = None
    crop_size: int = 224
    source: str = ""
    video: str = ""
    track_id: int = 0

    def __post_init__(self) -> None:
        src = _where(self.source)
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)

        frames = np.asarray(self.frames)
        if frames.ndim != 1 or frames.shape[0] == 0:
            raise ValueError(f"{src}frames must be a non-empty (T,) array, got shape {frames.shape}")
        if not np.issubdtype(frames.dtype, np.integer):
            if not np.all(np.isfinite(frames)) or np.any(frames != np.round(frames)):
                raise ValueError(f"{src}frames must be integers, got {frames[:5]}...")
        frames = frames.astype(np.int64)
        if np.any(np.diff(frames) <= 0):
            i = int(np.argmax(np.diff(frames) <= 0))
            raise ValueError(f"{src}frames must be strictly increasing; frame {frames[i + 1]} "
                             f"follows {frames[i]} at position {i + 1}")
        if frames[0] < 0:
            raise ValueError(f"{src}negative frame index {frames[0]}")
        set_("frames", frames)
        T = frames.shape[0]

        def check(name: str, value, shape: tuple, allow_none: bool = True):
            if value is None:
                if allow_none:
                    return None
                raise ValueError(f"{src}{name} is required")
            arr = np.asarray(value, dtype=np.float64)
            if arr.shape != shape:
                raise ValueError(f"{src}{name} must have shape {shape} for {T} frames, "
                                 f"got {arr.shape}")
            bad = first_bad_row(arr)
            if bad is not None:
                raise ValueError(f"{src}{name} has NaN/inf at frame {frames[bad]} "
                                 f"(track position {bad})")
            return arr

        kp = check("keypoints", self.keypoints, (T, NUM_KEYPOINTS, 3), allow_none=False)
        if np.any(kp[..., 2] < 0):
            bad = int(np.argmax((kp[..., 2] < 0).any(axis=1)))
            raise ValueError(f"{src}negative keypoint confidence at frame {frames[bad]}")
        set_("keypoints", kp)
        boxes = check("boxes", self.boxes, (T, 4), allow_none=False)
        if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
            bad = int(np.argmax((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])))
            raise ValueError(f"{src}box at frame {frames[bad]} has x1 < x0 or y1 < y0: {boxes[bad]}")
        set_("boxes", boxes)

        size = tuple(int(v) for v in np.asarray(self.image_size).reshape(-1))
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"{src}image_size must be (H, W) > 0, got {self.image_size}")
        set_("image_size", size)
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"{src}fps must be > 0, got {self.fps}")
        set_("fps", float(self.fps))

        if self.observed is None:
            obs = (kp[..., 2] > 0).any(axis=1)
        else:
            obs = np.asarray(self.observed).astype(bool)
            if obs.shape != (T,):
                raise ValueError(f"{src}observed must have shape ({T},), got {obs.shape}")
        set_("observed", obs)

        set_("pose", check("pose", self.pose, (T, skeletons.NUM_SMPL_JOINTS * 3)))
        set_("betas", check("betas", self.betas, (T, skeletons.NUM_BETAS)))
        set_("cam", check("cam", self.cam, (T, 3)))
        cs = check("crop_scale", self.crop_scale, (T,))
        if cs is not None and np.any(cs <= 0):
            bad = int(np.argmax(cs <= 0))
            raise ValueError(f"{src}crop_scale must be > 0, got {cs[bad]} at frame {frames[bad]}")
        set_("crop_scale", cs)
        set_("crop_start", check("crop_start", self.crop_start, (T, 2)))
        if (self.crop_scale is None) != (self.crop_start is None):
            raise ValueError(f"{src}crop_scale and crop_start come together")
        if int(self.crop_size) <= 0:
            raise ValueError(f"{src}crop_size must be > 0, got {self.crop_size}")
        set_("crop_size", int(self.crop_size))
        set_("track_id", int(self.track_id))
        set_("source", str(self.source))
        set_("video", str(self.video))

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def has_estimates(self) -> bool:
        return self.pose is not None and self.betas is not None and self.cam is not None

    def replace(self, **changes) -> "Track":
        """A copy with fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def slice(self, start: int, stop: int) -> "Track":
        """Track positions ``start:stop`` (not frame numbers)."""
        fields = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == self.num_frames:
                v = v[start:stop]
            fields[f.name] = v
        return Track(**fields)


@dataclasses.dataclass(frozen=True, eq=False)
class Detections:
    """Per-frame detections of a video before tracking.

    Attributes:
      people: {frame index: (P, 25, 3) BODY_25 keypoints in full-image pixels}; P may be 0.
      ids: {frame index: (P,) int64 identities from the source (PoseFlow ``idx``)} for the
        frames whose every person has one, or None when the source gave none.
      source: the file or folder read.
      video: video name (from the file names when available).
      source_format: keypoint format of the source before conversion to BODY_25.
      frame_numbering: how the reader numbered the frames ("file names (0-based)",
        "sorted position", ...; '' when the caller gave the numbers).
    """

    people: Mapping[int, np.ndarray]
    ids: Mapping[int, np.ndarray] | None = None
    source: str = ""
    video: str = ""
    source_format: str = CANONICAL_FORMAT
    frame_numbering: str = ""

    def __post_init__(self) -> None:
        src = _where(self.source)
        people = {}
        for f, kp in sorted(self.people.items()):
            arr = np.asarray(kp, dtype=np.float64)
            if arr.size == 0:
                arr = arr.reshape(0, NUM_KEYPOINTS, 3)
            if arr.ndim != 3 or arr.shape[1:] != (NUM_KEYPOINTS, 3):
                raise ValueError(f"{src}frame {f}: keypoints must be (P, {NUM_KEYPOINTS}, 3), "
                                 f"got {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{src}frame {f}: keypoints hold NaN/inf")
            people[int(f)] = arr
        object.__setattr__(self, "people", people)
        if self.ids is not None:
            ids = {}
            for f, v in self.ids.items():
                v = np.asarray(v, dtype=np.int64).reshape(-1)
                if int(f) not in people or v.shape[0] != people[int(f)].shape[0]:
                    raise ValueError(f"{src}frame {f}: {v.shape[0]} ids for "
                                     f"{people.get(int(f), np.zeros((0,))).shape[0]} people")
                ids[int(f)] = v
            object.__setattr__(self, "ids", ids)

    @property
    def frames(self) -> np.ndarray:
        """(F,) sorted frame indices that were read (including frames with no people)."""
        return np.asarray(sorted(self.people), dtype=np.int64)


def video_name_of(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    return os.path.splitext(base)[0]
