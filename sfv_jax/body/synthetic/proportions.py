"""Rest proportions and constants of the synthetic body: SMPL-like rest joints, shape component
names, vertex-count limits, body-part labels.

Part of ``sfv_jax.body.synthetic`` (the package docstring says how the body is made).
"""
from __future__ import annotations

from sfv_jax import skeletons


ROOT_PARENT = 4294967295  # how SMPL files write the root's parent in kintree_table
SHAPE_COMPONENTS: tuple[str, ...] = (
    "stature", "weight", "leg_length", "arm_length", "shoulder_width", "hip_width",
    "torso_length", "head_size", "torso_depth", "limb_girth",
)
_MIN_VERTICES = 600
_MAX_VERTICES = 100_000
_JI = {n: i for i, n in enumerate(skeletons.SMPL_JOINT_NAMES)}

# SMPL-like rest joints (metres) for the centre line and the body's left side; the right
# side mirrors x.
_BASE_JOINTS: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, -0.225, 0.020),
    "left_hip": (0.070, -0.315, 0.015),
    "spine1": (0.0, -0.105, 0.000),
    "left_knee": (0.102, -0.700, 0.020),
    "spine2": (0.0, 0.030, -0.005),
    "left_ankle": (0.088, -1.090, -0.030),
    "spine3": (0.0, 0.090, -0.005),
    "left_foot": (0.112, -1.150, 0.085),
    "neck": (0.0, 0.290, -0.020),
    "left_collar": (0.075, 0.195, -0.010),
    "head": (0.0, 0.365, 0.025),
    "left_shoulder": (0.170, 0.225, -0.020),
    "left_elbow": (0.430, 0.215, -0.035),
    "left_wrist": (0.685, 0.222, -0.040),
    "left_hand": (0.770, 0.215, -0.045),
}

# Body parts (per vertex) used by the skinning rules.
_TORSO, _HEAD, _ARM_L, _ARM_R, _LEG_L, _LEG_R = range(6)
