"""The benchmark's mocap truth (sfv_jax.evaluation.mocap): no artificial seams in the clips."""
import os

import numpy as np
from scipy.spatial.transform import Rotation

from sfv_jax.evaluation import mocap

HERE = os.path.dirname(os.path.abspath(__file__))
WALK = os.path.join(HERE, "fixtures", "deepmimic", "humanoid3d_walk.txt")  # DeepMimic's own walk
NAMES = ("root", "right_hip", "left_hip")


def _accel_profile(clip: mocap.MocapClip) -> np.ndarray:
    """(T-2,) mean over points of the hip-centred acceleration, mm/frame^2."""
    hips = [clip.point_names.index(n) for n in ("left_hip", "right_hip")]
    p = clip.points - clip.points[:, hips].mean(1, keepdims=True)
    return np.linalg.norm(p[2:] - 2.0 * p[1:-1] + p[:-2], axis=-1).mean(1) * 1000.0


def test_walk_has_no_seam_spike():
    # DeepMimic's walk is half a gait cycle plus its left/right mirror; where the two halves
    # meet (frames 18 -> 19) every joint jumped: 35 mm/frame^2 against a median of 3.8.
    clip = mocap.load_mocap(WALK, fps=30.0)
    acc = _accel_profile(clip)
    assert acc.max() < 3.0 * np.median(acc), (acc.max(), np.median(acc))


def _mirrored_clip(h: int = 8, t: int = 18):
    """Local rotations (t, 3, 3, 3) of a smooth motion, then its mirror from frame h on (a jump at
    the seam: the motion is not symmetric); root positions (t, 3) moving at constant speed."""
    k = np.arange(t, dtype=np.float64)
    half = np.zeros((t, 3, 3))  # rotation vectors: root, right hip, left hip
    half[:, 0] = np.stack([0.05 * np.sin(0.3 * k), 0.1 * np.cos(0.2 * k), 0.02 * k], -1)
    half[:, 1] = np.stack([0.4 * np.sin(0.25 * k), 0.05 * k, 0.1 + 0.0 * k], -1)
    half[:, 2] = np.stack([-0.3 * np.cos(0.25 * k), 0.2 + 0.0 * k, -0.04 * k], -1)
    rots = Rotation.from_rotvec(half.reshape(-1, 3)).as_matrix().reshape(t, 3, 3, 3)
    m = np.diag([1.0, 1.0, -1.0])
    mirror = m @ rots[:, [0, 2, 1]] @ m
    rots[h:] = mirror[:t - h]
    root = np.stack([0.04 * k, 0.9 + 0.0 * k, 0.0 * k], -1)
    return root, rots


def test_mirrored_half_offset_and_repair():
    root, rots = _mirrored_clip()
    assert mocap.mirrored_half_offset(rots, NAMES) == 8
    assert mocap.mirrored_half_offset(rots[:, [0, 1, 1]], NAMES) == 0  # no mirror: no seam
    step = lambda r: np.linalg.norm(Rotation.from_matrix(  # noqa: E731
        r[1:] @ np.swapaxes(r[:-1], -1, -2)).as_rotvec(), axis=-1)  # (T-1, J) radians
    before = np.abs(np.diff(step(rots), axis=0)).max()
    root2, rots2 = mocap.repair_seam(root, rots, 8)
    after = np.abs(np.diff(step(rots2), axis=0)).max()
    assert after < 0.5 * before, (before, after)
    np.testing.assert_allclose(root2, root, atol=1e-12)  # the root moved smoothly already
    np.testing.assert_allclose(rots2[:3], rots[:3], atol=1e-12)  # outside the window: unchanged
    np.testing.assert_allclose(rots2[14:], rots[14:], atol=1e-12)
