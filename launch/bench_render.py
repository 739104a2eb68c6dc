"""Benchmark: frames per second of a 640x480 mesh overlay (rasterize + shade + blend).

Renders a 6890-vertex mesh over a 640x480 frame with the default render config, the body
turning a little every frame so nothing is reused between frames. The mesh is the synthetic
SMPL-sized body model (``sfv_jax.body.synthetic_model``) when that module is present, else a
6890-vertex ellipsoid of body size. Prints per-stage times; the last line is JSON:
{"fps": ..., "width": 640, "height": 480, "vertices": 6890, ...}.

    python launch/bench_render.py [--frames 60] [--mesh auto|body|sphere]

``--video``: instead, the frames per second of a whole comparison video on its own (input +
keypoints | initial | reconstruction | side view, 640x360 panels like the demo's, the body
walking across, mp4 encoding and the atomic write included), ``--save-frame PNG`` keeping
its middle frame to look at. It uses only ``render.render_comparison_video``'s long-standing
arguments, so the same script measures an older checkout too (``PYTHONPATH=old/``).

``--plots``: instead, the milliseconds per diagnostic PNG (``render.plots``: loss curves,
joint trajectory, 2D error per frame) on a job's data (8 loss terms x 300 iterations, a
90-frame trajectory and error series), median over ``--calls`` calls each after one warm-up;
last line {"plots_ms": {"loss": ..., "trajectory": ..., "error": ...}}. ``bench_plots`` takes
any module with those three functions, so an older plots.py can be timed the same way.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from sfv_jax.render.primitives import uv_sphere


from sfv_jax import render  # noqa: E402
from sfv_jax.render import cameras, rasterizer  # noqa: E402

WIDTH, HEIGHT = 640, 480


def body_mesh(kind: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(V, 3) camera-frame vertices (metres, y down), (F, 3) faces, and the mesh's name."""
    if kind in ("auto", "body"):
        try:
            from sfv_jax import body
            from sfv_jax.body.synthetic import synthetic_model
            model = synthetic_model(seed=0)
            out = body.forward(model, np.zeros((1, 72), np.float32), np.zeros((1, 10), np.float32))
            v = np.asarray(out.vertices[0], np.float64)
            faces = np.asarray(model.faces, np.int64)
            # SMPL is y up, facing +z; HMR's camera has y down and looks down +z: turn the
            # body 180 degrees about x so it stands upright and faces the camera.
            return v * np.array([1.0, -1.0, -1.0]), faces, "synthetic_model"
        except ImportError as e:
            if kind == "body":
                raise
            print(f"body model unavailable ({e}); using a 6890-vertex ellipsoid")
    v, f = uv_sphere(85, 82)
    return v * np.array([0.25, 0.85, 0.18]), f, "ellipsoid"


def bench_video(frames: int, mesh: str, save_frame: str) -> None:
    """Times ``render_comparison_video`` on a demo-like track; prints the JSON line."""
    import os
    import tempfile

    import cv2

    cfg = render.RenderSettings(progress=False)
    verts, faces, name = body_mesh(mesh)
    h, w = 360, 640
    yy, xx = np.mgrid[0:h, 0:w]
    frame = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) % 256], -1).astype(np.uint8)
    t = np.arange(frames)
    # Camera-frame meshes 6 m away walking across; the "initial" one shaken per frame.
    rng = np.random.default_rng(0)
    walk = np.stack([-1.5 + 3.0 * t / max(frames - 1, 1), 0.2 + 0 * t, 6.0 + 0 * t], -1)
    vf = np.stack([cameras.rotate_about_vertical(verts, 2.0 * i, center=np.zeros(3)) for i in t])
    vi = vf + rng.normal(0, 0.01, (frames, 1, 3))
    cam = np.concatenate([np.tile([600.0, w / 2, h / 2], (frames, 1)), walk], 1)   # perspective
    kp = np.concatenate([rng.uniform(200, 400, (frames, 25, 2)), np.ones((frames, 25, 1))], -1)
    out = os.path.join(tempfile.mkdtemp(prefix="bench_video_"), "comparison.mp4")
    render.render_comparison_video(out, lambda i: frame, faces, vi[:2], cam[:2], vf[:2],
                                   cam[:2], kp[:2], "body25", 30.0, cfg)       # warm-up
    start, cpu0 = time.perf_counter(), time.process_time()
    n = render.render_comparison_video(out, lambda i: frame, faces, vi, cam, vf, cam, kp,
                                       "body25", 30.0, cfg)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu0
    cap = cv2.VideoCapture(out)
    cap.set(cv2.CAP_PROP_POS_FRAMES, frames // 2)
    ok, img = cap.read()
    cap.release()
    if save_frame and ok:
        cv2.imwrite(save_frame, img)
    print(f"comparison video: {n} frames of {img.shape[1]}x{img.shape[0]} in {total:.2f} s: "
          f"{n / total:.1f} frames/s ({n / cpu:.1f} per second of this process's CPU time)")
    print(json.dumps({"video_fps": round(n / total, 2), "video_cpu_fps": round(n / cpu, 2),
                      "frames": n, "width": int(img.shape[1]), "height": int(img.shape[0]),
                      "mesh": name, "vertices": int(len(verts))}))


def plot_inputs() -> dict:
    """A job's plot data: loss history, a root-relative wrist track and 2D errors (90 frames)."""
    rng = np.random.default_rng(0)
    it = np.arange(300)
    history = {name: scale * np.exp(-it / tau) + floor
               for name, scale, tau, floor in (
                   ("keypoints", 4e3, 30, 60.0), ("pose_prior", 50, 80, 8.0),
                   ("shape_prior", 2.0, 60, 0.3), ("smooth_pose", 5.0, 20, 0.05),
                   ("smooth_joints", 1.0, 25, 0.01), ("camera", 10, 15, 1e-3),
                   ("penetration", 0.5, 50, 1e-4), ("total", 4.1e3, 30, 70.0))}
    t = np.arange(90) / 30.0
    after = np.stack([0.3 * np.sin(2 * t), 0.1 * np.cos(3 * t) - 0.2, 0.15 * np.sin(t)], 1)
    before = after + rng.normal(0, 0.02, after.shape)
    err_after = np.abs(rng.normal(4, 1.5, 90))
    err_before = err_after + np.abs(rng.normal(8, 4, 90))
    err_before[40:43] = err_after[40:43] = np.nan                  # frames without a detection
    return {"history": history, "before": before, "after": after,
            "err_before": err_before, "err_after": err_after}


def bench_plots(calls: int, module=None) -> dict:
    """Median ms per call of each plot of ``module`` (default ``sfv_jax.render.plots``)."""
    import os
    import tempfile

    if module is None:
        from sfv_jax.render import plots as module
    d = plot_inputs()
    folder = tempfile.mkdtemp(prefix="bench_plots_")
    jobs = {
        "loss": lambda: module.plot_loss_curves(os.path.join(folder, "loss_curves.png"),
                                                d["history"]),
        "trajectory": lambda: module.plot_joint_trajectory(
            os.path.join(folder, "trajectory_right_wrist.png"), d["before"], d["after"],
            "right wrist (root-relative, m)", fps=30.0),
        "error": lambda: module.plot_error_per_frame(os.path.join(folder, "error_2d.png"),
                                                     d["err_before"], d["err_after"], fps=30.0),
    }
    result = {}
    for name, job in jobs.items():
        job()                                                       # warm-up: first build
        wall, cpu = [], []
        for _ in range(calls):
            t0, c0 = time.perf_counter(), time.process_time()
            job()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        result[name] = round(1e3 * float(np.median(wall)), 2)
        print(f"{name:10s} {result[name]:8.2f} ms/plot median ({1e3 * np.mean(wall):.2f} mean, "
              f"{1e3 * np.median(cpu):.2f} CPU) over {calls} calls")
    print(f"files in {folder}")
    print(json.dumps({"plots_ms": result}))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--mesh", choices=("auto", "body", "sphere"), default="auto")
    ap.add_argument("--video", action="store_true", help="time a whole comparison video")
    ap.add_argument("--save-frame", default="", help="with --video: PNG of its middle frame")
    ap.add_argument("--plots", action="store_true", help="time the three diagnostic PNG plots")
    ap.add_argument("--calls", type=int, default=20, help="with --plots: calls per plot")
    args = ap.parse_args()
    if args.plots:
        bench_plots(args.calls)
        return
    if args.video:
        bench_video(args.frames, args.mesh, args.save_frame)
        return

    cfg = render.RenderSettings()
    verts, faces, name = body_mesh(args.mesh)
    # A textured background so blending does real work.
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    frame = np.stack([xx * 255 // WIDTH, yy * 255 // HEIGHT, (xx + yy) % 256], -1).astype(np.uint8)
    height_m = np.ptp(verts[:, 1])
    cam = np.array([0.8 * HEIGHT / height_m, WIDTH / 2 / (0.8 * HEIGHT / height_m),
                    HEIGHT / 2 / (0.8 * HEIGHT / height_m)])
    cam[1:] -= verts.mean(axis=0)[:2]

    stages = {"project": 0.0, "rasterize": 0.0, "shade": 0.0, "composite": 0.0}
    covered = 0
    # Warm-up frame (imports, first allocations).
    rasterizer.draw_mesh(frame, cameras.project(verts, "weak", cam), faces, cfg, cfg.color_final)
    start = time.perf_counter()
    cpu_start = time.process_time()
    for i in range(args.frames):
        t0 = time.perf_counter()
        v = cameras.rotate_about_vertical(verts, 3.0 * i, center=np.zeros(3))
        screen = cameras.project(v, "weak", cam)
        t1 = time.perf_counter()
        frags = rasterizer.rasterize(screen, faces, HEIGHT, WIDTH, cull=cfg.cull,
                                     subpixel_bits=cfg.subpixel_bits)
        t2 = time.perf_counter()
        cols = rasterizer.shade(frags, faces, screen, cfg.color_final, cfg.light_dir, cfg.ambient,
                                cfg.diffuse, cfg.smooth_shading)
        t3 = time.perf_counter()
        rasterizer.composite(frame, frags, cols, cfg.alpha)
        t4 = time.perf_counter()
        for k, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            stages[k] += dt
        covered += frags.pixel.size
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    fps = args.frames / total
    for k, s in stages.items():
        print(f"{k:10s} {1e3 * s / args.frames:7.2f} ms/frame")
    print(f"mesh {name}: {len(verts)} vertices, {len(faces)} faces, "
          f"{covered / args.frames:.0f} covered px/frame; {fps:.1f} fps over {args.frames} frames "
          f"({args.frames / cpu:.1f} fps of this process's CPU time; the gap is other load)")
    print(json.dumps({"fps": round(fps, 2), "width": WIDTH, "height": HEIGHT,
                      "vertices": int(len(verts)), "faces": int(len(faces)), "mesh": name,
                      "frames": args.frames, "ms_per_frame": round(1e3 * total / args.frames, 2),
                      "cpu_fps": round(args.frames / cpu, 2)}))


if __name__ == "__main__":
    main()
