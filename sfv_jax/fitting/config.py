"""Config section ``fitting``: the HMR-free initializer ``sfv_jax.fitting`` (every key documented).

Library functions take the section explicitly (``fitting.FitOptions.from_config(cfg)``); nothing
reads a config globally. ``sfv_jax.detect.config`` re-exports ``fitting_config``.
"""
from __future__ import annotations

import ml_collections


def fitting_config() -> ml_collections.ConfigDict:
    """The ``fitting`` section (HMR-free initializer) with its defaults."""
    c = ml_collections.ConfigDict()

    # --- optimizer (Adam in lax.scan, one compiled program per input shape) ----------------
    # Adam learning rate of the 3D fit stages (pose in radians, betas, translation in metres).
    c.learning_rate = 0.05
    # Adam learning rate of the 2D fit stages (pose radians, camera in crop units).
    c.learning_rate_2d = 0.03
    # 3D fit, stage 1: global rotation + root translation (+ shape) on torso points only.
    c.steps_3d_global = 60
    # 3D fit, stage 2: every parameter on every point.
    c.steps_3d_full = 300
    # 2D fit seeded by a 3D fit (fit_detections with world landmarks), stage 1: global
    # rotation + camera on torso points, body at the seed pose.
    c.steps_2d_global = 60
    # ... stage 2: pose, shape, camera on all points, with the priors (full body model).
    c.steps_2d_full = 200
    # Frames are padded to a power of two >= this count, so that calls of different lengths
    # (and single frames) share compiled programs.
    c.min_batch = 8
    # 2D keypoints below this confidence (0..1) are ignored.
    c.min_confidence = 0.1
    # Robust 2D residual: Geman-McClure scale in normalized crop units (0 = plain squares);
    # residuals well above it stop pulling (outlier keypoints).
    c.robust_scale_2d = 0.1

    # 3D residual scale, metres: a point this far from its target costs 1 (priors are relative;
    # small: the 3D fit serves as ground truth, so data dominates).
    c.sigma_3d = 0.01
    # 2D residual scale in normalized crop units (1 = half the 224 px crop; 0.02 ~ 2.2 crop px).
    c.sigma_2d = 0.02

    # --- priors (no learned weights) ---------------------------------------------------------
    # L2 on body pose (69 axis-angle values, radians^2), per point-loss unit.
    c.pose_weight = 1e-3
    # L2 on betas.
    c.betas_weight = 1e-3
    # Knee / elbow hinge limits: squared bend the wrong way plus off-axis rotation.
    c.hinge_weight = 1.0
    # Bias toward a neutral standing pose (arms down, see arms_down_angle), radians^2.
    c.neutral_weight = 1e-3
    # Shoulder rotation (radians) that lowers the arms of SMPL's T-pose in the neutral pose.
    c.arms_down_angle = 1.1
    # Extra prior multiplier in 2D fits (depth is unobserved there, so priors matter more).
    c.prior_scale_2d = 10.0

    # --- 2D fit from keypoints alone: whole-rotation hypotheses and limb depth orders --------
    # Torso orientations tried per frame: the 24 rotations of a cube (upright, upside down,
    # lying, on the side, facing any axis) times this many turns about the body's vertical
    # (1: 24 hypotheses, 2: 48, spaced 45 deg).
    c.yaw_substeps = 2
    # Gauss-Newton iterations refining each orientation on the rigid torso template
    # (shoulders, hips, neck, head points), camera in closed form at every step, and their
    # damping (Levenberg-Marquardt, relative to the mean curvature).
    c.torso_steps = 5
    c.torso_damping = 0.1
    # Weight of the head points (nose, eyes, ears, head top) relative to the torso's in that
    # rigid fit (the head turns on the neck, but it tells front from back).
    c.head_weight = 0.3
    # Distinct torso orientations kept per frame for the temporal pass (best first; one
    # candidate suppresses the others within candidate_min_angle radians).
    c.torso_candidates = 8
    c.candidate_min_angle = 0.35
    # Bones may look up to this factor longer in 2D than the model's rest bones before the
    # camera scale is raised to fit them (body proportions differ from the model's).
    c.max_bone_stretch = 1.1
    # Plausibility prior of a limb depth order (per unit of the squared penalties: knee /
    # elbow bending against its hinge given the hip / shoulder twist limits, thigh far behind
    # the body, arm far behind the back, elbows / wrists / knees / ankles inside the torso).
    c.plausibility_weight = 20.0
    # Cosine limits of the twist of the knee's / elbow's bending axis away from its rest
    # direction (legs: hip rotation ~70 deg; arms: shoulder rotation ~105 deg).
    c.knee_twist_cos = 0.35
    c.elbow_twist_cos = -0.25
    # Temporal pass (Viterbi over frames of each track): a torso orientation change of
    # rotation_step radians between frames costs 1, as does a limb joint moving motion_step
    # metres (root-relative, camera frame); per-frame costs are in sigma_2d units.
    c.rotation_step = 0.25
    c.motion_step = 0.08
    # Adam steps refining the chosen hypothesis per frame (skeleton keypoints: the body
    # model's skinning at the mean shape, no pose blend shapes), with 2D keypoints, the priors
    # and the chosen lifted limb bones as a soft 3D anchor of this scale (metres).
    c.refine_steps = 40
    c.anchor_sigma = 0.06

    # --- degenerate fits (a track whose fit is degenerate fails with the reason) ----------
    # Crop camera scale range (normalized crop units per metre; ~0.8 for an upright person
    # spanning person_height_px).
    c.min_cam_scale = 0.25
    c.max_cam_scale = 8.0
    # Limbs vs torso: the scale the limbs need over the one the torso gives, at most.
    c.max_limb_torso_ratio = 3.0
    # Median 2D error of the fit (px, full image) relative to the person's 2D size, at most.
    c.max_error_frac = 0.15
    # A track fails when more than this fraction of its fitted frames is degenerate.
    c.max_degenerate_fraction = 0.5

    # --- HMR crop of the output camera --------------------------------------------------------
    # Side of the square crop, px (HMR: 224).
    c.crop_size = 224
    # Person height in crop px (HMR's preprocessing resizes people to 150 of 224 px).
    c.person_height_px = 150.0
    return c
