"""Config section ``evaluation``: the synthetic benchmark on motion capture (views, detector, regressor).

``EvaluationSettings`` (a flat frozen dataclass: every key of the section, with its unit and
default documented above it) is the single source of the section. The benchmark's parts take
sub-settings built from it, which have no defaults of their own (theirs refer to these):
``virtual_cameras.CameraSettings`` (camera placement), ``observations.DetectorSettings`` (2D
detections) and ``observations.RegressorSettings`` (initial estimates), and
``mocap.TruthFitSettings`` (the truth_* keys); each has ``from_config(cfg)`` taking this section
as a ConfigDict or an ``EvaluationSettings``. The keys stay flat (``evaluation.views``,
``evaluation.noise_frac``) because recipes and ``launch/bench_accuracy.py`` override them by
those names. ``evaluation_config()`` is the section as a ConfigDict (see ``sfv_jax.schema``).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import ml_collections

from sfv_jax import schema


@dataclasses.dataclass(frozen=True)
class EvaluationSettings(schema.Section, section="evaluation"):
    """The ``evaluation`` section: defaults of the accuracy benchmark (``launch/bench_accuracy.py``)."""

    # ---- truth: mocap -> body model -------------------------------------------------------------
    # Frames/s the mocap is resampled to before anything else (HMMR/3DPW report acceleration error
    # per frame^2 at 30 fps; 0 keeps the clip's own). Also the detections' frame rate.
    fps: float = 30.0
    # Keep at most this many frames per clip after resampling (0: all).
    frames_max: int = 0
    # Seed of body.synthetic_model (the SMPL-format body the truth lives on).
    model_seed: int = 0
    # Adam steps of the 3D-keypoint fit of the body model to the mocap joints.
    truth_fit_steps: int = 400
    # Its Adam learning rate.
    truth_fit_lr: float = 0.05
    # Its L2 prior on betas (per unit^2; the mocap does not pin the body shape).
    truth_betas_weight: float = 1e-3
    # Its L2 prior on the non-root pose (radians^2; keeps free DOFs at rest).
    truth_pose_weight: float = 1e-4
    # Its joint-acceleration penalty (0: truth keeps the mocap's own motion).
    truth_smooth_weight: float = 0.0
    # Its term tying SMPL's global rotations' frame-to-frame change to the mocap links'
    # (mocap.ROTATION_CORRESPONDENCE; squared Frobenius norm): the joint positions leave twists
    # and the spine's split free, and without it the fit flips them in single frames.
    truth_velocity_weight: float = 0.1
    # Its penalty on differences between SMPL's three spine rotations (rad^2): the humanoid has
    # one chest link, so the bend is split evenly.
    truth_spine_weight: float = 0.01

    # ---- virtual cameras (static perspective, OpenCV axes: x right, y down, z forward) -----------
    # Like a phone's or a YouTube video's: per view a field of view, height and pitch drawn from
    # these ranges (seeded per clip-view); the focal length is NOT given to the solver or the
    # exports unless bench_accuracy.py --focal-known (they assume export.world_motion.default_focal).
    # Cameras per clip, azimuths evenly spaced over 360 deg.
    views: int = 4
    # Azimuth of the first camera, deg about the world Y axis (0: in front of a body facing +Z,
    # i.e. the camera sits on +Z).
    azimuth0_deg: float = 30.0
    # Horizontal field of view range, degrees (focal = W/2 / tan(hfov/2): 2318-1371 px at 1920
    # wide).
    hfov_deg_min: float = 45.0
    hfov_deg_max: float = 70.0
    # Camera height above the floor (y = 0) range, metres.
    height_min: float = 1.0
    height_max: float = 2.0
    # Downward pitch range, degrees (no roll).
    pitch_deg_min: float = 0.0
    pitch_deg_max: float = 20.0
    # Metres; the camera distance frames a person this tall standing on the floor at every root
    # position of the clip inside the central fraction frame_fill of the image (width and
    # height) ...
    person_height: float = 1.8
    frame_fill: float = 0.8
    # ... times this factor.
    distance_margin: float = 1.15
    # A drawn pitch is kept only while it frames the clip within this many times the distance a
    # level camera (pitch 0) at the same height needs; steeper pitches are lowered in 1 degree
    # steps. Near the steepest pitch that can frame a person at all, the framing distance grows
    # without bound (the person shrinks to a few dozen pixels at the top of the image, 30-60 m
    # away): no camera operator films a clip that way.
    max_distance_ratio: float = 1.25
    # Image size, pixels.
    image_width: int = 1920
    image_height: int = 1080

    # ---- detector-like 2D keypoints (OpenPose-like) ---------------------------------------------
    # Format of the detections (a skeletons.FORMATS name).
    keypoint_format: str = "body25"
    # Detections are converted to this format for the solver (SFV fits cocoplus-19; points the
    # detector lacks get confidence 0).
    solver_format: str = "cocoplus"
    # A real detector's error is mostly temporally correlated (a point stays off the same way over
    # neighbouring frames; long excursions on occluded or unusual poses) with a small per-frame
    # jitter on top. Sizes are fractions of the person's 2D box diagonal ("height", ~270 px here).
    # Per-frame jitter std (~0.5 px at 270 px; x (1 + gain (1 - conf))).
    noise_frac: float = 0.002
    # Std of the slowly drifting per-point offset (~3 px at 270 px).
    noise_slow_frac: float = 0.012
    # Std of the Gaussian kernel that smooths that offset, frames.
    noise_slow_frames: float = 6.0
    # Noise std is multiplied by 1 + gain * (1 - confidence).
    noise_conf_gain: float = 2.0
    # Confidences of clean detections are uniform in [conf_min, conf_max].
    conf_min: float = 0.45
    conf_max: float = 0.95
    # Probability that a point is not detected (confidence 0), per point-frame.
    drop_prob: float = 0.03
    # Points behind the torso and inside its 2D outline are occluded.
    self_occlusion: bool = True
    # Expected occlusion episodes per second per clip-view.
    occlusion_events: float = 0.15
    # Mean episode length, frames (a limb chain is hidden / degraded).
    occlusion_frames: int = 8
    # Max confidence of an occluded point (uniform in [0.05, occluded_conf]).
    occluded_conf: float = 0.25
    # Std of the drifting offset of occluded points (their jitter is noise_frac x (1 + gain)),
    # fraction of the 2D height.
    occluded_noise_frac: float = 0.04
    # Probability that an occluded point is dropped altogether.
    occluded_drop_prob: float = 0.5
    # Probability per frame of a left/right swap of both legs or both arms.
    swap_prob: float = 0.02
    # Probability per frame that the person is not detected at all.
    missing_prob: float = 0.02
    # Mean length of a missing run, frames.
    missing_run: int = 2

    # ---- per-frame-regressor-like initial estimates (HMR-like) ----------------------------------
    # Pose error per body joint = constant bias + slowly varying part + independent per-frame jitter
    # (rotation vectors composed onto the truth, radians). Tuned so the initial PA-MPJPE is ~60-80 mm
    # and the acceleration error ~25-35 mm/frame^2 at 30 fps, like per-frame regressors on 3DPW.
    # Rad, constant over the clip-view.
    pose_bias_std: float = 0.12
    # Rad, Gaussian-smoothed noise.
    pose_slow_std: float = 0.03
    # Std of the smoothing kernel of the slow part, frames.
    pose_slow_frames: float = 15.0
    # Rad, independent per frame.
    pose_jitter_std: float = 0.012
    # Rad, per-frame global-orientation error.
    root_jitter_std: float = 0.005
    # Rad, slowly varying global-orientation error.
    root_slow_std: float = 0.03
    # Per-clip shape error (betas units).
    betas_bias_std: float = 0.5
    # Per-frame shape error (betas units).
    betas_jitter_std: float = 0.1
    # Per-frame relative error of the weak-perspective scale.
    cam_scale_jitter: float = 0.03
    # Per-frame error of the camera translation, crop-normalized units.
    cam_trans_jitter: float = 0.015
    # HMR crop side, pixels.
    crop_size: int = 224
    # HMR resizes the person's keypoint-box height to this many pixels.
    crop_person_px: float = 150.0
    # Detections below this confidence are ignored for the crop (SFV's 0.2).
    crop_conf_threshold: float = 0.2

    # ---- evaluation ------------------------------------------------------------------------------
    # Joints evaluated: the first eval_joints points of this format.
    eval_format: str = "cocoplus"
    # LSP-14 (ankles, knees, hips, wrists, elbows, shoulders, neck, head top).
    eval_joints: int = 14
    # MPJPE / acceleration root: midpoint of these points (and the root of root_accel).
    eval_root: tuple[str, ...] = ("right_hip", "left_hip")

    # ---- world frame and contacts (evaluation.world_metrics) -------------------------------------
    # Keypoint format whose foot points are scored (heels, big and small toes).
    foot_format: str = "body25"
    foot_points: tuple[str, ...] = ("left_heel", "left_big_toe", "left_small_toe",
                                    "right_heel", "right_big_toe", "right_small_toe")
    # A truth foot point within this height of the floor (metres) ...
    contact_height: float = 0.05
    # ... moving less than this horizontally per frame (metres) is planted.
    contact_still: float = 0.01

    def __post_init__(self) -> None:
        s = "evaluation"
        schema.require(self.fps >= 0 and self.frames_max >= 0 and self.truth_fit_steps >= 0, s,
                       "fps, frames_max and truth_fit_steps must be >= 0")
        schema.require(self.views >= 1 and self.image_width >= 1 and self.image_height >= 1, s,
                       "views, image_width and image_height must be >= 1")
        for lo, hi in (("hfov_deg_min", "hfov_deg_max"), ("height_min", "height_max"),
                       ("pitch_deg_min", "pitch_deg_max"), ("conf_min", "conf_max")):
            schema.require(getattr(self, lo) <= getattr(self, hi), s, f"need {lo} <= {hi}")
        schema.require(0.0 < self.hfov_deg_min and self.hfov_deg_max < 180.0, s,
                       "the field of view range must lie inside (0, 180) degrees")
        schema.require(0.0 < self.frame_fill <= 1.0, s,
                       f"frame_fill must be in (0, 1], got {self.frame_fill}")
        schema.require(self.max_distance_ratio >= 1.0, s,
                       f"max_distance_ratio must be >= 1, got {self.max_distance_ratio}")
        for name in ("conf_min", "conf_max", "drop_prob", "occluded_conf", "occluded_drop_prob",
                     "swap_prob", "missing_prob", "crop_conf_threshold"):
            schema.require(0.0 <= getattr(self, name) <= 1.0, s,
                           f"{name} must be in 0..1, got {getattr(self, name)}")
        schema.require(self.eval_joints >= 1 and self.crop_size >= 1, s,
                       "eval_joints and crop_size must be >= 1")


# The section's defaults; the sub-settings' field defaults refer to these (written once, above).
DEFAULTS = EvaluationSettings()


def subset(cls: type, cfg: Any) -> Any:
    """``cls`` (a sub-settings dataclass whose fields are ``evaluation`` keys) from the section.

    ``cfg``: an ``EvaluationSettings``, an ``evaluation`` ConfigDict (strict, see
    ``EvaluationSettings.from_config``), or an instance of ``cls`` (returned unchanged).
    """
    if isinstance(cfg, cls):
        return cfg
    ev = EvaluationSettings.from_config(cfg)
    return cls(**{f.name: getattr(ev, f.name) for f in dataclasses.fields(cls)})


def evaluation_config() -> ml_collections.ConfigDict:
    """The ``evaluation`` section with its defaults, as a ConfigDict (the edge: launch, tests)."""
    return schema.to_config(EvaluationSettings())
