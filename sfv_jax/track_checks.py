"""Per-video and per-track checks made while a video is read, so the solve never sees a bad clip.

``solver.solve`` validates its clips and raises for the first bad one, which used to fail every
pending track of every video. These checks run inside each video's error handling instead:

  - ``check_video_properties``: image size and fps plausible (a 100000 x 100000 image would
    allocate a 28 GiB blank frame; fps 0 or 1e9 breaks exports), naming info.json or the video.
  - ``check_detections`` (per video, before tracking) and ``check_observations`` (per track,
    e.g. tracks.npz): keypoint confidences at most 1 + tolerance and keypoints near the image
    (far outside means the image size is not the keypoints', or a corrupt value).
  - ``check_clips``: per track, the solver's own ``validate_clip`` on the clip the track
    becomes (camera scale > 0, finite values, shapes), after initialization.

A failing track is left out with a failure row naming the video, the track, the file and the
cause; the other tracks of the video go on.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sfv_jax import solver
from sfv_jax.initialize import track_to_clip
from sfv_jax.inputs import Detections, InputError, Track
from sfv_jax.inputs.config import ReadingSettings

FPS_RANGE = (1.0, 1000.0)


def check_video_properties(props: dict, source: str, cfg: ReadingSettings) -> None:
    """Raises InputError naming ``source`` (info.json or the video) when the image size or the
    fps is implausible. ``props``: ``{"image_size": (H, W), "fps": ...}``; ``cfg``: reading."""
    h, w = (int(v) for v in props["image_size"])
    side = ReadingSettings.from_config(cfg).max_image_side
    if not (1 <= h <= side and 1 <= w <= side):
        raise InputError(f"{source}: image size {h} x {w} is implausible (each side 1..{side} "
                         f"pixels, reading.max_image_side); fix image_size [H, W]")
    fps = float(props["fps"])
    if not (np.isfinite(fps) and FPS_RANGE[0] <= fps <= FPS_RANGE[1]):
        raise InputError(f"{source}: fps {fps:g} is outside {FPS_RANGE[0]:g}..{FPS_RANGE[1]:g}; "
                         f"fix the fps (info.json \"fps\") or the video's header")


def check_detections(dets: Detections, image_size: tuple[int, int],
                     cfg: ReadingSettings) -> None:
    """Raises InputError naming the keypoint file and frame when a detection's confidence
    exceeds 1 + tolerance or a visible keypoint lies far outside the image (a keypoint at
    x = 1e300 used to surface as "crop scales must be finite and > 0, got [0. 0. 0.]")."""
    cfg = ReadingSettings.from_config(cfg)  # a ConfigDict section is converted here
    tol, outside = cfg.confidence_tolerance, cfg.max_outside_image
    h, w = image_size
    lo, hi = -outside * np.array([w, h]), (1.0 + outside) * np.array([w, h])
    src = dets.source or "keypoints"
    for frame, kp in sorted(dets.people.items()):
        kp = np.asarray(kp, np.float64)
        if kp.size == 0:
            continue
        conf = kp[..., 2]
        if np.any(conf > 1.0 + tol):
            raise InputError(f"{src}: frame {frame}: keypoint confidence {conf.max():g} is "
                             f"implausible (scores lie in 0..1; at most 1 + {tol:g}, "
                             f"reading.confidence_tolerance)")
        far = (conf > 0) & ((kp[..., :2] < lo) | (kp[..., :2] > hi)).any(axis=-1)
        if np.any(far):
            p = kp[..., :2][far][0]
            raise InputError(f"{src}: frame {frame}: keypoint at ({p[0]:g}, {p[1]:g}) px lies "
                             f"far outside the {h} x {w} image; the image size (info.json or "
                             f"the video) does not belong to these keypoints, or the file is "
                             f"corrupt")


def _failure(video: str, track: Track, error: str) -> dict:
    return {"video": video, "track": int(track.track_id), "stage": "inputs", "error": error}


def check_observations(tracks: Sequence[Track], video: str, image_size: tuple[int, int],
                       cfg: ReadingSettings) -> tuple[list[Track], list[dict]]:
    """(tracks that pass, failure rows) for confidence and image-extent plausibility.
    ``cfg``: the reading section."""
    cfg = ReadingSettings.from_config(cfg)  # a ConfigDict section is converted here
    tol, outside = cfg.confidence_tolerance, cfg.max_outside_image
    h, w = image_size
    lo, hi = -outside * np.array([w, h]), (1.0 + outside) * np.array([w, h])
    good, failures = [], []
    for t in tracks:
        src = t.source or video
        kp = np.asarray(t.keypoints, np.float64)
        conf = kp[..., 2]
        if np.any(conf > 1.0 + tol):
            i = int(np.argmax((conf > 1.0 + tol).any(axis=1)))
            failures.append(_failure(video, t, f"{src}: track {t.track_id}: keypoint confidence "
                                     f"{conf[i].max():g} at frame {int(t.frames[i])} is "
                                     f"implausible (scores lie in 0..1; at most 1 + "
                                     f"{tol:g}, reading.confidence_tolerance)"))
            continue
        seen = conf > 0
        xy = kp[..., :2]
        far = seen & ((xy < lo) | (xy > hi)).any(axis=-1)
        if np.any(far):
            i = int(np.argmax(far.any(axis=1)))
            p = xy[i][far[i]][0]
            failures.append(_failure(video, t, f"{src}: track {t.track_id}: keypoint at "
                                     f"({p[0]:g}, {p[1]:g}) px in frame {int(t.frames[i])} lies "
                                     f"far outside the {h} x {w} image; the image size does not "
                                     f"belong to these keypoints (check info.json / the video)"))
            continue
        good.append(t)
    return good, failures


def check_clips(tracks: Sequence[Track], video: str, model_keypoint_format: str,
                num_keypoints: int, estimate_files: Sequence[str] = ()
                ) -> tuple[list[Track], list[dict]]:
    """(tracks whose clip passes ``solver.validate_clip``, failure rows for the others)."""
    good, failures = [], []
    for t in tracks:
        name = f"{video}/track_{t.track_id:03d}"
        try:
            clip = track_to_clip(t, model_keypoint_format, name)
            solver.validate_clip(clip, 0, num_keypoints)
        except (ValueError, TypeError) as e:
            where = (f" (per-frame estimates from {', '.join(estimate_files)})"
                     if estimate_files else " (initial estimates from the initializer)")
            msg = str(e).replace("clip 0 ", "", 1)
            failures.append(_failure(video, t, f"{t.source or video}: track {t.track_id}: "
                                     f"invalid initial estimate: {msg}{where}"))
            continue
        good.append(t)
    return good, failures
