"""Metrics of sfv_jax.evaluation on hand-computed examples."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sfv_jax.evaluation import metrics


def test_mpjpe_hand_computed():
    true = np.zeros((1, 2, 3))
    pred = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]]])
    assert float(metrics.mpjpe(pred, true)) == pytest.approx((5.0 + 1.0) / 2)
    # Root alignment at joint 0 removes its offset: joint 1 is then off by (-3,-4,1).
    assert float(metrics.mpjpe(pred, true, root=0)) == pytest.approx(np.sqrt(26) / 2)
    # Root as a midpoint of joints 0 and 1.
    mid = np.array([1.5, 2.0, 0.5])
    expected = np.mean(np.linalg.norm(pred[0] - mid, axis=-1))
    assert float(metrics.mpjpe(pred, true, root=(0, 1))) == pytest.approx(expected)


def test_mpjpe_masks():
    true = np.zeros((3, 2, 3))
    pred = np.zeros((3, 2, 3))
    pred[0, :, 0] = 1.0   # frame 0 off by 1
    pred[1, 1, 0] = 10.0  # frame 1 joint 1 off by 10
    assert float(metrics.mpjpe(pred, true)) == pytest.approx(12.0 / 6)
    assert float(metrics.mpjpe(pred, true, frame_mask=[True, False, True])) == pytest.approx(0.5)
    assert float(metrics.mpjpe(pred, true, joint_mask=[True, False])) == pytest.approx(1.0 / 3)
    assert np.isnan(float(metrics.mpjpe(pred, true, frame_mask=[False] * 3)))


def test_procrustes_recovers_similarity():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(2, 14, 3))
    rot = Rotation.from_rotvec([[0.3, -1.0, 0.5], [2.0, 0.1, -0.4]]).as_matrix()
    pred = 0.7 * np.einsum("fij,fkj->fki", rot, true) + np.array([[[1.0, 2.0, 3.0]], [[0, -1, 0]]])
    aligned = np.asarray(metrics.procrustes_align(pred, true))
    np.testing.assert_allclose(aligned, true, atol=1e-5)
    assert float(metrics.pa_mpjpe(pred, true)) == pytest.approx(0.0, abs=1e-5)
    # Plain MPJPE is far from zero for the same pair.
    assert float(metrics.mpjpe(pred, true)) > 0.5


def test_procrustes_hand_example_with_scale():
    # Prediction is the truth's mirror image: the best proper rotation cannot undo a reflection.
    true = np.array([[[1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]])
    pred = true * np.array([1.0, 1.0, -1.0])
    aligned = np.asarray(metrics.procrustes_align(pred, true))
    rot_part = aligned - aligned.mean(axis=1, keepdims=True)
    # The aligned points stay a rotated, scaled copy: pairwise distance ratios are preserved.
    d_al = np.linalg.norm(rot_part[0, 0] - rot_part[0, 1])
    d_al2 = np.linalg.norm(rot_part[0, 2] - rot_part[0, 3])
    assert d_al / d_al2 == pytest.approx(2.0 / np.sqrt(2.0), rel=1e-5)
    assert float(metrics.pa_mpjpe(pred, true)) > 0.05


def test_pa_mpjpe_hand_computed_scale_only():
    # Points on a line scaled by 2 about their mean: PA removes it exactly.
    true = np.array([[[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [0.0, 1, 0]]])
    pred = 2.0 * true + 5.0
    assert float(metrics.pa_mpjpe(pred, true)) == pytest.approx(0.0, abs=1e-6)


def test_pa_mpjpe_joint_mask_ignores_outlier():
    rng = np.random.default_rng(1)
    true = rng.normal(size=(1, 10, 3))
    pred = true.copy()
    pred[0, 3] += 100.0
    mask = np.ones(10, bool)
    mask[3] = False
    assert float(metrics.pa_mpjpe(pred, true, joint_mask=mask)) == pytest.approx(0.0, abs=1e-5)
    assert float(metrics.pa_mpjpe(pred, true)) > 0.5


def test_accel_error_hand_computed():
    # One joint moving along x: truth at constant velocity, prediction with a bump at frame 2.
    true = np.zeros((5, 1, 3))
    true[:, 0, 0] = np.arange(5.0)
    pred = true.copy()
    pred[2, 0, 0] += 1.0
    # Second differences (centred at frames 1, 2, 3) of pred - truth: 1, -2, 1 along x.
    assert float(metrics.accel_error(pred, true)) == pytest.approx((1 + 2 + 1) / 3)
    # Frame 4 invisible: the difference centred on frame 3 (frames 2,3,4) is dropped.
    vis = np.array([True, True, True, True, False])
    assert float(metrics.accel_error(pred, true, visible=vis)) == pytest.approx(1.5)
    # Frame 0 invisible too: only the difference centred on frame 2 remains.
    vis[0] = False
    assert float(metrics.accel_error(pred, true, visible=vis)) == pytest.approx(2.0)
    # A constant offset has no acceleration.
    assert float(metrics.accel_error(true + 3.0, true)) == pytest.approx(0.0)


def test_accel_valid_mask_matches_hmmr_rule():
    vis = np.array([True, False, True, True, True, True])
    expected = np.array([False, False, True, True])
    np.testing.assert_array_equal(np.asarray(metrics.accel_valid_mask(vis)), expected)


def test_accel_error_rejects_bad_shapes():
    with pytest.raises(ValueError, match="at least 3"):
        metrics.accel_error(np.zeros((2, 1, 3)), np.zeros((2, 1, 3)))
    with pytest.raises(ValueError, match="differ"):
        metrics.accel_error(np.zeros((4, 1, 3)), np.zeros((4, 2, 3)))


def test_error_2d_hand_computed():
    true = np.array([[[0.0, 0.0, 0.9], [10.0, 0.0, 0.0]]])
    pred = np.array([[[3.0, 4.0], [10.0, 7.0]]])
    assert float(metrics.error_2d(pred, true)) == pytest.approx(6.0)
    assert float(metrics.error_2d(pred, true, mask=[[True, False]])) == pytest.approx(5.0)


def test_batched_metrics_equal_flat():
    rng = np.random.default_rng(2)
    pred = rng.normal(size=(2, 6, 5, 3))
    true = rng.normal(size=(2, 6, 5, 3))
    flat = np.mean([float(metrics.pa_mpjpe(pred[i], true[i])) for i in range(2)])
    assert float(metrics.pa_mpjpe(pred, true)) == pytest.approx(flat, rel=1e-5)
    acc = np.mean([float(metrics.accel_error(pred[i], true[i])) for i in range(2)])
    assert float(metrics.accel_error(pred, true)) == pytest.approx(acc, rel=1e-5)
