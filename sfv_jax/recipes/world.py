"""World-grounded reconstruction: a perspective camera, the ground, foot contacts, a smooth root.

Run: python -m sfv_jax.main --config=configs/world.py --workdir=DIR --config.inputs.dir=IN
(``configs/world.py`` re-exports this recipe.)

``configs/accurate.py``'s objective (BODY_25 points, Geman-McClure reprojection, Charbonnier
joint acceleration, strong init-pose term) solved in the solver's world mode
(``solver.mode = "world"``, see ``sfv_jax/solver/world.py``):
  - the keypoints are projected by each video's pinhole camera (focal length from the input's
    info.json, else the image diagonal) instead of HMR's crop weak perspective;
    the per-frame variables are pose, shape and the root translation in camera coordinates;
  - one ground plane per video (a static camera), shared by all its people, re-estimated every
    ``world.plane_every`` iterations from their feet;
  - soft heel / toe contacts from height and speed, with terms: a contacting foot does not
    move and rests on the plane; no body point below the plane; a world root acceleration prior;
  - the exports are in the solved world frame (Y up along the plane normal, the floor at y = 0).
Built on the ``accurate`` recipe (``configs/accurate.py``).
"""
from __future__ import annotations

import ml_collections

from sfv_jax.recipes.accurate import get_config as _accurate


def get_config() -> ml_collections.ConfigDict:
    cfg = _accurate()
    s = cfg.solver
    s.mode = "world"
    w = s.weights
    # The crop-camera smoothness of the paper is replaced by the world root prior below.
    w.camera_smooth = 0.0
    # The world terms are weighted so that they shape the root and the feet without pulling
    # the body off its keypoints (configs/accurate.py's PA-MPJPE within ~1 %): ten times the
    # weights of the first trial (1000 / 5000 / 2000 / 10000) cost 3 mm of PA-MPJPE and made
    # the world joint errors worse than the perspective camera alone (bench_accuracy.py).
    # metres^2 / frame^4: a real walk's root accelerates ~3 mm/frame^2 (1e-3 at weight 100),
    # a 5 cm depth jitter ~0.1 m/frame^2 (1 at weight 100).
    w.root_accel = 100.0
    # metres^2 / frame^2 of contact-foot motion: 1 cm / frame of sliding costs 1e-4 x weight.
    w.contact_static = 500.0
    # metres^2: a contact foot 1 cm off the plane costs 1e-4 x weight.
    w.contact_height = 200.0
    # metres^2 below the plane, over all keypoints and foot points.
    w.ground_penetration = 1000.0
    s.world.contact_height_scale = 0.03
    s.world.contact_speed_scale = 0.01
    # Contact evidence from the image: a planted foot stands still in a static camera's image
    # whatever the 3D estimate's depth jitter does (halves foot skating on the benchmark).
    s.world.contact_image_speed_scale = 0.01
    s.world.plane_every = 10
    s.world.normal_prior = 1e-3
    # A level camera (no roll): the feet of a straight walk or run lie along one line and leave
    # the plane's roll about it free; on the benchmark the plane error drops from 9.8 to 3.7
    # degrees and the ground penetration from 10.9 to 9.7 mm (0.1: 2.9 degrees, 10.0 mm).
    s.world.level_prior = 1e-2
    # Adam's root steps 3x the pose's: the depth (log z) has to travel tens of centimetres to
    # become smooth, and at 1x the root prior leaves a lr-sized zig-zag (root accel 25 vs 15).
    s.world.root_lr_scale = 3.0
    # The DeepMimic humanoid is lifted onto the solved floor once per clip (its foot boxes are
    # not SMPL's soles): its lower foot's 5th-percentile height goes to 0, so a single frame
    # whose foot dips lowest does not lift every other frame (the demo's lower-foot mean height
    # 1.71 -> 1.17 cm, its minimum -0.54 cm; a mocap walk: 0.61 and -0.53 cm).
    cfg.export.ground.quantile = 0.05
    return cfg
