"""Geometry of the detector's boxes and landmarks (NumPy only; no OpenCV, no MediaPipe).

Boxes are ``(x0, y0, x1, y1)`` full-image pixels. A crop is a square ``(x0, y0, side)`` in
full-image pixels that may reach outside the image (the outside is padded black).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from sfv_jax import skeletons
from sfv_jax.geometry.boxes import box_iou, nms  # noqa: F401  (re-exported)
from sfv_jax.geometry.crops import visible_box

# MediaPipe landmarks that decide whether a crop holds a person: shoulders, elbows, wrists,
# hips, knees, ankles.
_CORE_NAMES = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
               "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
               "right_ankle")
MP_NAMES = skeletons.keypoint_names("mediapipe33")
CORE_IDX = np.asarray([MP_NAMES.index(n) for n in _CORE_NAMES])


@dataclasses.dataclass(frozen=True)
class Person:
    """One detected person in one frame.

    Attributes:
      box: (4,) x0, y0, x1, y1 of the person box that produced the crop (px).
      score: scalar, mean visibility of the core landmarks (0..1).
      image_landmarks: (33, 4) MediaPipe landmarks: x, y full-image px, z (MediaPipe's relative
        depth, scaled like x in px), visibility.
      world_landmarks: (33, 4) MediaPipe world landmarks: x, y, z metres around the hip centre
        (x right, y down, z away from the camera: the HMR camera frame) and visibility.
      body25: (25, 3) BODY_25 keypoints x, y px, confidence (neck / mid-hip synthesized).
    """
    box: np.ndarray
    score: float
    image_landmarks: np.ndarray
    world_landmarks: np.ndarray
    body25: np.ndarray


def square_crop(box: np.ndarray, margin: float) -> np.ndarray:
    """Box (4,) -> square crop (3,) ``x0, y0, side`` centred on it, side = margin * longer side."""
    x0, y0, x1, y1 = np.asarray(box, np.float64)
    side = margin * max(x1 - x0, y1 - y0)
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    return np.asarray([cx - 0.5 * side, cy - 0.5 * side, side])


def square_crop_to_image(points: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """Landmarks normalized to a ``square_crop`` (..., 2+) -> full-image px (x, y; z like x).

    (A detector crop, not HMR's crop of ``geometry.crops``.)

    Args:
      points: (..., C) with x, y in 0..1 of the crop (C >= 2; a third channel z is scaled by the
        crop side like x, any further channels are copied).
      crop: (3,) x0, y0, side in full-image px.
    """
    points = np.asarray(points, np.float64)
    out = points.copy()
    x0, y0, side = np.asarray(crop, np.float64)
    out[..., 0] = x0 + points[..., 0] * side
    out[..., 1] = y0 + points[..., 1] * side
    if points.shape[-1] > 3:
        out[..., 2] = points[..., 2] * side
    return out


def keypoint_box(kp: np.ndarray, min_confidence: float = 0.1) -> np.ndarray:
    """Tight box (4,) of the confident points of kp (K, 3) (x, y, conf); zeros if none."""
    kp = np.asarray(kp)
    lo, hi, _ = visible_box(kp[:, :2], kp[:, 2] > min_confidence)
    return np.concatenate([lo, hi])


def make_person(box: np.ndarray, image_landmarks: np.ndarray, world_landmarks: np.ndarray,
                image_size: tuple[int, int], outside_confidence: float) -> Person:
    """Builds a ``Person`` from full-image landmarks (33, 4) and world landmarks (33, 4).

    Landmarks outside the ``image_size`` (width, height) get their confidence multiplied by
    ``outside_confidence``; BODY_25 comes from ``skeletons.convert_keypoints``.
    """
    width, height = image_size
    lm = np.asarray(image_landmarks, np.float64)
    vis = np.clip(lm[:, 3], 0.0, 1.0)
    inside = (lm[:, 0] >= 0) & (lm[:, 0] < width) & (lm[:, 1] >= 0) & (lm[:, 1] < height)
    conf = np.where(inside, vis, vis * outside_confidence)
    kp33 = np.concatenate([lm[:, :2], conf[:, None]], axis=1)
    body25 = skeletons.convert_keypoints(kp33, "mediapipe33", "body25")
    score = float(vis[CORE_IDX].mean())
    return Person(box=np.asarray(box, np.float64), score=score,
                  image_landmarks=np.concatenate([lm[:, :3], conf[:, None]], axis=1),
                  world_landmarks=np.asarray(world_landmarks, np.float64), body25=body25)


def matches_box(person: Person | None, box: np.ndarray) -> bool:
    """Whether a crop's person belongs to its box: its keypoint-box centre lies inside the box."""
    if person is None:
        return False
    kb = keypoint_box(person.body25)
    cx, cy = 0.5 * (kb[0] + kb[2]), 0.5 * (kb[1] + kb[3])
    x0, y0, x1, y1 = np.asarray(box, np.float64)
    return bool(x0 <= cx <= x1 and y0 <= cy <= y1)


def dedupe_people(people: list[Person], iou_threshold: float, max_people: int) -> list[Person]:
    """Drops people whose keypoint boxes overlap a better-scored one above ``iou_threshold``."""
    if not people:
        return []
    boxes = np.stack([keypoint_box(p.body25) for p in people])
    keep = nms(boxes, np.asarray([p.score for p in people]), iou_threshold)
    return [people[i] for i in keep[:max_people]]


def track_world_landmarks(track: Any, landmarks: dict) -> np.ndarray:
    """(T, 33, 4) MediaPipe world landmarks of a track's frames (zero where none matches).

    A track frame takes the detection of that frame whose BODY_25 keypoints are the track's.
    """
    out = np.zeros((track.num_frames, 33, 4), np.float32)
    rows_by_frame: dict[int, list[int]] = {}
    for r, f in enumerate(landmarks["frame"]):
        rows_by_frame.setdefault(int(f), []).append(r)
    for i, f in enumerate(track.frames):
        best, best_d = -1, np.inf
        for r in rows_by_frame.get(int(f), []):
            d = float(np.abs(landmarks["body25"][r][:, :2] - track.keypoints[i, :, :2]).max())
            if d < best_d:
                best, best_d = r, d
        if best >= 0 and best_d < 1.0:
            out[i] = landmarks["world_landmarks"][best]
    return out
