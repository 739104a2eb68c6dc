"""The benchmark's virtual cameras: static perspective cameras like a phone's or a YouTube video's.

Per view (``make_cameras``), drawn from the caller's generator:
  - a horizontal field of view uniform in [``hfov_deg_min``, ``hfov_deg_max``] (45-70 degrees,
    phone main cameras to wide consumer video), i.e. a focal length
    ``f = (image_width / 2) / tan(hfov / 2)`` pixels, principal point at the image centre;
  - a height above the floor uniform in [``height_min``, ``height_max``] metres (1-2 m);
  - a downward pitch uniform in [``pitch_deg_min``, ``pitch_deg_max``] (0-20 degrees), no roll,
    lowered in 1 degree steps when no distance frames the person with it (a long lens pitched
    steeply down from head height cannot see a whole standing person) or when the distance that
    does is over ``max_distance_ratio`` times a level camera's (just under that steepest pitch
    the person fits only far away, a few dozen pixels tall at the top of the image);
  - an azimuth ``azimuth0_deg + k * 360 / views`` about the world Y axis (azimuth 0 puts the
    camera on +Z of the clip centre, in front of a body facing +Z), looking horizontally at the
    clip centre (the mean root position) before the pitch;
  - the horizontal distance: the smallest at which a ``person_height`` tall person standing on
    the floor at every root position of the clip lies inside the central ``frame_fill`` of the
    image (vertically and horizontally), times ``distance_margin``; the camera operator frames
    the whole action.
Axes are OpenCV's (x right, y down, z forward). NumPy at this data-synthesis edge.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from sfv_jax.evaluation.config import DEFAULTS as _D, subset


@dataclasses.dataclass(frozen=True)
class CameraSettings:
    """Placement ranges of ``make_cameras``: the ``evaluation`` section's camera keys (meaning,
    unit and default in ``evaluation.config.EvaluationSettings``, which the defaults refer to)."""
    views: int = _D.views
    azimuth0_deg: float = _D.azimuth0_deg
    hfov_deg_min: float = _D.hfov_deg_min
    hfov_deg_max: float = _D.hfov_deg_max
    height_min: float = _D.height_min
    height_max: float = _D.height_max
    pitch_deg_min: float = _D.pitch_deg_min
    pitch_deg_max: float = _D.pitch_deg_max
    person_height: float = _D.person_height
    frame_fill: float = _D.frame_fill
    distance_margin: float = _D.distance_margin
    max_distance_ratio: float = _D.max_distance_ratio
    image_width: int = _D.image_width
    image_height: int = _D.image_height

    @classmethod
    def from_config(cls, cfg: Any) -> "CameraSettings":
        """From the ``evaluation`` section (ConfigDict or ``EvaluationSettings``; strict)."""
        return subset(cls, cfg)


@dataclasses.dataclass(frozen=True)
class Cameras:
    """V static perspective cameras (NumPy).

    rotation: (V, 3, 3) world -> camera (rows: camera x right, y down, z forward in world axes).
    center: (V, 3) camera centres in the world, metres. azimuth_deg, pitch_deg: (V,) degrees.
    focal: (V,) pixels. image_size: (width, height) pixels; principal point at the image centre.
    """
    rotation: np.ndarray
    center: np.ndarray
    azimuth_deg: np.ndarray
    focal: np.ndarray
    image_size: tuple[int, int]
    pitch_deg: np.ndarray | None = None

    @property
    def principal(self) -> np.ndarray:
        return 0.5 * np.asarray(self.image_size, np.float64)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (V, ..., 3) camera-frame points, metres."""
        p = np.asarray(points, np.float64)
        d = p[None] - self.center.reshape((-1,) + (1,) * (p.ndim - 1) + (3,))
        return np.einsum("vij,v...j->v...i", self.rotation, d)

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """(V, ..., 3) camera-frame points -> (V, ..., 2) pixels (depth must be positive)."""
        f = np.asarray(self.focal, np.float64).reshape((-1,) + (1,) * (points_cam.ndim - 1))
        z = np.maximum(points_cam[..., 2:3], 1e-6)
        return f * points_cam[..., :2] / z + self.principal


def look_at(center: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(3, 3) world -> camera rotation of a camera at ``center`` looking at ``target`` (Y is up)."""
    forward = np.asarray(target, np.float64) - np.asarray(center, np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    if np.linalg.norm(right) < 1e-8:
        raise ValueError("look_at: the camera looks straight up or down; the roll is undefined")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def focal_from_hfov(hfov_deg: float | np.ndarray, width: int) -> np.ndarray:
    """Focal length (px) of a horizontal field of view (degrees) over ``width`` pixels."""
    return 0.5 * width / np.tan(0.5 * np.deg2rad(hfov_deg))


def _framing_distance(roots: np.ndarray, mid: np.ndarray, direction: np.ndarray, height: float,
                      pitch: float, focal: float, s: CameraSettings) -> float | None:
    """Smallest horizontal distance framing a standing person at every root (see module doc),
    or None when no distance up to 80 m does (the pitch is too steep for the field of view)."""
    up = np.array([0.0, 1.0, 0.0])
    half_w = 0.5 * s.frame_fill * s.image_width
    half_h = 0.5 * s.frame_fill * s.image_height
    n = len(roots)
    pts = np.concatenate([np.stack([roots[:, 0], np.zeros(n), roots[:, 2]], -1),
                          np.stack([roots[:, 0], np.full(n, s.person_height), roots[:, 2]], -1)])
    base = np.array([mid[0], height, mid[2]])
    rot = look_at(base, base - np.cos(pitch) * direction - np.sin(pitch) * up)
    dist = np.arange(1.0, 80.0, 0.05)
    # The rotation does not depend on the distance: q(d) = R (p - base) - d R direction.
    q = ((pts - base) @ rot.T)[None] - dist[:, None, None] * (rot @ direction)[None, None]
    z = q[..., 2]
    px = focal * q[..., :2] / np.maximum(z, 1e-6)[..., None]
    ok = (np.all(z > 0.1, axis=1) & np.all(np.abs(px[..., 0]) <= half_w, axis=1)
          & np.all(np.abs(px[..., 1]) <= half_h, axis=1))
    return float(dist[np.argmax(ok)]) if ok.any() else None


def make_cameras(root_positions: np.ndarray, settings: CameraSettings,
                 rng: np.random.Generator) -> Cameras:
    """Cameras around a clip.

    Args:
      root_positions: (T, 3) root (pelvis) positions of the clip in the world, metres, Y up.
      settings: ranges; see the module docstring.
      rng: the random source of the per-view draws (field of view, height, pitch).
    Returns:
      ``Cameras`` with ``settings.views`` views.
    """
    s = settings
    if s.views < 1:
        raise ValueError(f"need at least one view, got views={s.views}")
    roots = np.asarray(root_positions, np.float64)
    mid = roots.mean(axis=0)
    az = s.azimuth0_deg + 360.0 * np.arange(s.views) / s.views
    hfov = rng.uniform(s.hfov_deg_min, s.hfov_deg_max, s.views)
    heights = rng.uniform(s.height_min, s.height_max, s.views)
    pitch = rng.uniform(s.pitch_deg_min, s.pitch_deg_max, s.views)
    focal = focal_from_hfov(hfov, s.image_width)
    up = np.array([0.0, 1.0, 0.0])
    rots, centers, pitches = [], [], []
    for a, h, p, f in zip(np.deg2rad(az), heights, np.deg2rad(pitch), focal):
        direction = np.array([np.sin(a), 0.0, np.cos(a)])  # clip centre -> camera, horizontal
        level = _framing_distance(roots, mid, direction, h, 0.0, f, s)
        d = _framing_distance(roots, mid, direction, h, p, f, s)
        # Too steep to frame the person, or only from far away: the operator tilts less.
        while p > 0 and (d is None or (level is not None and d > s.max_distance_ratio * level)):
            p = max(p - np.deg2rad(1.0), 0.0)
            d = _framing_distance(roots, mid, direction, h, p, f, s)
        if d is None:
            raise ValueError("make_cameras: no camera distance up to 80 m frames the clip; widen "
                             "the field of view or lower frame_fill")
        pitches.append(np.rad2deg(p))
        c = np.array([mid[0], h, mid[2]]) + s.distance_margin * d * direction
        centers.append(c)
        rots.append(look_at(c, c - np.cos(p) * direction - np.sin(p) * up))
    return Cameras(rotation=np.stack(rots), center=np.stack(centers), azimuth_deg=az,
                   focal=focal, image_size=(int(s.image_width), int(s.image_height)),
                   pitch_deg=np.asarray(pitches))
