"""Tests of sfv_jax.solver: batching, validation, the pair forward, the batched solve."""
import dataclasses
import functools

import jax
import numpy as np
import pytest

from sfv_jax import body
from sfv_jax.geometry import cameras, crops
from sfv_jax.geometry.rotations import axis_angle_to_matrix
from sfv_jax.solver import (SolverSettings, batching, compiled_cache_sizes,
                            normalized_keypoints, optimize, solve,
                            solver_config, validate_clip)
from sfv_jax.body.keypoint_pairs import pair_forward, pair_model



def assert_same(a, b, atol=1e-5):
    for f in ("pose", "betas", "cam", "cam_full", "keypoints_3d"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), atol=atol, rtol=1e-5,
                                   err_msg=f)
    np.testing.assert_allclose(a.keypoints_2d, b.keypoints_2d, atol=1e-2)
    for k in a.history:
        np.testing.assert_allclose(a.history[k], b.history[k], rtol=1e-4, atol=1e-6,
                                   err_msg=k)


# ---------------------------------------------------------------------------------------
# NumPy side: batching and validation
# ---------------------------------------------------------------------------------------
def test_bucket_length_and_clip_counts():
    assert batching.bucket_length(1, (32, 64)) == 32
    assert batching.bucket_length(32, (64, 32)) == 32
    assert batching.bucket_length(33, (32, 64)) == 64
    assert batching.bucket_length(130, (32, 64)) == 192
    assert batching.padded_clip_count(3, 1, 256) == 4
    assert batching.padded_clip_count(5, 4, 256) == 8
    assert batching.padded_clip_count(300, 1, 256) == 256
    assert batching.padded_clip_count(3, 4, 2) == 4   # cap rounded up to the devices


def test_plan_and_stack_batch_masks_padding(solver_clips):
    cs = solver_clips([20, 40, 25])
    plans = batching.plan_batches([c.num_frames for c in cs], (32, 64), 1, 256)
    assert [(p.length, p.num_clips, p.indices) for p in plans] == [(32, 2, (0, 2)),
                                                                    (64, 1, (1,))]
    params, data = batching.stack_batch(cs, plans[0], 0.2, np.float32)
    assert params["pose"].shape == (2, 32, 72) and data["target"].shape == (2, 32, 19, 2)
    np.testing.assert_array_equal(data["frame_mask"].sum(1), [20, 25])
    # Padded frames repeat the last real frame.
    np.testing.assert_array_equal(params["pose"][0, 25], cs[0].pose[-1].astype(np.float32))
    plans = batching.plan_batches([20, 25, 30], (32,), 4, 256)
    _, data = batching.stack_batch(cs, batching.BatchPlan(32, 4, (0, 2)), 0.2, np.float32)
    np.testing.assert_array_equal(data["frame_mask"].sum(1), [20, 25, 0, 0])


def test_normalized_keypoints_threshold_and_coordinates(solver_clips):
    c = solver_clips([5])[0]
    xy, conf = normalized_keypoints(c, 0.6)
    want = crops.image_to_crop_norm(c.keypoints[..., :2], c.crop_scale, c.crop_start,
                                    c.crop_size)
    vis = c.keypoints[..., 2] > 0.6
    np.testing.assert_allclose(xy[vis], np.asarray(want)[vis], atol=1e-4)
    assert np.all(conf[~vis] == 0) and np.all(xy[~vis] == 0)


def test_validation_names_clip_field_and_frame(solver_clips):
    c = solver_clips([6])[0]
    with pytest.raises(ValueError, match=r"clip 3 .*'betas' has shape \(6, 9\)"):
        validate_clip(dataclasses.replace(c, betas=c.betas[:, :9]), 3, 19)
    with pytest.raises(ValueError, match=r"'keypoints' has shape .*keypoint order"):
        validate_clip(c, 0, 25)
    pose = c.pose.copy()
    pose[4, 7] = np.nan
    with pytest.raises(ValueError, match=r"'pose' is not finite at frame 4"):
        validate_clip(dataclasses.replace(c, pose=pose), 0, 19)
    scale = c.crop_scale.copy()
    scale[2] = 0
    with pytest.raises(ValueError, match=r"'crop_scale' must be > 0, frame 2"):
        validate_clip(dataclasses.replace(c, crop_scale=scale), 0, 19)
    kp = c.keypoints.copy()
    kp[1, 0, 2] = -1
    with pytest.raises(ValueError, match=r"confidence at frame 1"):
        validate_clip(dataclasses.replace(c, keypoints=kp), 0, 19)
    with pytest.raises(ValueError, match="unknown weights"):
        cfg = solver_config()
        cfg.weights.bogus = 1.0
        SolverSettings.from_config(cfg)


# ---------------------------------------------------------------------------------------
# The pair forward equals the body forward
# ---------------------------------------------------------------------------------------
def test_pair_forward_matches_body_forward(tiny_model):
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(7, 72)).astype(np.float32) * 0.5
    betas = rng.normal(size=(7, 10)).astype(np.float32)
    kp_model = body.keypoint_model(tiny_model)
    ref = body.forward(tiny_model, pose, betas)
    out = pair_forward(pair_model(kp_model), axis_angle_to_matrix(pose.reshape(7, 24, 3)),
                       betas)
    np.testing.assert_allclose(out.keypoints, ref.keypoints, atol=1e-5)
    np.testing.assert_allclose(out.joints, ref.joints, atol=1e-5)


# ---------------------------------------------------------------------------------------
# The solve
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def alone_and_batched(tiny_model, solver_clips, solver_cfg):
    """One clip alone (1 clip x 32 frames) and inside a batch (4 x 64), traces counted."""
    traces = []
    real = optimize.clip_objective

    def counting(model, params, data, settings):
        traces.append(tuple(data.target.shape))
        return real(model, params, data, settings)

    jax.clear_caches()
    before = compiled_cache_sizes()
    target = solver_clips([20], seed=10)[0]
    others = solver_clips([50, 60, 45], seed=20)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(optimize, "clip_objective", counting)
        alone = solve(tiny_model, [target], solver_cfg(bucket_lengths=(32,)), progress=False)[0]
        batched = solve(tiny_model, others[:2] + [target] + others[2:],
                        solver_cfg(bucket_lengths=(64,)), progress=False)
    after = compiled_cache_sizes()
    return dict(target=target, alone=alone, batched=batched, others=others, traces=traces,
                counting=counting, compiled=(before, after))


def test_clip_alone_equals_clip_in_padded_batch(alone_and_batched):
    target, alone, batched = (alone_and_batched[k] for k in ("target", "alone", "batched"))
    assert alone.pose.shape == (20, 72) and alone.keypoints_2d.shape == (20, 19, 2)
    assert alone.joints_3d.shape == (20, 24, 3) and alone.cam_full.shape == (20, 3)
    assert [r.name for r in batched][2] == target.name
    assert_same(alone, batched[2])
    assert not alone.nonfinite
    assert set(alone.history) == {"keypoints", "shape", "init_pose", "joint_smooth",
                                  "camera_smooth", "total"}
    assert alone.history["total"].shape == (30,)
    assert alone.final_loss["total"] < alone.history["total"][0]


def test_compiles_once_per_bucket_shape(alone_and_batched, monkeypatch, tiny_model, solver_clips,
                                        solver_cfg):
    before, after = alone_and_batched["compiled"]
    assert all(after[k] - before[k] == 2 for k in after), (before, after)
    traces = alone_and_batched["traces"]
    assert {s[0] for s in traces} == {32, 64}
    n = len(traces)
    # Same bucket shapes again (other clips, lengths and iteration count; the progress
    # interval sets the scan length, so it stays): nothing is traced or compiled.
    monkeypatch.setattr(optimize, "clip_objective", alone_and_batched["counting"])
    solve(tiny_model, solver_clips([25], seed=30),
          solver_cfg(bucket_lengths=(32,), **{"adam.iterations": 40}),
          progress=False)
    solve(tiny_model, solver_clips([33, 64, 40], seed=31), solver_cfg(bucket_lengths=(64,)),
          progress=False)
    assert len(traces) == n
    assert compiled_cache_sizes() == after


def test_nonfinite_clip_is_flagged_and_isolated(alone_and_batched, tiny_model, solver_cfg):
    target, alone, others = (alone_and_batched[k] for k in ("target", "alone", "others"))
    bad = others[0]
    kp = bad.keypoints.copy()
    kp[3, 2] = (1e300, 10.0, 1.0)   # finite in float64, inf in the float32 solve
    bad = dataclasses.replace(bad, keypoints=kp)
    with np.errstate(over="ignore"):
        res = solve(tiny_model, [bad, others[1], target, others[2]],
                    solver_cfg(bucket_lengths=(64,)), progress=False)
    assert res[0].nonfinite and not any(r.nonfinite for r in res[1:])
    # Non-finite from the first evaluation: the last finite state is the initial one.
    np.testing.assert_allclose(res[0].pose, bad.pose, atol=1e-6)
    assert np.all(np.isfinite(res[0].keypoints_3d))
    assert_same(res[2], alone)


def test_outputs_are_consistent(alone_and_batched, tiny_model):
    target, r = alone_and_batched["target"], alone_and_batched["alone"]
    ref = body.forward(tiny_model, r.pose, r.betas)
    np.testing.assert_allclose(r.keypoints_3d, ref.keypoints, atol=1e-5)
    np.testing.assert_allclose(r.joints_3d, ref.joints, atol=1e-5)
    px = cameras.project_full(ref.keypoints, r.cam_full)
    np.testing.assert_allclose(r.keypoints_2d, px, atol=1e-2)
    np.testing.assert_allclose(r.cam_full, cameras.crop_to_full(
        r.cam, target.crop_scale, target.crop_start, target.crop_size), rtol=1e-5)


def test_step_freezes_at_last_finite_state(tiny_model, solver_clips, solver_cfg):
    settings = SolverSettings.from_config(solver_cfg())
    pm = pair_model(body.keypoint_model(tiny_model))
    c = solver_clips([8], seed=60)[0]
    params, data = batching.stack_batch([c], batching.BatchPlan(8, 1, (0,)), 0.2, np.float32)
    state, cdata = jax.jit(optimize._init_batch, static_argnums=3)(pm, params, data, settings)
    one = lambda tree: jax.tree.map(lambda x: x[0], tree)  # noqa: E731
    p, o, lg, b = one(state.params), one(state.opt_state), one(state.last_good), one(state.bad)
    d = one(cdata)
    step = jax.jit(functools.partial(optimize._clip_step, pm, settings))
    (p1, o1, lg1, b1), _ = step(p, o, lg, b, d, True)
    assert not bool(b1)
    np.testing.assert_array_equal(lg1["pose"], p["pose"])
    nan_p = dict(p1, pose=p1["pose"].at[0, 0].set(np.nan))
    (p2, _, lg2, b2), _ = step(nan_p, o1, lg1, b1, d, True)
    assert bool(b2)
    np.testing.assert_array_equal(lg2["pose"], p["pose"])   # still the last finite params
    np.testing.assert_array_equal(np.isnan(p2["pose"]), np.isnan(nan_p["pose"]))  # frozen
