"""SFV's temporal motion reconstruction: all frames of each clip optimized together, batched.

Data contract, one clip in (``Clip``; T frames, K keypoints in the body model's keypoint
order, e.g. cocoplus-19 as in the paper; converting formats is the caller's job):
  keypoints (T, K, 3)   2D keypoints x, y in full-image pixels and a confidence (0 = missing;
                        confidences <= ``vis_threshold`` are ignored);
  pose (T, 72)          initial SMPL pose, axis-angle (per-frame HMR);
  betas (T, 10)         initial shape;
  cam (T, 3)            initial HMR crop camera [s, tx, ty];
  crop_scale (T,)       each frame's image resize factor; crop_start (T, 2) crop top-left in
                        the resized image (pixels); crop_size (HMR: 224) - see
                        ``geometry.cameras`` for the conventions.
Internally the keypoint term runs in HMR's normalized crop coordinates (-1..1 over the crop),
so the paper's weights mean what they meant.

One clip out (``ClipResult``): pose (T, 72), betas (T, 10), cam (T, 3) crop camera and
cam_full (T, 3) full-image weak perspective, keypoints_2d (T, K, 2) pixels, keypoints_3d
(T, K, 3) and joints_3d (T, 24, 3) metres, history (term -> (iterations,) weighted values
before each update, plus 'total'), final_loss, nonfinite flag, vertices (T, V, 3) if asked.

API:
  solve(model, clips, config, progress=True, devices=None) -> list[ClipResult]
  solve_batch(model, params0, batch, settings, mesh=None, progress=False) -> dict  (padded)
  init(pairs, params0, batch, settings) -> (state, data); step(pairs, state, data, settings)
    -> (state, terms (C, n + 1)); finish(pairs, state, data, settings) -> dict: the same
    stages one iteration at a time (pure, jit with static settings), to drive, log or stop
  solver_config() -> ConfigDict;  SolverSettings.from_config(cfg)
  objective.clip_objective / clip_terms / prepare_data: the per-clip objective (pure JAX)
  batching.plan_batches / stack_batch / bucket_length: the padding into length buckets
Clips with known truth (tests, benchmarks) are made in ``sfv_jax.synthetic``.
"""
from sfv_jax.solver import batching, objective
from sfv_jax.solver.clips import Clip, ClipResult, normalized_keypoints, validate_clip
from sfv_jax.solver.config import TERM_NAMES, SolverSettings, solver_config
from sfv_jax.solver.objective import ClipData, clip_objective, clip_terms, prepare_data
from sfv_jax.solver.optimize import (SolveState, compiled_cache_sizes, finish, init, make_mesh,
                                     make_optimizer, solve, solve_batch, step)

__all__ = [
    "Clip", "ClipData", "ClipResult", "SolveState", "SolverSettings",
    "TERM_NAMES", "batching", "clip_objective", "clip_terms", "compiled_cache_sizes",
    "finish", "init", "make_mesh", "make_optimizer", "step", "normalized_keypoints", "objective",
    "prepare_data", "solve", "solve_batch", "solver_config",
    "validate_clip",
]
