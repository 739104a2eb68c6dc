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


SHARED_MOTIONS = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "motions"))


def _truth_and_mocap_speeds():
    """Per clip: (truth joint speeds (T-1, 24), their mocap bounds (T-1, 24) or NaN) in deg/s."""
    import jax.numpy as jnp

    from sfv_jax import body
    from sfv_jax.evaluation.config import evaluation_config
    from sfv_jax.export import humanoid as hum

    files = (mocap.list_motions(SHARED_MOTIONS) if os.path.isdir(SHARED_MOTIONS) else [WALK])
    clips = [mocap.load_mocap(f, fps=30.0) for f in files]
    model = body.synthetic_model(seed=0)
    truths = mocap.fit_truth(model, clips, evaluation_config())
    names = list(hum.DEEPMIMIC_HUMANOID.names)
    out = {}
    for c, tr in zip(clips, truths):
        rots = body.forward(model, jnp.asarray(tr.pose, jnp.float32), jnp.broadcast_to(
            jnp.asarray(tr.betas, jnp.float32), (tr.num_frames, tr.betas.shape[0]))).rotations
        truth_speed = mocap.angular_speed(np.asarray(rots, np.float64), c.fps)
        link_speed = mocap.angular_speed(c.link_rotations, c.fps)
        bound = np.full_like(truth_speed, np.nan)
        for j, link in mocap.ROTATION_CORRESPONDENCE:
            bound[:, j] = link_speed[:, names.index(link)]
        # SMPL's spine1/spine2 lie between the humanoid's root and chest links.
        for j in (3, 6):
            bound[:, j] = np.maximum(link_speed[:, 0], link_speed[:, names.index("chest")])
        out[c.name] = (truth_speed, bound, tr)
    return out


def test_truth_follows_the_mocap_without_spikes():
    # Before the velocity term the truth had one-frame spine/arm flips of 1300-1900 deg/s where
    # the mocap turned at 74-626 deg/s. Bound per joint and frame: 1.2 x the mocap link's speed
    # (the largest of the frame pair and its two neighbours: resampling shifts a peak by up to a
    # frame) + 2 degrees per frame (60 deg/s at 30 fps) for joints the mocap holds nearly still.
    for name, (speed, bound, tr) in _truth_and_mocap_speeds().items():
        b = np.pad(bound, ((1, 1), (0, 0)), mode="edge")
        window = np.maximum(np.maximum(b[:-2], b[1:-1]), b[2:])
        has = ~np.isnan(window[0])
        excess = speed[:, has] - (1.2 * window[:, has] + 60.0)
        assert excess.max() <= 0.0, (name, float(excess.max()), np.unravel_index(
            int(np.argmax(excess)), excess.shape))
        assert tr.marker_error_mm < 35.0, (name, tr.marker_error_mm)
        assert tr.accel_error_mm < 6.0, (name, tr.accel_error_mm)
