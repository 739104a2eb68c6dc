"""What a video pipeline would see of a known motion: virtual cameras, detector-like 2D keypoints and
per-frame-regressor-like initial estimates.

This is the benchmark's data-synthesis edge: NumPy with explicit ``np.random.Generator`` s (every
random draw comes from a generator the caller seeds, so fixed seeds give identical observations).

Cameras (``make_cameras``, from ``virtual_cameras``): static perspective cameras with a focal
length, height and pitch drawn per view (phone / YouTube-like ranges), around the clip centre.

Detections (``detect_keypoints``), OpenPose-like, per clip-view:
  - pixel error proportional to the person's 2D size: a slowly drifting offset per point (std
    ``noise_slow_frac``, smoothed over ``noise_slow_frames``; a detector repeats its mistake in
    neighbouring frames) plus a small per-frame jitter (``noise_frac``) that grows as confidence drops;
  - confidences uniform in ``[conf_min, conf_max]``;
  - dropped points (confidence 0, position 0, as OpenPose writes them);
  - occluded points: self-occlusion (behind the torso and inside its 2D outline) and random episodes
    that hide a limb for some frames; occluded points get low confidence, a large drifting offset
    (``occluded_noise_frac``) and more jitter, or are dropped;
  - occasional left/right swaps of both legs or both arms in a frame;
  - missing frames (the person is not detected: every confidence 0), in short runs;
  - points outside the image get confidence 0.

Initial estimates (``perturb_pose``, ``perturb_betas``, ``geometry.cameras.weak_perspective_fit``,
``perturb_cameras``): pose errors are rotations composed onto the true joint rotations, the sum of
a per-clip bias, a slowly varying part and independent per-frame jitter (a per-frame regressor's
errors are mostly systematic, with jitter on top); shape errors per clip and per frame; the camera is
the weak-perspective camera that best explains the true 2D keypoints with the perturbed pose, with
per-frame scale and translation errors. HMR's crop (``crop_params``) comes from the detections the way
SFV builds it (``geometry.crops``): the keypoint box's diagonal is resized to ``crop_person_px``
pixels and a ``crop_size`` square is cut around the box centre; frames without detections
interpolate the crop.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

from sfv_jax.evaluation.config import DEFAULTS as _D, subset
from sfv_jax.evaluation.virtual_cameras import (  # noqa: F401 - re-exported
    Cameras, CameraSettings, focal_from_hfov, look_at, make_cameras)
from sfv_jax.geometry import crops


# ----------------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DetectorSettings:
    """Options of ``detect_keypoints``: the ``evaluation`` section's detector keys (meaning,
    unit and default in ``evaluation.config.EvaluationSettings``, which the defaults refer to);
    ``fps`` is the clip's frame rate (the benchmark sets the truth's)."""
    noise_frac: float = _D.noise_frac
    noise_conf_gain: float = _D.noise_conf_gain
    noise_slow_frac: float = _D.noise_slow_frac
    noise_slow_frames: float = _D.noise_slow_frames
    conf_min: float = _D.conf_min
    conf_max: float = _D.conf_max
    drop_prob: float = _D.drop_prob
    self_occlusion: bool = _D.self_occlusion
    occlusion_events: float = _D.occlusion_events
    occlusion_frames: int = _D.occlusion_frames
    occluded_conf: float = _D.occluded_conf
    occluded_noise_frac: float = _D.occluded_noise_frac
    occluded_drop_prob: float = _D.occluded_drop_prob
    swap_prob: float = _D.swap_prob
    missing_prob: float = _D.missing_prob
    missing_run: int = _D.missing_run
    fps: float = _D.fps

    @classmethod
    def from_config(cls, cfg: Any) -> "DetectorSettings":
        """From the ``evaluation`` section (ConfigDict or ``EvaluationSettings``; strict)."""
        return subset(cls, cfg)


@dataclasses.dataclass(frozen=True)
class RegressorSettings:
    """Options of the initial estimates (``crop_params``, ``perturb_*``): the ``evaluation``
    section's regressor keys (meaning, unit and default in ``EvaluationSettings``)."""
    pose_bias_std: float = _D.pose_bias_std
    pose_slow_std: float = _D.pose_slow_std
    pose_slow_frames: float = _D.pose_slow_frames
    pose_jitter_std: float = _D.pose_jitter_std
    root_jitter_std: float = _D.root_jitter_std
    root_slow_std: float = _D.root_slow_std
    betas_bias_std: float = _D.betas_bias_std
    betas_jitter_std: float = _D.betas_jitter_std
    cam_scale_jitter: float = _D.cam_scale_jitter
    cam_trans_jitter: float = _D.cam_trans_jitter
    crop_size: int = _D.crop_size
    crop_person_px: float = _D.crop_person_px
    crop_conf_threshold: float = _D.crop_conf_threshold

    @classmethod
    def from_config(cls, cfg: Any) -> "RegressorSettings":
        """From the ``evaluation`` section (ConfigDict or ``EvaluationSettings``; strict)."""
        return subset(cls, cfg)


# ----------------------------------------------------------------------------------------------
# Cameras (``virtual_cameras``) and the camera-frame truth
# ----------------------------------------------------------------------------------------------
def rotate_root(pose: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Pre-multiplies the global orientation of (T, 72) axis-angle poses by a (3, 3) rotation.

    The body then appears in the rotated frame (e.g. a camera's) up to a translation.
    """
    pose = np.array(pose, np.float64, copy=True)
    root = Rotation.from_matrix(rotation) * Rotation.from_rotvec(pose[:, :3])
    pose[:, :3] = root.as_rotvec()
    return pose


# ----------------------------------------------------------------------------------------------
# Detector-like 2D keypoints
# ----------------------------------------------------------------------------------------------
_CHAINS: dict[str, tuple[str, ...]] = {
    "right_arm": ("right_elbow", "right_wrist", "right_pinky", "right_index", "right_thumb"),
    "left_arm": ("left_elbow", "left_wrist", "left_pinky", "left_index", "left_thumb"),
    "right_leg": ("right_knee", "right_ankle", "right_big_toe", "right_small_toe", "right_heel",
                  "right_foot_index"),
    "left_leg": ("left_knee", "left_ankle", "left_big_toe", "left_small_toe", "left_heel",
                 "left_foot_index"),
}
_SWAP_SETS: dict[str, tuple[str, ...]] = {
    "legs": ("hip", "knee", "ankle", "big_toe", "small_toe", "heel", "foot_index"),
    "arms": ("shoulder", "elbow", "wrist", "pinky", "index", "thumb"),
}
_TORSO = ("right_shoulder", "left_shoulder", "left_hip", "right_hip")


def _point_in_quad(p: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """(T, K) bool: points p (T, K, 2) inside the (T, 4, 2) quadrilateral (either winding)."""
    signs = []
    for i in range(4):
        a, b = quad[:, i][:, None], quad[:, (i + 1) % 4][:, None]
        signs.append((b[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1])
                     - (b[..., 1] - a[..., 1]) * (p[..., 0] - a[..., 0]))
    s = np.stack(signs)
    return np.all(s >= 0, axis=0) | np.all(s <= 0, axis=0)


def _runs(rng: np.random.Generator, num_frames: int, rate: float, mean_len: float) -> np.ndarray:
    """(T,) bool: random runs of frames; ``rate`` starts per frame, lengths 1 + Poisson(mean-1)."""
    out = np.zeros(num_frames, bool)
    starts = np.flatnonzero(rng.random(num_frames) < rate)
    lengths = 1 + rng.poisson(max(mean_len - 1.0, 0.0), size=starts.size)
    for s, n in zip(starts, lengths):
        out[s:s + n] = True
    return out


def person_height_px(points: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """(T,) diagonal of the 2D box of (T, K, 2) points (only ``valid`` (T, K) ones), pixels; NaN if <2."""
    p = np.asarray(points, np.float64)
    if valid is None:
        valid = np.ones(p.shape[:2], bool)
    _, h, count = crops.person_box(p, np.asarray(valid, bool))
    return np.where(count >= 2, h, np.nan)


def detect_keypoints(points_px: np.ndarray, depth: np.ndarray, names: Sequence[str],
                     image_size: tuple[int, int], settings: DetectorSettings,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Detector-like 2D keypoints from the true projections of one clip-view.

    Args:
      points_px: (T, K, 2) true projections, full-image pixels.
      depth: (T, K) camera-frame depth of those points, metres (for self-occlusion).
      names: K point names (``skeletons.FORMATS`` vocabulary).
      image_size: (width, height) pixels; points outside get confidence 0.
      settings: noise levels; see the module docstring.
      rng: the random source (seed it per clip-view).
    Returns:
      detections: (T, K, 3) x, y (pixels), confidence; undetected points are all zero.
      detected: (T,) bool, frames in which the person was detected.
    """
    p = np.asarray(points_px, np.float64)
    num_frames, num_points = p.shape[:2]
    if len(names) != num_points:
        raise ValueError(f"detect_keypoints: {len(names)} names for {num_points} points")
    idx = {n: i for i, n in enumerate(names)}
    height = np.nan_to_num(person_height_px(p), nan=1.0)[:, None]  # (T, 1)

    conf = rng.uniform(settings.conf_min, settings.conf_max, size=(num_frames, num_points))
    occluded = np.zeros((num_frames, num_points), bool)
    if settings.self_occlusion and all(n in idx for n in _TORSO):
        torso = np.array([idx[n] for n in _TORSO])
        quad = p[:, torso]
        quad = quad.mean(axis=1, keepdims=True) + 1.1 * (quad - quad.mean(axis=1, keepdims=True))
        behind = depth > depth[:, torso].mean(axis=1, keepdims=True) + 0.05
        occluded |= _point_in_quad(p, quad) & behind
        occluded[:, torso] = False
    # Random occlusion episodes, each hiding one limb chain.
    rate = settings.occlusion_events / max(settings.fps, 1e-6)
    for chain in _CHAINS.values():
        members = [idx[n] for n in chain if n in idx]
        if members:
            episode = _runs(rng, num_frames, rate / len(_CHAINS), settings.occlusion_frames)
            occluded[np.ix_(episode, members)] = True
    conf = np.where(occluded, rng.uniform(0.05, settings.occluded_conf, conf.shape), conf)

    # A detector's error is mostly a slowly drifting offset per point (the same appearance gives
    # the same mistake in neighbouring frames) with a small per-frame jitter on top; occluded
    # points drift far (a guess that stays wrong for several frames) and jitter more.
    gain = 1.0 + settings.noise_conf_gain * (1.0 - conf)
    jitter = settings.noise_frac * height * gain
    jitter = np.where(occluded, settings.noise_frac * height * (1.0 + settings.noise_conf_gain),
                      jitter)
    slow = np.where(occluded, settings.occluded_noise_frac, settings.noise_slow_frac) * height
    drift = _slow_noise(rng, p.shape, settings.noise_slow_frames)
    det = (p + slow[..., None] * drift
           + jitter[..., None] * rng.standard_normal(p.shape))

    drop = rng.random(conf.shape) < settings.drop_prob
    drop |= occluded & (rng.random(conf.shape) < settings.occluded_drop_prob)
    conf = np.where(drop, 0.0, conf)

    # Left/right swaps of both legs or both arms.
    swap_frames = np.flatnonzero(rng.random(num_frames) < settings.swap_prob)
    swap_kind = rng.integers(0, len(_SWAP_SETS), size=swap_frames.size)
    kinds = list(_SWAP_SETS.values())
    for t, k in zip(swap_frames, swap_kind):
        for part in kinds[k]:
            a, b = idx.get("left_" + part), idx.get("right_" + part)
            if a is not None and b is not None:
                det[t, [a, b]] = det[t, [b, a]]
                conf[t, [a, b]] = conf[t, [b, a]]

    width, height_img = image_size
    inside = ((det[..., 0] >= 0) & (det[..., 0] < width) & (det[..., 1] >= 0)
              & (det[..., 1] < height_img))
    conf = np.where(inside, conf, 0.0)

    missing = _runs(rng, num_frames, settings.missing_prob, settings.missing_run)
    conf[missing] = 0.0
    out = np.concatenate([det, conf[..., None]], axis=-1)
    out[conf == 0.0] = 0.0
    detected = (conf > 0).sum(axis=1) >= 2
    return out, detected


# ----------------------------------------------------------------------------------------------
# HMR crops and weak-perspective cameras
# ----------------------------------------------------------------------------------------------
def crop_params(detections: np.ndarray, settings: RegressorSettings
                ) -> tuple[np.ndarray, np.ndarray]:
    """SFV-style HMR crops from detections.

    Args:
      detections: (T, K, 3) full-image pixels + confidence.
      settings: ``crop_person_px``, ``crop_size``, ``crop_conf_threshold``.
    Returns:
      crop_scale: (T,) image resize factor; crop_start: (T, 2) crop top-left in the resized image.
      Frames with fewer than two confident points take the crop interpolated from their neighbours.
    Raises:
      ValueError: when no frame has two confident points.
    """
    det = np.asarray(detections, np.float64)
    mid, h, count = crops.person_box(det[..., :2], det[..., 2] > settings.crop_conf_threshold)
    ok = (count >= 2) & (h > 1.0)
    if not ok.any():
        raise ValueError("crop_params: no frame has two confident keypoints")
    # The box (centre, diagonal) is interpolated over frames without one, then cropped.
    t = np.arange(det.shape[0])
    center = np.stack([np.interp(t, t[ok], mid[ok, i]) for i in range(2)], -1)
    scale = crops.person_scale(np.interp(t, t[ok], h[ok]), settings.crop_person_px)
    return crops.hmr_crop(center, scale, settings.crop_size)


# ----------------------------------------------------------------------------------------------
# Per-frame-regressor-like errors
# ----------------------------------------------------------------------------------------------
def _slow_noise(rng: np.random.Generator, shape: tuple[int, ...], frames: float) -> np.ndarray:
    """Unit-std noise along axis 0, Gaussian-smoothed with a kernel of std ``frames``.

    Stationary: the white noise runs a kernel radius past both ends and is cropped after the
    smoothing, so the first and last frames are as noisy as the middle ones (a reflected
    boundary would repeat the same draws there: 1.4x the std at the ends for 6 frames).
    """
    if frames <= 0:
        return rng.standard_normal(shape)
    # gaussian_filter1d's kernel: radius truncate (4) x std.
    radius = int(4.0 * frames + 0.5)
    white = rng.standard_normal((shape[0] + 2 * radius,) + tuple(shape[1:]))
    smooth = gaussian_filter1d(white, frames, axis=0)[radius:radius + shape[0]]
    # Variance of a smoothed unit white process is the kernel's sum of squares.
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / frames) ** 2)
    k /= k.sum()
    return smooth / np.sqrt(np.sum(k ** 2))


def perturb_pose(pose: np.ndarray, settings: RegressorSettings,
                 rng: np.random.Generator) -> np.ndarray:
    """Regressor-like pose estimates from true (T, 72) axis-angle poses.

    Each joint's error rotation (composed onto its true local rotation) is the sum of a per-clip
    bias, a slow part and per-frame jitter; the root gets its own slow part and jitter.
    Returns (T, 72) axis-angle.
    """
    pose = np.asarray(pose, np.float64)
    num_frames = pose.shape[0]
    joints = pose.shape[1] // 3
    err = np.zeros((num_frames, joints, 3))
    body = (slice(None), slice(1, None))
    err[body] = (settings.pose_bias_std * rng.standard_normal((1, joints - 1, 3))
                 + settings.pose_slow_std * _slow_noise(rng, (num_frames, joints - 1, 3),
                                                        settings.pose_slow_frames)
                 + settings.pose_jitter_std * rng.standard_normal((num_frames, joints - 1, 3)))
    err[:, 0] = (settings.root_slow_std * _slow_noise(rng, (num_frames, 3), settings.pose_slow_frames)
                 + settings.root_jitter_std * rng.standard_normal((num_frames, 3)))
    true_r = Rotation.from_rotvec(pose.reshape(-1, 3))
    noisy = Rotation.from_rotvec(err.reshape(-1, 3)) * true_r
    return noisy.as_rotvec().reshape(num_frames, joints * 3)


def perturb_betas(betas: np.ndarray, num_frames: int, settings: RegressorSettings,
                  rng: np.random.Generator) -> np.ndarray:
    """(T, B) per-frame shape estimates around the true (B,) betas (per-clip bias + per-frame jitter)."""
    betas = np.asarray(betas, np.float64)
    bias = settings.betas_bias_std * rng.standard_normal(betas.shape)
    jitter = settings.betas_jitter_std * rng.standard_normal((num_frames,) + betas.shape)
    return betas + bias + jitter


def perturb_cameras(cam: np.ndarray, settings: RegressorSettings,
                    rng: np.random.Generator) -> np.ndarray:
    """(T, 3) weak-perspective cameras with per-frame relative scale and translation errors."""
    cam = np.array(cam, np.float64, copy=True)
    cam[:, 0] *= np.exp(settings.cam_scale_jitter * rng.standard_normal(cam.shape[0]))
    cam[:, 1:] += settings.cam_trans_jitter * rng.standard_normal((cam.shape[0], 2))
    return cam


def clip_view_rng(seed: int, clip_index: int, view: int, stream: int) -> np.random.Generator:
    """Independent, reproducible generator for one (clip, view, purpose) triple."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), clip_index, view, stream]))
