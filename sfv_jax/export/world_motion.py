"""The world-frame motion a user receives: ONE function for the exports and the benchmark.

Contract (``world_motion``; the pipeline's per-track outputs and ``launch/bench_accuracy.py``
both call it, so the benchmark scores exactly what is exported):

  inputs   a solver result (anything with ``pose`` (T, 72) axis-angle in the camera frame,
           ``betas`` (T, B) or (B,), ``cam_full`` (T, 3) full-image weak perspective), the body
           model, ``image_size`` (H, W) px, ``focal`` px (principal point = image centre) and
           the ``export`` settings (``ground.mode`` / ``ground.clearance``).
  optional fields on the result (a world-grounded solve sets them; ``getattr`` with None):
           ``transl`` (T, 3): the solved root translation in the camera frame (metres; the body
             is ``body.forward(model, pose, betas, transl)`` in camera coordinates); without it
             the paper's derivation ``cameras.perspective_from_full(cam_full, focal, centre)``.
           ``focal`` (): a focal length the solve refined (px); it replaces ``focal``.
           ``plane`` (4,): the solved ground plane in camera coordinates, ``[n (3), d]`` with
             ``n . p + d = 0`` on the floor and ``n`` the unit normal pointing up (away from the
             floor, towards the people); without it the paper mode's frame (camera -> Y-up by a
             180 degree turn about x, ``world.CAMERA_TO_WORLD``) and the ground-lift heuristic
             ``world.ground_lift`` on the lowest mesh point (``export.ground.mode``).
  output   ``WorldMotion``: Y up, the floor is y = 0, metres. ``body.forward(model, pose,
           betas_mean, transl)`` gives the world-frame body; ``to_world(points_cam, t)`` maps any
           camera-frame body point (of the camera-frame body with ``camera_transl``) there.

With a plane: world y axis = n; world z axis = the camera's viewing direction projected onto
the floor, pointing back towards the camera (so a person facing the camera faces +Z, as in the
paper mode); x = y cross z. The world origin is the camera centre's foot point on the floor, and
no ground lift is applied (the plane is the floor). Without a plane the clip mode lifts the
whole clip so its lowest mesh point sits at ``clearance`` (see ``world.ground_lift``).

Focal length: ``default_focal`` is the usual guess when the input does not say (the image
diagonal in pixels, i.e. about 53 degrees diagonal field of view, as WHAM / GVHMR / SLAHMR
assume); ``resolve_focal`` picks the configured value, the input's, or that default, and says
which.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import numpy as np
from scipy.spatial.transform import Rotation

from sfv_jax import body, chunking
from sfv_jax.body import chunked
from sfv_jax.export import bvh, world
from sfv_jax.export.config import ExportSettings
from sfv_jax.geometry import cameras, planes

_perspective_from_full = jax.jit(cameras.perspective_from_full)

FOCAL_SOURCES = ("config", "input", "image_size")


@dataclasses.dataclass(frozen=True)
class WorldMotion:
    """A clip in the world frame (Y up, floor y = 0, metres).

    pose: (T, 72) axis-angle, the global orientation turned into the world.
    betas: (B,) one shape for the clip (the mean of the result's per-frame shapes).
    transl: (T, 3) SMPL translation in the world (``body.forward(model, pose, betas, transl)``).
    camera_transl: (T, 3) root translation in the camera frame the motion came from.
    rotation: (3, 3) camera -> world; offset: (T, 3); world = rotation @ p_cam + offset[t].
    focal: px; center: (2,) principal point px; plane: (4,) camera-frame floor [n, d] or None.
    ground: "solved" (a plane was given) or the export's ground mode ("none", "clip", "frame").
    """
    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    camera_transl: np.ndarray
    rotation: np.ndarray
    offset: np.ndarray
    focal: float
    center: np.ndarray
    plane: np.ndarray | None
    ground: str

    @property
    def num_frames(self) -> int:
        return int(self.pose.shape[0])

    def to_world(self, points_cam: np.ndarray) -> np.ndarray:
        """(T, N, 3) camera-frame points (with ``camera_transl`` applied) -> world, metres."""
        p = np.asarray(points_cam, np.float64)
        return p @ self.rotation.T + self.offset[:, None, :]


def default_focal(image_size: tuple[int, int]) -> float:
    """Focal length (px) assumed when the input gives none: the image diagonal, sqrt(H^2 + W^2)."""
    h, w = (float(v) for v in image_size)
    if not (h > 0 and w > 0):
        raise ValueError(f"image size must be positive (H, W), got {image_size}")
    return math.hypot(h, w)


def resolve_focal(configured: float, from_input: float | None,
                  image_size: tuple[int, int]) -> tuple[float, str]:
    """(focal px, source): ``configured`` when > 0, else the input's, else ``default_focal``.

    source is one of ``FOCAL_SOURCES``: "config", "input" (info.json's focal length, read by
    ``inputs.discovery.input_focal``) or "image_size" (the diagonal default).
    """
    if configured and float(configured) > 0:
        return float(configured), "config"
    if from_input is not None and float(from_input) > 0:
        return float(from_input), "input"
    return default_focal(image_size), "image_size"


def _rotate_root(pose: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """(T, 72) pose with its global orientation pre-multiplied by ``rot`` (3, 3)."""
    out = np.array(pose, np.float64, copy=True)
    out[:, :3] = (Rotation.from_matrix(rot) * Rotation.from_rotvec(out[:, :3])).as_rotvec()
    return out


def world_motion(result: Any, model: body.BodyModel, image_size: tuple[int, int], focal: float,
                 settings: ExportSettings) -> WorldMotion:
    """The world-frame motion of one solver result (see the module docstring for the contract).

    Args:
      result: ``solver.ClipResult``-like: pose (T, 72), betas (T, B) or (B,), cam_full (T, 3);
        optional ``transl`` (T, 3) and ``plane`` (4,) in camera coordinates.
      model: the body model (rest pelvis and, for the ground lift, the mesh).
      image_size: (H, W) pixels; the principal point is its centre.
      focal: focal length, pixels.
      settings: the ``export`` section (ground.mode, ground.clearance, used without a plane).
    Returns:
      ``WorldMotion``.
    """
    pose = np.asarray(result.pose, np.float64)
    if pose.ndim != 2 or pose.shape[1] != 72 or pose.shape[0] == 0:
        raise ValueError(f"world_motion: pose must be (T, 72), got {pose.shape}")
    t = pose.shape[0]
    betas = np.asarray(result.betas, np.float64)
    betas = betas.mean(0) if betas.ndim == 2 else betas
    h, w = image_size
    center = np.array([w / 2.0, h / 2.0])
    if getattr(result, "focal", None) is not None:
        focal = float(result.focal)
    transl = getattr(result, "transl", None)
    if transl is None:
        f32, c32 = np.float32(focal), center.astype(np.float32)
        transl = np.asarray(chunking.apply_chunked(
            lambda cam: _perspective_from_full(cam, f32, c32),
            np.asarray(result.cam_full, np.float32)), np.float64)
    transl = np.asarray(transl, np.float64)
    if transl.shape != (t, 3):
        raise ValueError(f"world_motion: translation must be ({t}, 3), got {transl.shape}")
    plane = getattr(result, "plane", None)
    pelvis = chunked.rest_joints_np(model, betas)[0]
    if plane is not None:
        plane = np.asarray(plane, np.float64).reshape(4)
        scale = np.linalg.norm(plane[:3])
        plane = plane / scale
        rot = planes.plane_rotation(plane)
        # World origin: the camera centre's foot point on the floor (height = n.0 + d = d).
        offset = np.tile(-rot @ (-plane[3] * plane[:3]), (t, 1))
        mode = "solved"
    else:
        rot = world.input_to_world("camera")
        offset = np.zeros((t, 3))
        mode = settings.ground.mode
        if mode != "none":
            low = bvh.lowest_mesh_points(model, pose, betas, transl, rot)
            offset[:, 1] = np.asarray(world.ground_lift(
                low, mode, settings.ground.clearance, settings.ground.quantile))
    # SMPL with root R and translation t places the pelvis at pelvis + t; in the world the
    # pelvis is rot (pelvis + t) + offset = pelvis + t_world.
    transl_world = (pelvis + transl) @ rot.T + offset - pelvis
    return WorldMotion(pose=_rotate_root(pose, rot), betas=betas, transl=transl_world,
                       camera_transl=transl, rotation=rot, offset=offset, focal=float(focal),
                       center=center, plane=plane, ground=mode)
