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
    # --- matching estimates (HMR / HMMR / VIBE / SFV files) to tracks (inputs.association) ---
    # An estimate is attached only when its match score (0..1: fraction of the track's frames
    # it covers, weighted by per-frame agreement of its crop and projection with the track's
    # box and keypoints) is at least this ...
    c.estimate_min_score = 0.3
    # Per-frame agreement is exp(-(d / (estimate_center_scale * box diagonal))^2) for the
    # distance d of the estimate's crop centre to the track's box centre (unitless) ...
    c.estimate_center_scale = 0.25
    # ... or, for an estimate without crops of its own, exp(-(e / estimate_error_scale)^2)
    # for the mean distance e of its projected model keypoints to the track's keypoints, in
    # box diagonals (unitless; HMR-like estimates of the right person sit near 0.05, of
    # another person's pose from 0.09 on).
    c.estimate_error_scale = 0.12
    # ... and the next-best track scores below this fraction of the best one (0..1);
    # otherwise the match is ambiguous and the estimate is left out (reported).
    c.estimate_ambiguity = 0.7
    # Refuse an attached estimate whose initial 2D error (mean distance of its projected
    # model keypoints to the track's keypoints, over observed frames) exceeds this fraction
    # of the person's size (median box diagonal; unitless). 0 disables the check.
    c.estimate_max_init_error = 0.5
    # --- limits on hostile or careless files (checked before anything is allocated) ---
    # Most frames one video's files may cover (frames; 200,000 = 1.85 h at 30 fps). Estimate
    # files may hold at most twice the video's known frame count + 100 (estimates.frame_limit),
    # and their arrays are size-checked against that from the headers before reading.
    c.max_frames = 200_000
    # Most a compressed estimates pickle (joblib) may decompress to (MiB).
    c.max_decompressed_mb = 4096.0
    # Keypoint confidences above 1 + this are refused as implausible (OpenPose / AlphaPose
    # scores lie in 0..1; AlphaPose's can exceed 1 slightly).
    c.confidence_tolerance = 0.5
    # Largest image side accepted from info.json or a video (pixels).
    c.max_image_side = 16384
    # Keypoints may lie at most this many image sizes outside the image (unitless); farther
    # ones mean the image size does not belong to the keypoints.
    c.max_outside_image = 1.0
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
    # velocity (frames; SFV OCCL_THR 30). Source-id tracks are split at longer gaps too.
    c.max_gap = 30
    # Bridging a gap (one or more missed frames) also needs a consistent person: the
    # detection's size (sqrt of box area) within this factor of the track's last whole-person
    # box (unitless, >= 1) ...
    c.gap_size_ratio = 1.6
    # ... and its centre within this many person sizes of the constant-velocity prediction
    # per sqrt(missed frame) (person sizes / sqrt(frame)). Otherwise the detection starts a
    # new track (or, for source ids, ends the id's track and starts another).
    c.gap_max_shift = 0.5
    # Tracks appear only from detections with at least this score (mean visible confidence).
    c.min_new_track_score = 0.0
    # --- filters on finished tracks ---
    # Minimum number of frames with a real detection (frames).
    c.min_track_frames = 10
    # Minimum fraction (0..1) of a track's own span, first to last detection, with a real
    # detection; 0 disables. A track mostly made of bridged gaps is more guess than person
    # (17 detections over 79 frames, 0.22, goes; a person hidden for 16 of 28 frames, 0.43,
    # stays). SFV's FREQ_THR 0.1 was a fraction of the whole video instead, which drops
    # everyone who crosses a multi-person view quickly.
    c.min_track_fraction = 0.3
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
    # instead of the tracker's own assignment when every detection has one and they tell
    # people apart (``tracker.ids_carry_identity``: at most 5% of the frames with several
    # people repeat an id); otherwise the tracker runs.
    c.use_source_ids = True
    return c
