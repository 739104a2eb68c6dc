"""Video (or image) -> OpenPose-style per-frame JSON + an .npz of MediaPipe landmarks.

Output files in ``output_dir`` for an input named ``<name>.<ext>``:

- ``<name>_<frame:012d>_keypoints.json`` per processed frame (OpenPose's layout, version 1.3):
  ``people[i].pose_keypoints_2d`` is BODY_25 flattened ``x, y, c`` in full-image pixels.
  Frames with nobody still get a file (``people: []``) so readers see every processed frame.
- ``<name>_mediapipe.npz`` with one row per detected person (``D`` rows):
  ``frame (D,) int64`` video frame number, ``person (D,) int64`` index in that frame's
  ``people`` list, ``box (D, 4)`` x0, y0, x1, y1 px of the person box, ``score (D,)``,
  ``image_landmarks (D, 33, 4)`` x, y px, z, confidence, ``world_landmarks (D, 33, 4)`` x, y, z
  metres (HMR camera frame: x right, y down, z away from the camera; origin between the hips)
  and visibility, ``body25 (D, 25, 3)``; plus ``frames (F,)`` every processed frame number,
  ``image_size (2,)`` width, height, ``fps ()`` of the video (0 for an image),
  ``landmark_names (33,)`` MediaPipe's names.

Every file is written atomically (temp file in the same folder, then ``os.replace``).
"""
from __future__ import annotations

import contextlib
import os
import time
from typing import Callable, Iterator

import cv2
import numpy as np

from sfv_jax import atomic
from sfv_jax.detect import landmarks as lm_lib
from sfv_jax.detect.config import DetectSettings
from sfv_jax.detect.detector import PoseDetector
from sfv_jax.detect.landmarks import Person

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def frame_json_path(output_dir: str, name: str, frame: int) -> str:
    """OpenPose's per-frame file name ``<name>_<frame:012d>_keypoints.json``."""
    return os.path.join(output_dir, f"{name}_{frame:012d}_keypoints.json")


def landmarks_path(output_dir: str, name: str) -> str:
    return os.path.join(output_dir, f"{name}_mediapipe.npz")


def openpose_frame(people: list[Person]) -> dict:
    """OpenPose JSON document of one frame (BODY_25 pose keypoints only)."""
    return {
        "version": 1.3,
        "people": [{
            "person_id": [-1],
            "pose_keypoints_2d": [round(float(v), 3) for v in p.body25.reshape(-1)],
            "face_keypoints_2d": [], "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [],
            "pose_keypoints_3d": [], "face_keypoints_3d": [], "hand_left_keypoints_3d": [],
            "hand_right_keypoints_3d": [],
        } for p in people],
    }


def iter_frames(path: str, start: int = 0, num: int = -1,
                step: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Yields (frame number, BGR image) of a video or a single image file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such video or image")
    if step < 1 or start < 0:
        raise ValueError(f"{path}: frame_step must be >= 1 and start_frame >= 0, got "
                         f"{step}, {start}")
    if path.lower().endswith(IMAGE_EXTENSIONS):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: OpenCV cannot decode this image")
        if start == 0 and num != 0:
            yield 0, image
        return
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise ValueError(f"{path}: OpenCV cannot open this video")
    try:
        if start:
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        count, index = 0, start
        while num < 0 or count < num:
            ok, image = cap.read()
            if not ok:
                if index == start:
                    raise ValueError(f"{path}: no decodable frame at frame {start}")
                break
            if (index - start) % step == 0:
                yield index, image
                count += 1
            index += 1
    finally:
        cap.release()


def video_info(path: str) -> tuple[float, int]:
    """(fps, frame count) of a video; (0, 1) for an image."""
    if path.lower().endswith(IMAGE_EXTENSIONS):
        return 0.0, 1
    cap = cv2.VideoCapture(path)
    try:
        return float(cap.get(cv2.CAP_PROP_FPS) or 0.0), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()


def _pack(rows: list[tuple[int, int, Person]], frames: list[int], image_size: tuple[int, int],
          fps: float) -> dict[str, np.ndarray]:
    people = [p for _, _, p in rows]
    return {
        "frame": np.asarray([f for f, _, _ in rows], np.int64),
        "person": np.asarray([i for _, i, _ in rows], np.int64),
        "box": np.asarray([p.box for p in people], np.float64).reshape(-1, 4),
        "score": np.asarray([p.score for p in people], np.float64),
        "image_landmarks": np.asarray([p.image_landmarks for p in people],
                                      np.float64).reshape(-1, 33, 4),
        "world_landmarks": np.asarray([p.world_landmarks for p in people],
                                      np.float64).reshape(-1, 33, 4),
        "body25": np.asarray([p.body25 for p in people], np.float64).reshape(-1, 25, 3),
        "frames": np.asarray(frames, np.int64),
        "image_size": np.asarray(image_size, np.int64),
        "fps": np.asarray(fps, np.float64),
        "landmark_names": np.asarray(lm_lib.MP_NAMES),
    }


def detect_video(path: str, output_dir: str, cfg: DetectSettings,
                 name: str | None = None,
                 detector: Callable[[np.ndarray], list[Person]] | None = None) -> dict:
    """Runs the detector over a video or image and writes the files described above.

    Args:
      path: video (anything OpenCV decodes) or image file.
      output_dir: folder for the JSON files and the .npz (created).
      cfg: ``DetectSettings`` (a ``detect`` ConfigDict section is converted).
      name: file-name prefix; defaults to the input's base name without extension.
      detector: BGR frame -> people; default a ``PoseDetector(cfg)`` (needs mediapipe).

    Returns:
      Summary: ``frames`` processed, ``people_per_frame`` (list), ``mean_people``, seconds and
      frames per second of each stage (``decode``, ``boxes``, ``pose``, ``write``, ``total``),
      and the output paths.
    """
    cfg = DetectSettings.from_config(cfg)
    name = name or os.path.splitext(os.path.basename(path))[0]
    os.makedirs(output_dir, exist_ok=True)
    fps, total = video_info(path)
    want = total - cfg.start_frame if cfg.num_frames < 0 else cfg.num_frames
    want = max(0, -(-want // cfg.frame_step))
    rows: list[tuple[int, int, Person]] = []
    frames: list[int] = []
    counts: list[int] = []
    seconds = {"decode": 0.0, "write": 0.0}
    image_size = (0, 0)
    bar = None
    if cfg.progress:
        from tqdm import tqdm  # pylint: disable=import-outside-toplevel
        bar = tqdm(total=want or None, desc=f"detect {name}", unit="frame")
    t_start = time.perf_counter()
    own = detector is None
    with (PoseDetector(cfg) if own else contextlib.nullcontext(detector)) as det:
        t = time.perf_counter()
        for frame, image in iter_frames(path, cfg.start_frame, cfg.num_frames,
                                        cfg.frame_step):
            seconds["decode"] += time.perf_counter() - t
            image_size = (image.shape[1], image.shape[0])
            people = det(image)
            t = time.perf_counter()
            atomic.write_json(frame_json_path(output_dir, name, frame), openpose_frame(people),
                              indent=None)
            rows.extend((frame, i, p) for i, p in enumerate(people))
            frames.append(frame)
            counts.append(len(people))
            seconds["write"] += time.perf_counter() - t
            if bar is not None:
                bar.update(1)
                bar.set_postfix(people=len(people))
            t = time.perf_counter()
        seconds.update(getattr(det, "timings", {}))
    if bar is not None:
        bar.close()
    if not frames:
        raise ValueError(f"{path}: no frames to process (start_frame={cfg.start_frame}, "
                         f"num_frames={cfg.num_frames})")
    t = time.perf_counter()
    npz = landmarks_path(output_dir, name)
    atomic.save_npz(npz, compressed=True, **_pack(rows, frames, image_size, fps))
    seconds["write"] += time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t_start
    n = len(frames)
    return {
        "input": path, "name": name, "output_dir": output_dir, "landmarks": npz,
        "frames": n, "people_per_frame": counts, "mean_people": float(np.mean(counts)),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "fps": {k: round(n / v, 2) if v > 0 else float("inf") for k, v in seconds.items()},
    }


def load_landmarks(path: str) -> dict[str, np.ndarray]:
    """Reads a ``<name>_mediapipe.npz`` written by ``detect_video`` and checks its fields."""
    need = {"frame": 1, "person": 1, "box": 2, "score": 1, "image_landmarks": 3,
            "world_landmarks": 3, "body25": 3, "frames": 1, "image_size": 1}
    data = atomic.load_npz(path, "landmarks file")
    for key, ndim in need.items():
        if key not in data:
            raise ValueError(f"{path}: missing field {key!r}")
        if data[key].ndim != ndim:
            raise ValueError(f"{path}: field {key!r} should have {ndim} dims, has shape "
                             f"{data[key].shape}")
    d = len(data["frame"])
    for key in ("person", "box", "score", "image_landmarks", "world_landmarks", "body25"):
        if len(data[key]) != d:
            raise ValueError(f"{path}: field {key!r} has {len(data[key])} rows, 'frame' has {d}")
    return data
