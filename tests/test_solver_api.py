"""Tests of the public step API: ``solver.init`` / ``solver.step`` / ``solver.finish``."""
import jax
import numpy as np
import pytest

from sfv_jax import body, solver
from sfv_jax.body.keypoint_pairs import pair_model


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_n_steps_equal_solve_batch_with_n_iterations(optimizer, tiny_model, solver_clips,
                                                     solver_cfg):
    n = 7
    cfg = solver_cfg(optimizer=optimizer, progress_every=0,
                     **{"adam.iterations": n, "lbfgs.iterations": n})
    settings = solver.SolverSettings.from_config(cfg).resolved()
    clips = solver_clips([20, 14], seed=40)
    plan = solver.batching.plan_batches([c.num_frames for c in clips], settings.bucket_lengths,
                                        1, settings.max_clips_per_batch)[0]
    params0, batch = solver.batching.stack_batch(clips, plan, settings.vis_threshold,
                                                 np.float32)
    pm = pair_model(body.keypoint_model(tiny_model))
    ref = solver.solve_batch(pm, params0, batch, settings, mesh=solver.make_mesh(
        jax.local_devices()[:1]))

    init = jax.jit(solver.init, static_argnames="settings")
    step = jax.jit(solver.step, static_argnames="settings")
    state, data = init(pm, params0, batch, settings=settings)
    rows = []
    for _ in range(n):
        state, row = step(pm, state, data, settings=settings)
        rows.append(np.asarray(row))
    out = solver.finish(pm, state, data, settings)
    assert np.stack(rows).shape == ref["history"].shape == (n, plan.num_clips,
                                                            len(settings.active_terms) + 1)
    # One scan of n steps (solve_batch) vs n separately compiled steps: equal to rounding.
    np.testing.assert_allclose(np.stack(rows), ref["history"], rtol=2e-5, atol=1e-7)
    for k in ("pose", "betas", "cam", "keypoints_2d", "final_terms"):
        np.testing.assert_allclose(np.asarray(out[k]), np.asarray(ref[k]), rtol=2e-4,
                                   atol=2e-5, err_msg=k)
    assert not np.any(np.asarray(out["nonfinite"]))
    # The objective went down from the first row.
    assert np.all(np.asarray(out["final_terms"])[:2, -1] < rows[0][:2, -1])
