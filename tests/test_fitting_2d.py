"""Tests of sfv_jax.fitting's 2D fit (pixels -> pose, shape, HMR crop camera); no mediapipe."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from sfv_jax import body, fitting
from sfv_jax.fitting.config import fitting_config
from sfv_jax.geometry import cameras, crops, rotations
from sfv_jax.synthetic import small_body


T = 4


@pytest.fixture(scope="module")
def case(random_poses):
    rng = np.random.default_rng(3)
    model = small_body("body25")
    pose = random_poses(rng, T)
    # Upright people in the camera frame (y down), turned about the vertical by up to +-60 deg.
    yaw = rng.uniform(-1.0, 1.0, T)
    rot = rotations.axis_rotation("y", jnp.asarray(yaw)) @ rotations.axis_rotation(
        "x", jnp.asarray(np.pi))
    pose[:, :3] = np.asarray(rotations.matrix_to_axis_angle(rot))
    betas = (0.5 * rng.standard_normal((T, 10))).astype(np.float32)
    kp3 = body.forward(model, pose, betas).keypoints
    # Full-image weak perspective: 100..250 px per metre, anywhere in a 1280x720 frame.
    cam_img = np.stack([rng.uniform(100, 250, T), rng.uniform(1.5, 3, T),
                        rng.uniform(1.5, 2.5, T)], 1).astype(np.float32)
    px = np.asarray(cameras.project_full(kp3, jnp.asarray(cam_img)))
    conf = np.ones((T, 25, 1), np.float32)
    conf[1, [3, 4]] = 0.0  # an arm not seen in frame 1
    kp = np.concatenate([px, conf], -1)
    kp[1, [3, 4], :2] = -500.0  # garbage where confidence is 0
    opts = fitting.FitOptions.from_config(fitting_config())
    fit = fitting.fit_2d(model, kp, opts)
    return dict(model=model, pose=pose, rot=rot, kp=kp, px=px, opts=opts, fit=fit)


def test_projected_keypoints_land_on_the_input(case):
    fit, kp = case["fit"], case["kp"]
    assert fit.pose.shape == (T, 72) and fit.betas.shape == (T, 10) and fit.cam.shape == (T, 3)
    assert fit.crop_scale.shape == (T,) and fit.crop_start.shape == (T, 2)
    assert fit.crop_size == 224 and bool(np.all(fit.valid))
    err = np.asarray(fit.error_px)
    assert np.all(np.isnan(err[1, [3, 4]]))  # unseen points are not scored
    height = np.ptp(case["px"][..., 1], axis=1)
    med = np.nanmedian(err, axis=1)
    assert np.all(med < 3.0), (med, height)
    assert np.all(np.nanmax(err, axis=1) < 0.05 * height), np.nanmax(err, axis=1)
    # The camera in the solver's contract reproduces the projections via geometry.cameras.
    out = body.forward(case["model"], fit.pose, fit.betas)
    proj = crops.crop_norm_to_image(cameras.project_crop(out.keypoints, fit.cam),
                                    fit.crop_scale, fit.crop_start, fit.crop_size)
    np.testing.assert_allclose(np.asarray(proj), np.asarray(fit.projected), atol=0.05)
    ok = kp[..., 2] > 0
    d = np.linalg.norm(np.asarray(proj) - kp[..., :2], axis=-1)
    np.testing.assert_allclose(d[ok], err[ok], atol=0.05)
    # HMR's crop (HMR's demo, SFV): the person's box DIAGONAL spans person_height_px of the
    # 224 crop, centred (to the whole resized pixel the centre is rounded to).
    crop_px = kp[..., :2] * np.asarray(fit.crop_scale)[:, None, None] - np.asarray(
        fit.crop_start)[:, None]
    seen = np.where(ok[..., None], crop_px, np.nan)
    lo, hi = np.nanmin(seen, axis=1), np.nanmax(seen, axis=1)
    np.testing.assert_allclose(np.linalg.norm(hi - lo, axis=-1), 150.0, atol=0.01)
    np.testing.assert_allclose(0.5 * (lo + hi), 112.0, atol=0.501)


def test_facing_direction_recovered_from_2d(case):
    # Weak perspective cannot tell a limb's depth sign, so the exact orientation is ambiguous;
    # the yaw hypotheses must still get front and back right (left/right points disambiguate).
    fitted = np.asarray(rotations.axis_angle_to_matrix(case["fit"].pose[:, :3]))[:, :, 2]
    true = np.asarray(case["rot"])[:, :, 2]  # the body's forward axis (+Z) in the camera frame
    assert np.all(np.sum(fitted * true, axis=-1) > 0.3), np.sum(fitted * true, axis=-1)


def test_batched_equals_one_by_one(case):
    one = fitting.fit_2d(case["model"], case["kp"][2], case["opts"])
    assert one.pose.shape == (72,) and one.cam.shape == (3,)
    np.testing.assert_allclose(np.asarray(one.pose), np.asarray(case["fit"].pose[2]), atol=1e-4)
    np.testing.assert_allclose(np.asarray(one.cam), np.asarray(case["fit"].cam[2]), atol=1e-4)


def test_empty_frame_is_invalid_but_finite(case):
    kp = case["kp"][:2].copy()
    kp[0, :, 2] = 0.0
    fit = fitting.fit_2d(case["model"], kp, case["opts"])
    assert not bool(fit.valid[0]) and bool(fit.valid[1])
    assert np.all(np.isfinite(np.asarray(fit.pose))) and np.all(np.isfinite(np.asarray(fit.cam)))
    np.testing.assert_allclose(np.asarray(fit.pose[1]), np.asarray(case["fit"].pose[1]), atol=1e-4)


def test_init_from_3d_fit_single_hypothesis(case):
    # Seeding with the true 3D pose (as a 3D fit of world landmarks would) keeps it close.
    init = fitting.Fit3D(pose=jnp.asarray(case["pose"]), betas=jnp.zeros((T, 10)),
                         transl=jnp.zeros((T, 3)), error=jnp.zeros((T, 25)), loss=jnp.zeros(T))
    fit = fitting.fit_2d(case["model"], case["kp"], case["opts"], init=init)
    assert np.all(np.nanmedian(np.asarray(fit.error_px), axis=1) < 3.0)
    ang = rotations.relative_angle(rotations.axis_angle_to_matrix(fit.pose[:, :3]), case["rot"])
    assert np.all(np.degrees(np.asarray(ang)) < 20.0)
