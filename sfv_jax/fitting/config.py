"""Config section ``fitting``: the HMR-free initializer ``sfv_jax.fitting``.

``FittingSettings`` (a frozen, hashable dataclass: the fitters' static options) is the single
source of the section's defaults, types and docs (comments above each field); the fitters take
it explicitly (``fitting.FitOptions`` is the same class) and nothing reads a config globally.
``fitting_config()`` is the section as a ConfigDict for ``main`` and ``launch/`` (generated
from the dataclass, turned back with ``FittingSettings.from_config``; see ``sfv_jax.schema``).
"""
from __future__ import annotations

import dataclasses

import ml_collections

from sfv_jax import schema


@dataclasses.dataclass(frozen=True)
class FittingSettings(schema.Section, section="fitting"):
    """The ``fitting`` section (each field documented above it); a static jit argument."""

    # --- optimizer (Adam in lax.scan, one compiled program per input shape) ----------------
    # Adam learning rate of the 3D fit stages (pose in radians, betas, translation in metres).
    learning_rate: float = 0.05
    # Adam learning rate of the 2D fit stages (pose radians, camera in crop units).
    learning_rate_2d: float = 0.03
    # 3D fit, stage 1: global rotation + root translation (+ shape) on torso points only.
    steps_3d_global: int = 60
    # 3D fit, stage 2: every parameter on every point.
    steps_3d_full: int = 300
    # 2D fit seeded by a 3D fit (fit_detections with world landmarks), stage 1: global
    # rotation + camera on torso points, body at the seed pose.
    steps_2d_global: int = 60
    # ... stage 2: pose, shape, camera on all points, with the priors (full body model).
    steps_2d_full: int = 200
    # Frames are padded to a power of two >= this count, so that calls of different lengths
    # (and single frames) share compiled programs.
    min_batch: int = 8
    # 2D keypoints below this confidence (0..1) are ignored.
    min_confidence: float = 0.1
    # Robust 2D residual: Geman-McClure scale in normalized crop units (0 = plain squares);
    # residuals well above it stop pulling (outlier keypoints). The crop holds the person's
    # keypoint-box diagonal at person_height_px (HMR's recipe), so for an upright person 0.092
    # is the 0.1 of a crop scaled by the box's longest side (0.92 = side / diagonal).
    robust_scale_2d: float = 0.092

    # 3D residual scale, metres: a point this far from its target costs 1 (priors are relative;
    # small: the 3D fit serves as ground truth, so data dominates).
    sigma_3d: float = 0.01
    # 2D residual scale in normalized crop units (1 = half the 224 px crop; 0.0184 ~ 2.1 crop
    # px, 2.2 px of a crop scaled by the box's longest side, as robust_scale_2d).
    sigma_2d: float = 0.0184

    # --- priors (no learned weights) ---------------------------------------------------------
    # L2 on body pose (69 axis-angle values, radians^2), per point-loss unit.
    pose_weight: float = 1e-3
    # L2 on betas.
    betas_weight: float = 1e-3
    # Knee / elbow hinge limits: squared bend the wrong way plus off-axis rotation.
    hinge_weight: float = 1.0
    # Bias toward a neutral standing pose (arms down, see arms_down_angle), radians^2.
    neutral_weight: float = 1e-3
    # Shoulder rotation (radians) that lowers the arms of SMPL's T-pose in the neutral pose.
    arms_down_angle: float = 1.1
    # Extra prior multiplier in 2D fits (depth is unobserved there, so priors matter more).
    prior_scale_2d: float = 10.0

    # --- 2D fit from keypoints alone: whole-rotation hypotheses and limb depth orders --------
    # Torso orientations tried per frame: the 24 rotations of a cube (upright, upside down,
    # lying, on the side, facing any axis) times this many turns about the body's vertical
    # (1: 24 hypotheses, 2: 48, spaced 45 deg).
    yaw_substeps: int = 2
    # Gauss-Newton iterations refining each orientation on the rigid torso template
    # (shoulders, hips, neck, head points), camera in closed form at every step, and their
    # damping (Levenberg-Marquardt, relative to the mean curvature).
    torso_steps: int = 3
    torso_damping: float = 0.1
    # ... and more iterations for the lift_candidates kept (the best distinct orientations).
    torso_polish_steps: int = 2
    # Weight of the head points (nose, eyes, ears, head top) relative to the torso's in that
    # rigid fit (the head turns on the neck, but it tells front from back).
    head_weight: float = 0.3
    # Distinct torso orientations kept per frame for the temporal pass (best first; one
    # candidate suppresses the others within candidate_min_angle radians).
    torso_candidates: int = 8
    # Orientations per frame whose limbs are lifted and scored (the best distinct ones by the
    # torso fit, same min angle; >= torso_candidates, which are then picked among them).
    lift_candidates: int = 12
    candidate_min_angle: float = 0.35
    # Bones may look up to this factor longer in 2D than the model's rest bones before the
    # camera scale is raised to fit them (body proportions differ from the model's).
    max_bone_stretch: float = 1.1
    # Plausibility prior of a limb depth order (per unit of the squared penalties: knee /
    # elbow bending against its hinge given the hip / shoulder twist limits, thigh far behind
    # the body, arm far behind the back, elbows / wrists / knees / ankles inside the torso).
    plausibility_weight: float = 20.0
    # Weight of the limb-direction prior (fitting.limb_prior: -log density of the limb's bone
    # directions in the torso frame, in nats above the limb's likeliest depth order), per unit
    # of the plausibility penalties, and its file ("" = the shipped sfv_jax/data/limb_prior.npz,
    # fitted on motion capture the accuracy benchmark does not score; launch/build_limb_prior.py).
    limb_prior_weight: float = 0.02
    limb_prior_path: str = ""
    # Cosine limits of the twist of the knee's / elbow's bending axis away from its rest
    # direction (legs: hip rotation ~70 deg; arms: shoulder rotation ~105 deg).
    knee_twist_cos: float = 0.35
    elbow_twist_cos: float = -0.25
    # Temporal pass (Viterbi over frames of each track): a torso orientation change of
    # rotation_step radians between frames costs 1, as does a limb joint moving motion_step
    # metres (root-relative, camera frame); per-frame costs are in sigma_2d units.
    rotation_step: float = 0.25
    motion_step: float = 0.08
    # Short gaps (temporal.fill_gaps): a keypoint of a track unseen for at most this many
    # consecutive frames (0 = none) is interpolated from the frames around the gap (its offset
    # from the torso; a wrist's, ankle's, toe's or heel's from its parent point where that is
    # seen), with this times the lower of their confidences, before the hypotheses; the gap's
    # ends must be detections of at least gap_fill_end_confidence (a detector's low-confidence
    # guesses at occluded points drift far). The fit's 2D error and degenerate checks still
    # count only the detected points. On the accuracy benchmark (--init fit2d,
    # configs/sfv_paper.py, 30 fps), none -> these values: solved PA-MPJPE 85.3 -> 82.4 mm,
    # 2D error 9.3 -> 8.7 px, joint accel 44.3 -> 33.0, depth order 0.110 -> 0.103
    # (confidence 0.5: PA 83.7; ends of any confidence: 83.2; ends >= 0.5: 83.3; 8 frames: 82.9).
    # Hand and foot points relative to their parent instead of the torso: filled points 14.9 ->
    # 14.3 px from the truth; configs/video.py solved PA-MPJPE 75.1 -> 74.9, 2D 6.81 -> 6.78 px
    # (kick view 3 10.0 -> 9.7), depth order 0.095 -> 0.098.
    gap_fill_frames: int = 15
    gap_fill_confidence: float = 0.25
    gap_fill_end_confidence: float = 0.3
    # Unseen frames that no such run bridges (at a track's ends, in longer gaps, before a
    # low-confidence guess) within this many frames of a confident detection hold its offset
    # (0 = none): the limb stays where it was last seen instead of where the priors alone
    # would put it. Benchmark as above, with the tracker's swap repair: none -> 15 frames:
    # PA-MPJPE 81.9 -> 81.2 (accurate.py 78.3 -> 76.9), 2D 8.35 -> 8.16 px; 8 frames: PA 81.7.
    # 15 -> 30 (configs/video.py): PA-MPJPE 75.05 -> 74.87; kick view 3, whose wrist is lost
    # for its last 19 frames (the 4 last ones left to the priors at 15), 10.0 -> 9.7 px.
    gap_hold_frames: int = 30
    # Adam steps refining the chosen hypothesis per frame (skeleton keypoints: the body
    # model's skinning at the mean shape, no pose blend shapes), with 2D keypoints, the priors
    # and the chosen lifted limb bones as a soft 3D anchor of this scale (metres).
    refine_steps: int = 40
    anchor_sigma: float = 0.08

    # --- degenerate fits (a track whose fit is degenerate fails with the reason) ----------
    # Crop camera scale range (normalized crop units per metre; ~0.8 for an upright person
    # spanning person_height_px).
    min_cam_scale: float = 0.25
    max_cam_scale: float = 8.0
    # Limbs vs torso: the scale the limbs need over the one the torso gives, at most.
    max_limb_torso_ratio: float = 3.0
    # Median 2D error of the fit (px, full image) relative to the person's 2D size, at most.
    max_error_frac: float = 0.15
    # A track fails when more than this fraction of its fitted frames is degenerate.
    max_degenerate_fraction: float = 0.5

    # --- HMR crop of the output camera --------------------------------------------------------
    # Side of the square crop, px (HMR: 224).
    crop_size: int = 224
    # Person size in crop px: the diagonal of the visible keypoints' box (HMR's preprocessing
    # resizes people to 150 of 224 px; geometry.crops).
    person_height_px: float = 150.0

    def __post_init__(self) -> None:
        s = "fitting"
        schema.require(self.learning_rate > 0 and self.learning_rate_2d > 0, s,
                       "learning_rate and learning_rate_2d must be > 0")
        schema.require(min(self.steps_3d_global, self.steps_3d_full, self.steps_2d_global,
                           self.steps_2d_full, self.torso_steps, self.torso_polish_steps,
                           self.refine_steps) >= 0, s,
                       "step counts must be >= 0")
        schema.require(self.min_batch >= 1 and self.yaw_substeps >= 1
                       and self.torso_candidates >= 1 and self.crop_size >= 1
                       and self.lift_candidates >= self.torso_candidates, s,
                       "min_batch, yaw_substeps, torso_candidates and crop_size must be >= 1 and "
                       "lift_candidates >= torso_candidates")
        schema.require(0.0 <= self.min_confidence <= 1.0, s,
                       f"min_confidence must be in 0..1, got {self.min_confidence}")
        schema.require(self.sigma_3d > 0 and self.sigma_2d > 0 and self.person_height_px > 0, s,
                       "sigma_3d, sigma_2d and person_height_px must be > 0")
        schema.require(0.0 < self.min_cam_scale < self.max_cam_scale, s,
                       "need 0 < min_cam_scale < max_cam_scale")
        schema.require(self.limb_prior_weight >= 0.0, s, "limb_prior_weight must be >= 0")
        schema.require(min(self.gap_fill_frames, self.gap_hold_frames) >= 0
                       and 0.0 < self.gap_fill_confidence <= 1.0
                       and 0.0 <= self.gap_fill_end_confidence <= 1.0, s,
                       "gap_fill_frames and gap_hold_frames must be >= 0, gap_fill_confidence "
                       "in (0, 1] and gap_fill_end_confidence in [0, 1]")
        schema.require(0.0 <= self.max_degenerate_fraction <= 1.0, s,
                       "max_degenerate_fraction must be in 0..1")


def fitting_config() -> ml_collections.ConfigDict:
    """The ``fitting`` section with its defaults, as a ConfigDict (the edge: main, launch)."""
    return schema.to_config(FittingSettings())
