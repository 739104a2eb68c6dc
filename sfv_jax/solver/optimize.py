"""The batched temporal solve: optax inside ``lax.scan``, vmapped over clips, sharded over devices.

Per batch of C padded clips of T frames (see ``batching``) three compiled functions run, each
traced once per (C, T, model kind, settings, device set):

1. ``_init_batch``: derives each clip's fixed objective data (init-pose weights, mean shape,
   initial rotations) and the optimizer state.
2. ``_run_chunk``: ``lax.scan`` over ``chunk_len`` iterations; each iteration is one
   per-clip optimizer step, ``vmap``-ed over the clip axis, recording every weighted term
   (``guarded_update``: one optax update, Adam or the 'lbfgs' option of
   ``sfv_jax.solver.lbfgs``, whose line search runs per clip in a ``lax.while_loop``; one
   history row per iteration). ``init`` / ``step`` / ``finish`` expose the same stages.
   The Python loop over chunks reports progress between chunks (no host callbacks inside
   the compiled loop, so progress costs nothing but one small device-to-host copy per chunk).
   Iterations past the requested count (the last chunk's tail) are masked out, so the chunk
   length and hence the compiled shape never changes.
3. ``_finish_batch``: final objective, non-finite fallback, outputs (2D / 3D keypoints,
   joints, full-image cameras).

Each clip's optimizer is independent (vmap of the per-clip update), so a clip solved alone
equals the same clip inside any batch, and a clip whose objective or gradient turns
non-finite is frozen at its last finite parameters and flagged without touching the others.
The clip axis of every array is sharded over the given devices (``NamedSharding`` on a 1-D
``Mesh``); the body model is replicated.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sfv_jax.body import BodyModel, forward, keypoint_model
from sfv_jax.geometry import cameras, crops
from sfv_jax.solver import batching, lbfgs
from sfv_jax.solver.clips import Clip, ClipResult, validate_clip
from sfv_jax.solver.config import SolverSettings
from sfv_jax.body.keypoint_pairs import PairModel, pair_forward, pair_model
from sfv_jax.solver.objective import (ClipData, clip_objective, local_rotations, prepare_data,
                                      smoothed_clip_objective)

Array = jnp.ndarray
ProgressFn = Callable[[int, int, float], None]   # (iterations done, total, mean loss)


class SolveState(NamedTuple):
    """Optimizer carry, leading clip axis C on every leaf.

    params: pose (C, T, 72), betas (C, T, 10), cam (C, T, 3); opt_state: optax state;
    last_good: the last parameters whose objective and gradient were finite; bad: (C,) flag.
    """
    params: dict[str, Array]
    opt_state: Any
    last_good: dict[str, Array]
    bad: Array


def make_optimizer(settings: SolverSettings, scale: Optional[dict[str, Array]] = None
                   ) -> optax.GradientTransformationExtraArgs:
    """The per-clip optax optimizer: SFV's Adam, or the 'lbfgs' option (``lbfgs``).

    ``scale``: the L-BFGS variable scaling D (``lbfgs.diagonal_scaling``), stored in the
    state by ``init`` (None: 1; Adam ignores it). Its ``update`` takes the extra arguments
    ``value``, ``grad`` and ``value_fn`` (used by the L-BFGS line search only).
    """
    if settings.optimizer == "lbfgs":
        return lbfgs.lbfgs_optimizer(settings, scale)
    return optax.adam(settings.adam.learning_rate, b1=settings.adam.b1, b2=settings.adam.b2,
                      eps=settings.adam.eps)


def clip_objective_fn(model: PairModel, data: ClipData, settings: SolverSettings
                      ) -> Callable[[dict[str, Array]], tuple[Array, Array]]:
    """params -> (minimized value, true terms row (n_terms + 1,)) of one clip.

    The minimized value is the paper objective (Adam) or its L1-smoothed form (L-BFGS with
    ``lbfgs.l1_smoothing`` > 0); the row is always the true objective's terms then total.
    """
    eps = settings.lbfgs.l1_smoothing if settings.optimizer == "lbfgs" else 0.0

    def fn(params):
        value, (total, terms) = smoothed_clip_objective(model, params, data, settings, eps)
        return value, _stack_terms(total, terms, settings)

    return fn


def _all_finite(tree: Any) -> Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _select(pred: Array, a: Any, b: Any) -> Any:
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y), a, b)


def _stack_terms(total: Array, terms: dict[str, Array], settings: SolverSettings) -> Array:
    """(n_terms + 1,) values in ``settings.active_terms`` order, then the total."""
    return jnp.stack([terms[n] for n in settings.active_terms] + [total])


def init_opt_state(opt: optax.GradientTransformation, objective: Callable, params: Any) -> Any:
    """``opt.init(params)``, plus the value and gradient at ``params`` for an optimizer whose
    state carries them (L-BFGS: its first iteration then evaluates nothing new)."""
    state = opt.init(params)
    if lbfgs.stored_value_and_grad(state) is None:
        return state
    (value, _), grad = jax.value_and_grad(objective, has_aux=True)(params)
    return lbfgs.with_value_and_grad(state, value, grad)


def guarded_update(opt: optax.GradientTransformationExtraArgs, objective: Callable,
                   params: Any, opt_state: Any, last_good: Any, bad: Array, active: Array
                   ) -> tuple[tuple[Any, Any, Any, Array], Array]:
    """One optimizer step of one clip with the non-finite guard (both optimizers, both modes).

    ``objective(params) -> (minimized value, true terms row)``. The value and gradient at
    ``params`` come from the state where it carries them (L-BFGS: the line search's accepted
    trial; the row then costs one forward pass), else from one value-and-gradient pass that
    also gives the row (Adam). A clip whose value, gradient or row is non-finite is flagged
    ``bad`` and frozen (params and state kept; ``last_good`` keeps the last finite params);
    a clip not updated (flagged, or ``active`` False) runs the update on the zero problem
    (value and gradient 0, so its line search ends at the first trial) and drops the result.

    Returns ((params, opt_state, last_good, bad), row (n_terms + 1,) at the input params).
    """
    stored = lbfgs.stored_value_and_grad(opt_state)
    if stored is None:
        (value, row), grad = jax.value_and_grad(objective, has_aux=True)(params)
    else:
        (value, grad), row = stored, objective(params)[1]
    finite = jnp.isfinite(value) & _all_finite(grad) & jnp.all(jnp.isfinite(row))
    ok = finite & ~bad & active
    zero = lambda tree: jax.tree.map(lambda x: jnp.where(ok, x, 0), tree)  # noqa: E731
    updates, new_opt = opt.update(
        zero(grad), opt_state, zero(params), value=jnp.where(ok, value, 0), grad=zero(grad),
        value_fn=lambda p: jnp.where(ok, objective(p)[0], 0))
    new_params = optax.apply_updates(params, updates)
    # A step from a finite point whose result is non-finite is caught at the next step,
    # where ``params`` (non-finite) is dropped in favour of ``last_good``.
    carry = (_select(ok, new_params, params), _select(ok, new_opt, opt_state),
             _select(ok, params, last_good), bad | (active & ~finite))
    return carry, row


def _init_batch(model: PairModel, params0: dict[str, Array], batch: dict[str, Array],
                settings: SolverSettings) -> tuple[SolveState, ClipData]:
    """Per-clip objective data and optimizer state for a batch (leading clip axis)."""
    def one(p, b):
        data = prepare_data(model, p["pose"], p["betas"], p["cam"], b, settings)
        scale = (lbfgs.diagonal_scaling(model, p, data, settings)
                 if settings.optimizer == "lbfgs" and settings.lbfgs.precondition else None)
        return init_opt_state(make_optimizer(settings, scale),
                              clip_objective_fn(model, data, settings), p), data

    opt_state, data = jax.vmap(one)(params0, batch)
    # Strong types: the steps return strongly typed leaves, and a weak-typed initial state
    # would retrace the compiled chunk once.
    opt_state = jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.result_type(x)), opt_state)
    bad = jnp.zeros(batch["frame_mask"].shape[:1], bool)
    return SolveState(params0, opt_state, params0, bad), data


def _clip_step(model: PairModel, settings: SolverSettings, params: dict[str, Array],
               opt_state: Any, last_good: dict[str, Array], bad: Array, data: ClipData,
               active: Array) -> tuple[tuple[Any, ...], Array]:
    """One optimizer step of one clip (``guarded_update``); the new carry and the terms row."""
    return guarded_update(make_optimizer(settings), clip_objective_fn(model, data, settings),
                          params, opt_state, last_good, bad, active)


def _batch_step(model: PairModel, settings: SolverSettings, state: SolveState,
                data: ClipData, active: Array) -> tuple[SolveState, Array]:
    """``_clip_step`` vmapped over the clip axis; the new state and the rows (C, n + 1)."""
    step_ = jax.vmap(functools.partial(_clip_step, model, settings),
                     in_axes=(0, 0, 0, 0, 0, None))
    carry, rows = step_(state.params, state.opt_state, state.last_good, state.bad, data,
                        active)
    return SolveState(*carry), rows


def _run_chunk(model: PairModel, state: SolveState, data: ClipData, it0: Array,
               num_iters: Array, settings: SolverSettings, chunk_len: int
               ) -> tuple[SolveState, Array]:
    """``chunk_len`` iterations starting at ``it0``; history (chunk_len, C, n_terms + 1)."""
    def body(st, it):
        return _batch_step(model, settings, st, data, it < num_iters)

    return jax.lax.scan(body, state, it0 + jnp.arange(chunk_len))


def init(model: PairModel, params0: dict[str, Array], batch: dict[str, Array],
         settings: SolverSettings) -> tuple[SolveState, ClipData]:
    """The state before the first iteration of one padded batch, as ``solve_batch`` starts
    it (pure; jit with ``static_argnames="settings"``). ``model``: ``pair_model(
    body.keypoint_model(m))`` in the solve's dtype; ``params0``, ``batch``: as ``solve_batch``
    (pose (C, T, 72), betas (C, T, 10), cam (C, T, 3); ``batching.stack_batch`` data); mode
    'paper'. Returns (``SolveState``, ``ClipData``), leading C on every leaf."""
    return _init_batch(model, params0, batch, settings)


def step(model: PairModel, state: SolveState, data: ClipData, settings: SolverSettings
         ) -> tuple[SolveState, Array]:
    """One iteration of every clip, the step ``solve_batch`` scans (pure; jit with
    ``static_argnames="settings"``). Returns (new state, terms (C, n_terms + 1)): the true
    objective's weighted active terms and total before this step (one history row)."""
    return _batch_step(model, settings, state, data, jnp.ones((), bool))


def finish(model: PairModel, state: SolveState, data: ClipData, settings: SolverSettings
           ) -> dict[str, Array]:
    """``solve_batch``'s outputs (without history) from a state: pose, betas, cam, cam_full,
    keypoints_2d, keypoints_3d, joints_3d, final_terms (C, n + 1), nonfinite (C,)."""
    return _finish_batch(model, state, data, settings)


def _finish_batch(model: PairModel, state: SolveState, data: ClipData,
                  settings: SolverSettings) -> dict[str, Array]:
    """Final parameters (last finite ones for flagged clips), objective and outputs."""

    def one(params, last_good, bad, d):
        loss, _ = clip_objective(model, params, d, settings)
        use_last = bad | ~jnp.isfinite(loss)
        params = _select(use_last, last_good, params)
        total, terms = clip_objective(model, params, d, settings)
        out = pair_forward(model, local_rotations(params["pose"]), params["betas"])
        proj = cameras.project_crop(out.keypoints, params["cam"])
        return {
            **params,
            "cam_full": cameras.crop_to_full(params["cam"], d.crop_scale, d.crop_start,
                                             d.crop_size),
            "keypoints_2d": crops.crop_norm_to_image(proj, d.crop_scale, d.crop_start,
                                                     d.crop_size),
            "keypoints_3d": out.keypoints,
            "joints_3d": out.joints,
            "final_terms": _stack_terms(total, terms, settings),
            "nonfinite": use_last,
        }

    return jax.vmap(one)(state.params, state.last_good, state.bad, data)


_init_jit = jax.jit(_init_batch, static_argnames=("settings",))
_chunk_jit = jax.jit(_run_chunk, static_argnames=("settings", "chunk_len"))
_finish_jit = jax.jit(_finish_batch, static_argnames=("settings",))


def compiled_cache_sizes() -> dict[str, int]:
    """Number of compiled variants of each jitted stage (to check: one per bucket shape)."""
    return {"init": _init_jit._cache_size(), "chunk": _chunk_jit._cache_size(),
            "finish": _finish_jit._cache_size()}


def _model_as(model: Any, dtype: np.dtype) -> Any:
    """Floating leaves of ``model`` cast to ``dtype`` (integer leaves, e.g. faces, kept)."""
    return jax.tree.map(
        lambda x: np.asarray(x, dtype) if np.issubdtype(np.asarray(x).dtype, np.floating)
        else x, model)


def make_mesh(devices: Optional[Sequence[jax.Device]] = None) -> Mesh:
    """1-D device mesh with axis 'clips' over ``devices`` (default: all local devices)."""
    devices = list(devices) if devices is not None else jax.local_devices()
    return Mesh(np.asarray(devices, dtype=object), ("clips",))


def _tqdm_progress(desc: str, total: int) -> tuple[ProgressFn, Callable[[], None]]:
    from tqdm import tqdm  # only when progress bars are wanted
    bar = tqdm(total=total, desc=desc, leave=False)

    def update(done: int, _total: int, loss: float) -> None:
        bar.update(done - bar.n)
        bar.set_postfix(loss=f"{loss:.4g}")

    return update, bar.close


def drive_chunks(jits: tuple[Callable, Callable, Callable], model: Any, params0: Any,
                 batch: Any, settings: SolverSettings, num_clips: int, dtype: np.dtype,
                 progress: Union[bool, ProgressFn], desc: str) -> dict[str, Any]:
    """Runs one placed batch through its compiled (init, chunk, finish) functions.

    The Python loop over ``chunk_len``-iteration chunks reports progress between chunks; the
    paper and the world solve share it. Returns the finish function's outputs plus
    ``history`` (iters, C, n + 1) NumPy and ``term_names``.
    """
    init_jit, chunk_jit, finish_jit = jits
    # Only what shapes the computation is static: batching / progress / output keys are not.
    traced = settings.computation_key()
    state, data = init_jit(model, params0, batch, traced)
    total = settings.iterations
    chunk = settings.progress_every if settings.progress_every > 0 else total
    chunk = max(1, min(chunk, total)) if total > 0 else 0
    report, close = None, None
    if progress is True and settings.progress_every > 0 and total > 0:
        report, close = _tqdm_progress(desc, total)
    elif callable(progress):
        report = progress
    real = np.asarray(batch["frame_mask"]).any(axis=1)
    histories = []
    try:
        for it0 in range(0, total, chunk) if chunk else []:
            state, hist = chunk_jit(model, state, data, jnp.int32(it0), jnp.int32(total),
                                    settings=traced, chunk_len=chunk)
            histories.append(hist)
            if report is not None:
                done = min(it0 + chunk, total)
                last = np.asarray(hist[done - it0 - 1, :, -1])
                report(done, total, float(np.mean(last[real])) if real.any() else 0.0)
    finally:
        if close is not None:
            close()
    out = dict(finish_jit(model, state, data, traced))
    n_terms = len(settings.active_terms) + 1
    out["history"] = (np.concatenate([np.asarray(h) for h in histories])[:total]
                      if histories else np.zeros((0, num_clips, n_terms), dtype))
    out["term_names"] = settings.active_terms + ("total",)
    return out


def solve_batch(model: Union[BodyModel, PairModel], params0: dict[str, Any],
                batch: dict[str, Any], settings: SolverSettings, mesh: Optional[Mesh] = None,
                progress: Union[bool, ProgressFn] = False, desc: str = "solve"
                ) -> dict[str, Any]:
    """Solves one padded batch (arrays with a leading clip axis C, see ``batching``).

    Args:
      model: body model (full or keypoint-restricted) or its ``pair_model`` (pass that when
        calling repeatedly: it is precomputed with NumPy).
      params0: pose (C, T, 72), betas (C, T, 10), cam (C, T, 3) initial estimate.
      batch: ``batching.stack_batch`` data: target (C, T, K, 2), conf (C, T, K),
        frame_mask (C, T), crop_scale (C, T), crop_start (C, T, 2), crop_size (C,).
      settings: solver settings; ``mesh``: device mesh (default all local devices); C must be
        a multiple of its size.
      progress: False, True (a tqdm bar) or a function (done, total, mean loss).

    Returns:
      Device arrays with leading C: pose, betas, cam, cam_full, keypoints_2d, keypoints_3d,
      joints_3d, final_terms (C, n + 1), nonfinite (C,); history (iters, C, n + 1) as NumPy;
      ``term_names`` (the active terms then 'total').
    """
    dtype = np.dtype(settings.dtype)
    if dtype == np.float64 and not jax.config.jax_enable_x64:
        raise ValueError("solver config: dtype float64 needs jax_enable_x64")
    mesh = mesh if mesh is not None else make_mesh()
    num_clips = int(np.shape(batch["frame_mask"])[0])
    if num_clips % mesh.size:
        raise ValueError(f"clip count {num_clips} is not a multiple of the {mesh.size} devices")
    clip_sharding = NamedSharding(mesh, PartitionSpec("clips"))
    replicated = NamedSharding(mesh, PartitionSpec())
    put = lambda tree, sh: jax.device_put(  # noqa: E731
        jax.tree.map(lambda x: np.asarray(x, dtype), tree), sh)
    params0 = put(params0, clip_sharding)
    batch = put(batch, clip_sharding)
    if isinstance(model, BodyModel):
        model = pair_model(keypoint_model(model))
    model = jax.device_put(_model_as(model, dtype), replicated)

    return drive_chunks((_init_jit, _chunk_jit, _finish_jit), model, params0, batch, settings,
                        num_clips, dtype, progress, desc)


_vertices_jit = jax.jit(lambda m, pose, betas: forward(m, pose, betas).vertices)


def solve(model: BodyModel, clips: Sequence[Clip],
          config: Union[ml_collections.ConfigDict, SolverSettings], *,
          progress: Union[bool, ProgressFn] = True,
          devices: Optional[Sequence[jax.Device]] = None) -> list[ClipResult]:
    """Reconstructs every clip's motion (SFV's temporal refinement), batched.

    Args:
      model: the full body model (its keypoint set must match the clips' keypoints); the
        solve runs on ``body.keypoint_model(model)``, full vertices only if asked for.
      clips: ``Clip`` inputs of any lengths.
      config: a ``solver_config()`` section or ``SolverSettings``.
      progress: True for a tqdm bar per batch, False for none, or a function
        (iterations done, total, mean loss) called every ``progress_every`` iterations.
      devices: devices to shard the clip axis over (default ``jax.local_devices()``).

    Returns:
      One ``ClipResult`` per clip, in order.
    """
    settings = config if isinstance(config, SolverSettings) else \
        SolverSettings.from_config(config)
    # -1 (auto) is resolved here, not in the config: the platform is known only once JAX
    # may start its backend (after jax.distributed.initialize).
    settings = settings.resolved()
    if not clips:
        return []
    if settings.mode == "world":
        # The world mode's own batching and loop (it imports this module's helpers).
        from sfv_jax.solver import world_optimize
        results = world_optimize.solve_world(model, clips, settings, progress=progress,
                                             devices=devices)
        _add_vertices(model, results, settings)
        return results
    for i, clip in enumerate(clips):
        validate_clip(clip, i, model.num_keypoints)
    pairs = pair_model(keypoint_model(model))
    mesh = make_mesh(devices)
    plans = batching.plan_batches([c.num_frames for c in clips], settings.bucket_lengths,
                                  mesh.size, settings.max_clips_per_batch,
                                  settings.clips_per_device)
    dtype = np.dtype(settings.dtype)
    results: list[Optional[ClipResult]] = [None] * len(clips)
    for plan in plans:
        params0, batch = batching.stack_batch(clips, plan, settings.vis_threshold, dtype)
        out = solve_batch(pairs, params0, batch, settings, mesh, progress,
                          desc=f"solve {len(plan.indices)} clips x {plan.length} frames")
        host = {k: np.asarray(v) for k, v in out.items()
                if k not in ("history", "term_names")}
        names = out["term_names"]
        for slot, i in enumerate(plan.indices):
            t = clips[i].num_frames
            results[i] = ClipResult(
                name=clips[i].name,
                pose=host["pose"][slot, :t], betas=host["betas"][slot, :t],
                cam=host["cam"][slot, :t], cam_full=host["cam_full"][slot, :t],
                keypoints_2d=host["keypoints_2d"][slot, :t],
                keypoints_3d=host["keypoints_3d"][slot, :t],
                joints_3d=host["joints_3d"][slot, :t],
                history={n: out["history"][:, slot, j] for j, n in enumerate(names)},
                final_loss={n: float(host["final_terms"][slot, j]) for j, n in enumerate(names)},
                nonfinite=bool(host["nonfinite"][slot]))
    _add_vertices(model, results, settings)
    return results  # type: ignore[return-value]


def _add_vertices(model: BodyModel, results: Sequence[ClipResult],
                  settings: SolverSettings) -> None:
    """Full mesh vertices (T, V, 3) on each result when ``return_vertices`` asks for them."""
    if settings.return_vertices:
        dtype = np.dtype(settings.dtype)
        full = _model_as(model, dtype)
        for r in results:
            r.vertices = np.asarray(_vertices_jit(full, r.pose.astype(dtype),
                                                  r.betas.astype(dtype)))
