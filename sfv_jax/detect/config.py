"""Config section ``detect`` of the raw-video front end: ``DetectSettings`` and ``detect_config()``.

``detect`` drives the optional MediaPipe detector (``sfv_jax.detect``). The frozen dataclass is
the single source of the section's defaults, types and docs (comments above each field);
library functions take a ``DetectSettings`` explicitly and nothing reads a config globally.
``detect_config()`` is the section as a ConfigDict for ``main`` and ``launch/`` (generated from
the dataclass, turned back with ``DetectSettings.from_config``; see ``sfv_jax.schema``). The
HMR-free initializer's section is ``sfv_jax.fitting.config`` (``FittingSettings``).
"""
from __future__ import annotations

import dataclasses

import ml_collections

from sfv_jax import schema


@dataclasses.dataclass(frozen=True)
class DetectSettings(schema.Section, section="detect"):
    """The ``detect`` section (each field documented above it)."""

    # --- person boxes ---------------------------------------------------------------------
    # How people are found before the per-person pose: 'hog' (OpenCV's HOG people detector,
    # one crop per box, several people per frame), 'full' (MediaPipe's own person detector on
    # the whole frame: at most one person), 'hog+full' (both, duplicates merged).
    person_detector: str = "hog+full"
    # Image upscale before HOG (its window is 64x128 px, so people shorter than ~128/upscale px
    # in the original frame are missed; vtest.avi's 70-100 px pedestrians need >= 1.5).
    hog_upscale: float = 1.5
    # HOG sliding-window stride in px of the upscaled image (smaller: slower, more boxes).
    hog_win_stride: int = 8
    # HOG image-pyramid step (>1; smaller: finer scales, slower).
    hog_pyramid_scale: float = 1.1
    # Minimum HOG SVM score of a box (OpenCV's weights; ~0 = everything, 1 = confident).
    hog_min_score: float = 0.3
    # Boxes overlapping more than this IoU are merged (non-maximum suppression), 0..1.
    box_nms_iou: float = 0.4
    # At most this many people are kept per frame (highest scores first).
    max_people: int = 20

    # --- per-person pose (MediaPipe Pose, legacy solution) ----------------------------------
    # MediaPipe model complexity; only 1 ships its weights in the wheel (0 and 2 download),
    # so 1 is the only value accepted.
    model_complexity: int = 1
    # MediaPipe's person-detector confidence threshold (0..1).
    min_detection_confidence: float = 0.5
    # A crop is the box grown by this factor around its centre (context for MediaPipe's own
    # detector, which needs the whole body and some margin), then made square.
    crop_margin: float = 1.5
    # When MediaPipe finds someone outside the box in that crop (a neighbour), the crop is
    # retried once with this smaller margin.
    retry_crop_margin: float = 1.1
    # Side in px the square crop is resized to before MediaPipe (small people are upscaled).
    crop_resolution: int = 256
    # A person is kept when the mean visibility of its 12 torso/limb landmarks is above this.
    min_mean_visibility: float = 0.5
    # Two people whose keypoint boxes overlap above this IoU are the same person (one kept).
    person_nms_iou: float = 0.5
    # Landmarks outside the image are given this confidence factor (0 drops them).
    outside_confidence: float = 0.0

    # --- video and output -----------------------------------------------------------------
    # First frame to read (0-based) and the number of frames (-1: to the end of the video).
    start_frame: int = 0
    num_frames: int = -1
    # Read every n-th frame (1 = all); output frame numbers stay those of the video.
    frame_step: int = 1
    # Show a tqdm progress bar.
    progress: bool = True

    def __post_init__(self) -> None:
        s = "detect"
        schema.require(self.person_detector in ("hog", "full", "hog+full"), s,
                       f"person_detector must be 'hog', 'full' or 'hog+full', got "
                       f"{self.person_detector!r}")
        schema.require(self.model_complexity == 1, s,
                       "model_complexity must be 1: only that model ships inside the mediapipe "
                       f"wheel (0 and 2 are downloaded), got {self.model_complexity}")
        schema.require(self.hog_upscale > 0 and self.crop_margin > 0
                       and self.retry_crop_margin > 0, s,
                       "hog_upscale, crop_margin and retry_crop_margin must be > 0")
        schema.require(self.hog_pyramid_scale > 1.0, s,
                       f"hog_pyramid_scale must be > 1, got {self.hog_pyramid_scale}")
        schema.require(self.hog_win_stride >= 1 and self.max_people >= 1
                       and self.crop_resolution >= 1 and self.frame_step >= 1, s,
                       "hog_win_stride, max_people, crop_resolution and frame_step must be >= 1")
        for name in ("box_nms_iou", "person_nms_iou", "min_detection_confidence",
                     "min_mean_visibility", "outside_confidence"):
            schema.require(0.0 <= getattr(self, name) <= 1.0, s,
                           f"{name} must be in 0..1, got {getattr(self, name)}")
        schema.require(self.start_frame >= 0 and self.num_frames >= -1, s,
                       "start_frame must be >= 0 and num_frames >= -1 (-1: to the end)")


def detect_config() -> ml_collections.ConfigDict:
    """The ``detect`` section with its defaults, as a ConfigDict (the edge: main, launch)."""
    return schema.to_config(DetectSettings())
