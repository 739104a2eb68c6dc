"""Tests for sfv_jax.losses: ideal values, hand-computed values, gradients, TF1 reductions."""
import numpy as np
import jax
import jax.numpy as jnp
from jax.test_util import check_grads
import pytest

from sfv_jax import losses
from sfv_jax.geometry.rotations import axis_angle_to_matrix

RNG = np.random.default_rng(1)
T, K = 6, 5
ROOT = (1, 2)


def _grad_check(fn, *args):
    """Finite-difference check of jax.grad in float64."""
    with jax.enable_x64(True):
        args = tuple(jnp.asarray(np.asarray(a, np.float64)) for a in args)
        check_grads(fn, args, order=1, modes=("rev",), atol=1e-5, rtol=1e-4, eps=1e-6)


def test_nonzero_weighted_mean_counts_broadcast_weights():
    losses_ = jnp.array([[1.0, 3.0], [5.0, 7.0], [2.0, 2.0]])
    w = jnp.array([[2.0], [0.0], [1.0]])   # broadcast over 2 columns -> 4 non-zero weights
    expected = (2 * 1 + 2 * 3 + 2 + 2) / 4.0
    np.testing.assert_allclose(losses.nonzero_weighted_mean(losses_, w), expected)
    assert float(losses.nonzero_weighted_mean(losses_, jnp.zeros((3, 1)))) == 0.0


def test_keypoint_l1():
    target = RNG.normal(size=(T, K, 2))
    conf = RNG.uniform(0.3, 1.0, (T, K))
    conf[0, 1] = 0.0
    mask = np.ones(T)
    mask[-1] = 0.0
    assert float(losses.keypoint_l1(target, target, conf, mask)) == 0.0
    # Hand: one frame, two points, one missing.
    pred = jnp.array([[[1.0, 2.0], [5.0, 5.0]]])
    tgt = jnp.array([[[0.0, 0.0], [0.0, 0.0]]])
    val = losses.keypoint_l1(pred, tgt, jnp.array([[0.5, 0.0]]), jnp.ones(1))
    np.testing.assert_allclose(val, (0.5 * 1 + 0.5 * 2) / 2)
    pred = target + RNG.normal(size=target.shape) * 0.1
    _grad_check(lambda p: losses.keypoint_l1(p, target, conf, mask), pred)
    # Padded frames do not matter.
    pred2 = np.array(pred)
    pred2[-1] += 100.0
    np.testing.assert_allclose(losses.keypoint_l1(pred2, target, conf, mask),
                               losses.keypoint_l1(pred, target, conf, mask), rtol=1e-6)


def test_keypoint_gmof():
    target = RNG.normal(size=(T, K, 2))
    conf = np.ones((T, K))
    mask = np.ones(T)
    assert float(losses.keypoint_gmof(target, target, conf, mask, 0.1)) == 0.0
    pred = jnp.array([[[3.0, 4.0]]])  # r = 5, sigma = 5 -> 25 * 25 / 50
    val = losses.keypoint_gmof(pred, jnp.zeros((1, 1, 2)), jnp.ones((1, 1)), jnp.ones(1), 5.0)
    np.testing.assert_allclose(val, 12.5)
    # Bounded by sigma^2 however large the outlier.
    far = losses.keypoint_gmof(pred * 1e4, jnp.zeros((1, 1, 2)), jnp.ones((1, 1)),
                               jnp.ones(1), 0.5)
    assert float(far) <= 0.25
    pred = target + RNG.normal(size=target.shape) * 0.1
    _grad_check(lambda p: losses.keypoint_gmof(p, target, conf, mask, 0.2), pred)


def test_init_pose_weights_and_residual():
    pred = np.zeros((3, 2, 2))
    target = np.array([[[1, 1], [0, 0]], [[2, 0], [0, 0]], [[0, 0], [0, 0]]], float)
    conf = np.array([[1.0, 1.0], [0.5, 1.0], [1.0, 1.0]])
    e = losses.keypoint_residual_l1(pred, target, conf)
    np.testing.assert_allclose(e, [2.0, 1.0, 0.0])
    w = losses.init_pose_weights(e, jnp.ones(3))
    np.testing.assert_allclose(w, np.exp(-np.array([1.0, 0.25, 0.0])), rtol=1e-6)
    w = losses.init_pose_weights(e, jnp.array([1.0, 1.0, 0.0]), e_max=4.0)
    np.testing.assert_allclose(w, [np.exp(-0.25), np.exp(-1 / 16), 0.0], rtol=1e-6)
    # Padded frames do not set the clip maximum; a perfect clip gets weight 1.
    w = losses.init_pose_weights(jnp.array([1.0, 100.0]), jnp.array([1.0, 0.0]))
    np.testing.assert_allclose(w, [np.exp(-1.0), 0.0], rtol=1e-6)
    np.testing.assert_allclose(losses.init_pose_weights(jnp.zeros(2), jnp.ones(2)), [1, 1])


def test_shape_consistency():
    betas = RNG.normal(size=(T, 10))
    mask = np.ones(T)
    mask[0] = 0
    target = losses.masked_mean(betas, mask)
    np.testing.assert_allclose(target, betas[1:].mean(0), rtol=1e-6)
    const = np.tile(target, (T, 1))
    assert float(losses.shape_consistency(const, target, mask)) == 0.0
    val = losses.shape_consistency(jnp.array([[1.0, 2.0], [3.0, 0.0]]), jnp.array([1.0, 1.0]),
                                   jnp.ones(2))
    np.testing.assert_allclose(val, (0 + 1 + 4 + 1) / 4)
    _grad_check(lambda b: losses.shape_consistency(b, target, mask), betas)


def _rand_rot(shape):
    return axis_angle_to_matrix(jnp.asarray(RNG.normal(size=shape + (3,)) * 0.7))


def test_init_pose():
    rot0 = _rand_rot((T, 24))
    w = jnp.asarray(RNG.uniform(0.2, 1.0, T))
    assert abs(float(losses.init_pose(rot0, rot0, w))) < 1e-10
    # Hand: joint rotated by 90 deg about z: cos = 0 -> (1 - 0)^2 = 1; other joint ideal.
    r90 = axis_angle_to_matrix(jnp.array([[[0.0, 0.0, np.pi / 2], [0.0, 0.0, 0.0]]]))
    ident = axis_angle_to_matrix(jnp.zeros((1, 2, 3)))
    val = losses.init_pose(r90, ident, jnp.array([0.5]))
    np.testing.assert_allclose(val, 0.5 * 1.0 / 2, atol=1e-6)
    # Zero-weight frames are not counted.
    val = losses.init_pose(jnp.concatenate([r90, r90]), jnp.concatenate([ident, ident]),
                           jnp.array([0.5, 0.0]))
    np.testing.assert_allclose(val, 0.25, atol=1e-6)
    pose0 = RNG.normal(size=(T, 24, 3)) * 0.5
    pose = pose0 + RNG.normal(size=pose0.shape) * 0.2
    _grad_check(lambda p: losses.init_pose(axis_angle_to_matrix(p),
                                           axis_angle_to_matrix(jnp.asarray(pose0)),
                                           jnp.asarray(np.asarray(w, np.float64))), pose)


def test_joint_smoothness():
    base = RNG.normal(size=(1, K, 3))
    still = np.tile(base, (T, 1, 1)) + np.arange(T)[:, None, None] * np.array([1.0, 2.0, 3.0])
    mask = np.ones(T)
    # Pure root translation is not penalized.
    assert float(losses.joint_smoothness(still, mask, ROOT)) < 1e-10
    pts = np.zeros((3, 3, 3))
    pts[1, 0, 0] = 3.0          # frame 1: point 0 moves by 3 along x (root = points 1, 2)
    val = losses.joint_smoothness(pts, np.ones(3), ROOT)
    np.testing.assert_allclose(val, (9.0 + 9.0) / (2 * 3 * 3))
    # Masking frame 2 leaves one pair.
    val = losses.joint_smoothness(pts, np.array([1.0, 1.0, 0.0]), ROOT)
    np.testing.assert_allclose(val, 9.0 / 9)
    _grad_check(lambda p: losses.joint_smoothness(p, mask, ROOT), RNG.normal(size=(T, K, 3)))


def test_acceleration_smoothness():
    lin = np.arange(T)[:, None, None] * RNG.normal(size=(1, K, 3))   # constant velocity
    assert float(losses.acceleration_smoothness(lin, np.ones(T), ROOT)) < 1e-10
    pts = np.zeros((3, 3, 3))
    pts[1, 0, 1] = 1.0          # a = 0 - 2 + 0 = -2 on one coordinate
    val = losses.acceleration_smoothness(pts, np.ones(3), ROOT)
    np.testing.assert_allclose(val, 4.0 / 9)
    assert float(losses.acceleration_smoothness(pts, np.array([1.0, 1.0, 0.0]), ROOT)) == 0
    _grad_check(lambda p: losses.acceleration_smoothness(p, np.ones(T), ROOT),
                RNG.normal(size=(T, K, 3)))


def test_robust_acceleration_smoothness():
    lin = np.arange(T)[:, None, None] * RNG.normal(size=(1, K, 3))   # constant velocity
    assert float(losses.robust_acceleration_smoothness(lin, np.ones(T), ROOT, 0.1)) < 1e-10
    pts = np.zeros((3, 3, 3))
    pts[1, 0, 1] = 1.0          # |a| = 2 on point 0 (root = points 1, 2 stay at 0)
    val = losses.robust_acceleration_smoothness(pts, np.ones(3), ROOT, 1.0)
    np.testing.assert_allclose(val, (np.sqrt(5.0) - 1.0) / 3, rtol=1e-6)
    # sigma = 2: 4 (sqrt(1 + 4 / 4) - 1) / 3.
    val = losses.robust_acceleration_smoothness(pts, np.ones(3), ROOT, 2.0)
    np.testing.assert_allclose(val, 4.0 * (np.sqrt(2.0) - 1.0) / 3, rtol=1e-6)
    # Quadratic |a|^2 / 2 for small accelerations, linear sigma |a| for large ones.
    small = pts * 1e-3
    np.testing.assert_allclose(losses.robust_acceleration_smoothness(small, np.ones(3), ROOT, 1.0),
                               (4e-6 / 2) / 3, rtol=1e-4)
    big = pts * 1e3
    np.testing.assert_allclose(losses.robust_acceleration_smoothness(big, np.ones(3), ROOT, 1.0),
                               (2e3 - 1.0) / 3, rtol=1e-4)
    # A window touching a padded frame counts nowhere.
    assert float(losses.robust_acceleration_smoothness(pts, np.array([1.0, 1.0, 0.0]),
                                                       ROOT, 1.0)) == 0
    mask = np.ones(T)
    mask[-1] = 0.0
    _grad_check(lambda p: losses.robust_acceleration_smoothness(p, mask, ROOT, 0.5),
                RNG.normal(size=(T, K, 3)))
    # Finite gradient at the ideal (a = 0).
    g = jax.grad(lambda p: losses.robust_acceleration_smoothness(p, np.ones(T), ROOT, 0.1))(
        jnp.asarray(lin, jnp.float32))
    assert np.all(np.isfinite(np.asarray(g)))


def test_pose_smoothness():
    rot = jnp.tile(_rand_rot((1, 4)), (T, 1, 1, 1))
    assert abs(float(losses.pose_smoothness(rot, jnp.ones(T)))) < 1e-10
    r90 = axis_angle_to_matrix(jnp.array([[[0.0, np.pi / 2, 0.0]], [[0.0, 0.0, 0.0]]]))
    np.testing.assert_allclose(losses.pose_smoothness(r90, jnp.ones(2)), 1.0, atol=1e-6)
    two = axis_angle_to_matrix(jnp.array([[[0.0, np.pi / 2, 0], [0, 0, 0]],
                                          [[0.0, 0.0, 0], [0, 0, 0]]]))
    np.testing.assert_allclose(losses.pose_smoothness(two, jnp.ones(2), root_weight=10.0),
                               10.0 / 2, atol=1e-6)
    pose = RNG.normal(size=(T, 4, 3)) * 0.5
    _grad_check(lambda p: losses.pose_smoothness(axis_angle_to_matrix(p), jnp.ones(T)), pose)


def test_camera_smoothness():
    scale = RNG.uniform(0.5, 2.0, T)
    start = RNG.uniform(0, 300, (T, 2))
    # A camera whose undone scale and position are constant is ideal.
    s_full, pos = 0.8, np.array([0.7, 0.4])
    cam = np.concatenate([(s_full * scale)[:, None],
                          (pos * 224 - start) / 112.0 - 1.0], -1)
    assert float(losses.camera_smoothness(cam, scale, start, 224.0, np.ones(T))) < 1e-10
    cam = jnp.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    val = losses.camera_smoothness(cam, jnp.array([1.0, 1.0]), jnp.array([[0.0, 0.0],
                                                                            [22.4, 0.0]]),
                                   224.0, jnp.ones(2))
    np.testing.assert_allclose(val, 1.0 + (0.1 ** 2) / 2, rtol=1e-6)
    cam = RNG.normal(size=(T, 3)) * 0.2 + np.array([1.0, 0, 0])
    mask = np.ones(T)
    mask[-2:] = 0
    _grad_check(lambda c: losses.camera_smoothness(c, scale, start, 224.0, mask), cam)


def test_joint_limits():
    pose = np.zeros((2, 72))
    pose[:, 4 * 3] = 0.5          # left knee bent the normal way
    pose[:, 18 * 3 + 1] = -0.5    # left elbow bent the normal way
    assert float(losses.joint_limits(pose, np.ones(2))) == 0.0
    pose[0, 5 * 3] = -0.3         # right knee hyper-extended
    pose[1, 19 * 3 + 1] = -0.2    # right elbow hyper-extended (its forbidden side is -y)
    np.testing.assert_allclose(losses.joint_limits(pose, np.ones(2)),
                               (0.09 + 0.04) / 8, rtol=1e-6)
    np.testing.assert_allclose(losses.joint_limits(pose, np.array([1.0, 0.0])),
                               0.09 / 4, rtol=1e-6)
    p = RNG.normal(size=(T, 72)) * 0.5
    _grad_check(lambda x: losses.joint_limits(x, np.ones(T)), p)


def test_losses_are_jittable_and_vmappable():
    conf = jnp.ones((3, T, K))
    pred = jnp.asarray(RNG.normal(size=(3, T, K, 2)))
    f = jax.jit(jax.vmap(lambda p: losses.keypoint_l1(p, jnp.zeros_like(p), conf[0],
                                                      jnp.ones(T))))
    out = f(pred)
    assert out.shape == (3,)
    np.testing.assert_allclose(out[1], losses.keypoint_l1(pred[1], jnp.zeros_like(pred[1]),
                                                          conf[0], jnp.ones(T)), rtol=1e-6)
