"""The end-to-end job: inputs -> tracks -> one batched solve -> per-track outputs -> summary.

Stages (each a function over plain data, so tests and other jobs can call them alone; each
lives in the module that holds its idea, and this module keeps only the job):

1. ``inputs.discovery.discover_entries``: the input folder's video entries (README "Inputs").
2. ``read_entry``: one entry's tracks (readers + tracker, or tracks given as files), with
   per-frame 3D estimates attached where the entry has them (``inputs.association``).
3. ``initialize.initialize_tracks``: tracks without estimates get them from the HMR-free
   initializer (``sfv_jax.fitting``).
4. ``solver.solve``: one batched solve over every pending track of every video.
5. ``track_outputs.write_track_outputs``: result archive, BVH, DeepMimic motion, comparison
   video, plots; ``done.json`` last (``sfv_jax.resume``).
6. ``run``: the whole job for this process's share of the entries, resumable and fault
   isolated (a failing entry or track is recorded in the summary; the rest complete).
"""
from __future__ import annotations

import dataclasses
import os
import time
import traceback
from typing import Sequence

from absl import logging
import jax
import ml_collections

from sfv_jax import atomic, body, inputs, solver
from sfv_jax.body.config import model_from_config
from sfv_jax.detect.landmarks import track_world_landmarks
from sfv_jax.distributed import ProcessInfo
from sfv_jax.export import archive
from sfv_jax.initialize import initialize_tracks, track_to_clip
from sfv_jax.inputs import Track
from sfv_jax.inputs.association import associate_estimates
from sfv_jax.inputs.discovery import Entry, discover_entries, video_properties
from sfv_jax.render.frames import VideoFrames
from sfv_jax.resume import (config_fingerprint, is_done, remove_stale_temporaries,
                            track_dir)
from sfv_jax.track_outputs import write_track_outputs

__all__ = ["Entry", "discover_entries", "read_entry", "run", "merge_summaries",
           "format_summary", "video_properties", "initialize_tracks", "write_track_outputs"]


# ----------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------
def detect_entry(entry: Entry, cfg: ml_collections.ConfigDict, workdir: str) -> Entry:
    """Runs the built-in detector on an entry that has a video but no keypoints.

    The detector runs in its own environment (``launch/make_detect_env.sh``) as a subprocess
    and writes OpenPose-style JSON plus MediaPipe's landmarks to ``workdir/detections/<name>``;
    a marker written after it finishes lets a rerun skip it.
    """
    from sfv_jax.detect import external

    out = os.path.join(workdir, "detections", entry.name)
    marker = os.path.join(workdir, "detections", entry.name + ".done.json")
    if not os.path.exists(marker):
        overrides = {k: v for k, v in cfg.detect.items() if k != "progress"}
        summary = external.run_detector(entry.video, out, overrides=overrides)
        atomic.write_json(marker, summary)
    name = os.path.splitext(os.path.basename(entry.video))[0]
    return dataclasses.replace(entry, keypoints=out,
                               landmarks=os.path.join(out, f"{name}_mediapipe.npz"))


def read_entry(entry: Entry, cfg: ml_collections.ConfigDict) -> tuple[list[Track], dict]:
    """One entry's tracks with estimates where available, and its video properties."""
    size, fps, count = video_properties(entry, cfg.inputs.default_fps)
    props = {"image_size": size, "fps": fps, "frames": count, "video": entry.video}
    if entry.tracks:
        tracks = inputs.load_tracks(entry.tracks)
    else:
        if not entry.keypoints:
            raise inputs.InputError(
                f"{entry.folder or entry.video}: no keypoints (expected an openpose/ folder, an "
                f"AlphaPose .json or tracks.npz; raw videos need configs/video.py)")
        if os.path.isdir(entry.keypoints):
            dets = inputs.read_openpose_folder(entry.keypoints, cfg.reading)
        else:
            dets = inputs.read_alphapose(entry.keypoints, cfg.reading)
        tracks = inputs.track_people(dets, size, cfg.tracking, fps=fps, video=entry.name)
    ests: list[inputs.Estimates] = []
    for path in entry.estimates:
        ests.extend(inputs.read_estimates(path, cfg.reading))
    tracks = associate_estimates(tracks, ests)
    return tracks, props


# ----------------------------------------------------------------------------------------
# The job
# ----------------------------------------------------------------------------------------
def load_body_model(cfg: ml_collections.ConfigDict) -> body.BodyModel:
    """The configured body model (``model`` section) with its keypoint set."""
    return model_from_config(cfg)


def run(cfg: ml_collections.ConfigDict, workdir: str,
        process: ProcessInfo = ProcessInfo()) -> dict:
    """Runs the job for this process's share of the entries; returns the summary."""
    t_start = time.time()
    os.makedirs(workdir, exist_ok=True)
    if cfg.inputs.demo_sample:
        from sfv_jax import demo_sample
        sample_dir = os.path.join(workdir, "inputs")
        if not os.path.isdir(os.path.join(sample_dir, "crossing")):
            if process.index == 0:
                demo_sample.generate(sample_dir, demo_sample.SampleSettings(seed=cfg.seed))
        cfg = ml_collections.ConfigDict(cfg.to_dict())
        cfg.inputs.dir = sample_dir
    fingerprint = config_fingerprint(cfg)
    config_json = archive.config_to_json(cfg)
    model = load_body_model(cfg.model)
    entries = process.share(discover_entries(cfg.inputs))
    for entry in entries:
        stale = remove_stale_temporaries(os.path.join(workdir, "results", entry.name))
        if stale:
            logging.info("%s: removed %d temporary files of an interrupted run", entry.name, stale)
    timings: dict[str, float] = {}
    failures: list[dict] = []
    rows: list[dict] = []

    # 1-3: inputs, tracks, initial estimates.
    t0 = time.time()
    pending: list[tuple[Track, dict]] = []
    for entry in entries:
        try:
            if not entry.keypoints and not entry.tracks and entry.video:
                if not cfg.inputs.detect_missing:
                    raise inputs.InputError(
                        f"{entry.video}: a video without keypoints; run it with "
                        f"configs/video.py (inputs.detect_missing=True) to detect people")
                t_det = time.time()
                entry = detect_entry(entry, cfg, workdir)
                timings["detect_s"] = timings.get("detect_s", 0.0) + time.time() - t_det
            tracks, props = read_entry(entry, cfg)
            if not tracks:
                failures.append({"video": entry.name, "stage": "tracking",
                                 "error": "no person was tracked"})
                continue
            todo = []
            for t in tracks:
                t = t.replace(video=entry.name)
                done = is_done(track_dir(workdir, entry.name, t.track_id), fingerprint)
                if done is not None:
                    rows.append(dict(done, resumed=True))
                else:
                    todo.append(t)
            world = None
            if entry.landmarks and os.path.exists(entry.landmarks):
                from sfv_jax.detect import video as detect_video
                marks = detect_video.load_landmarks(entry.landmarks)
                world = [track_world_landmarks(t, marks) for t in todo]
            todo = initialize_tracks(todo, model, cfg, world)
            pending.extend((t, props) for t in todo)
        except Exception as e:  # noqa: BLE001 - one bad video must not stop the others
            logging.error("%s failed: %s", entry.name, e)
            failures.append({"video": entry.name, "stage": "inputs",
                             "error": f"{type(e).__name__}: {e}"})
    timings["inputs_s"] = time.time() - t0

    # 4: one batched solve.
    t0 = time.time()
    results: list[solver.ClipResult | None] = []
    if pending:
        clips = [track_to_clip(t, model.keypoint_format, f"{t.video}/track_{t.track_id:03d}")
                 for t, _ in pending]
        try:
            results = list(solver.solve(model, clips, cfg.solver, progress=True))
        except Exception as e:  # noqa: BLE001
            logging.error("solve failed: %s\n%s", e, traceback.format_exc())
            for t, _ in pending:
                failures.append({"video": t.video, "track": int(t.track_id), "stage": "solve",
                                 "error": f"{type(e).__name__}: {e}"})
            results = [None] * len(pending)
    timings["solve_s"] = time.time() - t0

    # 5: outputs, per track.
    t0 = time.time()
    frame_sources: dict[str, VideoFrames] = {}
    for (track, props), result in zip(pending, results):
        if result is None:
            continue
        out_dir = track_dir(workdir, track.video, track.track_id)
        try:
            if track.video not in frame_sources:
                frame_sources[track.video] = VideoFrames(props["video"],
                                                         tuple(props["image_size"]))
            row = write_track_outputs(out_dir, track, result, model, cfg,
                                      frame_sources[track.video], config_json, fingerprint)
            rows.append(row)
            if result.nonfinite:
                failures.append({"video": track.video, "track": int(track.track_id),
                                 "stage": "solve", "error": "objective turned non-finite"})
        except Exception as e:  # noqa: BLE001
            logging.error("%s track %d outputs failed: %s\n%s", track.video, track.track_id, e,
                          traceback.format_exc())
            failures.append({"video": track.video, "track": int(track.track_id),
                             "stage": "outputs", "error": f"{type(e).__name__}: {e}"})
    for src in frame_sources.values():
        src.close()
    timings["outputs_s"] = time.time() - t0
    timings["total_s"] = time.time() - t_start

    rows.sort(key=lambda r: (r["video"], r["track"]))
    return {
        "process": process.index, "processes": process.count,
        "entries": [e.name for e in entries], "tracks": rows, "failures": failures,
        "config": fingerprint, "timings": {k: round(v, 2) for k, v in timings.items()},
        "devices": [str(d) for d in jax.local_devices()],
    }


def merge_summaries(parts: Sequence[dict]) -> dict:
    """One summary from every process's summary."""
    rows = sorted((r for p in parts for r in p["tracks"]), key=lambda r: (r["video"], r["track"]))
    return {
        "processes": len(parts),
        "entries": sorted(e for p in parts for e in p["entries"]),
        "tracks": rows,
        "failures": [f for p in parts for f in p["failures"]],
        "timings": {f"process_{p['process']}": p["timings"] for p in parts},
        "ok": not any(p["failures"] for p in parts),
    }


def format_summary(summary: dict) -> str:
    """The readable table printed at the end of a job."""
    head = (f"{'video':<24} {'track':>5} {'frames':>6} {'status':<9} {'2D err px':>16} "
            f"{'2D accel px/f^2':>16} {'loss':>10}")
    lines = [head, "-" * len(head)]
    for r in summary["tracks"]:
        lines.append(
            f"{r['video'][:24]:<24} {r['track']:>5} {r['frames']:>6} "
            f"{r['status'] + ('*' if r.get('resumed') else ''):<9} "
            f"{r['err2d_init_px']:>7.2f} -> {r['err2d_px']:<6.2f} "
            f"{r['accel2d_init']:>7.2f} -> {r['accel2d']:<6.2f} {r['loss']:>10.4f}")
    if any(r.get("resumed") for r in summary["tracks"]):
        lines.append("(* finished by an earlier run, skipped)")
    for f in summary["failures"]:
        where = f"{f['video']}" + (f" track {f['track']}" if "track" in f else "")
        lines.append(f"FAILED {where} [{f['stage']}]: {f['error']}")
    lines.append(f"{len(summary['tracks'])} tracks written, {len(summary['failures'])} failures")
    return "\n".join(lines)
