"""Benchmark of the temporal solver (SFV's objective) on the SMPL-sized synthetic model.

  python launch/bench_solver.py --clips 4 --frames 300 --iters 30
  python launch/bench_solver.py --clips 4 --frames 300 --iters 30 --torch
  python launch/bench_solver.py --clips 4 --frames 300 --lbfgs-compare

Prints frame-iterations per second of the Adam solve (compile excluded: each measured call
runs once before it is timed); ``--torch`` also runs an equivalent PyTorch + smplx
implementation (smplx.SMPL built from the same synthetic model's arrays, the same objective,
torch.optim.Adam) in the same run and prints the ratio; ``--lbfgs-compare`` runs 300 Adam
iterations and the fast option (configs/fast.py: L-BFGS, its fixed iteration count) on the
same clips, interleaved ``--repeats`` times (best time of each), and prints both times, both
final objectives (the paper objective, evaluated identically), the time ratio and how many
L-BFGS iterations it took to reach Adam-300's objective on every clip.
The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np


import jax  # noqa: E402

from sfv_jax import body  # noqa: E402
from sfv_jax import recipes  # noqa: E402
from sfv_jax.body.synthetic import synthetic_model  # noqa: E402
from sfv_jax.body.keypoint_pairs import pair_model  # noqa: E402
from sfv_jax.solver import SolverSettings, batching, solve_batch, solver_config  # noqa: E402
from sfv_jax.synthetic import make_synthetic_clip  # noqa: E402


def _settings(iters: int, optimizer: str = "adam") -> SolverSettings:
    cfg = solver_config()
    cfg.progress_every = 0
    cfg.optimizer = optimizer
    cfg.adam.iterations = iters
    cfg.lbfgs.iterations = iters
    return SolverSettings.from_config(cfg)


def _fast_settings() -> SolverSettings:
    """configs/fast.py's optimizer and L-BFGS keys on the benchmark's settings."""
    fast = recipes.get("fast").solver
    cfg = solver_config()
    cfg.progress_every = 0
    cfg.optimizer = fast.optimizer
    cfg.lbfgs = fast.lbfgs
    cfg.adam = fast.adam
    return SolverSettings.from_config(cfg)


def _timed(fn, repeats: int = 1) -> tuple[float, dict]:
    """Runs ``fn`` once to compile, then ``repeats`` times; best wall time."""
    out = fn()
    jax.block_until_ready(out["pose"])
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        jax.block_until_ready(out["pose"])
        best = min(best, time.perf_counter() - t)
    return best, out


def _torch_run(model, params0: dict, batch: dict, iters: int, lr: float) -> float:
    """Same objective in PyTorch + smplx; returns the wall time of ``iters`` Adam steps."""
    import torch
    import smplx
    from smplx.lbs import batch_rodrigues
    from smplx.utils import Struct

    from sfv_jax.atomic import save_npz

    # smplx.SMPL from the synthetic model's SMPL arrays, saved as .npz and loaded back.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "synthetic_smpl.npz")
        kintree = np.stack([np.asarray(model.parents), np.arange(model.num_joints)])
        kintree[0, 0] = -1
        save_npz(path, v_template=np.asarray(model.v_template),
                 shapedirs=np.asarray(model.shapedirs), posedirs=np.asarray(model.posedirs),
                 J_regressor=np.asarray(model.j_regressor), weights=np.asarray(model.lbs_weights),
                 kintree_table=kintree, f=np.asarray(model.faces))
        arrays = dict(np.load(path))
    c, t = batch["frame_mask"].shape
    n = c * t
    smpl = smplx.SMPL(model_path="", data_struct=Struct(**arrays), batch_size=n,
                      num_betas=10, create_transl=False, create_betas=False,
                      create_body_pose=False, create_global_orient=False)
    f32 = lambda x: torch.as_tensor(np.asarray(x, np.float32))  # noqa: E731
    kp_v, kp_j = f32(model.kp_vertex_regressor), f32(model.kp_joint_weights)
    names = model.keypoint_names
    hips = [names.index("left_hip"), names.index("right_hip")]
    pose = f32(params0["pose"]).reshape(n, 72).requires_grad_()
    betas = f32(params0["betas"]).reshape(n, 10).requires_grad_()
    cam = f32(params0["cam"]).reshape(n, 3).requires_grad_()
    target, conf = f32(batch["target"]), f32(batch["conf"])
    mask = f32(batch["frame_mask"])
    scale, start = f32(batch["crop_scale"]), f32(batch["crop_start"])
    size = f32(batch["crop_size"])[:, None, None]
    conf = conf * mask[..., None]
    with torch.no_grad():
        betas_target = (betas.reshape(c, t, 10) * mask[..., None]).sum(1) / mask.sum(1)[:, None]
        rot0 = batch_rodrigues(pose.reshape(-1, 3)).reshape(c, t, 24, 3, 3)
        init_w = mask  # the weighting's value does not change the cost
    pair = mask[:, 1:] * mask[:, :-1]

    def nz_mean(loss, w):
        w = w.expand_as(loss)
        return (w * loss).sum() / (w != 0).sum().clamp(min=1)

    def objective():
        out = smpl(betas=betas, body_pose=pose[:, 3:], global_orient=pose[:, :3])
        verts, joints = out.vertices, out.joints[:, :24]
        kp = (torch.einsum("kv,nvc->nkc", kp_v, verts)
              + torch.einsum("kj,njc->nkc", kp_j, joints)).reshape(c, t, -1, 3)
        cm = cam.reshape(c, t, 3)
        proj = cm[..., None, :1] * (kp[..., :2] + cm[..., None, 1:])
        total = 10.0 * nz_mean((proj - target).abs(), conf[..., None])
        total = total + 0.5 * nz_mean((betas.reshape(c, t, 10) - betas_target[:, None]) ** 2,
                                      mask[..., None])
        rot = batch_rodrigues(pose.reshape(-1, 3)).reshape(c, t, 24, 3, 3)
        cos = 0.5 * ((rot * rot0).sum((-1, -2)) - 1.0)
        total = total + 100.0 * nz_mean((1.0 - cos) ** 2, init_w[..., None])
        rel = kp - kp[:, :, hips].mean(2, keepdim=True)
        total = total + 25.0 * nz_mean((rel[:, 1:] - rel[:, :-1]) ** 2, pair[..., None, None])
        a = cm[..., 0] / scale
        b = ((cm[..., 1:] + 1.0) * 0.5 * size + start) / size
        total = total + nz_mean((a[:, 1:] - a[:, :-1]) ** 2, pair) + nz_mean(
            (b[:, 1:] - b[:, :-1]) ** 2, pair[..., None])
        return total

    opt = torch.optim.Adam([pose, betas, cam], lr=lr)

    def step():
        opt.zero_grad()
        loss = objective()
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    return time.perf_counter() - t0


def _compare_config(args: argparse.Namespace) -> None:
    """Frame-iterations/s of a config's solver section vs the paper's, same world clips."""
    from sfv_jax.solver import world, world_optimize
    from sfv_jax.synthetic import clips as synthetic_clips

    model = synthetic_model(seed=args.seed)
    clips = [synthetic_clips.make_world_clip(model, args.frames, seed=args.seed + i)[0]
             for i in range(args.clips)]
    cfg = recipes.get(args.config).solver
    cfg.progress_every = 0
    cfg.adam.iterations = cfg.lbfgs.iterations = args.iters
    # Batches padded like the paper's below (to a power of two, not clips_per_device).
    cfg.clips_per_device = 0
    other = SolverSettings.from_config(cfg)
    paper = _settings(args.iters)
    devices = len(jax.local_devices())
    frame_iters = args.clips * args.frames * args.iters
    result = {"config": args.config, "clips": args.clips, "frames": args.frames,
              "iters": args.iters, "optimizer": other.optimizer, "mode": other.mode}
    for name, st in (("paper", paper), ("config", other)):
        if st.mode == "world":
            plan = world_optimize.plan_world_batches(clips, st, devices)[0]
            params0, batch = world_optimize.stack_world_batch(clips, plan, st, np.float32)
            pm = world.world_pair_model(model)
            run = lambda: world_optimize.solve_world_batch(pm, params0, batch, st)  # noqa
        else:
            plan = batching.plan_batches([args.frames] * args.clips, st.bucket_lengths,
                                         devices, st.max_clips_per_batch)[0]
            params0, batch = batching.stack_batch(clips, plan, st.vis_threshold, np.float32)
            pm = pair_model(body.keypoint_model(model))
            run = lambda: solve_batch(pm, params0, batch, st)  # noqa
        dt, _ = _timed(run, args.repeats)
        result[f"{name}_frame_iters_per_s"] = round(frame_iters / dt, 1)
        result[f"{name}_seconds"] = round(dt, 4)
        print(f"{name} ({st.mode}, {st.optimizer}, terms {', '.join(st.active_terms)}): "
              f"{dt:.3f} s -> {frame_iters / dt:,.0f} frame-iterations/s")
    result["config_over_paper_time"] = round(result["config_seconds"] / result["paper_seconds"],
                                             3)
    print(json.dumps(result))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=2, help="timed runs (best is kept)")
    p.add_argument("--torch", action="store_true", help="also run PyTorch + smplx")
    p.add_argument("--torch-iters", type=int, default=5,
                   help="Adam iterations timed in torch (slow; the ratio is per iteration)")
    p.add_argument("--lbfgs-compare", action="store_true",
                   help="time Adam-300 vs the fast option (configs/fast.py), same clips")
    p.add_argument("--config", default="",
                   help="a recipe name or configs/ file whose solver objective and optimizer "
                        "to time (e.g. configs/world.py) against the paper's on the same "
                        "clips (filmed by a perspective camera), --iters iterations each")
    args = p.parse_args()
    if args.config:
        _compare_config(args)
        return

    model = synthetic_model(seed=args.seed)
    kp_model = pair_model(body.keypoint_model(model))  # what solve() runs on
    clips = [make_synthetic_clip(model, args.frames, seed=args.seed + i)[0]
             for i in range(args.clips)]
    mesh_size = len(jax.local_devices())
    settings = _settings(args.iters)
    plan = batching.plan_batches([args.frames] * args.clips, settings.bucket_lengths,
                                 mesh_size, settings.max_clips_per_batch)
    if len(plan) != 1:
        raise SystemExit("--clips exceeds max_clips_per_batch; lower it")
    params0, batch = batching.stack_batch(clips, plan[0], settings.vis_threshold, np.float32)
    print(f"devices: {jax.local_devices()}; model: {model} as {kp_model.num_pairs} "
          f"(keypoint, joint) pairs; batch: {plan[0].num_clips} "
          f"clips x {plan[0].length} frames (padded from {args.clips} x {args.frames})")

    frame_iters = args.clips * args.frames * args.iters
    dt, _ = _timed(lambda: solve_batch(kp_model, params0, batch, settings), args.repeats)
    fips = frame_iters / dt
    result = {"frame_iters_per_s": round(fips, 1), "seconds": round(dt, 4),
              "clips": args.clips, "frames": args.frames, "iters": args.iters}
    print(f"jax adam: {args.iters} iterations of {args.clips} x {args.frames} frames in "
          f"{dt:.3f} s -> {fips:,.0f} frame-iterations/s")

    if args.torch:
        try:
            import smplx  # noqa: F401
            import torch  # noqa: F401
        except ImportError as e:
            print(f"--torch skipped: {e}")
        else:
            tt = _torch_run(model, params0, batch, args.torch_iters, settings.adam.learning_rate)
            # torch runs on the padded batch too; count real frames for both.
            tfips = args.clips * args.frames * args.torch_iters / tt
            result.update(torch_frame_iters_per_s=round(tfips, 1), speedup_vs_torch=round(
                fips / tfips, 2))
            print(f"torch+smplx adam: {tt:.3f} s -> {tfips:,.0f} frame-iterations/s; "
                  f"jax is {fips / tfips:.1f}x faster")

    if args.lbfgs_compare:
        # Adam-300 (the paper) vs the fast option (configs/fast.py's solver.optimizer and
        # solver.lbfgs keys, its fixed iteration count) on the same batch; both objectives are
        # the paper objective of the final parameters, from the same _finish_batch code.
        adam = _settings(300)
        fast = _fast_settings()
        real = len(clips)
        t_adam, t_fast = float("inf"), float("inf")
        for _ in range(max(1, args.repeats)):   # interleaved: both see the same machine load
            ta, out = _timed(lambda: solve_batch(kp_model, params0, batch, adam), 1)
            tf, out_f = _timed(lambda: solve_batch(kp_model, params0, batch, fast), 1)
            t_adam, t_fast = min(t_adam, ta), min(t_fast, tf)
        target = np.asarray(out["final_terms"])[:real, -1]
        final = np.asarray(out_f["final_terms"])[:real, -1]
        # Iterations the fast solver needed to reach Adam-300 on every clip (history[i] is
        # the objective after i iterations; the final value after all of them).
        after = np.concatenate([np.asarray(out_f["history"])[1:, :real, -1], final[None]])
        reached = after <= target[None] * (1 + 1e-6)
        needed = int(reached.argmax(axis=0).max()) + 1 if reached.any(axis=0).all() else None
        ratio = t_fast / t_adam
        result.update(adam300_s=round(t_adam, 4), fast_s=round(t_fast, 4),
                      fast_time_ratio=round(ratio, 4), fast_iters=fast.iterations,
                      fast_iters_needed=needed, adam300_objective=float(target.sum()),
                      fast_objective=float(final.sum()),
                      fast_reaches_adam300=bool(np.all(final <= target * (1 + 1e-6))),
                      adam300_clip_objectives=[round(float(v), 6) for v in target],
                      fast_clip_objectives=[round(float(v), 6) for v in final])
        print(f"adam 300 iterations: {t_adam:.3f} s, objective {target.sum():.5f} "
              f"(per clip {np.round(target, 5)})")
        print(f"fast ({fast.optimizer}, {fast.iterations} iterations): {t_fast:.3f} s, "
              f"objective {final.sum():.5f} (per clip {np.round(final, 5)}); "
              f"Adam-300's objective reached on every clip after {needed} iterations")
        print(f"fast / adam-300 time: {ratio:.4f}; objective fast / adam-300: "
              f"{final.sum() / target.sum():.4f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
