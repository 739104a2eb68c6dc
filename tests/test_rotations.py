"""Tests of sfv_jax.geometry.rotations against scipy and against each other."""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scipy.spatial.transform import Rotation

from sfv_jax.geometry import rotations as R

ORDERS = ["".join(p) for p in itertools.permutations("XYZ")] + [
    a + b + a for a in "XYZ" for b in "XYZ" if a != b]


def _random_aa(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = rng.uniform(0.0, np.pi * 0.999, size=(n, 1))
    return axis * angle


def test_axis_angle_to_matrix_matches_scipy_float64():
    aa = np.concatenate([_random_aa(64), 1e-5 * _random_aa(8, 1), np.zeros((1, 3))])
    with jax.enable_x64(True):
        m = np.asarray(R.axis_angle_to_matrix(jnp.asarray(aa)))
        assert m.dtype == np.float64
    np.testing.assert_allclose(m, Rotation.from_rotvec(aa).as_matrix(), atol=1e-13)


def test_float32_stays_float32():
    aa = jnp.asarray(_random_aa(4), jnp.float32)
    assert R.axis_angle_to_matrix(aa).dtype == jnp.float32
    assert R.matrix_to_euler(R.axis_angle_to_matrix(aa), "ZYX").dtype == jnp.float32


def test_round_trips_float64():
    aa = _random_aa(128, 2)
    with jax.enable_x64(True):
        m = R.axis_angle_to_matrix(jnp.asarray(aa))
        np.testing.assert_allclose(np.asarray(R.matrix_to_axis_angle(m)), aa, atol=1e-10)
        q = R.matrix_to_quaternion(m)
        ref = Rotation.from_rotvec(aa).as_quat()[:, [3, 0, 1, 2]]
        ref *= np.sign(ref[:, :1])
        np.testing.assert_allclose(np.asarray(q), ref, atol=1e-12)
        np.testing.assert_allclose(np.asarray(R.quaternion_to_matrix(q)), np.asarray(m),
                                   atol=1e-12)
        np.testing.assert_allclose(np.asarray(R.axis_angle_to_quaternion(jnp.asarray(aa))), ref,
                                   atol=1e-12)
        np.testing.assert_allclose(np.asarray(R.quaternion_to_axis_angle(-q)), aa, atol=1e-10)
        r6 = R.matrix_to_rot6d(m)
        assert r6.shape == (128, 6)
        np.testing.assert_allclose(np.asarray(R.rot6d_to_matrix(r6)), np.asarray(m), atol=1e-12)


def test_near_pi_and_tiny_angles():
    axis = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.3, -0.2, 0.9]])
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    with jax.enable_x64(True):
        for angle in (np.pi - 1e-7, 1e-7, 1e-3):
            aa = axis * angle
            m = R.axis_angle_to_matrix(jnp.asarray(aa))
            np.testing.assert_allclose(np.asarray(m), Rotation.from_rotvec(aa).as_matrix(),
                                       atol=1e-12)
            back = np.array(R.matrix_to_axis_angle(m))
            # Near pi the sign of the axis is ambiguous: compare the rotations.
            np.testing.assert_allclose(Rotation.from_rotvec(back).as_matrix(), np.asarray(m),
                                       atol=1e-9)


def test_euler_all_orders_match_scipy():
    aa = _random_aa(32, 3)
    rot = Rotation.from_rotvec(aa)
    for order in ORDERS + [o.lower() for o in ORDERS]:
        ref_angles = rot.as_euler(order)
        with jax.enable_x64(True):
            m = np.asarray(R.euler_to_matrix(jnp.asarray(ref_angles), order))
            np.testing.assert_allclose(m, rot.as_matrix(), atol=1e-12, err_msg=order)
            ang = np.asarray(R.matrix_to_euler(jnp.asarray(rot.as_matrix()), order))
        # Same angles as scipy (modulo 2 pi) away from gimbal lock.
        np.testing.assert_allclose(np.angle(np.exp(1j * (ang - ref_angles))), 0.0, atol=1e-9,
                                   err_msg=order)


def test_euler_rejects_bad_orders():
    for bad in ("XYX_", "XXY", "xYz", "abc", "XY"):
        with pytest.raises(ValueError, match="Euler order"):
            R.euler_to_matrix(jnp.zeros(3), bad)


def test_quaternion_multiply_composes_like_matrices():
    a, b = _random_aa(16, 4), _random_aa(16, 5)
    with jax.enable_x64(True):
        qa, qb = R.axis_angle_to_quaternion(jnp.asarray(a)), R.axis_angle_to_quaternion(
            jnp.asarray(b))
        m = R.quaternion_to_matrix(R.quaternion_multiply(qa, qb))
        ref = R.axis_angle_to_matrix(jnp.asarray(a)) @ R.axis_angle_to_matrix(jnp.asarray(b))
        np.testing.assert_allclose(np.asarray(m), np.asarray(ref), atol=1e-12)
        ident = R.quaternion_multiply(qa, R.quaternion_conjugate(qa))
        np.testing.assert_allclose(np.asarray(ident), np.tile([1.0, 0, 0, 0], (16, 1)),
                                   atol=1e-12)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_no_nan_at_identity_values_and_gradients(dtype):
    with jax.enable_x64(True):
        zero = jnp.zeros((3,), dtype)
        eye = jnp.eye(3, dtype=dtype)
        quat = jnp.asarray([1.0, 0, 0, 0], dtype)
        fns = {
            "aa->m": (lambda x: R.axis_angle_to_matrix(x), zero),
            "aa->q": (lambda x: R.axis_angle_to_quaternion(x), zero),
            "q->aa": (lambda x: R.quaternion_to_axis_angle(x), quat),
            "m->aa": (lambda x: R.matrix_to_axis_angle(x), eye),
            "m->q": (lambda x: R.matrix_to_quaternion(x), eye),
            "aa->m->aa": (lambda x: R.matrix_to_axis_angle(R.axis_angle_to_matrix(x)), zero),
            "m->euler": (lambda x: R.matrix_to_euler(x, "XYZ"), eye),
            "6d->m": (lambda x: R.rot6d_to_matrix(x), R.matrix_to_rot6d(eye)),
            "angle": (lambda x: R.relative_angle(R.axis_angle_to_matrix(x), eye), zero),
        }
        # One jit over all functions keeps this fast (one compile, no op-by-op dispatch).
        @jax.jit
        def all_values_and_jacobians(xs):
            return {name: (f(xs[name]), jax.jacrev(lambda z, f=f: jnp.ravel(f(z)))(xs[name]))
                    for name, (f, _) in fns.items()}

        res = all_values_and_jacobians({name: x for name, (_, x) in fns.items()})
        for name, (val, jac) in res.items():
            assert bool(jnp.all(jnp.isfinite(val))), name
            assert bool(jnp.all(jnp.isfinite(jac))), name
        # d(aa->m)/d aa at 0 is the generator skew(e_k); d(m->aa)(aa->m) is identity.
        jac = jax.jit(jax.jacobian(R.axis_angle_to_matrix))(zero)
        for k in range(3):
            np.testing.assert_allclose(np.asarray(jac[..., k]),
                                       np.asarray(R.skew(jnp.eye(3, dtype=dtype)[k])),
                                       atol=1e-6)
        jac = jax.jit(jax.jacobian(
            lambda y: R.matrix_to_axis_angle(R.axis_angle_to_matrix(y))))(zero)
        np.testing.assert_allclose(np.asarray(jac), np.eye(3), atol=1e-6)


def test_gradient_matches_finite_differences_near_zero():
    with jax.enable_x64(True):
        x0 = jnp.asarray([3e-4, -2e-4, 1e-4])  # inside the Taylor branch

        def f(x):
            return jnp.sum(R.axis_angle_to_matrix(x) * jnp.arange(9.0).reshape(3, 3))

        g = np.asarray(jax.grad(f)(x0))
        eps = 1e-6
        fd = [(f(x0 + eps * e) - f(x0 - eps * e)) / (2 * eps) for e in jnp.eye(3)]
        np.testing.assert_allclose(g, np.asarray(fd), atol=1e-8)


def test_jit_vmap_and_batch_shapes():
    aa = jnp.asarray(_random_aa(24).reshape(2, 4, 3, 3), jnp.float32)
    m = jax.jit(R.axis_angle_to_matrix)(aa)
    assert m.shape == (2, 4, 3, 3, 3)
    mv = jax.vmap(R.axis_angle_to_matrix)(aa.reshape(-1, 3)).reshape(m.shape)
    np.testing.assert_allclose(np.asarray(m), np.asarray(mv), atol=1e-6)
    np.testing.assert_allclose(np.asarray(m @ jnp.swapaxes(m, -1, -2)),
                               np.broadcast_to(np.eye(3), m.shape), atol=1e-5)
    e = R.matrix_to_euler(m, "zxz")
    assert e.shape == (2, 4, 3, 3)
    np.testing.assert_allclose(np.asarray(R.euler_to_matrix(e, "zxz")), np.asarray(m),
                               atol=1e-5)
