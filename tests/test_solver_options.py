"""Tests of sfv_jax.solver's options: optional terms, vertices, progress, L-BFGS."""
import numpy as np
import pytest

from sfv_jax import body
from sfv_jax.solver import solve


def test_optional_terms_vertices_and_progress(tiny_model, solver_clips, solver_cfg):
    cfg = solver_cfg(return_vertices=True)
    for name in ("keypoints_gmof", "pose_smooth", "accel_smooth", "joint_limits"):
        cfg.weights[name] = 1.0
    calls = []
    c = solver_clips([20], seed=70)[0]
    r = solve(tiny_model, [c], cfg,
              progress=lambda done, total, loss: calls.append((done, total, loss)))[0]
    assert [d for d, _, _ in calls] == [10, 20, 30] and all(t == 30 for _, t, _ in calls)
    assert calls[-1][2] == pytest.approx(float(r.history["total"][-1]), rel=1e-5)
    for name in ("keypoints_gmof", "pose_smooth", "accel_smooth", "joint_limits"):
        assert np.all(np.isfinite(r.history[name]))
    assert r.vertices.shape == (20, tiny_model.num_vertices, 3)
    ref = body.forward(tiny_model, r.pose, r.betas)
    np.testing.assert_allclose(r.vertices, ref.vertices, atol=1e-5)
    kp = (np.einsum("kv,tvc->tkc", np.asarray(tiny_model.kp_vertex_regressor), r.vertices)
          + np.einsum("kj,tjc->tkc", np.asarray(tiny_model.kp_joint_weights), r.joints_3d))
    np.testing.assert_allclose(kp, r.keypoints_3d, atol=1e-5)


def test_lbfgs_lowers_the_objective(tiny_model, solver_clips, solver_cfg):
    c = solver_clips([20], seed=80)[0]
    r = solve(tiny_model, [c], solver_cfg(optimizer="lbfgs", **{"lbfgs.iterations": 10}),
              progress=False)[0]
    assert not r.nonfinite
    assert r.history["total"].shape == (10,)
    assert r.final_loss["total"] < 0.5 * r.history["total"][0]


def _fast_lbfgs_section():
    from sfv_jax import recipes
    return recipes.get("fast").solver


def test_fast_option_reaches_adam300_objective(tiny_model, solver_clips, solver_cfg):
    # configs/fast.py's L-BFGS against the paper's 300 Adam steps, same clip and objective.
    c = solver_clips([30], seed=90)[0]
    adam = solve(tiny_model, [c], solver_cfg(progress_every=0, **{"adam.iterations": 300}),
                 progress=False)[0]
    fast_cfg = solver_cfg(progress_every=0, optimizer="lbfgs")
    fast_cfg.lbfgs = _fast_lbfgs_section().lbfgs
    fast = solve(tiny_model, [c], fast_cfg, progress=False)[0]
    assert not fast.nonfinite
    assert fast.history["total"].shape == (fast_cfg.lbfgs.iterations,)
    assert set(fast.history) == set(adam.history)
    # Both final values are the paper objective of the final parameters (same code path).
    assert fast.final_loss["total"] <= 1.02 * adam.final_loss["total"], (
        fast.final_loss["total"], adam.final_loss["total"])
