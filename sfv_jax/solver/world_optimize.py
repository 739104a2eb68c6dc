"""The batched solve of the world mode: clips of one video coupled through their ground plane.

Same structure as ``optimize`` (compiled init / chunk of ``lax.scan`` iterations / finish,
vmapped per-clip optimizer steps, the clip axis sharded), with two batch-level additions:

* the state carries each slot's plane (C, 4); every ``world.plane_every`` iterations (a
  ``lax.cond`` on the iteration counter) the planes are re-estimated in closed form from the
  foot points of all clips of each video (``world.fit_planes``; the L-BFGS option then
  re-evaluates the value and gradient its state carries under the new plane, keeping its
  memory);
* batches are planned per video (``plan_world_batches``): a video's clips always share one
  batch and one padded length (its longest clip's bucket), and every cross-clip sum runs over
  the video's own slots in the caller's order (``world.group_sum``), so a clip's result is
  bitwise the same whichever other videos share its batch (with ``clips_per_device`` > 0).
  Clips of different videos never interact.
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec

from sfv_jax.body import BodyModel
from sfv_jax.body.keypoint_pairs import PairModel, pair_forward
from sfv_jax.geometry import cameras, crops
from sfv_jax.solver import batching, lbfgs, world
from sfv_jax.solver.clips import Clip, ClipResult, validate_clip, validate_world_clip
from sfv_jax.solver.config import SolverSettings
from sfv_jax.solver.objective import local_rotations
from sfv_jax.solver.optimize import (ProgressFn, _model_as, _select, _stack_terms, drive_chunks,
                                     guarded_update, init_opt_state, make_mesh, make_optimizer)

Array = jnp.ndarray


def plan_world_batches(clips: Sequence[Clip], settings: SolverSettings, num_devices: int
                       ) -> list[batching.BatchPlan]:
    """Batches of whole videos: each video's clips padded to its longest clip's bucket.

    Raises ValueError when a video has more clips than a batch (or
    ``world.max_clips_per_video``) holds.
    """
    videos: dict[str, list[int]] = {}
    for i, c in enumerate(clips):
        videos.setdefault(c.video or f"\0clip{i}", []).append(i)
    cap = (settings.clips_per_device * num_devices if settings.clips_per_device > 0 else
           -(-max(settings.max_clips_per_batch, 1) // num_devices) * num_devices)
    by_length: dict[int, list[list[int]]] = {}
    for name, idx in videos.items():
        if len(idx) > min(cap, settings.world.max_clips_per_video):
            raise ValueError(f"video {name!r}: {len(idx)} clips are solved together (one "
                             f"ground plane), more than a batch holds ({cap}) or "
                             f"world.max_clips_per_video ({settings.world.max_clips_per_video})")
        length = batching.bucket_length(max(clips[i].num_frames for i in idx),
                                        settings.bucket_lengths)
        by_length.setdefault(length, []).append(idx)
    plans = []
    for length in sorted(by_length):
        part: list[int] = []
        for idx in by_length[length] + [None]:
            if idx is None or len(part) + len(idx) > cap:
                if part:
                    count = cap if settings.clips_per_device > 0 else \
                        batching.padded_clip_count(len(part), num_devices,
                                                   settings.max_clips_per_batch)
                    plans.append(batching.BatchPlan(length, count, tuple(part)))
                part = []
            if idx is not None:
                part += idx
    return plans


def stack_world_batch(clips: Sequence[Clip], plan: batching.BatchPlan,
                      settings: SolverSettings, dtype: np.dtype
                      ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``batching.stack_batch`` plus the world data; the crop camera becomes the root variable.

    Returns:
      params: pose (C, T, 72), betas (C, T, 10), root (C, T, 3) (``world.transl_to_root`` of
      the perspective translation matching the crop camera, depth = f / s_img).
      data: stack_batch's, plus focal (C,), center (C, 2), group (C, G) int32 slots of each
      slot's video, group_mask (C, G).
    """
    params, data = batching.stack_batch(clips, plan, settings.vis_threshold, dtype)
    slots = list(plan.indices) + [plan.indices[0]] * (plan.num_clips - len(plan.indices))
    focal = np.asarray([clips[i].focal for i in slots], np.float64)
    center = np.asarray([np.asarray(clips[i].center, np.float64) for i in slots])
    cam = params.pop("cam").astype(np.float64)
    transl = jax.vmap(cameras.crop_to_perspective)(
        cam, data["crop_scale"], data["crop_start"], data["crop_size"], focal, center)
    params["root"] = np.asarray(world.transl_to_root(transl), dtype)
    g = settings.world.max_clips_per_video
    group = np.zeros((plan.num_clips, g), np.int32)
    group_mask = np.zeros((plan.num_clips, g), dtype)
    keys = [clips[i].video or f"\0clip{i}" for i in plan.indices]
    for slot in range(plan.num_clips):
        members = ([s for s, k in enumerate(keys) if k == keys[slot]]
                   if slot < len(plan.indices) else [slot])
        group[slot, :len(members)] = members
        group[slot, len(members):] = slot
        group_mask[slot, :len(members)] = 1.0
    data.update(focal=focal.astype(dtype), center=center.astype(dtype), group=group,
                group_mask=group_mask)
    return params, data


class WorldState(NamedTuple):
    """Optimizer carry (leading clip axis C): params, opt_state, last_good, bad (C,) and
    plane (C, 4) each slot's current ground plane."""
    params: dict[str, Array]
    opt_state: Any
    last_good: dict[str, Array]
    bad: Array
    plane: Array


def _objective(model: PairModel, data: world.WorldData, plane: Array,
               settings: SolverSettings, smoothing: float):
    """params -> (minimized value, true terms row) of one clip under a fixed plane (the
    keypoint L1 smoothed by ``smoothing`` in the minimized value)."""
    def fn(params):
        terms, aux = world.world_terms(model, params, data, plane, settings, smoothing)
        total = sum(terms.values())
        value = (aux["keypoints_smooth"] + sum(v for n, v in terms.items() if n != "keypoints")
                 if "keypoints_smooth" in aux else total)
        return value, _stack_terms(total, terms, settings)

    return fn


def _minimized(model: PairModel, data: world.WorldData, plane: Array,
               settings: SolverSettings):
    """``_objective`` with the optimizer's smoothing (L-BFGS's ``l1_smoothing``, Adam's 0)."""
    eps = settings.lbfgs.l1_smoothing if settings.optimizer == "lbfgs" else 0.0
    return _objective(model, data, plane, settings, eps)


def root_lr_multiplier(settings: SolverSettings, it: Array, num_iters: Array
                       ) -> Array | float:
    """Adam's root step multiplier at iteration ``it`` of ``num_iters`` (both may be traced).

    A cosine from ``world.root_lr_scale`` at the first iteration down to ``root_lr_scale *
    root_lr_decay`` at the last: long early steps carry the depth far enough to become smooth,
    short late ones leave no step-sized zig-zag in it (decay 1: constant).
    """
    w = settings.world
    if w.root_lr_decay == 1.0:
        return w.root_lr_scale          # a weakly typed constant: the solve's own dtype
    p = jnp.clip(it / jnp.maximum(num_iters - 1, 1), 0.0, 1.0)
    cosine = 0.5 * (1.0 + jnp.cos(jnp.pi * p))
    return w.root_lr_scale * (w.root_lr_decay + (1.0 - w.root_lr_decay) * cosine)


def _world_optimizer(settings: SolverSettings, scale=None, root_lr: Array | float | None = None):
    """``make_optimizer``; Adam's root update scaled by ``root_lr`` (``root_lr_multiplier``;
    None: ``world.root_lr_scale``)."""
    opt = make_optimizer(settings, scale)
    if settings.optimizer != "adam":
        return opt
    root_lr = settings.world.root_lr_scale if root_lr is None else root_lr
    return optax.chain(opt, optax.stateless(
        lambda updates, params=None: dict(updates, root=updates["root"] * root_lr)))


def _scaling(model: PairModel, params0: dict[str, Array], data: world.WorldData,
             settings: SolverSettings) -> dict[str, Array]:
    """The L-BFGS variable scaling D of one clip (as ``lbfgs.diagonal_scaling``, with the
    perspective projection and the root variable)."""
    frames = lbfgs.precondition_frames(params0["pose"].shape[0], settings)
    x = jnp.concatenate([params0[k] for k in ("pose", "betas", "root")], -1)[frames]
    d, k = data.clip, world.num_fit_keypoints(data)

    def frame_points(xf, scale, start):
        pose, betas, root = xf[None, :72], xf[None, 72:82], xf[None, 82:]
        kp = pair_forward(model, local_rotations(pose), betas).keypoints[:, :k]
        px = cameras.project_perspective(kp, world.root_to_transl(root), data.focal,
                                         data.center)
        proj = crops.image_to_crop_norm(px, scale[None], start[None], d.crop_size)
        return proj.reshape(-1), kp.reshape(-1)

    j2, j3 = jax.vmap(jax.jacfwd(frame_points))(x, d.crop_scale[frames], d.crop_start[frames])
    s = lbfgs.scaling_from_jacobians(j2, j3, d.conf[frames], d.frame_mask[frames], settings)
    return {"pose": s[:72], "betas": s[72:82], "root": s[82:]}


def _init_batch(model: PairModel, params0: dict[str, Array], batch: dict[str, Array],
                settings: SolverSettings) -> tuple[WorldState, world.WorldData]:
    data = jax.vmap(world.prepare_world_data, in_axes=(None, 0, 0, None))(
        model, params0, batch, settings)
    plane = world.initial_planes(model, params0, data, settings)

    def one(p, d, pl):
        scale = (_scaling(model, p, d, settings)
                 if settings.optimizer == "lbfgs" and settings.lbfgs.precondition else None)
        return init_opt_state(_world_optimizer(settings, scale),
                              _minimized(model, d, pl, settings), p)

    opt_state = jax.vmap(one)(params0, data, plane)
    opt_state = jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.result_type(x)), opt_state)
    bad = jnp.zeros(batch["frame_mask"].shape[:1], bool)
    return WorldState(params0, opt_state, params0, bad, plane), data


def _refit(model: PairModel, settings: SolverSettings, data: world.WorldData,
           state: WorldState) -> WorldState:
    """New planes from the current motion (flagged clips: their last finite one)."""
    k = world.num_fit_keypoints(data)
    params = jax.tree.map(lambda a, b: jnp.where(
        state.bad.reshape((-1,) + (1,) * (a.ndim - 1)), b, a), state.params, state.last_good)
    feet = jax.vmap(lambda p: world.world_points(model, p, k)[1][:, k:])(params)
    plane = world.refit_planes(feet, state.plane, data, settings)
    opt_state = state.opt_state
    if lbfgs.stored_value_and_grad(opt_state) is not None:
        # The stored value and gradient were under the old plane (the memory is kept).
        def refresh(p, d, pl, st):
            (value, _), grad = jax.value_and_grad(_minimized(model, d, pl, settings),
                                                  has_aux=True)(p)
            return lbfgs.with_value_and_grad(st, value, grad)
        opt_state = jax.vmap(refresh)(state.params, data, plane, opt_state)
    return state._replace(plane=plane, opt_state=opt_state)


def _clip_step(model: PairModel, settings: SolverSettings, params, opt_state, last_good, bad,
               plane, data: world.WorldData, active: Array, root_lr: Array):
    """One optimizer step of one clip under its current plane (``optimize.guarded_update``);
    ``root_lr``: this iteration's root step multiplier."""
    return guarded_update(_world_optimizer(settings, root_lr=root_lr),
                          _minimized(model, data, plane, settings),
                          params, opt_state, last_good, bad, active)


def _run_chunk(model: PairModel, state: WorldState, data: world.WorldData, it0: Array,
               num_iters: Array, settings: SolverSettings, chunk_len: int
               ) -> tuple[WorldState, Array]:
    step = jax.vmap(functools.partial(_clip_step, model, settings),
                    in_axes=(0, 0, 0, 0, 0, 0, None, None))
    every = settings.world.plane_every

    def body(st, it):
        if every > 0:
            refit = (it > 0) & (it % every == 0) & (it < num_iters)
            st = jax.lax.cond(refit, functools.partial(_refit, model, settings, data),
                              lambda s: s, st)
        (params, opt_state, last_good, bad), row = step(
            st.params, st.opt_state, st.last_good, st.bad, st.plane, data, it < num_iters,
            root_lr_multiplier(settings, it, num_iters))
        return WorldState(params, opt_state, last_good, bad, st.plane), row

    return jax.lax.scan(body, state, it0 + jnp.arange(chunk_len))


def _finish_batch(model: PairModel, state: WorldState, data: world.WorldData,
                  settings: SolverSettings) -> dict[str, Array]:
    def one(params, last_good, bad, plane, d):
        loss = _objective(model, d, plane, settings, 0.0)(params)[0]
        use_last = bad | ~jnp.isfinite(loss)
        params = _select(use_last, last_good, params)
        terms, aux = world.world_terms(model, params, d, plane, settings)
        total = sum(terms.values())
        k = world.num_fit_keypoints(d)
        c = d.clip
        transl = aux["transl"]
        cam = cameras.perspective_to_crop(transl, c.crop_scale, c.crop_start, c.crop_size,
                                          d.focal, d.center)
        joints = pair_forward(model, local_rotations(params["pose"]), params["betas"]).joints
        return {
            **params, "transl": transl, "cam": cam,
            "cam_full": cameras.crop_to_full(cam, c.crop_scale, c.crop_start, c.crop_size),
            "keypoints_2d": crops.crop_norm_to_image(aux["proj"], c.crop_scale,
                                                     c.crop_start, c.crop_size),
            "keypoints_3d": aux["kp3d"], "joints_3d": joints, "plane": plane,
            "contacts": aux["contacts"], "foot_points": aux["points"][:, k:],
            "focal": d.focal, "center": d.center,
            "final_terms": _stack_terms(total, terms, settings), "nonfinite": use_last,
        }

    return jax.vmap(one)(state.params, state.last_good, state.bad, state.plane, data)


_init_jit = jax.jit(_init_batch, static_argnames=("settings",))
_chunk_jit = jax.jit(_run_chunk, static_argnames=("settings", "chunk_len"))
_finish_jit = jax.jit(_finish_batch, static_argnames=("settings",))


def solve_world_batch(model: Union[BodyModel, PairModel], params0: dict[str, Any],
                      batch: dict[str, Any], settings: SolverSettings, mesh=None,
                      progress: Union[bool, ProgressFn] = False, desc: str = "solve"
                      ) -> dict[str, Any]:
    """Solves one padded world batch (``stack_world_batch`` arrays, leading clip axis C).

    Args:
      model: full body model or its ``world.world_pair_model``.
      params0, batch: ``stack_world_batch`` output; settings: mode 'world';
      mesh: device mesh (C a multiple of its size); progress: as ``optimize.solve_batch``.

    Returns:
      Device arrays with leading C: pose, betas, root, transl, cam, cam_full, keypoints_2d,
      keypoints_3d, joints_3d, plane (C, 4), contacts (C, T, 4), foot_points (C, T, 4, 3),
      focal, center, final_terms, nonfinite; history (iters, C, n + 1) NumPy; term_names.
    """
    dtype = np.dtype(settings.dtype)
    mesh = mesh if mesh is not None else make_mesh()
    num_clips = int(np.shape(batch["frame_mask"])[0])
    if num_clips % mesh.size:
        raise ValueError(f"clip count {num_clips} is not a multiple of the {mesh.size} devices")
    clip_sh = NamedSharding(mesh, PartitionSpec("clips"))
    cast = lambda x: np.asarray(x, dtype) if np.issubdtype(np.asarray(x).dtype, np.floating) \
        else np.asarray(x)  # noqa: E731
    params0 = jax.device_put(jax.tree.map(cast, params0), clip_sh)
    batch = jax.device_put(jax.tree.map(cast, batch), clip_sh)
    if isinstance(model, BodyModel):
        model = world.world_pair_model(model)
    model = jax.device_put(_model_as(model, dtype), NamedSharding(mesh, PartitionSpec()))
    return drive_chunks((_init_jit, _chunk_jit, _finish_jit), model, params0, batch, settings,
                        num_clips, dtype, progress, desc)


def solve_world(model: BodyModel, clips: Sequence[Clip], settings: SolverSettings, *,
                progress: Union[bool, ProgressFn] = True,
                devices: Optional[Sequence[jax.Device]] = None) -> list[ClipResult]:
    """``optimize.solve`` for mode 'world' (clips need ``focal`` and ``center``)."""
    for i, clip in enumerate(clips):
        validate_clip(clip, i, model.num_keypoints)
        validate_world_clip(clip, i)
    pairs = world.world_pair_model(model)
    mesh = make_mesh(devices)
    dtype = np.dtype(settings.dtype)
    results: list[Optional[ClipResult]] = [None] * len(clips)
    for plan in plan_world_batches(clips, settings, mesh.size):
        params0, batch = stack_world_batch(clips, plan, settings, dtype)
        out = solve_world_batch(pairs, params0, batch, settings, mesh, progress,
                                desc=f"solve {len(plan.indices)} clips x {plan.length} frames")
        host = {k: np.asarray(v) for k, v in out.items() if k not in ("history", "term_names")}
        names = out["term_names"]
        for slot, i in enumerate(plan.indices):
            t = clips[i].num_frames
            results[i] = ClipResult(
                name=clips[i].name, pose=host["pose"][slot, :t], betas=host["betas"][slot, :t],
                cam=host["cam"][slot, :t], cam_full=host["cam_full"][slot, :t],
                keypoints_2d=host["keypoints_2d"][slot, :t],
                keypoints_3d=host["keypoints_3d"][slot, :t],
                joints_3d=host["joints_3d"][slot, :t],
                history={n: out["history"][:, slot, j] for j, n in enumerate(names)},
                final_loss={n: float(host["final_terms"][slot, j]) for j, n in enumerate(names)},
                nonfinite=bool(host["nonfinite"][slot]),
                transl=host["transl"][slot, :t], focal=float(host["focal"][slot]),
                center=host["center"][slot], plane=host["plane"][slot],
                contacts=host["contacts"][slot, :t], foot_points=host["foot_points"][slot, :t])
    return results  # type: ignore[return-value]
