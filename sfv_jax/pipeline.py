"""The end-to-end job: inputs -> tracks -> one batched solve -> per-track outputs -> summary.

Stages (each a function over plain data, so tests and other jobs can call them alone):

1. ``discover_entries``: the input folder's video entries (README "Inputs").
2. ``read_entry``: one entry's tracks (readers + tracker, or tracks given as files), with
   per-frame 3D estimates attached where the entry has them.
3. ``initialize_tracks``: tracks without estimates get them from the HMR-free initializer
   (``sfv_jax.fitting.fit_2d``).
4. ``solver.solve``: one batched solve over every pending track of every video.
5. ``write_track_outputs``: result archive, BVH, DeepMimic motion, comparison video, plots;
   all written atomically, the archive last but one and ``done.json`` last, so a track is
   finished exactly when ``done.json`` exists.
6. ``run``: the whole job for this process's share of the entries, resumable and fault
   isolated (a failing entry or track is recorded in the summary; the rest complete).
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import time
import traceback
import warnings
from typing import Any, Callable, Sequence

from absl import logging
import cv2
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from sfv_jax import atomic, body, fitting, skeletons
from sfv_jax.body.config import model_from_config
from sfv_jax.distributed import ProcessInfo
from sfv_jax.export import archive, bvh, retarget
from sfv_jax.geometry import cameras
from sfv_jax import inputs
from sfv_jax.inputs import Track
from sfv_jax import render
from sfv_jax import solver

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
ESTIMATE_EXTS = (".npz", ".h5", ".hdf5", ".pkl", ".pickle", ".joblib")
DONE_FILE = "done.json"


# ----------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Entry:
    """One video's inputs.

    name: the entry's name (output folder). folder: the entry folder ('' for a bare video).
    video: video file or ''. keypoints: OpenPose JSON folder, AlphaPose .json, or ''.
    tracks: the project's tracks .npz or ''. estimates: per-track estimate files.
    info: info.json with image_size / fps, or ''.
    """
    name: str
    folder: str = ""
    video: str = ""
    keypoints: str = ""
    tracks: str = ""
    estimates: tuple[str, ...] = ()
    info: str = ""
    landmarks: str = ""  # the detector's <name>_mediapipe.npz (3D world landmarks), or ''


def _entry_from_folder(folder: str) -> Entry:
    name = os.path.basename(os.path.normpath(folder))
    files = sorted(os.listdir(folder))
    videos = [f for f in files if f.lower().endswith(VIDEO_EXTS)]
    video = os.path.join(folder, videos[0]) if videos else ""
    keypoints = ""
    if os.path.isdir(os.path.join(folder, "openpose")):
        keypoints = os.path.join(folder, "openpose")
    else:
        ap = [f for f in files if f.lower().endswith(".json") and "alphapose" in f.lower()]
        if ap:
            keypoints = os.path.join(folder, ap[0])
    tracks = os.path.join(folder, "tracks.npz") if "tracks.npz" in files else ""
    est_dir = os.path.join(folder, "estimates")
    estimates: list[str] = []
    if os.path.isdir(est_dir):
        estimates = sorted(os.path.join(est_dir, f) for f in os.listdir(est_dir)
                           if f.lower().endswith(ESTIMATE_EXTS) and not f.startswith("."))
    info = os.path.join(folder, "info.json") if "info.json" in files else ""
    return Entry(name=name, folder=folder, video=video, keypoints=keypoints, tracks=tracks,
                 estimates=tuple(estimates), info=info)


def discover_entries(cfg: ml_collections.ConfigDict) -> list[Entry]:
    """The video entries of ``cfg.inputs`` (an explicit list, or the folder's sub-folders and
    bare video files), sorted by name so every process sees the same order."""
    paths = list(cfg.videos)
    if not paths:
        if not cfg.dir:
            raise ValueError("no inputs: set --config.inputs.dir (or inputs.videos, or "
                             "inputs.demo_sample=True)")
        if not os.path.isdir(cfg.dir):
            raise FileNotFoundError(f"{cfg.dir}: input folder does not exist")
        paths = [os.path.join(cfg.dir, f) for f in sorted(os.listdir(cfg.dir))
                 if not f.startswith(".")]
    entries = []
    for p in paths:
        if os.path.isdir(p):
            entries.append(_entry_from_folder(p))
        elif p.lower().endswith(VIDEO_EXTS):
            entries.append(Entry(name=os.path.splitext(os.path.basename(p))[0], video=p))
        elif not os.path.exists(p):
            raise FileNotFoundError(f"{p}: input entry does not exist")
    names = [e.name for e in entries]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"{cfg.dir or 'inputs.videos'}: several entries are named {sorted(dup)}")
    return sorted(entries, key=lambda e: e.name)


def video_properties(entry: Entry, default_fps: float) -> tuple[tuple[int, int], float, int]:
    """(H, W), fps and frame count of an entry, from info.json, else from its video."""
    size, fps, count = None, None, -1
    if entry.info:
        try:
            with open(entry.info) as f:
                info = json.load(f)
            size = tuple(int(v) for v in info["image_size"])
            fps = float(info.get("fps", default_fps))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise inputs.InputError(f"{entry.info}: expected JSON with image_size [H, W] and "
                                    f"fps ({e})") from None
    if entry.video:
        cap = cv2.VideoCapture(entry.video)
        if not cap.isOpened():
            raise inputs.InputError(f"{entry.video}: cannot open the video")
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        vfps = cap.get(cv2.CAP_PROP_FPS)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        if h <= 0 or w <= 0:
            raise inputs.InputError(f"{entry.video}: the video has no frames")
        size = size or (h, w)
        fps = fps or (vfps if vfps and vfps > 0 else default_fps)
    if size is None:
        raise inputs.InputError(f"{entry.folder or entry.name}: no video and no info.json; the "
                                f"image size is unknown")
    return size, float(fps or default_fps), count


def _crop_boxes(crop_scale: np.ndarray, crop_start: np.ndarray, crop_size: float) -> np.ndarray:
    """(T, 4) image-pixel boxes of HMR crops."""
    lo = crop_start / crop_scale[:, None]
    hi = (crop_start + crop_size) / crop_scale[:, None]
    return np.concatenate([lo, hi], axis=-1)


def associate_estimates(tracks: Sequence[Track], ests: Sequence[inputs.Estimates],
                        min_score: float = 0.3) -> list[Track]:
    """Attaches per-person estimates to the tracker's tracks.

    An estimate with crops is matched to the track whose box centres its crops follow most
    closely: per shared frame ``exp(-(d / r)^2)`` with ``d`` the distance between the crop's
    and the box's centres and ``r`` a quarter of the box diagonal, averaged over the track's
    frames; then an optimal one-to-one assignment. Without crops, the estimate goes to the
    track with the same frames when that is unambiguous. Unmatched tracks keep no estimates
    (the initializer fills them); unmatched estimates are reported.
    """
    from scipy.optimize import linear_sum_assignment

    if not ests or not tracks:
        return list(tracks)
    score = np.zeros((len(ests), len(tracks)))
    for i, e in enumerate(ests):
        for j, t in enumerate(tracks):
            if e.frames is None:
                score[i, j] = float(e.num_frames == t.num_frames)
                continue
            common, ei, ti = np.intersect1d(e.frames, t.frames, return_indices=True)
            if len(common) == 0:
                continue
            if e.crop_scale is None:
                score[i, j] = len(common) / max(t.num_frames, len(e.frames))
                continue
            crops = _crop_boxes(np.asarray(e.crop_scale, np.float64)[ei],
                                np.asarray(e.crop_start, np.float64)[ei], e.crop_size)
            boxes = np.asarray(t.boxes, np.float64)[ti]
            d = np.linalg.norm(0.5 * (crops[:, :2] + crops[:, 2:]) -
                               0.5 * (boxes[:, :2] + boxes[:, 2:]), axis=-1)
            r = 0.25 * np.linalg.norm(boxes[:, 2:] - boxes[:, :2], axis=-1) + 1e-6
            score[i, j] = float(np.exp(-(d / r) ** 2).sum()) / t.num_frames
    rows, cols = linear_sum_assignment(-score)
    out = list(tracks)
    for i, j in zip(rows, cols):
        if score[i, j] < min_score:
            warnings.warn(f"{ests[i].source}: matches no track well enough "
                          f"(best score {score[i, j]:.2f}); left unused")
            continue
        t = tracks[j]
        e = ests[i]
        if e.frames is not None:
            # Keep the track's frames that the estimate covers.
            covered = np.isin(t.frames, e.frames)
            if not covered.all():
                idx = np.flatnonzero(covered)
                t = t.slice(int(idx[0]), int(idx[-1]) + 1)
        out[j] = inputs.attach_estimates(t, e)
    return out


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


def track_world_landmarks(track: Track, landmarks: dict) -> np.ndarray:
    """(T, 33, 4) MediaPipe world landmarks of a track's frames (zero where none matches).

    A track frame takes the detection of that frame whose BODY_25 keypoints are the track's.
    """
    out = np.zeros((track.num_frames, 33, 4), np.float32)
    rows_by_frame: dict[int, list[int]] = {}
    for r, f in enumerate(landmarks["frame"]):
        rows_by_frame.setdefault(int(f), []).append(r)
    for i, f in enumerate(track.frames):
        best, best_d = -1, np.inf
        for r in rows_by_frame.get(int(f), []):
            d = float(np.abs(landmarks["body25"][r][:, :2] - track.keypoints[i, :, :2]).max())
            if d < best_d:
                best, best_d = r, d
        if best >= 0 and best_d < 1.0:
            out[i] = landmarks["world_landmarks"][best]
    return out


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
# Initialization and clips
# ----------------------------------------------------------------------------------------
def _fill_invalid(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Frames where ``valid`` is False take the value of the nearest valid frame."""
    if valid.all() or not valid.any():
        return values
    idx = np.flatnonzero(valid)
    t = np.arange(len(valid))
    nearest = idx[np.abs(t[:, None] - idx[None, :]).argmin(axis=1)]
    return values[nearest]


def initialize_tracks(tracks: Sequence[Track], model: body.BodyModel,
                      cfg: ml_collections.ConfigDict,
                      world_landmarks: Sequence[np.ndarray | None] | None = None) -> list[Track]:
    """Tracks without per-frame estimates get them from the HMR-free initializer, batched over
    all their frames at once: ``fitting.fit_detections`` (MediaPipe's 3D world landmarks seed
    the 2D fit) where ``world_landmarks`` (one (T, 33, 4) array or None per track) has them,
    else ``fitting.fit_2d``. Frames with too few keypoints take their nearest fitted frame."""
    todo = [i for i, t in enumerate(tracks) if not t.has_estimates]
    out = list(tracks)
    if not todo:
        return out
    model25 = body.with_keypoints(model, "body25")
    kps = np.concatenate([tracks[i].keypoints for i in todo]).astype(np.float32)
    logging.info("initializing %d tracks (%d frames) without per-frame estimates", len(todo),
                 len(kps))
    if world_landmarks is not None and any(world_landmarks[i] is not None for i in todo):
        world = np.concatenate([world_landmarks[i] if world_landmarks[i] is not None else
                                np.zeros((tracks[i].num_frames, 33, 4), np.float32)
                                for i in todo])
        fit = fitting.fit_detections(model25, kps, cfg.fitting, world_landmarks=world)
    else:
        fit = fitting.fit_2d(model25, kps, cfg.fitting)
    start = 0
    for i in todo:
        t = tracks[i]
        sl = slice(start, start + t.num_frames)
        start += t.num_frames
        valid = np.asarray(fit.valid[sl])
        cam_full = np.asarray(cameras.crop_to_full(fit.cam[sl], fit.crop_scale[sl],
                                                   fit.crop_start[sl], fit.crop_size))
        cam_full = _fill_invalid(cam_full, valid)
        crop_scale = np.asarray(fit.crop_scale[sl])
        crop_start = np.asarray(fit.crop_start[sl])
        crop_scale, crop_start = _fill_invalid(crop_scale, valid), _fill_invalid(crop_start, valid)
        cam = np.asarray(cameras.full_to_crop(jnp.asarray(cam_full), crop_scale, crop_start,
                                              fit.crop_size))
        out[i] = t.replace(pose=_fill_invalid(np.asarray(fit.pose[sl]), valid),
                           betas=_fill_invalid(np.asarray(fit.betas[sl]), valid),
                           cam=cam, crop_scale=crop_scale, crop_start=crop_start,
                           crop_size=int(fit.crop_size))
    return out


def track_to_clip(track: Track, keypoint_format: str, name: str) -> solver.Clip:
    """A tracked person with estimates -> the solver's ``Clip`` (keypoints converted)."""
    kp = skeletons.convert_keypoints(track.keypoints, "body25", keypoint_format)
    return solver.Clip(keypoints=kp.astype(np.float32), pose=track.pose, betas=track.betas,
                       cam=track.cam, crop_scale=track.crop_scale, crop_start=track.crop_start,
                       crop_size=float(track.crop_size), name=name)


# ----------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------
class VideoFrames:
    """Frame access for rendering: sequential decoding, seeking only when going back."""

    def __init__(self, path: str, image_size: tuple[int, int]):
        self.path, self.size = path, image_size
        self.cap = cv2.VideoCapture(path) if path else None
        self.next = 0
        self.blank = np.full(image_size + (3,), 64, np.uint8)

    def __call__(self, index: int) -> np.ndarray:
        if self.cap is None:
            return self.blank.copy()
        if index < self.next or index > self.next + 64:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            self.next = index
        while self.next < index:
            self.cap.grab()
            self.next += 1
        ok, frame = self.cap.read()
        self.next += 1
        if not ok:
            return self.blank.copy()
        if frame.shape[:2] != tuple(self.size):
            frame = cv2.resize(frame, (self.size[1], self.size[0]))
        return frame

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()


def _project(model: body.BodyModel, pose, betas, cam_full
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mesh vertices (T, V, 3), projected keypoints (T, K, 2) px and joints (T, 24, 3)."""
    out = body.forward(model, jnp.asarray(pose, jnp.float32), jnp.asarray(betas, jnp.float32))
    kp2 = cameras.project_full(out.keypoints, jnp.asarray(cam_full, jnp.float32))
    return np.asarray(out.vertices), np.asarray(kp2), np.asarray(out.joints)


def accel_2d(points: np.ndarray, valid: np.ndarray) -> float:
    """Mean norm of the second difference of 2D points over frames (px / frame^2)."""
    if len(points) < 3:
        return float("nan")
    acc = np.linalg.norm(points[2:] - 2 * points[1:-1] + points[:-2], axis=-1)
    ok = valid[2:] & valid[1:-1] & valid[:-2]
    return float(acc[ok].mean()) if ok.any() else float("nan")


def write_track_outputs(out_dir: str, track: Track, result: solver.ClipResult,
                        model: body.BodyModel, cfg: ml_collections.ConfigDict,
                        frames: Callable[[int], np.ndarray], config_json: str,
                        fingerprint: str = "") -> dict:
    """Writes every output of one track; returns its summary row (also saved in done.json).

    ``fingerprint`` (``config_fingerprint``) is recorded so a rerun with another config redoes
    the track instead of skipping it."""
    t0 = time.time()
    os.makedirs(out_dir, exist_ok=True)
    h, w = track.image_size
    focal = float(cfg.outputs.focal_length)
    center = jnp.asarray([w / 2.0, h / 2.0], jnp.float32)
    transl = np.asarray(cameras.perspective_from_full(jnp.asarray(result.cam_full), focal, center))
    cam_full_init = np.asarray(cameras.crop_to_full(
        jnp.asarray(track.cam, jnp.float32), jnp.asarray(track.crop_scale, jnp.float32),
        jnp.asarray(track.crop_start, jnp.float32), float(track.crop_size)))
    kp_fmt = model.keypoint_format
    kp_obs = skeletons.convert_keypoints(track.keypoints, "body25", kp_fmt)
    verts_init, kp2_init, joints_init = _project(model, track.pose, track.betas, cam_full_init)
    verts_final, kp2_final, _ = _project(model, result.pose, result.betas, result.cam_full)
    thr = float(cfg.solver.vis_threshold)
    err_before = render.keypoint_error_per_frame(kp2_init, kp_obs, thr)
    err_after = render.keypoint_error_per_frame(kp2_final, kp_obs, thr)
    valid = np.asarray(track.observed, bool)

    files = {}
    if cfg.outputs.bvh:
        files["bvh"] = os.path.join(out_dir, "motion.bvh")
        bvh.write_bvh(files["bvh"], result.pose, result.betas.mean(0), transl, model,
                      track.fps, cfg.export)
    if cfg.outputs.deepmimic:
        files["deepmimic"] = os.path.join(out_dir, "motion_deepmimic.txt")
        retarget.export_deepmimic(files["deepmimic"], result.pose, result.betas, transl, model,
                                  track.fps, cfg.export)
    if cfg.outputs.plots:
        files["loss_plot"] = render.plot_loss_curves(os.path.join(out_dir, "loss_curves.png"),
                                                     result.history)
        joint = skeletons.SMPL_JOINT_NAMES.index("right_wrist")
        rel = lambda j: j[:, joint] - j[:, 0]  # noqa: E731 - root-relative, jitter visible
        files["trajectory_plot"] = render.plot_joint_trajectory(
            os.path.join(out_dir, "trajectory_right_wrist.png"), rel(joints_init),
            rel(result.joints_3d), "right wrist (root-relative, m)", fps=track.fps)
        files["error_plot"] = render.plot_error_per_frame(
            os.path.join(out_dir, "error_2d.png"), err_before, err_after, fps=track.fps)
    if cfg.outputs.video:
        files["video"] = os.path.join(out_dir, "comparison.mp4")
        render.render_comparison_video(
            files["video"], frames, np.asarray(model.faces), verts_init, cam_full_init,
            verts_final, np.asarray(result.cam_full), track.keypoints, "body25", track.fps,
            cfg.render,
            model_keypoints_initial=np.concatenate([kp2_init, np.ones_like(kp2_init[..., :1])], -1),
            model_keypoints_final=np.concatenate([kp2_final, np.ones_like(kp2_final[..., :1])],
                                                 -1),
            frame_ids=track.frames, model_keypoint_format=kp_fmt)
    files["result"] = os.path.join(out_dir, "result.npz")
    res = archive.MotionResult(
        pose=result.pose, betas=result.betas, camera=result.cam, transl=transl.astype(np.float32),
        keypoints_2d=result.keypoints_2d, keypoints_3d=result.keypoints_3d, fps=float(track.fps),
        source=track.source or track.video, config=config_json,
        extras={"frames": track.frames, "cam_full": result.cam_full,
                "joints_3d": result.joints_3d, "keypoints_observed": kp_obs,
                "init_pose": np.asarray(track.pose), "init_betas": np.asarray(track.betas),
                "init_cam": np.asarray(track.cam), "crop_scale": np.asarray(track.crop_scale),
                "crop_start": np.asarray(track.crop_start),
                **{f"loss_{k}": v for k, v in result.history.items()}})
    archive.save_result(files["result"], res, compress=cfg.export.archive.compress)
    row = {
        "video": track.video, "track": int(track.track_id), "frames": int(track.num_frames),
        "first_frame": int(track.frames[0]), "status": "nonfinite" if result.nonfinite else "ok",
        "err2d_init_px": float(np.nanmean(err_before)), "err2d_px": float(np.nanmean(err_after)),
        "accel2d_init": accel_2d(kp2_init, valid), "accel2d": accel_2d(kp2_final, valid),
        "loss": float(result.final_loss.get("total", np.nan)),
        "outputs": {k: os.path.relpath(v, out_dir) for k, v in files.items()},
        "write_s": round(time.time() - t0, 2),
        "config": fingerprint,
    }
    atomic.write_json(os.path.join(out_dir, DONE_FILE), row)
    return row


# ----------------------------------------------------------------------------------------
# The job
# ----------------------------------------------------------------------------------------
def load_body_model(cfg: ml_collections.ConfigDict) -> body.BodyModel:
    """The configured body model (``model`` section) with its keypoint set."""
    return model_from_config(cfg)


def config_fingerprint(cfg: ml_collections.ConfigDict) -> str:
    """Hash of what decides a track's result (model, tracking, init, solver, export, render,
    outputs), so a changed config is not mistaken for finished work."""
    keys = ("model", "reading", "tracking", "fitting", "solver", "export", "render", "outputs")
    blob = json.dumps({k: cfg[k].to_dict() for k in keys if k in cfg}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def track_dir(workdir: str, video: str, track_id: int) -> str:
    return os.path.join(workdir, "results", video, f"track_{track_id:03d}")


def is_done(out_dir: str, fingerprint: str) -> dict | None:
    path = os.path.join(out_dir, DONE_FILE)
    try:
        with open(path) as f:
            row = json.load(f)
    except (OSError, ValueError):
        return None
    return row if row.get("config") == fingerprint else None


def remove_stale_temporaries(folder: str) -> int:
    """Deletes temporary files a killed run left behind (``atomic``'s ``.*.tmp*`` names)."""
    count = 0
    for path in glob.glob(os.path.join(glob.escape(folder), "**", ".*.tmp*"), recursive=True):
        try:
            os.remove(path)
            count += 1
        except OSError:
            pass
    return count


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
