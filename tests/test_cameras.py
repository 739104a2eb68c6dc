"""Tests for sfv_jax.geometry.cameras: HMR crop camera, full-image and perspective conversions."""
import numpy as np
import jax
import jax.numpy as jnp
import pytest

from sfv_jax.geometry import cameras, crops

RNG = np.random.default_rng(0)
T, K = 5, 7
POINTS = RNG.normal(size=(T, K, 3)).astype(np.float32) * 0.5
CAM = np.stack([RNG.uniform(0.6, 1.2, T), RNG.normal(size=T) * 0.1, RNG.normal(size=T) * 0.1],
               -1).astype(np.float32)
SCALE = RNG.uniform(0.3, 2.0, T).astype(np.float32)
START = RNG.uniform(-50, 400, (T, 2)).astype(np.float32)
SIZE = 224.0


def test_project_crop_hand_value():
    x = jnp.array([[[1.0, 2.0, 5.0]]])
    cam = jnp.array([[2.0, 0.5, -1.0]])
    np.testing.assert_allclose(cameras.project_crop(x, cam), [[[3.0, 2.0]]])


def test_crop_norm_image_roundtrip_and_hand_value():
    # Centre of the crop (0, 0) -> crop pixel 112 -> (112 + start) / scale.
    xy = jnp.zeros((1, 1, 2))
    px = crops.crop_norm_to_image(xy, jnp.array([2.0]), jnp.array([[10.0, 20.0]]), SIZE)
    np.testing.assert_allclose(px, [[[61.0, 66.0]]])
    xy = RNG.uniform(-1, 1, (T, K, 2)).astype(np.float32)
    back = crops.image_to_crop_norm(crops.crop_norm_to_image(xy, SCALE, START, SIZE),
                                    SCALE, START, SIZE)
    np.testing.assert_allclose(back, xy, atol=1e-4)


def test_full_image_camera_matches_crop_projection():
    via_crop = crops.crop_norm_to_image(cameras.project_crop(POINTS, CAM), SCALE, START, SIZE)
    cam_img = cameras.crop_to_full(CAM, SCALE, START, SIZE)
    np.testing.assert_allclose(cameras.project_full(POINTS, cam_img), via_crop, rtol=1e-5,
                               atol=1e-3)
    np.testing.assert_allclose(cameras.full_to_crop(cam_img, SCALE, START, SIZE), CAM, atol=1e-5)


def test_perspective_roundtrip_and_weak_limit():
    cam_img = cameras.crop_to_full(CAM, SCALE, START, SIZE)
    focal, center = 1500.0, jnp.array([320.0, 240.0])
    transl = cameras.perspective_from_full(cam_img, focal, center)
    np.testing.assert_allclose(cameras.full_from_perspective(transl, focal, center), cam_img,
                               rtol=1e-5)
    np.testing.assert_allclose(transl[:, 2], focal / cam_img[:, 0], rtol=1e-6)
    # Flat points (z = 0) project identically under both models.
    flat = POINTS.copy()
    flat[..., 2] = 0.0
    np.testing.assert_allclose(cameras.project_perspective(flat, transl, focal, center),
                               cameras.project_full(flat, cam_img), rtol=1e-5, atol=1e-2)
    back = cameras.perspective_to_crop(
        cameras.crop_to_perspective(CAM, SCALE, START, SIZE, focal, center), SCALE, START,
        SIZE, focal, center)
    np.testing.assert_allclose(back, CAM, atol=1e-5)


def test_hmr_render_camera_gives_sfv_translation():
    focal, center = cameras.hmr_render_camera(SCALE, START, SIZE)
    transl = cameras.crop_to_perspective(CAM, SCALE, START, SIZE, focal, center)
    np.testing.assert_allclose(transl[:, :2], CAM[:, 1:], atol=1e-5)
    np.testing.assert_allclose(transl[:, 2], 500.0 / (0.5 * SIZE * CAM[:, 0]), rtol=1e-5)


def test_conversions_jit_and_batch_shapes():
    f = jax.jit(cameras.crop_to_full)
    out = f(CAM[None].repeat(3, 0), SCALE[None].repeat(3, 0), START[None].repeat(3, 0), SIZE)
    assert out.shape == (3, T, 3)
    assert np.all(np.isfinite(out))
