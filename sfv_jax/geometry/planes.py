"""Ground planes in camera coordinates and the Y-up world frame they define (NumPy).

A plane is ``[n (3), d]`` with ``n . p + d = 0`` on the floor and ``n`` the unit normal
pointing up (away from the floor, towards the people), in OpenCV camera axes (x right, y down,
z forward). Its world frame (``plane_rotation``): y = n; z = the camera's viewing direction
projected onto the floor, pointing back towards the camera (a person facing the camera faces
+Z); x = y cross z. The exports (``export.world_motion``) and the comparison video's side view
(``render.video``) both use it.
"""
from __future__ import annotations

import numpy as np

# A 180 degree turn about x: camera axes (y down, z forward) <-> Y-up axes (z towards the
# camera); its own inverse.
TURN_ABOUT_X = np.diag([1.0, -1.0, -1.0])


def plane_rotation(plane: np.ndarray) -> np.ndarray:
    """(3, 3) camera -> world rotation of a camera-frame floor plane [n, d] (module doc)."""
    n = np.asarray(plane, np.float64)[:3]
    n = n / np.linalg.norm(n)
    back = np.array([0.0, 0.0, -1.0])  # from the scene towards the camera (camera z is forward)
    z = back - np.dot(back, n) * n
    if np.linalg.norm(z) < 1e-6:
        raise ValueError(f"ground plane normal {n} is along the viewing direction; the world's "
                         "heading is undefined")
    z /= np.linalg.norm(z)
    return np.stack([np.cross(n, z), n, z])


def level_rotation(plane: np.ndarray) -> np.ndarray:
    """(3, 3) rotation of camera-frame points into a level camera's axes: the floor normal
    becomes -y (up in the image) and the heading is kept (the identity for a level camera)."""
    return TURN_ABOUT_X @ plane_rotation(plane)
