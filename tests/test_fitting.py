"""Tests of sfv_jax.fitting's 3D fit and priors (no mediapipe; a small humanoid model)."""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from sfv_jax import body, fitting
from sfv_jax.fitting.config import fitting_config
from sfv_jax.geometry import rotations
from sfv_jax.synthetic import small_body


T = 6


@pytest.fixture(scope="module")
def case(random_poses):
    rng = np.random.default_rng(0)
    model = small_body("body25")
    pose = random_poses(rng, T)
    betas = (0.7 * rng.standard_normal((T, 10))).astype(np.float32)
    transl = rng.uniform(-2, 2, (T, 3)).astype(np.float32)
    targets = np.asarray(body.forward(model, pose, betas, transl).keypoints)
    opts = fitting.FitOptions.from_config(fitting_config())
    fit = fitting.fit_3d(model, targets, np.ones(25, np.float32), opts)
    return dict(model=model, pose=pose, betas=betas, transl=transl, targets=targets, opts=opts,
                fit=fit)


def test_recovers_known_pose_and_shape_from_3d_keypoints(case):
    fit = case["fit"]
    assert fit.pose.shape == (T, 72) and fit.betas.shape == (T, 10) and fit.transl.shape == (T, 3)
    mpjpe_mm = 1000 * np.asarray(fit.error).mean(axis=1)
    assert np.all(mpjpe_mm < 10.0), mpjpe_mm
    assert np.median(mpjpe_mm) < 5.0, mpjpe_mm
    # The returned parameters reproduce the fitted points through the ordinary forward pass.
    out = body.forward(case["model"], fit.pose, fit.betas, fit.transl)
    err = np.linalg.norm(np.asarray(out.keypoints) - case["targets"], axis=-1)
    np.testing.assert_allclose(err, np.asarray(fit.error), atol=1e-4)
    # Global orientation (any, upside down included) comes back; the pelvis' forward tilt is
    # only loosely pinned (it trades off with the spine joints), hence the tolerance.
    ang = rotations.relative_angle(rotations.axis_angle_to_matrix(fit.pose[:, :3]),
                                   rotations.axis_angle_to_matrix(jnp.asarray(case["pose"][:, :3])))
    assert np.all(np.degrees(np.asarray(ang)) < 20.0), np.degrees(np.asarray(ang))
    np.testing.assert_allclose(np.asarray(fit.transl), case["transl"], atol=0.05)


def test_batched_equals_one_by_one(case):
    fit = case["fit"]
    for t in (0, 3):
        one = fitting.fit_3d(case["model"], case["targets"][t], np.ones(25, np.float32),
                             case["opts"])
        assert one.pose.shape == (72,)
        np.testing.assert_allclose(np.asarray(one.pose), np.asarray(fit.pose[t]), atol=1e-4)
        np.testing.assert_allclose(np.asarray(one.betas), np.asarray(fit.betas[t]), atol=1e-4)


def test_zero_weight_points_are_ignored_and_leading_dims_kept(case):
    targets = case["targets"][:4].reshape(2, 2, 25, 3).copy()
    weights = np.ones((2, 2, 25), np.float32)
    targets[..., [4, 7, 11], :] = 100.0  # garbage at missing points
    weights[..., [4, 7, 11]] = 0.0
    a = fitting.fit_3d(case["model"], targets, weights, case["opts"])
    clean = case["targets"][:4].reshape(2, 2, 25, 3)
    b = fitting.fit_3d(case["model"], clean, weights, case["opts"])
    assert a.pose.shape == (2, 2, 72) and a.error.shape == (2, 2, 25)
    np.testing.assert_allclose(np.asarray(a.pose), np.asarray(b.pose), atol=1e-5)
    # Even without three limbs' end points the observed points fit well.
    assert float(np.asarray(a.error)[weights > 0].mean()) < 0.01


def test_fixed_betas_are_kept(case):
    shape = case["betas"][2]
    fit = fitting.fit_3d(case["model"], case["targets"][:3], np.ones(25, np.float32),
                         case["opts"], betas=shape)
    np.testing.assert_array_equal(np.asarray(fit.betas), np.broadcast_to(shape, (3, 10)))
    # The true shape given, frame 2 fits at least as well as with free betas.
    assert float(np.mean(fit.error[2])) < 1.2 * float(np.mean(case["fit"].error[2])) + 1e-3


def test_priors():
    neutral = fitting.neutral_body_pose(1.1)
    assert float(fitting.hinge_penalty(neutral)) == 0.0
    bad = neutral.at[fitting._KNEES[0]].set(-0.5)  # left knee bent forwards
    assert float(fitting.hinge_penalty(bad)) == pytest.approx(0.25)
    bad = neutral.at[fitting._R_ELBOW + 1].set(-0.3)
    assert float(fitting.hinge_penalty(bad)) == pytest.approx(0.09)
    # The neutral pose lowers both arms: wrists well below the shoulders (Y up).
    model = small_body("smpl24")
    j = np.asarray(body.forward(model, jnp.concatenate([jnp.zeros(3), neutral]),
                                jnp.zeros(10)).joints)
    assert j[20, 1] < j[16, 1] - 0.3 and j[21, 1] < j[17, 1] - 0.3
    opts = fitting.FitOptions.from_config(fitting_config())
    p0 = fitting.prior_loss(neutral, jnp.zeros(10), opts)
    p1 = fitting.prior_loss(neutral + 0.3, jnp.ones(10), opts)
    assert float(p1) > float(p0) > 0.0


def test_options_and_bad_input():
    cfg = fitting_config()
    opts = fitting.FitOptions.from_config(cfg)
    assert opts.steps_3d_full == cfg.steps_3d_full and isinstance(opts.crop_size, int)
    hash(opts)  # static jit argument
    cfg.unknown_key = 1
    with pytest.raises(ValueError, match="unknown_key"):
        fitting.FitOptions.from_config(cfg)
    short = dict(fitting_config())
    short["sigma_3d"] = "small"  # absent keys take their defaults now; a wrong type is refused
    with pytest.raises(ValueError, match="sigma_3d"):
        fitting.FitOptions.from_config(short)
    model = small_body("body25")
    with pytest.raises(ValueError, match=r"\(\.\.\., 25, 3\)"):
        fitting.fit_3d(model, np.zeros((3, 24, 3)), np.ones(24), opts)
    with pytest.raises(ValueError, match=r"\(\.\.\., 25, 3\)"):
        fitting.fit_2d(model, np.zeros((3, 25, 2)), opts)
    assert dataclasses.replace(opts, min_batch=4) != opts
