"""The end-to-end job, streamed batch by batch: inputs -> tracks -> solve -> outputs -> summary.

Stages (each a function over plain data, so tests and other jobs can call them alone; each
lives in the module that holds its idea, and this module keeps only the job):

1. ``inputs.discovery.discover_entries``: the input folder's video entries (README "Inputs").
2. ``read_entry``: one entry's tracks (readers + tracker, or tracks given as files), with
   per-frame 3D estimates attached where the entry has them (``inputs.association``).
3. ``initialize.initialize_tracks``: tracks without estimates get them from the HMR-free
   initializer (``sfv_jax.fitting``).
4. ``solver.solve``: one batched solve per streaming batch (whole videos, long tracks cut
   into overlapping windows by ``sfv_jax.windows`` and merged back).
5. ``track_outputs.write_track_outputs``: result archive, BVH, DeepMimic motion, comparison
   video, plots; ``done.json`` last (``sfv_jax.resume``); run by ``output_workers`` in worker
   processes while the next batch is read and solved.
6. ``run``: the whole job for this process's share of the entries, resumable and fault
   isolated (a failing entry or track is recorded in the summary; the rest complete).
"""
from __future__ import annotations

import dataclasses
import os
import time
import warnings
from typing import Sequence

from absl import logging
import jax
import ml_collections
import numpy as np

from sfv_jax import atomic, body, compile_cache, inputs, resume, schema, solver, track_checks
from sfv_jax import windows
from sfv_jax.config_checks import check_config
from sfv_jax.inputs.estimates import frame_limit
from sfv_jax.solve_isolation import named_clip, solve_isolating
from sfv_jax.body.config import BodySettings, model_from_config
from sfv_jax.detect.config import DetectSettings
from sfv_jax.detect.landmarks import track_world_landmarks
from sfv_jax.distributed import ProcessInfo
from sfv_jax.export import archive
from sfv_jax.export.world_motion import resolve_focal
from sfv_jax.initialize import initialize_tracks, track_to_clip
from sfv_jax.inputs import Track
from sfv_jax.inputs.association import match_estimates
from sfv_jax.inputs.discovery import Entry, discover_entries, input_focal, video_properties
from sfv_jax.job_config import JobConfig
from sfv_jax.output_workers import OutputWriter
from sfv_jax.solver.config import resolve_clips_per_device
from sfv_jax.resume import config_fingerprint, remove_stale_temporaries, track_dir
from sfv_jax.track_outputs import write_track_outputs

__all__ = ["Entry", "discover_entries", "read_entry", "run", "merge_summaries",
           "format_summary", "video_properties", "initialize_tracks", "write_track_outputs"]


# ----------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------
def detect_entry(entry: Entry, settings: DetectSettings, workdir: str) -> Entry:
    """Runs the built-in detector on an entry that has a video but no keypoints.

    The detector runs in its own environment (``launch/make_detect_env.sh``) as a subprocess
    and writes OpenPose-style JSON plus MediaPipe's landmarks to ``workdir/detections/<name>``;
    a marker written after it finishes lets a rerun skip it.
    """
    from sfv_jax.detect import external

    out = os.path.join(workdir, "detections", entry.name)
    marker = os.path.join(workdir, "detections", entry.name + ".done.json")
    if not os.path.exists(marker):
        overrides = {k: v for k, v in dataclasses.asdict(settings).items() if k != "progress"}
        summary = external.run_detector(entry.video, out, overrides=overrides)
        atomic.write_json(marker, summary)
    name = os.path.splitext(os.path.basename(entry.video))[0]
    return dataclasses.replace(entry, keypoints=out,
                               landmarks=os.path.join(out, f"{name}_mediapipe.npz"))


def read_entry(entry: Entry, cfg: JobConfig,
               model: body.BodyModel | None = None) -> tuple[list[Track], dict]:
    """One entry's tracks with estimates where available, and its video properties.

    ``props["notes"]`` lists what the summary should warn about, each ``{"file", "track",
    "stage", "reason"}``: the readers' and tracker's warnings (one per file and kind, with
    counts) and every estimate left out (``inputs.association.match_estimates``; with
    ``model`` its projection is checked against the track). ``props["frame_numbering"]``
    says how the keypoint frames were numbered.
    """
    size, fps, count = video_properties(entry, cfg.inputs.default_fps)
    props = {"image_size": size, "fps": fps, "frames": count, "video": entry.video,
             "focal_length": input_focal(entry, size)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracks, ests, how = _read_tracks(entry, cfg, size, fps)
    source = entry.tracks or entry.keypoints
    notes = [{"file": source, "track": None, "stage": "reading", "reason": str(w.message)}
             for w in caught]
    tracks, problems = match_estimates(tracks, ests, cfg.reading, model, cfg.tracking.vis_thresh)
    notes += [dict(p, stage="estimates") for p in problems]
    for n in notes:
        where = "" if n["reason"].startswith(str(n["file"])) else f"{n['file']}: "
        logging.warning("%s: %s%s%s", entry.name, where,
                        "" if n["track"] is None else f"track {n['track']}: ", n["reason"])
    props.update(notes=notes, frame_numbering=how)
    return tracks, props


def _read_tracks(entry: Entry, cfg: JobConfig, size: tuple[int, int],
                 fps: float) -> tuple[list[Track], list[inputs.Estimates], str]:
    """The entry's tracks, its estimates and how its keypoint frames were numbered."""
    how = "given by tracks.npz"
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
        how = dets.frame_numbering
        track_checks.check_detections(dets, size, cfg.reading)  # before tracking
        tracks = inputs.track_people(dets, size, cfg.tracking, fps=fps, video=entry.name)
    ests: list[inputs.Estimates] = []
    # Estimate files are size-checked against what this video can cover before reading.
    limit = frame_limit(cfg.reading, -1, max((int(t.frames[-1]) for t in tracks), default=-1))
    for path in entry.estimates:
        ests.extend(inputs.read_estimates(path, cfg.reading, max_frames=limit))
    return tracks, ests, how


# ----------------------------------------------------------------------------------------
# The job
# ----------------------------------------------------------------------------------------
def load_body_model(settings: BodySettings) -> body.BodyModel:
    """The configured body model (``model`` section) with its keypoint set."""
    return model_from_config(settings)


def batch_clip_count(cfg: JobConfig, num_devices: int) -> int:
    """Clips solved per streaming batch: ``job.batch_clips``, or (0) one compiled batch of
    the solver (``clips_per_device`` x devices, else ``max_clips_per_batch``)."""
    if cfg.job.batch_clips > 0:
        return cfg.job.batch_clips
    per_device = resolve_clips_per_device(cfg.solver.clips_per_device)
    if per_device > 0:
        return per_device * num_devices
    return max(1, cfg.solver.max_clips_per_batch)


@dataclasses.dataclass
class _Pending:
    """A track waiting for its solve: its windows' clips, the video's properties."""
    track: Track
    props: dict
    windows: list
    clips: list


class _Job:
    """One run's state: the model, the fingerprint, the rows and failures so far."""

    def __init__(self, cfg: JobConfig, workdir: str, model: body.BodyModel,
                 fingerprint: str):
        self.cfg, self.workdir, self.model, self.fingerprint = cfg, workdir, model, fingerprint
        self.rows: list[dict] = []
        self.failures: list[dict] = []
        self.notes: list[dict] = []       # summary warnings: video, file, track, stage, reason
        self.inputs: dict[str, dict] = {}  # per entry: keypoints file, frame numbering, tracks
        self.timings: dict[str, float] = {"inputs_s": 0.0, "solve_s": 0.0}
        self.track_index = 0        # this process's tracks so far, for outputs.video_every

    def add_time(self, key: str, seconds: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + seconds

    # -- per entry: read, skip finished tracks, initialize, cut into windows --------------
    def read_stage(self, entry: Entry) -> list[_Pending]:
        cfg = self.cfg
        try:
            if not entry.keypoints and not entry.tracks and entry.video:
                if not cfg.inputs.detect_missing:
                    raise inputs.InputError(
                        f"{entry.video}: a video without keypoints; run it with "
                        f"configs/video.py (inputs.detect_missing=True) to detect people")
                t_det = time.time()
                entry = detect_entry(entry, cfg.detect, self.workdir)
                self.add_time("detect_s", time.time() - t_det)
            tracks, props = read_entry(entry, cfg, self.model)
            track_checks.check_video_properties(props, entry.info or entry.video or entry.name,
                                                cfg.reading)
            # done.json records these inputs: a changed file under the same name is redone.
            props["inputs_fingerprint"] = resume.inputs_fingerprint(
                resume.entry_input_paths(entry))
            source = entry.tracks or entry.keypoints
            self.notes.extend(dict(n, video=entry.name) for n in props["notes"])
            self.inputs[entry.name] = {"keypoints": source, "tracks": len(tracks),
                                       "frame_numbering": props["frame_numbering"]}
            if not tracks:
                why = "; ".join(n["reason"] for n in props["notes"] if n["stage"] == "reading")
                logging.error("%s: %s: no person was tracked", entry.name, source)
                self.failures.append({"video": entry.name, "file": source, "stage": "tracking",
                                      "error": "no person was tracked"
                                      + (f" ({why})" if why else "")})
                return []
            todo = []
            for t in tracks:
                t = t.replace(video=entry.name)
                out_dir = track_dir(self.workdir, entry.name, t.track_id)
                done, why = resume.check_done(out_dir, self.fingerprint,
                                              props["inputs_fingerprint"])
                if done is not None:
                    done.pop("output_files", None)
                    self.rows.append(dict(done, resumed=True))
                else:
                    if resume.invalidate(out_dir):  # stale: not finished until rewritten
                        logging.info("%s track %d is redone: %s", entry.name, t.track_id, why)
                    todo.append(t)
            # Every clip is checked here, inside this video's error handling, so the solve
            # never sees an invalid one; a bad track fails alone (track_checks).
            todo, bad = track_checks.check_observations(todo, entry.name, props["image_size"],
                                                        cfg.reading)
            self.failures.extend(dict(f, file=source) for f in bad)
            world = None
            if entry.landmarks and os.path.exists(entry.landmarks):
                from sfv_jax.detect import video as detect_video
                marks = detect_video.load_landmarks(entry.landmarks)
                world = [track_world_landmarks(t, marks) for t in todo]
            # A degenerate initial fit is a named failure of that track; the others go on.
            todo = initialize_tracks(todo, self.model, cfg.fitting, world,
                                     failures=self.failures)
            todo, bad = track_checks.check_clips(todo, entry.name, self.model.keypoint_format,
                                                 self.model.num_keypoints, entry.estimates)
            self.failures.extend(dict(f, file=source) for f in bad)
            out = []
            for t in todo:
                clip = track_to_clip(t, self.model.keypoint_format,
                                     f"{t.video}/track_{t.track_id:03d}",
                                     focal=resolve_focal(cfg.outputs.focal_length,
                                                         props.get("focal_length"),
                                                         t.image_size)[0])
                wins = windows.plan_windows(clip.num_frames, cfg.job.window_frames,
                                            cfg.job.window_overlap)
                out.append(_Pending(t, props, wins, windows.split_clip(clip, wins)))
            return out
        except Exception as e:  # noqa: BLE001 - one bad video must not stop the others
            where = entry.tracks or entry.keypoints or entry.folder or entry.video
            logging.error("%s failed (%s): %s", entry.name, where, e)
            self.failures.append({"video": entry.name, "file": where, "stage": "inputs",
                                  "error": f"{type(e).__name__}: {e}"})
            return []

    # -- per batch: one batched solve over the batch's clips, windows merged back ---------
    def solve_stage(self, batch: list[_Pending]) -> list[solver.ClipResult | None]:
        def solve(group: list[_Pending]) -> list[solver.ClipResult]:
            clips = [c for p in group for c in p.clips]
            flat = list(solver.solve(self.model, clips, self.cfg.solver, progress=True))
            out, i = [], 0
            for p in group:
                part, i = flat[i:i + len(p.clips)], i + len(p.clips)
                out.append(windows.merge_results(part, p.windows,
                                                 p.clips[0].name.split("@")[0]))
            return out

        def culprit(e: Exception, group: list[_Pending]) -> int | None:
            # The solver names window clips; map the index back to its track.
            k = named_clip(e, [c for p in group for c in p.clips])
            if k is None:
                return None
            ends = np.cumsum([len(p.clips) for p in group])
            return int(np.searchsorted(ends, k, side="right"))

        # A failing batch is re-solved without the failing track(s) (solve_isolation).
        results = solve_isolating(solve, batch, culprit=culprit)
        for p, r in zip(batch, results):
            if isinstance(r, Exception):
                logging.error("%s track %d: solve failed: %s", p.track.video,
                              p.track.track_id, r)
                self.failures.append({"video": p.track.video, "track": int(p.track.track_id),
                                      "file": p.track.source, "stage": "solve",
                                      "error": f"{type(r).__name__}: {r}"})
        return [None if isinstance(r, Exception) else r for r in results]

    # -- per track: outputs handed to the writers ----------------------------------------
    def output_stage(self, writer: OutputWriter, batch: list[_Pending],
                     results: list[solver.ClipResult | None]) -> None:
        every = max(1, self.cfg.outputs.video_every)
        for p, result in zip(batch, results):
            if result is None:
                continue
            video = self.cfg.outputs.video and self.track_index % every == 0
            self.track_index += 1
            writer.submit(track_dir(self.workdir, p.track.video, p.track.track_id), p.track,
                          result, p.props, video=video,
                          inputs_fingerprint=p.props.get("inputs_fingerprint", ""))
        writer.collect()


def run(cfg: JobConfig | ml_collections.ConfigDict, workdir: str,
        process: ProcessInfo = ProcessInfo()) -> dict:
    """Runs the job for this process's share of the entries; returns the summary.

    ``cfg``: the job config, typed (``main`` converts it), or the ConfigDict of
    ``job_config()`` (checked and converted here, once: ``config_checks.check_config``).

    Streaming: entries are read one at a time until a batch of ``batch_clip_count`` clips
    is pending; the batch is solved, its tracks go to the output writers (worker processes
    that write while the next batch is read and solved), and its arrays are dropped, so
    memory is bounded by the batch, not by the job. Each track's result depends only on
    the track (``solver.clips_per_device``), not on which batch it landed in.

    Summary ``timings`` (seconds): ``inputs_s`` (reading, tracking, initializing),
    ``solve_s``, ``outputs_s`` (the main process's time on outputs: all of it inline, else
    only the waits for writers that did not keep up), ``outputs_work_s`` (the writers' own
    time, summed over tracks), ``compile_s`` (JAX compilation in this process and in the
    writers, cache loads included), ``total_s``.
    """
    t_start = time.time()
    cfg = check_config(cfg)  # the whole config, before any input is read; typed from here
    os.makedirs(workdir, exist_ok=True)
    cache = compile_cache.cache_dir(cfg.job.compile_cache, workdir)
    compile_cache.enable(cache)
    clock = compile_cache.CompileClock()
    if cfg.inputs.demo_sample:
        from sfv_jax.synthetic import demo_sample
        sample_dir = os.path.join(workdir, "inputs")
        if not os.path.isdir(os.path.join(sample_dir, "crossing")):
            if process.index == 0:
                demo_sample.generate(sample_dir, demo_sample.SampleSettings(seed=cfg.seed))
        cfg = dataclasses.replace(cfg, inputs=schema.replace(cfg.inputs, dir=sample_dir))
    fingerprint = config_fingerprint(cfg)
    config_json = archive.config_to_json(cfg.to_config())
    model = load_body_model(cfg.model)
    entries = process.share(discover_entries(cfg.inputs))
    for entry in entries:
        stale = remove_stale_temporaries(os.path.join(workdir, "results", entry.name))
        if stale:
            logging.info("%s: removed %d temporary files of an interrupted run", entry.name, stale)
    job = _Job(cfg, workdir, model, fingerprint)
    size = batch_clip_count(cfg, len(jax.local_devices()))
    writer = OutputWriter(cfg, model, config_json, fingerprint, cache)
    pending: list[_Pending] = []

    def solve_some(final: bool) -> None:
        # Whole tracks (all their windows) in batch order, batches of >= size clips.
        while pending:
            count, n = 0, 0
            # A video's tracks stay together (the world mode couples them).
            while n < len(pending) and (count < size or
                                        pending[n].track.video == pending[n - 1].track.video):
                count += len(pending[n].clips)
                n += 1
            if count < size and not final:
                return
            batch = pending[:n]
            del pending[:n]
            writer.start()  # the writers start up while this batch is solved
            t0 = time.time()
            results = job.solve_stage(batch)
            job.add_time("solve_s", time.time() - t0)
            job.output_stage(writer, batch, results)

    try:
        for entry in entries:
            t0 = time.time()
            pending.extend(job.read_stage(entry))
            job.add_time("inputs_s", time.time() - t0)
            solve_some(final=False)
        solve_some(final=True)
    finally:
        writer.close()
    timings = dict(job.timings)
    timings["outputs_s"] = writer.wait_s
    timings["outputs_work_s"] = writer.work_s
    timings["compile_s"] = clock.seconds + writer.compile_s
    timings["total_s"] = time.time() - t_start
    rows = sorted(job.rows + writer.rows, key=lambda r: (r["video"], r["track"]))
    return {
        "process": process.index, "processes": process.count,
        "entries": [e.name for e in entries], "tracks": rows,
        "failures": job.failures + writer.failures,
        "warnings": job.notes, "inputs": job.inputs, "config": fingerprint, "timings": {k: round(v, 2) for k, v in timings.items()},
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
        "warnings": [w for p in parts for w in p.get("warnings", [])],
        "inputs": {k: v for p in parts for k, v in p.get("inputs", {}).items()},
        "timings": {f"process_{p['process']}": p["timings"] for p in parts},
        "ok": not any(p["failures"] for p in parts),
    }


def _num(v) -> float:
    """A summary figure; None (how JSON stores NaN, ``atomic.json_safe``) prints as nan."""
    return float("nan") if v is None else float(v)


def format_summary(summary: dict) -> str:
    """The readable table printed at the end of a job."""
    head = (f"{'video':<24} {'track':>5} {'frames':>6} {'status':<9} {'2D err px':>16} "
            f"{'2D accel px/f^2':>16} {'loss':>10}")
    lines = [head, "-" * len(head)]
    for r in summary["tracks"]:
        lines.append(
            f"{r['video'][:24]:<24} {r['track']:>5} {r['frames']:>6} "
            f"{r['status'] + ('*' if r.get('resumed') else ''):<9} "
            f"{_num(r['err2d_init_px']):>7.2f} -> {_num(r['err2d_px']):<6.2f} "
            f"{_num(r['accel2d_init']):>7.2f} -> {_num(r['accel2d']):<6.2f} "
            f"{_num(r['loss']):>10.4f}")
    if any(r.get("resumed") for r in summary["tracks"]):
        lines.append("(* finished by an earlier run, skipped)")
    for w in summary.get("warnings", []):
        where = f"{w['video']}" + (f" track {w['track']}" if w.get("track") is not None else "")
        msg = w["reason"] if w["reason"].startswith(str(w.get("file"))) else \
            f"{w.get('file')}: {w['reason']}"
        lines.append(f"WARNING {where} [{w['stage']}]: {msg}")
    for f in summary["failures"]:
        where = f"{f['video']}" + (f" track {f['track']}" if "track" in f else "")
        lines.append(f"FAILED {where} [{f['stage']}]: {f['error']}")
    lines.append(f"{len(summary['tracks'])} tracks written, {len(summary['failures'])} failures")
    return "\n".join(lines)
