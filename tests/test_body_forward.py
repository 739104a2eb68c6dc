"""Tests of the SMPL forward pass, keypoint sets and the keypoint-only path."""
from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from smpl_files import random_smpl_arrays  # noqa: E402

from sfv_jax import body, skeletons  # noqa: E402
from sfv_jax.body import kinematics  # noqa: E402

NV = 150
# One jitted forward shared by the tests: compiles once per shape instead of running
# op by op (much faster on a small CPU).
fwd = jax.jit(body.forward)


@pytest.fixture(scope="module")
def arrays():
    return random_smpl_arrays(seed=5, num_vertices=NV)


@pytest.fixture(scope="module")
def model64(arrays):
    return body.from_arrays(arrays, dtype=np.float64)


@pytest.fixture(scope="module")
def model32(arrays):
    return body.from_arrays(arrays, dtype=np.float32)


def _inputs(n: int, seed: int = 0, scale: float = 0.5):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(n, 72)), rng.normal(size=(n, 10)), rng.normal(size=(n, 3)))


def _rodrigues(aa: np.ndarray) -> np.ndarray:
    t = np.linalg.norm(aa)
    if t < 1e-12:
        return np.eye(3)
    k = aa / t
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(t) * kx + (1 - np.cos(t)) * kx @ kx


def reference_smpl(a: dict, pose: np.ndarray, betas: np.ndarray, transl: np.ndarray):
    """Plain NumPy SMPL for one frame, written from the SMPL paper's equations."""
    jr = a["J_regressor"].toarray()
    v_shaped = a["v_template"] + a["shapedirs"][..., :betas.size] @ betas
    j = jr @ v_shaped
    rots = [_rodrigues(pose[3 * i:3 * i + 3]) for i in range(24)]
    feat = np.concatenate([(r - np.eye(3)).ravel() for r in rots[1:]])
    v_posed = v_shaped + a["posedirs"] @ feat
    g = [None] * 24
    for i, p in enumerate(skeletons.SMPL_PARENTS):
        local = np.eye(4)
        local[:3, :3] = rots[i]
        local[:3, 3] = j[i] - (j[p] if p >= 0 else 0)
        g[i] = local if p < 0 else g[p] @ local
    g = np.stack(g)
    joints = g[:, :3, 3].copy()
    rel = g.copy()
    rel[:, :3, 3] -= np.einsum("jab,jb->ja", g[:, :3, :3], j)
    t = np.einsum("vj,jab->vab", a["weights"], rel)
    verts = np.einsum("vab,vb->va", t[:, :3, :3], v_posed) + t[:, :3, 3]
    return verts + transl, joints + transl, g[:, :3, :3]


def test_matches_numpy_reference_float64(arrays, model64):
    pose, betas, transl = _inputs(3)
    with jax.enable_x64(True):
        out = jax.jit(body.forward)(model64, pose, betas, transl)
        assert out.vertices.dtype == jnp.float64
    assert out.vertices.shape == (3, NV, 3) and out.joints.shape == (3, 24, 3)
    assert out.keypoints.shape == (3, 19, 3) and out.rotations.shape == (3, 24, 3, 3)
    for i in range(3):
        v, j, r = reference_smpl(arrays, pose[i], betas[i], transl[i])
        np.testing.assert_allclose(np.asarray(out.vertices[i]), v, atol=1e-10)
        np.testing.assert_allclose(np.asarray(out.joints[i]), j, atol=1e-10)
        np.testing.assert_allclose(np.asarray(out.rotations[i]), r, atol=1e-10)
        kp = arrays["cocoplus_regressor"].toarray() @ v
        np.testing.assert_allclose(np.asarray(out.keypoints[i]), kp, atol=1e-10)


def test_zero_pose_and_shape_gives_template(arrays, model32):
    out = fwd(model32, np.zeros((2, 72), np.float32), np.zeros((2, 10), np.float32))
    assert out.vertices.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out.vertices[1]), arrays["v_template"], atol=1e-6)
    np.testing.assert_allclose(np.asarray(out.joints[0]),
                               arrays["J_regressor"].toarray() @ arrays["v_template"], atol=1e-6)
    np.testing.assert_allclose(np.asarray(out.rotations), np.broadcast_to(np.eye(3),
                                                                          (2, 24, 3, 3)))


def test_float32_close_to_float64(model32, model64):
    pose, betas, transl = _inputs(4, 1)
    o32 = fwd(model32, pose.astype(np.float32), betas.astype(np.float32),
                       transl.astype(np.float32))
    with jax.enable_x64(True):
        o64 = fwd(model64, pose, betas, transl)
    np.testing.assert_allclose(np.asarray(o32.vertices), np.asarray(o64.vertices), atol=2e-5)


def test_rotations_are_global_and_translation_shifts(model32):
    pose, betas, transl = (x.astype(np.float32) for x in _inputs(2, 2))
    out = fwd(model32, pose, betas, transl)
    no_t = fwd(model32, pose, betas)
    np.testing.assert_allclose(np.asarray(out.vertices - no_t.vertices),
                               np.broadcast_to(transl[:, None], out.vertices.shape), atol=1e-5)
    np.testing.assert_allclose(np.asarray(out.keypoints - no_t.keypoints),
                               np.broadcast_to(transl[:, None], out.keypoints.shape), atol=1e-5)
    from sfv_jax.geometry.rotations import axis_angle_to_matrix
    local = np.asarray(axis_angle_to_matrix(pose.reshape(2, 24, 3)))
    rg = np.asarray(out.rotations)
    for j, p in enumerate(skeletons.SMPL_PARENTS[1:], start=1):
        np.testing.assert_allclose(rg[:, j], rg[:, p] @ local[:, j], atol=1e-5)


def test_batch_shapes_broadcast_and_vmap(model32):
    pose, betas, _ = (x.astype(np.float32) for x in _inputs(6, 3))
    full = fwd(model32, pose, betas)
    # (2, 3) batch, (J, 3) pose layout, one shared betas vector.
    out = fwd(model32, pose.reshape(2, 3, 24, 3), betas[0])
    assert out.vertices.shape == (2, 3, NV, 3) and out.rotations.shape == (2, 3, 24, 3, 3)
    shared = fwd(model32, pose, np.broadcast_to(betas[0], betas.shape))
    np.testing.assert_allclose(np.asarray(out.vertices).reshape(6, NV, 3),
                               np.asarray(shared.vertices), atol=1e-6)
    vm = jax.jit(jax.vmap(body.forward, in_axes=(None, 0, 0)))(model32, pose, betas)
    np.testing.assert_allclose(np.asarray(vm.vertices), np.asarray(full.vertices), atol=1e-5)
    np.testing.assert_allclose(np.asarray(vm.keypoints), np.asarray(full.keypoints), atol=1e-5)
    # Fewer shape components than the model has: the first ones are used.
    few = fwd(model32, pose, betas[:, :4])
    padded = fwd(model32, pose, np.concatenate([betas[:, :4], np.zeros((6, 6),
                                                                               np.float32)], 1))
    np.testing.assert_allclose(np.asarray(few.vertices), np.asarray(padded.vertices), atol=1e-6)


def test_jit_does_not_retrace(arrays, model32):
    traces = []

    @jax.jit
    def f(m, pose, betas):
        traces.append(1)
        return body.forward(m, pose, betas).keypoints

    pose, betas, _ = (x.astype(np.float32) for x in _inputs(3, 4))
    f(model32, pose, betas)
    f(model32, pose + 0.1, betas)
    # New arrays with the same static structure (another model of the same kind).
    other = jax.tree_util.tree_map(lambda x: x * 1 if x.dtype.kind == "f" else x, model32)
    f(other, pose, betas)
    assert len(traces) == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_finite_at_zero_pose(arrays, dtype):
    with jax.enable_x64(True):
        m = body.from_arrays(arrays, dtype=dtype)

        def loss(pose, betas, transl):
            out = body.forward(m, pose, betas, transl)
            return (jnp.sum(out.vertices ** 2) + jnp.sum(out.keypoints ** 2)
                    + jnp.sum(out.rotations ** 2) + jnp.sum(out.joints))

        z = [jnp.zeros((2, 72), dtype), jnp.zeros((2, 10), dtype), jnp.zeros((2, 3), dtype)]
        grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(*z)
        for g in grads:
            assert g.dtype == dtype and bool(jnp.all(jnp.isfinite(g)))
        assert float(jnp.abs(grads[0]).max()) > 0


def test_gradient_matches_finite_differences(model64):
    pose, betas, transl = _inputs(1, 6)
    with jax.enable_x64(True):
        def loss(p):
            out = body.forward(model64, p, betas, transl)
            return jnp.sum(out.keypoints[..., 0] * out.keypoints[..., 1]) + jnp.sum(out.vertices)

        vg = jax.jit(jax.value_and_grad(loss))  # one compile for values and gradient
        g = np.asarray(vg(jnp.asarray(pose))[1])
        eps = 1e-6
        for idx in (0, 5, 31, 50, 71):
            e = np.zeros_like(pose)
            e[0, idx] = eps
            fd = (vg(pose + e)[0] - vg(pose - e)[0]) / (2 * eps)
            np.testing.assert_allclose(g[0, idx], float(fd), rtol=1e-5, atol=1e-7)


def test_forward_input_errors(model32):
    with pytest.raises(ValueError, match=r"pose has shape \(2, 70\)"):
        body.forward(model32, np.zeros((2, 70)), np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"betas has shape \(2, 11\).*B <= 10"):
        body.forward(model32, np.zeros((2, 72)), np.zeros((2, 11)))
    with pytest.raises(ValueError, match=r"transl has shape \(2, 2\)"):
        body.forward(model32, np.zeros((2, 72)), np.zeros((2, 10)), np.zeros((2, 2)))


def test_rest_joints(arrays, model64):
    betas = np.random.default_rng(9).normal(size=(2, 10))
    with jax.enable_x64(True):
        j = np.asarray(kinematics.rest_joints(model64, betas))
    jr = arrays["J_regressor"].toarray()
    for i in range(2):
        ref = jr @ (arrays["v_template"] + arrays["shapedirs"] @ betas[i])
        np.testing.assert_allclose(j[i], ref, atol=1e-12)
