"""Config sections of the raw-video front end: ``detect_config()`` and ``fitting_config()``.

``detect`` drives the optional MediaPipe detector (``sfv_jax.detect``); ``fitting`` drives the
HMR-free initializer ``sfv_jax.fitting`` (core package, no MediaPipe). Library functions take
their section explicitly (``fitting.FitOptions.from_config(cfg)`` for the fitter); nothing reads
a config globally.
"""
from __future__ import annotations

import ml_collections

from sfv_jax.fitting.config import fitting_config  # noqa: F401  (moved; re-exported)


def detect_config() -> ml_collections.ConfigDict:
    """The ``detect`` section with its defaults (each key documented inline)."""
    c = ml_collections.ConfigDict()

    # --- person boxes ---------------------------------------------------------------------
    # How people are found before the per-person pose: 'hog' (OpenCV's HOG people detector,
    # one crop per box, several people per frame), 'full' (MediaPipe's own person detector on
    # the whole frame: at most one person), 'hog+full' (both, duplicates merged).
    c.person_detector = "hog+full"
    # Image upscale before HOG (its window is 64x128 px, so people shorter than ~128/upscale px
    # in the original frame are missed; vtest.avi's 70-100 px pedestrians need >= 1.5).
    c.hog_upscale = 1.5
    # HOG sliding-window stride in px of the upscaled image (smaller: slower, more boxes).
    c.hog_win_stride = 8
    # HOG image-pyramid step (>1; smaller: finer scales, slower).
    c.hog_pyramid_scale = 1.1
    # Minimum HOG SVM score of a box (OpenCV's weights; ~0 = everything, 1 = confident).
    c.hog_min_score = 0.3
    # Boxes overlapping more than this IoU are merged (non-maximum suppression), 0..1.
    c.box_nms_iou = 0.4
    # At most this many people are kept per frame (highest scores first).
    c.max_people = 20

    # --- per-person pose (MediaPipe Pose, legacy solution) ----------------------------------
    # MediaPipe model complexity; only 1 ships its weights in the wheel (0 and 2 download).
    c.model_complexity = 1
    # MediaPipe's person-detector confidence threshold (0..1).
    c.min_detection_confidence = 0.5
    # A crop is the box grown by this factor around its centre (context for MediaPipe's own
    # detector, which needs the whole body and some margin), then made square.
    c.crop_margin = 1.5
    # When MediaPipe finds someone outside the box in that crop (a neighbour), the crop is
    # retried once with this smaller margin.
    c.retry_crop_margin = 1.1
    # Side in px the square crop is resized to before MediaPipe (small people are upscaled).
    c.crop_resolution = 256
    # A person is kept when the mean visibility of its 12 torso/limb landmarks is above this.
    c.min_mean_visibility = 0.5
    # Two people whose keypoint boxes overlap above this IoU are the same person (one kept).
    c.person_nms_iou = 0.5
    # Landmarks outside the image are given this confidence factor (0 drops them).
    c.outside_confidence = 0.0

    # --- video and output -----------------------------------------------------------------
    # First frame to read (0-based) and the number of frames (-1: to the end of the video).
    c.start_frame = 0
    c.num_frames = -1
    # Read every n-th frame (1 = all); output frame numbers stay those of the video.
    c.frame_step = 1
    # Show a tqdm progress bar.
    c.progress = True
    return c
