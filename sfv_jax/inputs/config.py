"""Config sections of the inputs layer: readers and the multi-person tracker.

Two sections, each a frozen dataclass that is the single source of its defaults, types and docs
(comments above each field): ``ReadingSettings`` (section ``reading``: how readers treat
doubtful input) and ``TrackingSettings`` (section ``tracking``: every threshold of
``tracker.track_people``). Library functions take the settings explicitly; ``reading_config()``
and ``tracking_config()`` are the sections as ConfigDicts for ``main`` and ``launch/``
(generated from the dataclasses, turned back with ``XxxSettings.from_config``; see
``sfv_jax.schema``). Numbers marked "SFV" are the values of the original ``run_openpose.py`` /
``src/util``.
"""
from __future__ import annotations

import dataclasses

import ml_collections

from sfv_jax import schema


@dataclasses.dataclass(frozen=True)
class ReadingSettings(schema.Section, section="reading"):
    """The ``reading`` section: reader policies (``openpose.py``, ``alphapose.py``, ``estimates.py``)."""

    # What to do with a frame file that cannot be parsed (malformed / empty JSON, wrong
    # keypoint count): "error" raises naming the file, "skip" drops the frame with a warning
    # (the tracker then bridges it like any gap).
    bad_frame: str = "skip"
    # NaN / inf keypoint values: "missing" zeroes the point (confidence 0) with a warning
    # naming file and person; "error" raises.
    nan_keypoints: str = "missing"
    # Keypoints with confidence below this are zeroed (x, y, c = 0) on reading; 0 keeps all.
    min_confidence: float = 0.0
    # VIBE crops a square of side max(w, h) * this around its box (VIBE's bbox_scale 1.1).
    vibe_bbox_scale: float = 1.1
    # Crop side VIBE's cameras refer to (pixels; VIBE 224).
    crop_size: int = 224
    # --- matching estimates (HMR / HMMR / VIBE / SFV files) to tracks (inputs.association) ---
    # An estimate is attached only when its match score (0..1: fraction of the track's frames
    # it covers, weighted by per-frame agreement of its crop and projection with the track's
    # box and keypoints) is at least this ...
    estimate_min_score: float = 0.3
    # Per-frame agreement is exp(-(d / (estimate_center_scale * box diagonal))^2) for the
    # distance d of the estimate's crop centre to the track's box centre (unitless) ...
    estimate_center_scale: float = 0.25
    # ... or, for an estimate without crops of its own, exp(-(e / estimate_error_scale)^2)
    # for the mean distance e of its projected model keypoints to the track's keypoints, in
    # box diagonals (unitless; HMR-like estimates of the right person sit near 0.05, of
    # another person's pose from 0.09 on).
    estimate_error_scale: float = 0.12
    # ... and the next-best track scores below this fraction of the best one (0..1);
    # otherwise the match is ambiguous and the estimate is left out (reported).
    estimate_ambiguity: float = 0.7
    # Refuse an attached estimate whose initial 2D error (mean distance of its projected
    # model keypoints to the track's keypoints, over observed frames) exceeds this fraction
    # of the person's size (median box diagonal; unitless). 0 disables the check.
    estimate_max_init_error: float = 0.5
    # --- limits on hostile or careless files (checked before anything is allocated) ---
    # Most frames one video's files may cover (frames; 200,000 = 1.85 h at 30 fps). Estimate
    # files may hold at most twice the video's known frame count + 100 (estimates.frame_limit),
    # and their arrays are size-checked against that from the headers before reading.
    max_frames: int = 200_000
    # Most a compressed estimates pickle (joblib) may decompress to (MiB).
    max_decompressed_mb: float = 4096.0
    # Keypoint confidences above 1 + this are refused as implausible (OpenPose / AlphaPose
    # scores lie in 0..1; AlphaPose's can exceed 1 slightly).
    confidence_tolerance: float = 0.5
    # Largest image side accepted from info.json or a video (pixels).
    max_image_side: int = 16384
    # Keypoints may lie at most this many image sizes outside the image (unitless); farther
    # ones mean the image size does not belong to the keypoints.
    max_outside_image: float = 1.0

    def __post_init__(self) -> None:
        s = "reading"
        schema.require(self.bad_frame in ("skip", "error"), s,
                       f"bad_frame must be 'skip' or 'error', got {self.bad_frame!r}")
        schema.require(self.nan_keypoints in ("missing", "error"), s,
                       f"nan_keypoints must be 'missing' or 'error', got {self.nan_keypoints!r}")
        schema.require(0.0 <= self.min_confidence <= 1.0, s,
                       f"min_confidence must be in 0..1, got {self.min_confidence}")
        schema.require(self.vibe_bbox_scale > 0 and self.max_decompressed_mb > 0, s,
                       "vibe_bbox_scale and max_decompressed_mb must be > 0")
        schema.require(self.crop_size >= 1 and self.max_frames >= 1 and self.max_image_side >= 1,
                       s, "crop_size, max_frames and max_image_side must be >= 1")
        schema.require(self.confidence_tolerance >= 0 and self.max_outside_image >= 0, s,
                       "confidence_tolerance and max_outside_image must be >= 0")
        schema.require(0.0 <= self.estimate_ambiguity <= 1.0
                       and 0.0 <= self.estimate_min_score <= 1.0, s,
                       "estimate_min_score and estimate_ambiguity must be in 0..1")


@dataclasses.dataclass(frozen=True)
class TrackingSettings(schema.Section, section="tracking"):
    """The ``tracking`` section: thresholds of the tracker (boxes, NMS, matching, gaps, filters,
    smoothing, crops)."""

    # --- boxes from keypoints ---
    # A keypoint counts as visible above this confidence (SFV VIS_THR 0.1).
    vis_thresh: float = 0.1
    # A detection needs at least this many visible keypoints (SFV NUM_VIS_THR 5).
    min_visible: int = 5
    # Box = tight box of visible keypoints grown by this fraction of its larger side on each
    # side (unitless). Keypoints sit inside the body, the box should cover the body.
    box_pad: float = 0.1
    # --- non-maximum suppression within a frame ---
    # Drop a detection whose box IoU with a higher-scoring one exceeds this (SFV NMS_THR 0.5,
    # but on proper IoU instead of the original's overlap-over-other-area).
    nms_iou: float = 0.5
    # --- frame-to-frame assignment (scipy linear_sum_assignment on 1 - similarity) ---
    # similarity = (iou_weight * IoU + oks_weight * OKS) / (iou_weight + oks_weight).
    iou_weight: float = 1.0
    oks_weight: float = 1.0
    # OKS spread: a keypoint's falloff sigma is this fraction of sqrt(box area) (unitless).
    oks_sigma: float = 0.1
    # The OKS sigma grows by this fraction per missed frame, since the predicted position of
    # an unseen person gets less certain (unitless per frame).
    oks_gap_growth: float = 0.25
    # Assignment cost added per missed frame of a track (unitless per frame; not part of the
    # gate), so that a track seen in the previous frame wins a detection that a long-unseen
    # track also covers.
    gap_penalty: float = 0.05
    # A pair is matched only if its similarity is at least this (0..1; SFV IOU_THR 0.05).
    min_similarity: float = 0.05
    # Velocity estimate: exponential average weight of the newest displacement (0..1].
    velocity_smoothing: float = 0.5
    # A track survives up to this many frames without a detection, predicted with constant
    # velocity (frames; SFV OCCL_THR 30). Source-id tracks are split at longer gaps too.
    max_gap: int = 30
    # Bridging a gap (one or more missed frames) also needs a consistent person: the
    # detection's size (sqrt of box area) within this factor of the track's last whole-person
    # box (unitless, >= 1) ...
    gap_size_ratio: float = 1.6
    # ... and its centre within this many person sizes of the constant-velocity prediction
    # per sqrt(missed frame) (person sizes / sqrt(frame)). Otherwise the detection starts a
    # new track (or, for source ids, ends the id's track and starts another).
    gap_max_shift: float = 0.5
    # Tracks appear only from detections with at least this score (mean visible confidence).
    min_new_track_score: float = 0.0
    # --- filters on finished tracks ---
    # Minimum number of frames with a real detection (frames).
    min_track_frames: int = 10
    # Minimum fraction (0..1) of a track's own span, first to last detection, with a real
    # detection; 0 disables. A track mostly made of bridged gaps is more guess than person
    # (17 detections over 79 frames, 0.22, goes; a person hidden for 16 of 28 frames, 0.43,
    # stays). SFV's FREQ_THR 0.1 was a fraction of the whole video instead, which drops
    # everyone who crosses a multi-person view quickly.
    min_track_fraction: float = 0.3
    # Minimum mean detection score over the observed frames (SFV SCORE_THR 0.4, a median there).
    min_track_score: float = 0.4
    # Trailing frames whose detection score is below this are cut (SFV END_BOX_CONF 0.1).
    end_score: float = 0.1
    # --- smoothing of the box trajectory (median then Gaussian, as SFV) ---
    # Median filter length (frames, odd; SFV 11); shortened to fit short tracks.
    median_kernel: int = 11
    # Gaussian sigma (frames; SFV 3). 0 disables.
    gaussian_sigma: float = 3.0
    # --- left/right limb swaps of the detector (inputs.limb_swaps), undone per track ---
    # A Viterbi pass along each track picks per frame, for the arms and for the legs, the
    # labeling (as detected, the group's left and right exchanged, or only its points below
    # the shoulders / hips) whose points move least between frames, the body's own shift taken
    # out. A relabelled frame costs this, in units of one point's capped step (0 disables) ...
    swap_cost: float = 2.0
    # ... a point's step between frames is measured in this fraction of the person's size
    # (the track's median keypoint-box diagonal) ...
    swap_motion_scale: float = 0.05
    # ... and costs at most swap_point_cap (cap x / (cap + x) of the squared scaled step).
    # On the accuracy benchmark's detections (7 clips x 4 views) these find all 26 of its
    # clear swaps and relabel no clear frame wrongly; 0.03-0.08 / 1-4 / 2-4 find the same.
    swap_point_cap: float = 4.0
    # --- HMR crops ---
    # The person (diagonal of the visible keypoints' extent) is scaled to this many pixels
    # (SFV 150) ...
    person_px: float = 150.0
    # ... inside a square crop of this size (pixels; HMR 224).
    crop_size: int = 224
    # Detection ids given by the source (AlphaPose PoseFlow ``idx``) are used as identities
    # instead of the tracker's own assignment when every detection has one and they tell
    # people apart (``tracker.ids_carry_identity``: at most 5% of the frames with several
    # people repeat an id); otherwise the tracker runs.
    use_source_ids: bool = True

    def __post_init__(self) -> None:
        s = "tracking"
        for name in ("vis_thresh", "min_similarity", "nms_iou", "min_track_fraction"):
            schema.require(0.0 <= getattr(self, name) <= 1.0, s,
                           f"{name} must be in 0..1, got {getattr(self, name)}")
        schema.require(0.0 < self.velocity_smoothing <= 1.0, s,
                       f"velocity_smoothing must be in (0, 1], got {self.velocity_smoothing}")
        schema.require(self.max_gap >= 0 and self.min_track_frames >= 1 and self.crop_size >= 1,
                       s, "max_gap must be >= 0, min_track_frames and crop_size >= 1")
        schema.require(self.person_px > 0 and self.gap_size_ratio >= 1.0, s,
                       "person_px must be > 0 and gap_size_ratio >= 1")
        schema.require(self.iou_weight + self.oks_weight > 0, s,
                       "iou_weight + oks_weight must be > 0")
        schema.require(self.swap_cost >= 0 and self.swap_motion_scale > 0
                       and self.swap_point_cap > 0, s,
                       "swap_cost must be >= 0, swap_motion_scale and swap_point_cap > 0")


def reading_config() -> ml_collections.ConfigDict:
    """The ``reading`` section with its defaults, as a ConfigDict (the edge: main, launch)."""
    return schema.to_config(ReadingSettings())


def tracking_config() -> ml_collections.ConfigDict:
    """The ``tracking`` section with its defaults, as a ConfigDict (the edge: main, launch)."""
    return schema.to_config(TrackingSettings())
