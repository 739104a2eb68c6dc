"""Benchmark: SMPL forward+backward frames per second, full mesh vs keypoint-only path.

For ``--frames`` frames (default 300) of random poses and shapes, times
``jax.grad`` of a scalar of the output (sum of squared keypoints + joints, plus the
vertices for the full mesh) with respect to pose, betas and translation, jit-compiled; the
compile/warm-up call is excluded. The keypoint-only path is ``body.keypoint_model`` (the
vertices the keypoint regressor reads); "folded" is ``pair_model``/``pair_forward`` (the
solver's path: skinning folded into (keypoint, joint) pairs).
The model is the synthetic SMPL-sized body (``sfv_jax.body.synthetic_model``) unless
``--model`` names an SMPL .pkl / .npz.
Prints per-path timings; the last line is JSON:
{"frames": 300, "full_fps": ..., "keypoint_fps": ..., "speedup": ..., "folded_fps": ...}.

    python launch/bench_forward.py [--frames 300] [--repeats 5] [--model PATH] [--x64]
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Callable

import numpy as np


import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from sfv_jax import body  # noqa: E402
from sfv_jax.geometry.rotations import axis_angle_to_matrix  # noqa: E402


def _loss_fn(model: body.BodyModel, with_vertices: bool) -> Callable:
    def loss(pose: jax.Array, betas: jax.Array, transl: jax.Array) -> jax.Array:
        out = body.forward(model, pose, betas, transl)
        val = jnp.sum(out.keypoints ** 2) + jnp.sum(out.joints ** 2)
        if with_vertices:
            val = val + jnp.sum(out.vertices ** 2)
        return val
    return loss


def time_loss(loss: Callable, pose: np.ndarray, betas: np.ndarray, transl: np.ndarray,
              repeats: int) -> float:
    """Best wall time (s) of one forward+backward of ``loss`` over all frames, warm-up excluded."""
    step = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    args = [jnp.asarray(x) for x in (pose, betas, transl)]
    jax.block_until_ready(step(*args))  # compile + warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(step(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def _pair_loss_fn(pm: body.PairModel) -> Callable:
    """The pair form's keypoints (local rotations computed inside, as the solver does)."""
    def loss(pose: jax.Array, betas: jax.Array, transl: jax.Array) -> jax.Array:
        rot = axis_angle_to_matrix(pose.reshape(pose.shape[0], -1, 3))
        out = body.pair_forward(pm, rot, betas)
        return jnp.sum((out.keypoints + transl[:, None]) ** 2) + jnp.sum(out.joints ** 2)
    return loss


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--repeats", type=int, default=5, help="timed calls per path (best kept)")
    p.add_argument("--model", default="", help="SMPL .pkl/.npz (default: synthetic model)")
    p.add_argument("--x64", action="store_true", help="float64 model and inputs")
    a = p.parse_args(argv)
    if a.x64:
        jax.config.update("jax_enable_x64", True)
    dtype = np.float64 if a.x64 else np.float32
    if a.model:
        model = body.load_model(a.model, dtype=dtype)
    else:
        model = body.synthetic_model(seed=0)
        model = jax.tree_util.tree_map(lambda x: np.asarray(x).astype(dtype)
                                       if np.asarray(x).dtype.kind == "f" else x, model)
    kp_model = body.keypoint_model(model)
    folded = body.pair_model(kp_model)
    rng = np.random.default_rng(0)
    n = a.frames
    pose = (0.3 * rng.standard_normal((n, 72))).astype(dtype)
    betas = rng.standard_normal((n, model.num_betas)).astype(dtype)
    transl = rng.standard_normal((n, 3)).astype(dtype)

    t_full = time_loss(_loss_fn(model, True), pose, betas, transl, a.repeats)
    t_kp = time_loss(_loss_fn(kp_model, False), pose, betas, transl, a.repeats)
    t_fold = time_loss(_pair_loss_fn(folded), pose, betas, transl, a.repeats)
    res = {
        "frames": n,
        "full_fps": round(n / t_full, 1),
        "keypoint_fps": round(n / t_kp, 1),
        "speedup": round(t_full / t_kp, 2),
        "folded_fps": round(n / t_fold, 1),
        "folded_speedup": round(t_full / t_fold, 2),
        "vertices": model.num_vertices,
        "keypoint_vertices": kp_model.num_vertices,
        "folded_points": folded.num_pairs,
        "keypoints": model.num_keypoints,
        "dtype": np.dtype(dtype).name,
        "backend": jax.default_backend(),
        "model": a.model or "synthetic",
    }
    print(f"model: {model}")
    print(f"full mesh     : {t_full * 1e3:8.2f} ms per {n} frames ({res['full_fps']} frames/s)")
    print(f"keypoint-only : {t_kp * 1e3:8.2f} ms per {n} frames ({res['keypoint_fps']} frames/s)"
          f", {kp_model.num_vertices} vertices")
    print(f"folded skin   : {t_fold * 1e3:8.2f} ms per {n} frames ({res['folded_fps']} frames/s)"
          f", {folded.num_pairs} (keypoint, joint) points")
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
