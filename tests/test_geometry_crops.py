"""sfv_jax.geometry.crops (HMR's crop recipe and coordinates) and the one weak-perspective fit."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sfv_jax import body
from sfv_jax.geometry import cameras, crops
from sfv_jax.geometry.rotations import axis_angle_to_matrix


def _keypoints(rng: np.random.Generator, t: int = 6, k: int = 12) -> np.ndarray:
    xy = rng.uniform(50, 400, size=(t, k, 2))
    conf = rng.uniform(0, 1, size=(t, k, 1))
    conf[0] = 0.0            # nobody
    conf[1, 1:] = 0.0        # a single point
    return np.concatenate([xy, conf], -1)


def test_recipe_scales_the_box_diagonal_to_person_px():
    kp = _keypoints(np.random.default_rng(0))
    scale, start, valid = crops.keypoint_crop(kp, 0.3, 150.0, 224)
    assert valid.tolist() == [False, False, True, True, True, True]
    seen = kp[..., 2] > 0.3
    for i in np.flatnonzero(valid):
        crop = crops.image_to_crop(kp[i:i + 1, seen[i], :2], scale[i:i + 1], start[i:i + 1])[0]
        assert np.linalg.norm(crop.max(0) - crop.min(0)) == pytest.approx(150.0)
        np.testing.assert_allclose(0.5 * (crop.max(0) + crop.min(0)), 112.0, atol=0.5)
    assert np.all(np.isfinite(scale)) and np.all(np.isfinite(start))


def test_numpy_and_jit_agree():
    kp = _keypoints(np.random.default_rng(1))
    want = crops.keypoint_crop(kp, 0.3, 150.0, 224)
    got = jax.jit(lambda x: crops.keypoint_crop(x, 0.3, 150.0, 224))(jnp.asarray(kp, jnp.float32))
    assert isinstance(want[0], np.ndarray) and want[0].dtype == np.float64
    assert isinstance(got[0], jax.Array)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], want[1], atol=1.0)   # rounding of the centre may differ
    np.testing.assert_array_equal(got[2], want[2])


def test_coordinates_roundtrip_and_box():
    rng = np.random.default_rng(2)
    px = rng.uniform(0, 900, size=(3, 5, 2))
    scale, start = rng.uniform(0.3, 1.2, 3), rng.uniform(-50, 300, size=(3, 2))
    np.testing.assert_allclose(crops.crop_to_image(crops.image_to_crop(px, scale, start), scale,
                                                   start), px)
    norm = crops.image_to_crop_norm(px, scale, start, 224)
    np.testing.assert_allclose(norm, 2 * crops.image_to_crop(px, scale, start) / 224 - 1)
    box = crops.crop_box(scale, start, 224)
    np.testing.assert_allclose(box[:, :2], crops.crop_norm_to_image(-np.ones((3, 1, 2)), scale,
                                                                   start, 224)[:, 0])
    np.testing.assert_allclose(box[:, 2:], crops.crop_norm_to_image(np.ones((3, 1, 2)), scale,
                                                                   start, 224)[:, 0])


def test_weak_perspective_fit_numpy_float64_and_jax_batched():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 2, 9, 3))
    cam = np.stack([rng.uniform(0.5, 1.5, (4, 2)), rng.normal(size=(4, 2)),
                    rng.normal(size=(4, 2))], -1)
    y = cameras.project_crop(x, cam)
    w = rng.uniform(0.1, 1.0, size=(4, 2, 9))
    got = cameras.weak_perspective_fit(x, y, w)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, cam, rtol=1e-9, atol=1e-9)
    got32 = jax.jit(cameras.weak_perspective_fit)(jnp.asarray(x, jnp.float32),
                                                  jnp.asarray(y, jnp.float32),
                                                  jnp.asarray(w, jnp.float32))
    np.testing.assert_allclose(got32, cam, rtol=1e-4, atol=1e-4)


def test_forward_from_rotations_equals_forward():
    model = body.synthetic_model()
    rng = np.random.default_rng(4)
    pose = jnp.asarray(rng.normal(0, 0.3, (3, 72)), jnp.float32)
    betas = jnp.asarray(rng.normal(0, 1, (3, 10)), jnp.float32)
    a = body.forward(model, pose, betas)
    b = body.forward_from_rotations(model, axis_angle_to_matrix(pose.reshape(3, 24, 3)), betas)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    with pytest.raises(ValueError, match="rotations"):
        body.forward_from_rotations(model, pose, betas)
