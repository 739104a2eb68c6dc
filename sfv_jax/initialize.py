"""Initial estimates for tracks without per-frame 3D estimates, and tracks -> solver clips.

Tracks without estimates get them from the HMR-free initializer (``sfv_jax.fitting``), batched
over all their frames at once.
"""
from __future__ import annotations

from typing import Sequence

from absl import logging
import jax.numpy as jnp
import numpy as np

from sfv_jax import body, fitting, skeletons, solver
from sfv_jax.fitting.config import FittingSettings
from sfv_jax.geometry import cameras
from sfv_jax.inputs import Track


def _fill_invalid(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Frames where ``valid`` is False take the value of the nearest valid frame."""
    if valid.all() or not valid.any():
        return values
    idx = np.flatnonzero(valid)
    t = np.arange(len(valid))
    nearest = idx[np.abs(t[:, None] - idx[None, :]).argmin(axis=1)]
    return values[nearest]


def initialize_tracks(tracks: Sequence[Track], model: body.BodyModel,
                      settings: FittingSettings,
                      world_landmarks: Sequence[np.ndarray | None] | None = None,
                      failures: list[dict] | None = None) -> list[Track]:
    """Tracks without per-frame estimates get them from the HMR-free initializer, batched over
    all their frames at once: ``fitting.fit_detections`` (MediaPipe's 3D world landmarks seed
    the 2D fit) where ``world_landmarks`` (one (T, 33, 4) array or None per track) has them,
    else ``fitting.fit_2d``. Frames with too few keypoints take their nearest fitted frame.
    A track whose fit is degenerate (``fitting.track_failure``) is left out; with ``failures``
    given, a row naming the track and the reason is appended to it, else
    ``fitting.DegenerateFit`` is raised. ``settings``: the ``fitting`` section."""
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
        fit = fitting.fit_detections(model25, kps, settings, world_landmarks=world)
    else:
        fit = fitting.fit_2d(model25, kps, settings,
                             tracks=[tracks[i].num_frames for i in todo])
    dropped = set()
    start = 0
    for i in todo:
        t = tracks[i]
        sl = slice(start, start + t.num_frames)
        start += t.num_frames
        valid = np.asarray(fit.valid[sl])
        why = fitting.track_failure(None if fit.degenerate is None else fit.degenerate[sl],
                                    valid, fit.cam[sl], settings)
        if why is not None:
            msg = f"{t.source or t.video}: track {t.track_id}: {why}"
            if failures is None:
                raise fitting.DegenerateFit(msg)
            logging.error("%s", msg)
            failures.append({"video": t.video, "track": int(t.track_id),
                             "stage": "initialization", "error": msg})
            dropped.add(i)
            continue
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
    return [t for i, t in enumerate(out) if i not in dropped]


def track_to_clip(track: Track, keypoint_format: str, name: str,
                  focal: float = 0.0) -> solver.Clip:
    """A tracked person with estimates -> the solver's ``Clip`` (keypoints converted).

    ``focal``: the video's focal length (px; the solver's world mode projects with it, the
    principal point at the image centre); the clip's ``video`` is the track's, so the world
    mode solves the people of one video with one ground plane.
    """
    kp = skeletons.convert_keypoints(track.keypoints, "body25", keypoint_format)
    h, w = track.image_size
    return solver.Clip(keypoints=kp.astype(np.float32), pose=track.pose, betas=track.betas,
                       cam=track.cam, crop_scale=track.crop_scale, crop_start=track.crop_start,
                       crop_size=float(track.crop_size), name=name, focal=float(focal),
                       center=np.array([w / 2.0, h / 2.0]), video=str(track.video))
