"""Benchmark: the whole job (inputs -> solve -> every output) on generated demo-like videos.

``--videos N`` copies of the built-in demo sample (two people crossing, 90 frames each,
``sfv_jax.synthetic.demo_sample``; generated once into ``--sample-dir`` and hard-linked N times), or
with ``--frames F`` one person tracked for F frames (the demo's first track played forwards
and backwards, so the motion stays continuous; given as a ``tracks.npz`` entry without a
video, so the comparison video has a grey background). Runs ``pipeline.run`` in this process
on a fresh work folder and prints per-stage seconds, the peak memory (this process and its
output workers together, sampled every 0.2 s) and person-frames per second. The last line is
JSON: {"person_frames": ..., "person_frames_per_s": ..., "stages": {"inputs_s": ...,
"solve_s": ..., "outputs_s": ..., "compile_s": ..., "total_s": ...}, "peak_rss_mb": ...}.

    python launch/bench_job.py --videos 20 [--config configs/sfv_paper.py | --config paper]
        [--frames 3000] [--set solver.adam.iterations=20 ...] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import threading
import time

import numpy as np

from sfv_jax import recipes


def demo_entry(sample_dir: str) -> str:
    """The demo sample's entry folder (generated the first time)."""
    from sfv_jax.synthetic import demo_sample
    entry = os.path.join(sample_dir, "crossing")
    if not os.path.exists(os.path.join(entry, "info.json")):
        print(f"generating the demo sample in {sample_dir} (once)")
        demo_sample.generate(sample_dir, demo_sample.SampleSettings(seed=0))
    return entry


def link_tree(src: str, dst: str) -> None:
    """Copies folder ``src`` to ``dst`` with hard links (the job only reads its inputs)."""
    shutil.copytree(src, dst, copy_function=os.link)


def long_track_entry(sample_entry: str, frames: int, out: str, cfg) -> None:
    """``out``: one entry with one ``frames``-frame track (the demo's first, ping-ponged)."""
    from sfv_jax import inputs, pipeline
    from sfv_jax.inputs.discovery import discover_entries
    c = cfg.copy_and_resolve_references()
    c.inputs.dir, c.inputs.videos = os.path.dirname(sample_entry), ()
    entry = [e for e in discover_entries(c.inputs) if e.name == "crossing"][0]
    tracks, props = pipeline.read_entry(entry, pipeline.JobConfig.from_config(c))
    t = tracks[0]
    n = t.num_frames
    cycle = np.concatenate([np.arange(n), np.arange(n - 2, 0, -1)])    # 0..n-1..1, continuous
    idx = np.resize(cycle, frames)
    take = lambda x: None if x is None else np.asarray(x)[idx]  # noqa: E731
    long = t.replace(frames=np.arange(frames, dtype=np.int64), keypoints=take(t.keypoints),
                     boxes=take(t.boxes), observed=take(t.observed), pose=take(t.pose),
                     betas=take(t.betas), cam=take(t.cam), crop_scale=take(t.crop_scale),
                     crop_start=take(t.crop_start), video="long", track_id=0,
                     source="bench_job ping-pong of the demo's track 0")
    os.makedirs(out)
    inputs.save_tracks(os.path.join(out, "tracks.npz"), [long])
    with open(os.path.join(out, "info.json"), "w") as f:
        json.dump({"image_size": list(props["image_size"]), "fps": props["fps"]}, f)


class MemorySampler:
    """Peak resident memory of this process plus its descendants (Linux /proc), MB."""

    def __init__(self, every_s: float = 0.2):
        self.every, self.peak, self._stop = every_s, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    @staticmethod
    def _children(pid: int) -> list[int]:
        out = []
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out.extend(int(c) for c in f.read().split())
        except OSError:
            pass
        return out

    def sample(self) -> float:
        todo, total = [os.getpid()], 0
        while todo:
            pid = todo.pop()
            total += self._rss_kb(pid)
            todo.extend(self._children(pid))
        mb = total / 1024.0
        self.peak = max(self.peak, mb)
        return mb

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=20, help="copies of the demo sample")
    ap.add_argument("--frames", type=int, default=0,
                    help="instead: one person tracked for this many frames")
    ap.add_argument("--config", default="paper",
                    help="a recipe: name or configs/<name>.py (sfv_jax.recipes)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="config overrides, e.g. solver.adam.iterations=20")
    ap.add_argument("--workdir", default="", help="work folder (default: a fresh temporary)")
    ap.add_argument("--sample-dir", default=os.path.join(
        os.path.expanduser("~"), ".cache", "sfv_jax", "bench_job_sample"))
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()

    try:
        cfg = recipes.override(recipes.get(args.config), args.set)
    except ValueError as e:
        ap.error(str(e))
    cfg.render.progress = False
    cfg.solver.progress_every = 0 if "progress_every" not in args.set else \
        cfg.solver.progress_every
    sample = demo_entry(args.sample_dir)
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench_job_")
    inputs_dir = os.path.join(workdir, "videos")
    os.makedirs(inputs_dir, exist_ok=True)
    if args.frames > 0:
        long_track_entry(sample, args.frames, os.path.join(inputs_dir, "long"), cfg)
    else:
        for i in range(args.videos):
            link_tree(sample, os.path.join(inputs_dir, f"video_{i:04d}"))
    cfg.inputs.dir, cfg.inputs.videos = inputs_dir, ()

    from sfv_jax import pipeline
    cpu0 = time.process_time()
    with MemorySampler() as mem:
        t0 = time.time()
        summary = pipeline.run(cfg, os.path.join(workdir, "job"))
        wall = time.time() - t0
    ru_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    ru_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    rows = [r for r in summary["tracks"] if not r.get("resumed")]
    pf = int(sum(r["frames"] for r in rows))
    tm = summary["timings"]
    stages = {k: float(tm.get(k, 0.0)) for k in ("inputs_s", "solve_s", "outputs_s",
                                                  "compile_s", "total_s")}
    for k, v in tm.items():
        print(f"{k:16s} {v:9.2f} s")
    print(f"{len(rows)} tracks, {pf} person-frames in {wall:.1f} s: {pf / wall:.1f} "
          f"person-frames/s; failures {len(summary['failures'])}; peak memory "
          f"{mem.peak:.0f} MB (this process {ru_self:.0f} MB, largest worker {ru_child:.0f} MB); "
          f"CPU time of this process {time.process_time() - cpu0:.1f} s")
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({
        "person_frames": pf, "person_frames_per_s": round(pf / wall, 2), "stages": stages,
        "peak_rss_mb": round(mem.peak, 1), "main_peak_rss_mb": round(ru_self, 1),
        "worker_peak_rss_mb": round(ru_child, 1),
        "outputs_work_s": float(tm.get("outputs_work_s", 0.0)), "tracks": len(rows),
        "videos": 1 if args.frames > 0 else args.videos, "frames": args.frames or None,
        "failures": len(summary["failures"])}))


if __name__ == "__main__":
    main()
