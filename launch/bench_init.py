"""Speed of the HMR-free initializer (``fitting.fit_2d`` from 2D keypoints, all hypotheses).

    python launch/bench_init.py [--tracks 8] [--frames 128] [--repeats 3] [--yaw-substeps 2]

Synthetic BODY_25 keypoints of the SMPL-sized synthetic body (random poses and orientations,
upright to upside down, weak-perspective projections with 1 px noise) in ``--tracks`` tracks of
``--frames`` frames; one warm-up call compiles, then ``--repeats`` timed calls (best time) of
the whole initializer: every orientation hypothesis and limb depth order per frame, the
temporal pass along each track, IK and the refinement. Prints person-frames per second (the
CPU count, the process CPU time and the load average are in the JSON: on a shared machine
the wall time is inflated by other processes); the last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from sfv_jax import body, fitting
from sfv_jax.geometry import cameras


def synthetic_keypoints(model: body.BodyModel, num: int, seed: int) -> np.ndarray:
    """(num, 25, 3) BODY_25 px + confidence of random poses in any orientation."""
    rng = np.random.default_rng(seed)
    pose = np.zeros((num, 72), np.float32)
    pose[:, 3:] = np.asarray(fitting.neutral_body_pose(1.1)) + 0.25 * rng.standard_normal(
        (num, 69)).astype(np.float32)
    pose[:, :3] = rng.standard_normal((num, 3)) * 1.5
    out = body.forward(model, jnp.asarray(pose), jnp.zeros((num, 10)))
    cam = jnp.asarray(np.stack([rng.uniform(150, 300, num), rng.uniform(2, 4, num),
                                rng.uniform(1.5, 2.5, num)], 1), jnp.float32)
    px = np.asarray(cameras.project_full(out.keypoints, cam))
    px = px + rng.normal(0.0, 1.0, px.shape)
    conf = rng.uniform(0.5, 1.0, px.shape[:-1] + (1,))
    return np.concatenate([px, conf], -1).astype(np.float32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tracks", type=int, default=8)
    p.add_argument("--frames", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--yaw-substeps", type=int, default=None)
    p.add_argument("--refine-steps", type=int, default=None)
    args = p.parse_args()
    model = body.with_keypoints(body.synthetic_model(seed=0), "body25")
    cfg = fitting.fitting_config()
    if args.yaw_substeps is not None:
        cfg.yaw_substeps = args.yaw_substeps
    if args.refine_steps is not None:
        cfg.refine_steps = args.refine_steps
    opts = fitting.FitOptions.from_config(cfg)
    n = args.tracks * args.frames
    kps = synthetic_keypoints(model, n, 0)
    tracks = [args.frames] * args.tracks
    t0 = time.time()
    jax.block_until_ready(fitting.fit_2d(model, kps, opts, tracks=tracks).pose)
    compile_s = time.time() - t0
    best, cpu = np.inf, np.nan
    for r in range(args.repeats):
        kp = synthetic_keypoints(model, n, r + 1)
        t0, c0 = time.time(), time.process_time()
        fit = fitting.fit_2d(model, kp, opts, tracks=tracks)
        jax.block_until_ready(fit.pose)
        if time.time() - t0 < best:
            best, cpu = time.time() - t0, time.process_time() - c0
    med = float(np.nanmedian(np.asarray(fit.error_px)))
    hyps = 24 * max(int(opts.yaw_substeps), 1)
    rate = n / best
    print(f"initializer: {n} person-frames ({args.tracks} tracks x {args.frames}), {hyps} "
          f"orientations x 4 depth orders per limb, {opts.refine_steps} refinement steps: "
          f"{best:.3f} s -> {rate:.0f} person-frames/s (compile + first call {compile_s:.1f} s; "
          f"median 2D error {med:.2f} px; {os.cpu_count()} CPUs, {cpu:.2f} CPU-s: "
          f"{n / cpu:.0f} person-frames per CPU-second; load average {os.getloadavg()[0]:.1f})")
    print(json.dumps({"person_frames_per_s": round(rate, 1), "seconds": round(best, 3),
                      "person_frames": n, "orientation_hypotheses": hyps,
                      "refine_steps": int(opts.refine_steps), "compile_s": round(compile_s, 1),
                      "median_error_px": round(med, 3), "cpus": os.cpu_count(),
                      "cpu_s": round(cpu, 3), "load_average": round(os.getloadavg()[0], 1)}))


if __name__ == "__main__":
    main()
