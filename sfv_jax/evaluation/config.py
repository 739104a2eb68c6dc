"""Config section ``evaluation``: the synthetic benchmark on motion capture (views, detector, regressor).

Every key documents its unit and default. Library functions take this section explicitly
(``ObservationSettings.from_config`` etc. build frozen dataclasses from it).
"""
from __future__ import annotations

import ml_collections


def evaluation_config() -> ml_collections.ConfigDict:
    """Defaults of the accuracy benchmark (``launch/bench_accuracy.py``)."""
    c = ml_collections.ConfigDict()

    # ---- truth: mocap -> body model -------------------------------------------------------------
    c.fps = 30.0                # frames/s the mocap is resampled to before anything else (HMMR/3DPW
                                # report acceleration error per frame^2 at 30 fps; 0 keeps the clip's own)
    c.frames_max = 0            # keep at most this many frames per clip after resampling (0: all)
    c.model_seed = 0            # seed of body.synthetic_model (the SMPL-format body the truth lives on)
    c.truth_fit_steps = 400     # Adam steps of the 3D-keypoint fit of the body model to the mocap joints
    c.truth_fit_lr = 0.05       # its Adam learning rate
    c.truth_betas_weight = 1e-3 # its L2 prior on betas (per unit^2; the mocap does not pin the body shape)
    c.truth_pose_weight = 1e-4  # its L2 prior on the non-root pose (radians^2; keeps free DOFs at rest)
    c.truth_smooth_weight = 0.0 # its joint-acceleration penalty (0: truth keeps the mocap's own motion)
    c.truth_velocity_weight = 0.1   # its term tying SMPL's global rotations' frame-to-frame change to
                                # the mocap links' (mocap.ROTATION_CORRESPONDENCE; squared Frobenius
                                # norm): the joint positions leave twists and the spine's split
                                # free, and without it the fit flips them in single frames
    c.truth_spine_weight = 0.01 # its penalty on differences between SMPL's three spine rotations
                                # (rad^2): the humanoid has one chest link, so the bend is split evenly

    # ---- virtual cameras (static perspective, OpenCV axes: x right, y down, z forward) -----------
    # Like a phone's or a YouTube video's: per view a field of view, height and pitch drawn from
    # these ranges (seeded per clip-view); the focal length is NOT given to the solver or the
    # exports unless bench_accuracy.py --focal-known (they assume export.world_motion.default_focal).
    c.views = 4                 # cameras per clip, azimuths evenly spaced over 360 deg
    c.azimuth0_deg = 30.0       # azimuth of the first camera, deg about the world Y axis (0: in front
                                # of a body facing +Z, i.e. the camera sits on +Z)
    c.hfov_deg_min = 45.0       # horizontal field of view range, degrees (focal = W/2 / tan(hfov/2):
    c.hfov_deg_max = 70.0       # 2318-1371 px at 1920 wide)
    c.height_min = 1.0          # camera height above the floor (y = 0) range, metres
    c.height_max = 2.0
    c.pitch_deg_min = 0.0       # downward pitch range, degrees (no roll)
    c.pitch_deg_max = 20.0
    c.person_height = 1.8       # metres; the camera distance frames a person this tall standing on the
    c.frame_fill = 0.8          # floor at every root position of the clip inside this central
                                # fraction of the image (width and height) ...
    c.distance_margin = 1.15    # ... times this factor
    c.image_width = 1920        # pixels
    c.image_height = 1080       # pixels

    # ---- detector-like 2D keypoints (OpenPose-like) ---------------------------------------------
    c.keypoint_format = "body25"    # format of the detections (a skeletons.FORMATS name)
    c.solver_format = "cocoplus"    # detections are converted to this format for the solver (SFV
                                    # fits cocoplus-19; points the detector lacks get confidence 0)
    # A real detector's error is mostly temporally correlated (a point stays off the same way over
    # neighbouring frames; long excursions on occluded or unusual poses) with a small per-frame
    # jitter on top. Sizes are fractions of the person's 2D box diagonal ("height", ~270 px here).
    c.noise_frac = 0.002        # per-frame jitter std (~0.5 px at 270 px; x (1 + gain (1 - conf)))
    c.noise_slow_frac = 0.012   # std of the slowly drifting per-point offset (~3 px at 270 px)
    c.noise_slow_frames = 6.0   # std of the Gaussian kernel that smooths that offset, frames
    c.noise_conf_gain = 2.0     # noise std is multiplied by 1 + gain * (1 - confidence)
    c.conf_min = 0.45           # confidences of clean detections are uniform in [conf_min, conf_max]
    c.conf_max = 0.95
    c.drop_prob = 0.03          # probability that a point is not detected (confidence 0), per point-frame
    c.self_occlusion = True     # points behind the torso and inside its 2D outline are occluded
    c.occlusion_events = 0.15   # expected occlusion episodes per second per clip-view
    c.occlusion_frames = 8      # mean episode length, frames (a limb chain is hidden / degraded)
    c.occluded_conf = 0.25      # max confidence of an occluded point (uniform in [0.05, occluded_conf])
    c.occluded_noise_frac = 0.04  # std of the drifting offset of occluded points (their jitter is
                                  # noise_frac x (1 + gain)), fraction of the 2D height
    c.occluded_drop_prob = 0.5  # probability that an occluded point is dropped altogether
    c.swap_prob = 0.02          # probability per frame of a left/right swap of both legs or both arms
    c.missing_prob = 0.02       # probability per frame that the person is not detected at all
    c.missing_run = 2           # mean length of a missing run, frames

    # ---- per-frame-regressor-like initial estimates (HMR-like) ----------------------------------
    # Pose error per body joint = constant bias + slowly varying part + independent per-frame jitter
    # (rotation vectors composed onto the truth, radians). Tuned so the initial PA-MPJPE is ~60-80 mm
    # and the acceleration error ~25-35 mm/frame^2 at 30 fps, like per-frame regressors on 3DPW.
    c.pose_bias_std = 0.12      # rad, constant over the clip-view
    c.pose_slow_std = 0.03      # rad, Gaussian-smoothed noise
    c.pose_slow_frames = 15.0    # std of the smoothing kernel of the slow part, frames
    c.pose_jitter_std = 0.012   # rad, independent per frame
    c.root_jitter_std = 0.005    # rad, per-frame global-orientation error
    c.root_slow_std = 0.03      # rad, slowly varying global-orientation error
    c.betas_bias_std = 0.5      # per-clip shape error (betas units)
    c.betas_jitter_std = 0.1    # per-frame shape error (betas units)
    c.cam_scale_jitter = 0.03   # per-frame relative error of the weak-perspective scale
    c.cam_trans_jitter = 0.015  # per-frame error of the camera translation, crop-normalized units
    c.crop_size = 224           # HMR crop side, pixels
    c.crop_person_px = 150.0    # HMR resizes the person's keypoint-box height to this many pixels
    c.crop_conf_threshold = 0.2 # detections below this confidence are ignored for the crop (SFV's 0.2)

    # ---- evaluation ------------------------------------------------------------------------------
    c.eval_format = "cocoplus"  # joints evaluated: the first eval_joints points of this format
    c.eval_joints = 14          # LSP-14 (ankles, knees, hips, wrists, elbows, shoulders, neck, head top)
    c.eval_root = ("right_hip", "left_hip")  # MPJPE / acceleration root: midpoint of these points
                                # (and the root of root_accel)

    # ---- world frame and contacts (evaluation.world_metrics) -------------------------------------
    c.foot_format = "body25"    # keypoint format whose foot points are scored (heels, big and small toes)
    c.foot_points = ("left_heel", "left_big_toe", "left_small_toe",
                     "right_heel", "right_big_toe", "right_small_toe")
    c.contact_height = 0.05     # a truth foot point within this height of the floor (metres) ...
    c.contact_still = 0.01      # ... moving less than this horizontally per frame (metres) is planted
    return c
