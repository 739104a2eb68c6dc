"""Tests of keypoint sets and the keypoint-only (restricted) body model."""
from __future__ import annotations


import jax
import numpy as np
import pytest

from smpl_files import random_smpl_arrays  # noqa: E402

from sfv_jax import body, skeletons  # noqa: E402
from sfv_jax.geometry.rotations import axis_angle_to_matrix  # noqa: E402

NV = 150
fwd = jax.jit(body.forward)


@pytest.fixture(scope="module")
def arrays():
    return random_smpl_arrays(seed=5, num_vertices=NV)


@pytest.fixture(scope="module")
def model32(arrays):
    return body.from_arrays(arrays, dtype=np.float32)


def _inputs(n: int, seed: int = 0, scale: float = 0.5):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(n, 72)), rng.normal(size=(n, 10)), rng.normal(size=(n, 3)))


@pytest.mark.parametrize("fmt", ["auto", "cocoplus_landmarks", "body25", "coco18", "coco17",
                                 "smpl24", "custom"])
def test_keypoint_model_equals_full_forward(arrays, model32, fmt):
    rng = np.random.default_rng(7)
    if fmt == "custom":
        reg = np.zeros((5, NV))
        for k in range(5):
            reg[k, rng.choice(NV, 3, replace=False)] = rng.uniform(-0.5, 1.0, 3)
        jw = rng.uniform(0, 1, (5, 24)) * (rng.uniform(size=(5, 24)) < 0.1)
        m = body.with_keypoints(model32, reg, joint_weights=jw, names=list("abcde"))
    elif fmt == "cocoplus_landmarks":
        a = {k: v for k, v in arrays.items() if k != "cocoplus_regressor"}
        m = body.from_arrays(a, keypoints="cocoplus")
        assert m.keypoint_names == skeletons.FORMATS["cocoplus"]
        head_top = m.keypoint_names.index("head_top")
        assert m.kp_vertex_regressor[head_top, arrays["landmark_vertex_ids"]["head_top"]] == 1
    else:
        m = body.with_keypoints(model32, fmt)
    km = body.keypoint_model(m)
    assert km.is_restricted and km.num_faces == 0
    assert km.num_vertices == len(np.flatnonzero(np.abs(m.kp_vertex_regressor).sum(0)))
    assert km.keypoint_names == m.keypoint_names and body.keypoint_model(km) is km
    pose, betas, transl = (x.astype(np.float32) for x in _inputs(8, 8))
    # The full mesh does not depend on the keypoint set: one compiled forward serves all
    # cases, and the full model's keypoints are its regressor applied to that mesh.
    full = fwd(model32, pose, betas, transl)
    full_kp = (np.einsum("kv,nvc->nkc", m.kp_vertex_regressor, np.asarray(full.vertices))
               + np.einsum("kj,njc->nkc", m.kp_joint_weights, np.asarray(full.joints)))
    fast = fwd(km, pose, betas, transl)
    np.testing.assert_allclose(np.asarray(fast.keypoints), full_kp, atol=1e-6)
    np.testing.assert_allclose(np.asarray(fast.joints), np.asarray(full.joints), atol=1e-6)
    np.testing.assert_allclose(np.asarray(fast.vertices),
                               np.asarray(full.vertices)[:, list(km.vertex_ids)], atol=1e-6)
    # Keypoints are what the set says: joints for joint-based points, vertices otherwise.
    if fmt == "custom":
        ref = (np.einsum("kv,nvc->nkc", reg, np.asarray(full.vertices))
               + np.einsum("kj,njc->nkc", jw, np.asarray(full.joints)))
        np.testing.assert_allclose(np.asarray(fast.keypoints), ref, atol=1e-5)
    elif fmt in ("body25", "coco18", "coco17"):
        names = skeletons.FORMATS[fmt]
        lm = arrays["landmark_vertex_ids"]
        for k, name in enumerate(names):
            if name in lm:
                ref = np.asarray(full.vertices)[:, lm[name]]
            else:
                ref = np.asarray(full.joints)[:, body.keypoints.SMPL_JOINT_FOR_POINT[name]]
            np.testing.assert_allclose(np.asarray(fast.keypoints)[:, k], ref, atol=1e-6)


def test_with_keypoints_errors(model32):
    with pytest.raises(ValueError, match="unknown keypoint set 'nope'"):
        body.with_keypoints(model32, "nope")
    with pytest.raises(ValueError, match="mouth_left"):
        body.with_keypoints(model32, "mediapipe33")
    with pytest.raises(ValueError, match=r"keypoint regressor has shape \(3, 7\)"):
        body.with_keypoints(model32, np.ones((3, 7)))
    with pytest.raises(ValueError, match="needs the full model"):
        body.with_keypoints(body.keypoint_model(model32), "body25")




def _pair_keypoints(m, pose, betas, transl):
    """Keypoints and joints through the folded (keypoint, joint) pair form."""
    pm = body.pair_model(body.keypoint_model(m))
    rot = jax.jit(axis_angle_to_matrix)(pose.reshape(pose.shape[0], -1, 3))
    out = jax.jit(body.pair_forward)(pm, rot, betas)
    return pm, np.asarray(out.keypoints) + transl[:, None], np.asarray(out.joints) + transl[:, None]


@pytest.mark.parametrize("fmt", ["auto", "body25"])
def test_folded_skinning_equals_full_forward(arrays, model32, fmt):
    m = body.with_keypoints(model32, fmt)
    pose, betas, transl = (x.astype(np.float32) for x in _inputs(8, 9))
    pm, fast_kp, fast_joints = _pair_keypoints(m, pose, betas, transl)
    # One point per (keypoint, joint) pair the regressor's vertices are skinned to.
    pairs = np.count_nonzero(np.abs(m.kp_vertex_regressor.astype(np.float64))
                             @ np.abs(m.lbs_weights.astype(np.float64)))
    assert pm.num_pairs == pairs
    np.testing.assert_array_equal(pm.pair_to_kp.sum(0), 1.0)
    full = fwd(model32, pose, betas, transl)
    full_kp = (np.einsum("kv,nvc->nkc", m.kp_vertex_regressor, np.asarray(full.vertices))
               + np.einsum("kj,njc->nkc", m.kp_joint_weights, np.asarray(full.joints)))
    np.testing.assert_allclose(fast_kp, full_kp, atol=1e-6)
    np.testing.assert_allclose(fast_joints, np.asarray(full.joints), atol=1e-6)


def test_folded_skinning_handles_signed_weights(model32):
    reg = np.zeros((2, NV))
    reg[0, :3] = [0.5, 0.7, -0.2]
    reg[1, 5] = 1.0
    m = body.with_keypoints(model32, reg)
    pose, betas, transl = (x.astype(np.float32) for x in _inputs(4, 3))
    _, fast_kp, _ = _pair_keypoints(m, pose, betas, transl)
    np.testing.assert_allclose(fast_kp, np.asarray(fwd(m, pose, betas, transl).keypoints),
                               atol=1e-6)
    assert body.keypoint_model(m).num_vertices == 4
    # tol drops small weights from the restriction.
    reg[1, 6] = 1e-9
    assert body.keypoint_model(body.with_keypoints(model32, reg), tol=1e-6).num_vertices == 4
