"""World-frame and contact metrics (sfv_jax.evaluation.world_metrics) on hand-made trajectories."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sfv_jax.evaluation import world_metrics as wm

T = 30


def _standing_feet(num_frames: int = T) -> np.ndarray:
    """(T, 4, 3) two heels and two toes resting on the floor, still."""
    feet = np.array([[0.1, 0.0, 0.0], [0.1, 0.01, 0.2], [-0.1, 0.0, 0.0], [-0.1, 0.01, 0.2]])
    return np.broadcast_to(feet, (num_frames, 4, 3)).copy()


def _skeleton(num_frames: int = T) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.uniform([-0.3, 0.0, -0.2], [0.3, 1.8, 0.2], (14, 3))
    walk = np.arange(num_frames)[:, None, None] * np.array([0.0, 0.0, 0.03])
    return base[None] + walk


def test_still_body_scores_zero_skate_and_root_accel():
    feet = _standing_feet()
    contact = wm.contact_mask(feet, height=0.05, still=0.01)
    assert np.asarray(contact).all()
    assert float(wm.foot_skate(feet, contact)) == 0.0
    assert float(wm.root_accel(np.tile([0.3, 0.9, -1.0], (T, 1)))) == 0.0
    assert float(wm.foot_float(feet, contact)) == 0.0
    assert float(wm.ground_penetration(feet)) == 0.0


def test_sliding_foot_scores_its_speed():
    truth = _standing_feet()
    slide = truth + np.arange(T)[:, None, None] * np.array([0.006, 0.0, 0.008])  # 10 mm/frame
    contact = wm.contact_mask(truth, 0.05, 0.01)
    assert float(wm.foot_skate(slide, contact)) == pytest.approx(0.010, rel=1e-5)
    # Vertical motion is not skating.
    bob = truth + np.sin(np.arange(T))[:, None, None] * np.array([0.0, 0.02, 0.0])
    assert float(wm.foot_skate(bob, contact)) == pytest.approx(0.0, abs=1e-7)
    # The truth's own contact needs the foot low AND still: a sliding truth has no contacts,
    # a lifted truth foot neither.
    assert not np.asarray(wm.contact_mask(slide, 0.05, 0.005)).any()
    lifted = truth.copy()
    lifted[:, 0, 1] = 0.2
    c = np.asarray(wm.contact_mask(lifted, 0.05, 0.01))
    assert not c[:, 0].any() and c[:, 1:].all()
    # Skating is measured only where the truth foot is planted.
    fast = truth.copy()
    fast[:, 0] += np.arange(T)[:, None] * np.array([0.05, 0.0, 0.0])
    assert float(wm.foot_skate(fast, c)) == pytest.approx(0.0, abs=1e-7)


def test_sunk_body_scores_its_depth_and_floating_feet_their_height():
    points = np.random.default_rng(1).uniform([-0.3, 0.0, -0.2], [0.3, 1.8, 0.2], (T, 50, 3))
    points[:, 0, 1] = 0.0  # the lowest point touches the floor
    assert float(wm.ground_penetration(points)) == 0.0
    sunk = points - np.array([0.0, 0.05, 0.0])
    assert float(wm.ground_penetration(sunk)) * 1000.0 == pytest.approx(50.0, rel=1e-5)
    # Half the frames sunk: the mean over all frames.
    half = points.copy()
    half[: T // 2] -= np.array([0.0, 0.05, 0.0])
    assert float(wm.ground_penetration(half)) == pytest.approx(0.025, rel=1e-5)
    truth = _standing_feet()
    contact = wm.contact_mask(truth, 0.05, 0.01)
    floating = truth + np.array([0.0, 0.03, 0.0])
    # Lowest foot point 3 cm up (the heels; toes are 1 cm higher still).
    assert float(wm.foot_float(floating, contact)) == pytest.approx(0.03, rel=1e-5)
    assert float(wm.foot_float(truth - np.array([0.0, 0.02, 0.0]), contact)) == 0.0  # penetration


def test_root_accel_of_constant_acceleration():
    t = np.arange(T, dtype=np.float64)
    root = np.stack([0.5 * 0.004 * t ** 2, np.full(T, 0.9), 0.02 * t], -1)  # 4 mm/frame^2 in x
    assert float(wm.root_accel(root)) == pytest.approx(0.004, rel=1e-4)
    with pytest.raises(ValueError, match="at least 3 frames"):
        wm.root_accel(root[:2])


def test_w_and_wa_mpjpe():
    true = _skeleton()
    rot = Rotation.from_euler("y", 70, degrees=True).as_matrix()
    moved = 1.1 * true @ rot.T + np.array([3.0, 0.2, -1.0])  # a similarity transform: both 0
    assert float(wm.w_mpjpe(moved, true)) == pytest.approx(0.0, abs=1e-4)
    assert float(wm.wa_mpjpe(moved, true)) == pytest.approx(0.0, abs=1e-4)
    # A trajectory that drifts sideways after the start: W-MPJPE (aligned on frames 0-1) sees
    # the whole drift, WA-MPJPE (one transform over the clip) only what no transform explains.
    drift = true + (np.arange(T) ** 2 * 0.001)[:, None, None] * np.array([1.0, 0.0, 0.0])
    w, wa = float(wm.w_mpjpe(drift, true)), float(wm.wa_mpjpe(drift, true))
    expected = np.mean(np.arange(T) ** 2 * 0.001)
    assert w == pytest.approx(expected, rel=0.05)
    assert 0.0 < wa < 0.7 * w
    # Frame 0-1 alignment moves the whole clip by one transform.
    frames = np.arange(T) < 2
    aligned = np.asarray(wm.align_on_frames(moved, true, frames))
    np.testing.assert_allclose(aligned, true, atol=1e-4)
