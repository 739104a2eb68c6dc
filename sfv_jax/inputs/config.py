"""Config sections of the inputs layer: readers and the multi-person tracker.

Two sections, each a function returning a documented ``ml_collections.ConfigDict``:
``reading_config()`` (how readers treat doubtful input) and ``tracking_config()`` (every
threshold of ``tracker.track_people``). Library functions take the section explicitly.
Numbers marked "SFV" are the values of the original ``run_openpose.py`` / ``src/util``.
"""
from __future__ import annotations

import ml_collections


def reading_config() -> ml_collections.ConfigDict:
    """Reader policies (``openpose.py``, ``alphapose.py``, ``estimates.py``)."""
    c = ml_collections.ConfigDict()
    # What to do with a frame file that cannot be parsed (malformed / empty JSON, wrong
    # keypoint count): "error" raises naming the file, "skip" drops the frame with a warning
    # (the tracker then bridges it like any gap).
    c.bad_frame = "skip"
    # NaN / inf keypoint values: "missing" zeroes the point (confidence 0) with a warning
    # naming file and person; "error" raises.
    c.nan_keypoints = "missing"
    # Keypoints with confidence below this are zeroed (x, y, c = 0) on reading; 0 keeps all.
    c.min_confidence = 0.0
    # VIBE crops a square of side max(w, h) * this around its box (VIBE's bbox_scale 1.1).
    c.vibe_bbox_scale = 1.1
    # Crop side VIBE's cameras refer to (pixels; VIBE 224).
    c.crop_size = 224
    return c


def tracking_config() -> ml_collections.ConfigDict:
    """Thresholds of the tracker (boxes, NMS, matching, gaps, filters, smoothing, crops)."""
    c = ml_collections.ConfigDict()
    # --- boxes from keypoints ---
    # A keypoint counts as visible above this confidence (SFV VIS_THR 0.1).
    c.vis_thresh = 0.1
    # A detection needs at least this many visible keypoints (SFV NUM_VIS_THR 5).
    c.min_visible = 5
    # Box = tight box of visible keypoints grown by this fraction of its larger side on each
    # side (unitless). Keypoints sit inside the body, the box should cover the body.
    c.box_pad = 0.1
    # --- non-maximum suppression within a frame ---
    # Drop a detection whose box IoU with a higher-scoring one exceeds this (SFV NMS_THR 0.5,
    # but on proper IoU instead of the original's overlap-over-other-area).
    c.nms_iou = 0.5
    # --- frame-to-frame assignment (scipy linear_sum_assignment on 1 - similarity) ---
    # similarity = (iou_weight * IoU + oks_weight * OKS) / (iou_weight + oks_weight).
    c.iou_weight = 1.0
    c.oks_weight = 1.0
    # OKS spread: a keypoint's falloff sigma is this fraction of sqrt(box area) (unitless).
    c.oks_sigma = 0.1
    # The OKS sigma grows by this fraction per missed frame, since the predicted position of
    # an unseen person gets less certain (unitless per frame).
    c.oks_gap_growth = 0.25
    # Assignment cost added per missed frame of a track (unitless per frame; not part of the
    # gate), so that a track seen in the previous frame wins a detection that a long-unseen
    # track also covers.
    c.gap_penalty = 0.05
    # A pair is matched only if its similarity is at least this (0..1; SFV IOU_THR 0.05).
    c.min_similarity = 0.05
    # Velocity estimate: exponential average weight of the newest displacement (0..1].
    c.velocity_smoothing = 0.5
    # A track survives up to this many frames without a detection, predicted with constant
    # velocity (frames; SFV OCCL_THR 30).
    c.max_gap = 30
    # Tracks appear only from detections with at least this score (mean visible confidence).
    c.min_new_track_score = 0.0
    # --- filters on finished tracks ---
    # Minimum number of frames with a real detection (frames).
    c.min_track_frames = 10
    # Minimum observed frames as a fraction of the span in which anyone was detected; 0
    # disables. SFV used 0.1 (FREQ_THR) on single-person clips; in a multi-person video it
    # drops everyone who crosses the view quickly, so it is off by default.
    c.min_track_fraction = 0.0
    # Minimum mean detection score over the observed frames (SFV SCORE_THR 0.4, a median there).
    c.min_track_score = 0.4
    # Trailing frames whose detection score is below this are cut (SFV END_BOX_CONF 0.1).
    c.end_score = 0.1
    # --- smoothing of the box trajectory (median then Gaussian, as SFV) ---
    # Median filter length (frames, odd; SFV 11); shortened to fit short tracks.
    c.median_kernel = 11
    # Gaussian sigma (frames; SFV 3). 0 disables.
    c.gaussian_sigma = 3.0
    # --- HMR crops ---
    # The person (diagonal of the visible keypoints' extent) is scaled to this many pixels
    # (SFV 150) ...
    c.person_px = 150.0
    # ... inside a square crop of this size (pixels; HMR 224).
    c.crop_size = 224
    # Detection ids given by the source (AlphaPose PoseFlow ``idx``) are used as identities
    # instead of the tracker's own assignment when every detection has one.
    c.use_source_ids = True
    return c
