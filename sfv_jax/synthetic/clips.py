"""Synthetic solver clips with known truth, for tests and benchmarks of the solver.

A smooth ground-truth motion (sinusoidal joint angles, a slowly turning root, a smooth
full-image camera) on a body model; 2D keypoints projected from it in full-image pixels with
Gaussian noise and dropped points; an initial estimate with independent per-frame noise (like
per-frame HMR). Crops follow the person as SFV's preprocessing does (square crop of
``crop_size`` centred on the person after resizing by a per-clip ``crop_scale``).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import numpy as np

from sfv_jax.body import BodyModel, forward
from sfv_jax.geometry import cameras
from sfv_jax.solver.clips import Clip

# Joints that move in the synthetic motion (SMPL ids): hips, knees, spine, shoulders, elbows.
_MOVING = (1, 2, 3, 4, 5, 6, 9, 16, 17, 18, 19)


# Compiled once per model kind and padded length (lengths are padded to a multiple of 64).
_keypoints = jax.jit(lambda model, pose, betas: forward(model, pose, betas).keypoints)
_vertices = jax.jit(lambda model, pose, betas: forward(model, pose, betas).vertices)


def _padded_call(fn: Callable, model: BodyModel, pose: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """``fn(model, pose, betas)`` on T frames padded (repeating the last) to a multiple of 64,
    so clips of nearby lengths share one compilation; float64 (T, ...) out."""
    t_n = pose.shape[0]
    padded = -(-t_n // 64) * 64

    def pad(x: np.ndarray) -> np.ndarray:
        return np.concatenate([x, np.repeat(x[-1:], padded - t_n, 0)]).astype(np.float32)

    return np.asarray(fn(model, pad(pose), pad(betas)), np.float64)[:t_n]


def _noisy_inputs(rng: np.random.Generator, kp2d: np.ndarray, pose: np.ndarray,
                  betas: np.ndarray, cam: np.ndarray, *, pixel_noise: float, drop_rate: float,
                  pose_noise: float, betas_noise: float, cam_noise: tuple[float, float, float],
                  relative_cam: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The solver's inputs from a true motion: detector-like keypoints and a per-frame
    regressor-like initial estimate (independent noise per frame).

    Args:
      kp2d: (T, K, 2) true pixels; pose (T, 72), betas (T, 10), cam (T, 3): the truth.
      pixel_noise: keypoint noise std, pixels; drop_rate: fraction dropped (confidence 0).
      pose_noise, betas_noise: initial pose / shape noise stds; cam_noise: (3,) camera noise
        std, added (``relative_cam`` False) or relative (``cam * (1 + noise)``).
    Returns:
      keypoints (T, K, 3) [x, y, confidence], pose0 (T, 72), betas0 (T, 10), cam0 (T, 3).
    """
    obs = kp2d + rng.normal(0, pixel_noise, kp2d.shape)
    conf = rng.uniform(0.5, 1.0, kp2d.shape[:2])
    conf[rng.uniform(size=conf.shape) < drop_rate] = 0.0
    obs[conf == 0] = 0.0
    pose0 = pose + rng.normal(0, pose_noise, pose.shape)
    betas0 = betas + rng.normal(0, betas_noise, betas.shape)
    cam_delta = rng.normal(0, 1, cam.shape) * np.asarray(cam_noise)
    cam0 = cam * (1 + cam_delta) if relative_cam else cam + cam_delta
    return np.concatenate([obs, conf[..., None]], -1), pose0, betas0, cam0


@dataclasses.dataclass
class SyntheticTruth:
    """Ground truth of one synthetic clip (T frames, K keypoints).

    pose (T, 72), betas (T, 10), cam (T, 3) crop camera, cam_full (T, 3),
    keypoints_2d (T, K, 2) noise-free full-image pixels, keypoints_3d (T, K, 3).
    """
    pose: np.ndarray
    betas: np.ndarray
    cam: np.ndarray
    cam_full: np.ndarray
    keypoints_2d: np.ndarray
    keypoints_3d: np.ndarray


def make_synthetic_clip(model: BodyModel, num_frames: int, seed: int = 0, *,
                        pixel_noise: float = 2.0, drop_rate: float = 0.1,
                        pose_noise: float = 0.08, betas_noise: float = 0.2,
                        cam_noise: tuple[float, float, float] = (0.02, 0.01, 0.01),
                        crop_size: float = 224.0, fps: float = 30.0,
                        name: str = "") -> tuple[Clip, SyntheticTruth]:
    """One synthetic clip and its truth.

    Args:
      model: body model (its keypoint set defines the keypoints).
      num_frames: T.
      seed: random seed.
      pixel_noise: std of the 2D keypoint noise, full-image pixels.
      drop_rate: fraction of keypoints dropped (confidence 0).
      pose_noise: std of the per-frame initial pose noise, radians per axis-angle component.
      betas_noise: std of the per-frame initial shape noise.
      cam_noise: std of the per-frame initial crop-camera noise [s, tx, ty].
      crop_size: crop side, pixels; fps: frame rate of the motion.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / fps
    pose = np.zeros((num_frames, 72))
    # Root: upside down about x (HMR's image convention, y down) and a slow turn.
    yaw = 0.3 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 2 * np.pi))
    pose[:, 0] = np.pi
    pose[:, 1] = yaw
    for j in _MOVING:
        amp = rng.uniform(0.1, 0.4, 3) * np.array([1.0, 0.4, 0.4])
        freq = rng.uniform(0.5, 1.5)
        phase = rng.uniform(0, 2 * np.pi, 3)
        pose[:, 3 * j:3 * j + 3] = amp * np.sin(2 * np.pi * freq * t[:, None] + phase)
    betas = np.tile(rng.normal(0, 0.5, 10), (num_frames, 1))

    # Smooth full-image weak perspective: ~200 px per metre, walking across a 640x480 image.
    s_img = 200.0 * (1.0 + 0.1 * np.sin(2 * np.pi * 0.3 * t))
    root_px = np.stack([320 + 80 * np.sin(2 * np.pi * 0.1 * t), 240 + 10 * np.sin(t)], -1)
    cam_full = np.concatenate([s_img[:, None], root_px / s_img[:, None]], -1)

    kp3d = _padded_call(_keypoints, model, pose, betas)
    # Full-image weak perspective (cameras.project_full) in NumPy: s * (X[:2] + t).
    kp2d = cam_full[:, None, :1] * (kp3d[..., :2] + cam_full[:, None, 1:])

    # SFV-style crops: resize so the person is ~150 px tall, centre a crop on the root.
    crop_scale = np.full(num_frames, 150.0 / (1.7 * 200.0))
    crop_start = np.round(root_px * crop_scale[:, None]) - crop_size / 2
    cam = np.asarray(cameras.full_to_crop(cam_full, crop_scale, crop_start, crop_size),
                     np.float64)

    keypoints, pose0, betas0, cam0 = _noisy_inputs(
        rng, kp2d, pose, betas, cam, pixel_noise=pixel_noise, drop_rate=drop_rate,
        pose_noise=pose_noise, betas_noise=betas_noise, cam_noise=cam_noise, relative_cam=False)
    clip = Clip(
        keypoints=keypoints, pose=pose0, betas=betas0, cam=cam0, crop_scale=crop_scale,
        crop_start=crop_start, crop_size=crop_size,
        name=name or f"synthetic{seed}")
    truth = SyntheticTruth(pose, betas, cam, cam_full, kp2d, kp3d)
    return clip, truth


@dataclasses.dataclass
class WorldTruth:
    """Ground truth of one world-mode synthetic clip (T frames, camera coordinates).

    pose (T, 72) camera-frame axis-angle; betas (T, 10); transl (T, 3) metres (the body is
    ``forward(model, pose, betas, transl)``); plane (4,) the floor [n, d] (unit n up, height
    ``n . p + d``); focal () and center (2,) pixels; keypoints_2d (T, K, 2) noise-free pixels;
    lowest (T,) height of the lowest mesh vertex above the floor (0: the body stands on it).
    """
    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    plane: np.ndarray
    focal: float
    center: np.ndarray
    keypoints_2d: np.ndarray
    lowest: np.ndarray


def _rotation_matrix(aa: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3) (Rodrigues, NumPy)."""
    theta = np.linalg.norm(aa, axis=-1, keepdims=True)
    k = aa / np.maximum(theta, 1e-12)
    kx = np.zeros(aa.shape[:-1] + (3, 3))
    kx[..., 0, 1], kx[..., 0, 2], kx[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    kx = kx - np.swapaxes(kx, -1, -2)
    s, c = np.sin(theta)[..., None], np.cos(theta)[..., None]
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


def _axis_angle(r: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation -> (..., 3) axis-angle (angles below pi - 1e-3)."""
    cos = np.clip((np.trace(r, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0)
    theta = np.arccos(cos)[..., None]
    w = np.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0],
                  r[..., 1, 0] - r[..., 0, 1]], -1)
    return w * theta / np.maximum(2 * np.sin(theta), 1e-12)


def make_world_clip(model: BodyModel, num_frames: int, seed: int = 0, *,
                    pitch_deg: float = 15.0, camera_height: float = 1.5,
                    distance: float = 5.0, focal: float = 1000.0,
                    image_size: tuple[int, int] = (1280, 720), speed: float = 0.6,
                    pixel_noise: float = 1.5, drop_rate: float = 0.05,
                    pose_noise: float = 0.05, betas_noise: float = 0.2,
                    cam_noise: tuple[float, float, float] = (0.02, 0.01, 0.01),
                    crop_size: float = 224.0, fps: float = 30.0, video: str = "",
                    path_offset: tuple[float, float] = (0.0, 0.0),
                    name: str = "") -> tuple[Clip, WorldTruth]:
    """A person stepping across a floor, filmed by a static camera pitched down.

    World: Y up, floor y = 0. The person walks along an arc (world x at ``speed`` m/s, coming
    towards the camera and going back) with swinging legs and arms, facing the camera's side;
    each frame the root height puts the lowest mesh vertex on the floor. The camera stands
    ``camera_height`` m above the floor and ``distance`` m from the path, pitched down by
    ``pitch_deg``. Keypoints are its pinhole projection (focal, principal point at the image
    centre) with noise and dropped points; the initial estimate (pose, shape, crop camera) has
    per-frame noise, as in ``make_synthetic_clip`` (relative on the camera).
    ``path_offset``: (x, z) metres added to the path on the floor (several people in one video).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / fps
    p = np.deg2rad(pitch_deg)
    # World -> camera (OpenCV axes): the camera looks along world +z, pitched down by p.
    r_cw = np.array([[-1.0, 0.0, 0.0], [0.0, -np.cos(p), -np.sin(p)],
                     [0.0, -np.sin(p), np.cos(p)]])
    cam_pos = np.array([0.0, camera_height, -distance])
    # Body: SMPL frame is Y up, facing +Z; turned to face world -x +z a little (3/4 view).
    yaw = np.deg2rad(-60.0) + 0.1 * np.sin(2 * np.pi * 0.3 * t)
    r_body = _rotation_matrix(np.stack([np.zeros_like(yaw), yaw, np.zeros_like(yaw)], -1))
    pose = np.zeros((num_frames, 72))
    step = 2 * np.pi * 0.9 * t + rng.uniform(0, 2 * np.pi)
    pose[:, 3 * 1] = 0.35 * np.sin(step)             # hips
    pose[:, 3 * 2] = -0.35 * np.sin(step)
    pose[:, 3 * 4] = 0.25 * (1 + np.sin(step + 1.2))  # knees (flexion +x)
    pose[:, 3 * 5] = 0.25 * (1 - np.sin(step + 1.2))
    pose[:, 3 * 16 + 2] = -1.2                        # arms down, swinging
    pose[:, 3 * 17 + 2] = 1.2
    pose[:, 3 * 16] = 0.3 * np.sin(step)
    pose[:, 3 * 17] = -0.3 * np.sin(step)
    pose[:, 3 * 3] = 0.05 * np.sin(2 * step)          # spine
    betas = np.tile(rng.normal(0, 0.5, 10), (num_frames, 1))
    r_cam = r_cw @ r_body                             # global orientation in the camera frame
    pose[:, :3] = _axis_angle(r_cam)

    verts = _padded_call(_vertices, model, pose, betas)
    kp = _padded_call(_keypoints, model, pose, betas)
    # World position of each frame: along x, then lifted so the lowest vertex is on the floor.
    up_cam = r_cw[:, 1]                                # world up in camera coordinates
    # An arc (towards the camera and back), so the feet cover an area of the floor.
    span = max(float(t[-1]), 1e-6)
    path = np.stack([speed * (t - t.mean()), np.zeros_like(t),
                     -0.35 * speed * span * np.sin(np.pi * t / span)], -1)
    path = path + np.array([path_offset[0], 0.0, path_offset[1]])
    transl = (path - cam_pos) @ r_cw.T                 # camera coordinates, before the lift
    lowest_rel = np.min(verts @ up_cam, axis=1)        # lowest vertex along up, body frame
    plane = np.concatenate([up_cam, [camera_height]])  # world y = n . p + d
    h0 = transl @ up_cam + camera_height + lowest_rel  # lowest vertex height before the lift
    transl = transl - h0[:, None] * up_cam[None]
    lowest = np.min((verts + transl[:, None]) @ up_cam, axis=1) + camera_height

    center = np.asarray(image_size, np.float64) / 2
    pc = kp + transl[:, None]
    kp2d = focal * pc[..., :2] / pc[..., 2:3] + center
    height_px = focal * 1.7 / transl[:, 2]
    crop_scale = 150.0 / height_px
    root_px = focal * transl[:, :2] / transl[:, 2:3] + center
    crop_start = np.round(root_px * crop_scale[:, None]) - crop_size / 2
    cam = np.asarray(cameras.perspective_to_crop(transl, crop_scale, crop_start, crop_size,
                                                 focal, center), np.float64)
    keypoints, pose0, betas0, cam0 = _noisy_inputs(
        rng, kp2d, pose, betas, cam, pixel_noise=pixel_noise, drop_rate=drop_rate,
        pose_noise=pose_noise, betas_noise=betas_noise, cam_noise=cam_noise, relative_cam=True)
    clip = Clip(
        keypoints=keypoints, pose=pose0, betas=betas0, cam=cam0, crop_scale=crop_scale,
        crop_start=crop_start, crop_size=crop_size,
        name=name or f"world{seed}", focal=focal, center=center, video=video)
    return clip, WorldTruth(pose, betas, transl, plane, focal, center, kp2d, lowest)
