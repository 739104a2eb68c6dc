"""World frames of the exports and the ground-plane option.

Frames:
  - input ("camera"): HMR/SFV camera frame, x right, y down, z away from the camera.
  - world (SMPL's frame, what BVH files get): Y up; a body with zero global rotation faces
    +Z. camera -> world is a 180 degree rotation about X (y and z flip sign).
  - DeepMimic: Y up, the humanoid faces +X, its right side is +Z. SMPL's frame -> DeepMimic
    is a +90 degree rotation about Y: SMPL's forward +Z goes to +X, SMPL's left (+X) goes to
    -Z (the humanoid's left). Both are proper rotations, so handedness is kept.

Ground: the plane y = 0 of the Y-up frames. ``ground_lift`` turns per-frame heights of the
lowest body point into the vertical shift that keeps every body part above the plane.
"""
from __future__ import annotations

import numpy as np

from sfv_jax.export.config import GROUND_MODES, INPUT_FRAMES
from sfv_jax.geometry import planes

__all__ = ["CAMERA_TO_WORLD", "GROUND_MODES", "INPUT_FRAMES", "SMPL_TO_DEEPMIMIC",
           "ground_lift", "input_to_world"]

# camera (y down, z forward) -> SMPL's Y-up frame.
CAMERA_TO_WORLD = planes.TURN_ABOUT_X
# SMPL's frame (faces +Z, left +X) -> DeepMimic's (faces +X, right +Z): R_y(+90 deg).
SMPL_TO_DEEPMIMIC = np.array([[0.0, 0.0, 1.0],
                              [0.0, 1.0, 0.0],
                              [-1.0, 0.0, 0.0]])


def input_to_world(input_frame: str) -> np.ndarray:
    """(3, 3) rotation taking the reconstruction's frame to the Y-up world frame."""
    if input_frame == "camera":
        return CAMERA_TO_WORLD.copy()
    if input_frame == "y_up":
        return np.eye(3)
    raise ValueError(f"input_frame must be one of {INPUT_FRAMES}, got {input_frame!r}")


def ground_lift(lowest: np.ndarray, mode: str, clearance: float = 0.0,
                quantile: float = 0.0) -> np.ndarray:
    """Vertical shift (T,) that puts the body on / above the ground plane y = 0.

    Args:
      lowest: (T,) height of the lowest body point of each frame (metres).
      mode: "none" (zeros), "clip" (one shift for all frames: the ``quantile`` of the
        frames' lowest points lands on ``clearance``; at 0, the clip's lowest point, every
        frame is above ground; jumps stay jumps) or "frame" (each frame's lowest point lands
        on ``clearance``).
      clearance: height of the lowest point after the shift (metres).
      quantile: in [0, 1), "clip" mode only.
    """
    lowest = np.asarray(lowest, np.float64)  # an export-time edge: NumPy, any length
    if mode == "none":
        return np.zeros_like(lowest)
    if mode == "clip":
        return np.full_like(lowest, clearance - np.quantile(lowest, quantile))
    if mode == "frame":
        return clearance - lowest
    raise ValueError(f"ground mode must be one of {GROUND_MODES}, got {mode!r}")
