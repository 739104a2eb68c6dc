"""Accuracy benchmark on real motion capture: MPJPE, PA-MPJPE, acceleration error, 2D error.

    python launch/bench_accuracy.py --motions ../shared/data/motions \
        [--workdir DIR] [--seed S] [--config configs/x.py [configs/y.py ...]]
        [--set KEY=VALUE ...]
        [--views N] [--frames-max N] [--clean-2d] [--init regressor|fit2d]
        [--focal-known [--focal-scale S]]

For every DeepMimic motion file in --motions: the truth (the mocap carried onto the synthetic
SMPL-format body model by 3D joint fitting, resampled to 30 fps), N virtual cameras, detector-like
2D keypoints and per-frame-regressor-like initial estimates, then ONE batched solve of all
clips x views with the config's solver section. Prints a table per clip (mean over views) and the
mean over clips, before -> after; the last line is JSON:
``{"mean": {"mpjpe_init", "mpjpe", "pa_mpjpe_init", "pa_mpjpe", "accel_init", "accel", ...},
"clips": {...}, ...}``. Units: mm, mm/frame^2 (at 30 fps), px. Two more columns say how hard each
clip is for the acceleration metric: the truth's own mean acceleration ("|a| true") and the error
the truth itself scores after a one-frame Gaussian blur in time ("blur1").

World frame (a second table; keys w_mpjpe, wa_mpjpe, root_accel, foot_skate, foot_float,
ground_penetration, and the truth's own root_accel_truth, foot_skate_truth, foot_float_truth,
ground_penetration_truth): the estimate as the pipeline exports it (``export.world_motion``:
the config's ``export`` section, the image size, and the focal length a job would assume for an
input without one, unless --focal-known gives each view's true focal length), scored against the
truth's world trajectory and the mocap floor (``evaluation.world_scoring``). The cameras are
static perspective cameras with a focal length, height and pitch drawn per view
(``evaluation.virtual_cameras``).

--config: a project recipe, by name or by its file (``accurate``, ``configs/accurate.py``; see
``sfv_jax.recipes``), with ``--set key.path=value`` overrides (``solver.adam.iterations=5``).
Several recipes (``--config configs/world.py configs/sfv_paper.py configs/accurate.py``) are
each solved on the same observations in one run; a comparison table of their means (and each
one's ratios to the first's) follows their tables, and the last line is
``{"configs": {name: summary}}``. Its
``solver`` section is benchmarked (an ``evaluation`` section, if any, overrides the benchmark's
defaults); its ``model.keypoints`` (unless "auto") is the keypoint set the solver fits: the
detections are converted to it, as the pipeline converts a track. Default: the solver's own
defaults (the SFV paper).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import ml_collections


from sfv_jax import recipes  # noqa: E402
from sfv_jax.evaluation import benchmark, mocap  # noqa: E402
from sfv_jax.fitting.config import fitting_config  # noqa: E402
from sfv_jax.evaluation.config import evaluation_config  # noqa: E402
from sfv_jax.export.config import export_config  # noqa: E402
from sfv_jax.solver.config import solver_config  # noqa: E402


def sections(cfg: ml_collections.ConfigDict | None
             ) -> tuple[ml_collections.ConfigDict, ml_collections.ConfigDict]:
    """(solver section, evaluation section) of a loaded config (defaults where absent)."""
    ev = evaluation_config()
    if cfg is None:
        return solver_config(), ev
    # The keypoint set the job fits (model.keypoints) is what the benchmark's solver fits too;
    # "auto" keeps the benchmark's default (cocoplus, as SFV).
    keypoints = cfg.get("model", {}).get("keypoints", "auto")
    if keypoints != "auto":
        ev.solver_format = keypoints
    if "evaluation" in cfg:
        ev.update(cfg.evaluation)
    if "solver" not in cfg:
        raise ValueError("config has no 'solver' section")
    return cfg.solver, ev


def export_section(cfg: ml_collections.ConfigDict | None) -> ml_collections.ConfigDict:
    """The config's ``export`` section (the world motion's ground option), else the defaults."""
    return cfg.export if cfg is not None and "export" in cfg else export_config()


def configured_focal(cfg: ml_collections.ConfigDict | None) -> float:
    """The config's ``outputs.focal_length`` (0 = from the input / image size), else 0."""
    if cfg is None or "outputs" not in cfg:
        return 0.0
    return float(cfg.outputs.get("focal_length", 0.0))


# The figures of the comparison table (``--config A B ...``), in its column order.
COMPARE_KEYS = ("mpjpe", "pa_mpjpe", "accel", "err_2d", "fit_2d", "w_mpjpe", "wa_mpjpe",
                "root_accel", "foot_skate", "foot_float", "ground_penetration")


def format_comparison(summaries: dict[str, dict]) -> str:
    """One row per config (its mean over clips) and, from the second config on, a row of its
    ratios to the first config's figures."""
    names = {"mpjpe": "MPJPE", "pa_mpjpe": "PA", "accel": "accel", "err_2d": "2D px",
             "fit_2d": "2D det", "w_mpjpe": "W", "wa_mpjpe": "WA", "root_accel": "root acc",
             "foot_skate": "skate", "foot_float": "float", "ground_penetration": "penetr."}
    width = max(len(n) for n in summaries) + 10
    head = f"{'config':<{width}}" + "".join(f"{names[k]:>9}" for k in COMPARE_KEYS)
    lines = [head, "-" * len(head)]
    first = next(iter(summaries.values()))["mean"]
    for i, (name, s) in enumerate(summaries.items()):
        m = s["mean"]
        lines.append(f"{name:<{width}}" + "".join(f"{m[k]:9.1f}" for k in COMPARE_KEYS))
        if i:
            lines.append(f"{'  / ' + next(iter(summaries)):<{width}}" + "".join(
                f"{m[k] / first[k]:9.3f}" if first[k] else f"{'':>9}" for k in COMPARE_KEYS))
    # The truth's own figures are the same for every config (same observations).
    lines.append(f"{'truth':<{width}}" + "".join(
        f"{first[k + '_truth']:9.1f}" if k + "_truth" in first else f"{'':>9}"
        for k in COMPARE_KEYS))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--motions", required=True, help="folder of DeepMimic motion files")
    p.add_argument("--workdir", default=None, help="truth cache and results.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", nargs="+", default=None,
                   help="a recipe: name or configs/<name>.py (default: the solver's defaults); "
                        "several: each solved on the same observations, then a comparison "
                        "table of their means (ratios to the first)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="overrides of the --config recipe(s), e.g. solver.adam.iterations=5")
    p.add_argument("--views", type=int, default=None, help="cameras per clip (default 4)")
    p.add_argument("--frames-max", type=int, default=None, help="frames per clip at most")
    p.add_argument("--progress", action="store_true", help="solver progress bar")
    p.add_argument("--clean-2d", action="store_true",
                   help="diagnostic: detections are the true projections (no noise, occlusion, "
                        "drops, swaps or missing frames); the initial estimates are unchanged")
    p.add_argument("--focal-known", action="store_true",
                   help="give the solver and the exports each view's true focal length (default: "
                        "the focal a job assumes for an input without one)")
    p.add_argument("--focal-scale", type=float, default=1.0,
                   help="with --focal-known: each view's true focal times this (how the "
                        "results, and the solve's objective, depend on a wrong focal)")
    p.add_argument("--init", choices=("regressor", "fit2d", "truth"), default="regressor",
                   help="initial estimates: regressor-like (default), fitting.fit_2d of the "
                        "detections (the config's fitting section, else its defaults), or the "
                        "truth (diagnostic: where a solve from the truth ends is the objective's "
                        "own limit on these detections)")
    args = p.parse_args(argv)

    if args.set and not args.config:
        p.error("--set needs --config")
    if args.focal_scale != 1.0 and not args.focal_known:
        p.error("--focal-scale needs --focal-known")
    if not args.focal_scale > 0:
        p.error("--focal-scale must be > 0")
    names = args.config or [None]
    if len(names) != len(set(names)):
        p.error("--config: a recipe named twice")
    try:
        loaded = {n: recipes.override(recipes.get(n), args.set) if n else None for n in names}
    except ValueError as e:
        p.error(str(e))
    files = mocap.list_motions(args.motions)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        # Several configs share one truth fit (the cache) and the same seeded observations.
        workdir = args.workdir or (tmp if len(names) > 1 else None)
        summaries = {}
        for name in names:
            summaries[name or "solver defaults"] = run_one(name, loaded[name], args, files,
                                                           workdir, log)
    if len(names) == 1:
        print(json.dumps(next(iter(summaries.values())), sort_keys=False))
        return 0
    print("\nmeans over clips, same observations (focal "
          f"{'known' if args.focal_known else 'assumed'}, init {args.init}):")
    print(format_comparison(summaries))
    print(json.dumps({"configs": summaries}, sort_keys=False))
    return 0


def run_one(name: str | None, loaded: ml_collections.ConfigDict | None,
            args: argparse.Namespace, files: list[str], workdir: str | None, log) -> dict:
    """One config's benchmark run; prints its tables and returns its summary."""
    solver_cfg, ev = sections(loaded)
    fit_cfg = None
    if args.init == "fit2d":
        fit_cfg = loaded.fitting if loaded is not None and "fitting" in loaded else fitting_config()
    if args.views is not None:
        ev.views = args.views
    if args.frames_max is not None:
        ev.frames_max = args.frames_max
    if args.clean_2d:
        ev.update(dict(noise_frac=0.0, noise_slow_frac=0.0, drop_prob=0.0, self_occlusion=False,
                       occlusion_events=0.0, swap_prob=0.0, missing_prob=0.0))
    t0 = time.time()
    summary = benchmark.run_benchmark(files, ev, solver_cfg, seed=args.seed,
                                      workdir=workdir, log=log, progress=args.progress,
                                      fit_cfg=fit_cfg, export_cfg=export_section(loaded),
                                      focal_known=args.focal_known,
                                      configured_focal=configured_focal(loaded),
                                      focal_scale=args.focal_scale,
                                      truth_init=args.init == "truth",
                                      tracking_cfg=loaded.get("tracking") if loaded else None)
    print(f"config: {name or 'solver defaults (SFV paper)'}  seed {args.seed}  "
          f"{'CLEAN 2D (diagnostic)  ' if args.clean_2d else ''}"
          f"focal {'known' if args.focal_known else 'assumed'}"
          f"{f' x {args.focal_scale:g}' if args.focal_scale != 1.0 else ''}  "
          f"views {ev.views}  fps {ev.fps:g}  clip-views {summary['timing']['clip_views']}  "
          f"frames {summary['timing']['frames']}  wall {time.time() - t0:.0f} s "
          f"(solve {summary['timing']['solve_s']} s)")
    print(benchmark.format_table(summary))
    if "depth_order" in summary:
        print("left/right depth order opposite to the truth's (init -> solved): " + ", ".join(
            f"{c} {d['init']:.3f}->{d['solved']:.3f}" for c, d in
            list(summary["depth_order"]["clips"].items()) + [("all", summary["depth_order"]["all"])]))
    print("goals: " + ", ".join(f"{k}={'yes' if v else 'NO'}"
                                for k, v in summary["goals"].items()))
    print(flush=True)
    return summary


if __name__ == "__main__":
    sys.exit(main())
