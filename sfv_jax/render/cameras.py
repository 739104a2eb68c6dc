"""Projection of camera-frame points to the rasterizer's screen space (NumPy).

Screen space is ``(x px, y px, depth)`` with smaller depth nearer (see ``rasterizer``). The
two camera kinds follow ``sfv_jax.geometry.cameras`` (HMR's convention: model x, y are image
x, y; the camera looks down +Z, so depth is the model's z):

- ``'weak'``: params ``[s, tx, ty]`` (full-image weak perspective, ``crop_to_full``'s output):
  ``x = s (X + tx)``, ``y = s (Y + ty)``, ``depth = s Z`` - a uniform scaling, so normals
  computed from screen vertices are true normals.
- ``'perspective'``: params ``[f, cx, cy, Tx, Ty, Tz]`` (focal px, principal point px, root
  translation m): ``x = f (X+Tx) / (Z+Tz) + cx``, same for y, ``depth = Z + Tz``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

_PARAM_SIZES = {"weak": 3, "perspective": 6}


@dataclasses.dataclass(frozen=True)
class ScreenCamera:
    """Per-frame cameras of one track.

    Attributes:
      kind: 'weak' or 'perspective'.
      params: (T, 3) ``[s, tx, ty]`` for 'weak', (T, 6) ``[f, cx, cy, Tx, Ty, Tz]`` for
        'perspective'.
    """
    kind: str
    params: np.ndarray

    def __post_init__(self) -> None:
        if self.kind not in _PARAM_SIZES:
            raise ValueError(f"camera kind must be one of {sorted(_PARAM_SIZES)}, "
                             f"got {self.kind!r}")
        p = np.asarray(self.params, dtype=np.float64)
        if p.ndim == 1:
            p = p[None]
        n = _PARAM_SIZES[self.kind]
        if p.ndim != 2 or p.shape[1] != n:
            raise ValueError(f"{self.kind} camera params must be (T, {n}), got {p.shape}")
        if not np.isfinite(p).all():
            bad = np.flatnonzero(~np.isfinite(p).all(axis=1))
            raise ValueError(f"{self.kind} camera params are not finite at frames "
                             f"{bad[:10].tolist()}")
        object.__setattr__(self, "params", p)

    def __len__(self) -> int:
        return self.params.shape[0]

    def project(self, points: np.ndarray, frame: int) -> np.ndarray:
        """(N, 3) camera-frame points of ``frame`` -> (N, 3) screen (x px, y px, depth)."""
        return project(points, self.kind, self.params[frame])

    def project_frames(self, points: np.ndarray, start: int) -> np.ndarray:
        """(n, N, 3) points of frames ``start .. start + n - 1`` -> (n, N, 3) screen, each
        frame with its own camera (the same numbers as ``project`` frame by frame)."""
        return project(points, self.kind, self.params[start:start + len(points)])

    def camera_frame(self, points: np.ndarray, frame: int) -> np.ndarray:
        """(N, 3) model points -> the same points in a frame with true angles, for shading.

        Weak perspective: the points themselves; perspective: translated by the root.
        """
        pts = np.asarray(points, dtype=np.float64)
        if self.kind == "perspective":
            return pts + self.params[frame, 3:6]
        return pts

    def camera_frame_frames(self, points: np.ndarray, start: int) -> np.ndarray:
        """``camera_frame`` of (n, N, 3) points of frames ``start .. start + n - 1``."""
        pts = np.asarray(points, dtype=np.float64)
        if self.kind == "perspective":
            return pts + self.params[start:start + len(pts), None, 3:6]
        return pts


def as_screen_camera(camera: "ScreenCamera | np.ndarray") -> ScreenCamera:
    """A ``ScreenCamera`` as is, or plain per-frame params: (T, 3) weak, (T, 6) perspective."""
    if isinstance(camera, ScreenCamera):
        return camera
    p = np.asarray(camera, dtype=np.float64)
    kinds = {n: k for k, n in _PARAM_SIZES.items()}
    if p.ndim != 2 or p.shape[1] not in kinds:
        raise ValueError("camera params must be (T, 3) weak [s, tx, ty] or (T, 6) perspective "
                         f"[f, cx, cy, Tx, Ty, Tz], got {p.shape}")
    return ScreenCamera(kinds[p.shape[1]], p)


def project(points: np.ndarray, kind: str, params: np.ndarray) -> np.ndarray:
    """Projects (..., N, 3) points with ``params`` (see module docstring): one camera (P,),
    or (M, P) one per leading row of (M, N, 3) points.

    Returns (..., N, 3) screen vertices (x px, y px, depth).
    """
    pts = np.asarray(points, dtype=np.float64)
    p = np.asarray(params, dtype=np.float64)
    if p.ndim == 2:
        p = p[:, None, :]           # (M, 1, P): broadcast over each row's N points
    if kind == "weak":
        s = p[..., 0:1]
        t = np.concatenate([p[..., 1:3], np.zeros_like(p[..., :1])], axis=-1)
        return s * (pts + t)
    if kind == "perspective":
        f, c, tr = p[..., 0:1], p[..., 1:3], p[..., 3:6]
        q = pts + tr
        z = q[..., 2:3]
        # Points at or behind the camera plane get NaN: the rasterizer skips their faces.
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = np.where(z > 1e-6, f * q[..., :2] / z + c, np.nan)
        return np.concatenate([xy, z], axis=-1)
    raise ValueError(f"camera kind must be 'weak' or 'perspective', got {kind!r}")


def resize_screen(screen: np.ndarray, factor: float) -> np.ndarray:
    """Screen vertices or keypoints (..., >=2) for an image resized by ``factor``.

    Pixel centres sit at integer coordinates, so ``x' = (x + 0.5) factor - 0.5``; depth
    and further channels (confidence) are kept.
    """
    out = np.array(screen, dtype=np.float64, copy=True)
    out[..., :2] = (out[..., :2] + 0.5) * factor - 0.5
    return out


def rotate_about_vertical(points: np.ndarray, angle_deg: float,
                          center: np.ndarray | None = None) -> np.ndarray:
    """Turns (..., N, 3) camera-frame points about the camera's vertical (y) axis.

    Args:
      points: (..., N, 3).
      angle_deg: turn in degrees; positive moves +z (away from the viewer) towards +x.
      center: (3,) pivot; defaults to the mean of all points.
    """
    pts = np.asarray(points, dtype=np.float64)
    c = pts.reshape(-1, 3).mean(axis=0) if center is None else np.asarray(center, np.float64)
    a = np.deg2rad(angle_deg)
    ca, sa = np.cos(a), np.sin(a)
    rot = np.array([[ca, 0.0, sa], [0.0, 1.0, 0.0], [-sa, 0.0, ca]])
    return (pts - c) @ rot.T + c


def fit_orthographic(points: np.ndarray, height: int, width: int,
                     margin: float = 0.1) -> np.ndarray:
    """A fixed weak camera ``[s, tx, ty]`` that fits (..., N, 3) points (all frames) in an image.

    One camera for the whole track, so motion across frames stays visible in the panel.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if pts.size == 0:
        raise ValueError("fit_orthographic: no finite points")
    lo, hi = pts[:, :2].min(axis=0), pts[:, :2].max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    usable = np.array([width, height], dtype=np.float64) * (1.0 - 2.0 * margin)
    s = float(np.min(usable / span))
    mid = 0.5 * (lo + hi)
    # Put the points' box centre at the image centre: s (mid + t) = (size - 1) / 2.
    t = (np.array([width - 1, height - 1]) / 2.0) / s - mid
    return np.array([s, t[0], t[1]])
