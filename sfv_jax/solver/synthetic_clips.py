"""Synthetic clips with known truth, for tests and benchmarks of the solver.

A smooth ground-truth motion (sinusoidal joint angles, a slowly turning root, a smooth
full-image camera) on a body model; 2D keypoints projected from it in full-image pixels with
Gaussian noise and dropped points; an initial estimate with independent per-frame noise (like
per-frame HMR). Crops follow the person as SFV's preprocessing does (square crop of
``crop_size`` centred on the person after resizing by a per-clip ``crop_scale``).
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np

from sfv_jax.body import BodyModel, forward
from sfv_jax.geometry import cameras
from sfv_jax.solver.clips import Clip

# Joints that move in the synthetic motion (SMPL ids): hips, knees, spine, shoulders, elbows.
_MOVING = (1, 2, 3, 4, 5, 6, 9, 16, 17, 18, 19)


# Compiled once per model kind and padded length (lengths are padded to a multiple of 64).
_keypoints = jax.jit(lambda model, pose, betas: forward(model, pose, betas).keypoints)


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

    padded = -(-num_frames // 64) * 64
    pad = lambda x: np.concatenate([x, np.repeat(x[-1:], padded - num_frames, 0)]  # noqa
                                   ).astype(np.float32)
    kp3d = np.asarray(_keypoints(model, pad(pose), pad(betas)), np.float64)[:num_frames]
    # Full-image weak perspective (cameras.project_full) in NumPy: s * (X[:2] + t).
    kp2d = cam_full[:, None, :1] * (kp3d[..., :2] + cam_full[:, None, 1:])

    # SFV-style crops: resize so the person is ~150 px tall, centre a crop on the root.
    crop_scale = np.full(num_frames, 150.0 / (1.7 * 200.0))
    crop_start = np.round(root_px * crop_scale[:, None]) - crop_size / 2
    cam = np.asarray(cameras.full_to_crop(cam_full, crop_scale, crop_start, crop_size),
                     np.float64)

    obs = kp2d + rng.normal(0, pixel_noise, kp2d.shape)
    conf = rng.uniform(0.5, 1.0, kp2d.shape[:2])
    conf[rng.uniform(size=conf.shape) < drop_rate] = 0.0
    obs[conf == 0] = 0.0
    clip = Clip(
        keypoints=np.concatenate([obs, conf[..., None]], -1),
        pose=pose + rng.normal(0, pose_noise, pose.shape),
        betas=betas + rng.normal(0, betas_noise, betas.shape),
        cam=cam + rng.normal(0, 1, cam.shape) * np.asarray(cam_noise),
        crop_scale=crop_scale, crop_start=crop_start, crop_size=crop_size,
        name=name or f"synthetic{seed}")
    truth = SyntheticTruth(pose, betas, cam, cam_full, kp2d, kp3d)
    return clip, truth
