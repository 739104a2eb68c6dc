"""The input folder's layout (README "Inputs"): one entry per video, and its video properties."""
from __future__ import annotations

import dataclasses
import json
import math
import os

import cv2
import ml_collections

from sfv_jax.inputs.track import InputError

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
ESTIMATE_EXTS = (".npz", ".h5", ".hdf5", ".pkl", ".pickle", ".joblib")


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
        except (OSError, ValueError, KeyError, TypeError, OverflowError) as e:
            raise InputError(f"{entry.info}: expected JSON with image_size [H, W] and "
                                    f"fps ({e})") from None
        # Refused here, not replaced: fps 0 used to become the default silently.
        if len(size) != 2 or min(size) < 1:
            raise InputError(f"{entry.info}: image_size must be [H, W] with H, W >= 1, got "
                             f"{list(size)}")
        if not 1.0 <= fps <= 1000.0:
            raise InputError(f"{entry.info}: fps {fps:g} is outside 1..1000; fix \"fps\"")
    if entry.video:
        cap = cv2.VideoCapture(entry.video)
        if not cap.isOpened():
            raise InputError(f"{entry.video}: cannot open the video")
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        vfps = cap.get(cv2.CAP_PROP_FPS)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        if h <= 0 or w <= 0:
            raise InputError(f"{entry.video}: the video has no frames")
        if size is not None and tuple(size) != (h, w):
            raise InputError(f"{entry.info}: image_size {list(size)} does not match the video "
                             f"{entry.video} ({h} x {w}); fix or remove image_size")
        size = size or (h, w)
        fps = fps or (vfps if vfps and vfps > 0 else default_fps)
    if size is None:
        raise InputError(f"{entry.folder or entry.name}: no video and no info.json; the "
                                f"image size is unknown")
    return size, float(fps or default_fps), count


# info.json's ways of saying the camera's focal length, and what each is in.
FOCAL_FIELDS = {"focal_length": "pixels", "focal_length_35mm": "millimetres (35 mm equivalent)",
                "horizontal_fov_deg": "degrees"}
# The diagonal of a 35 mm film frame (36 x 24 mm): "35 mm equivalent" focal lengths (what
# phones and cameras report, e.g. 26 mm for a phone's main camera) are relative to it.
FILM_DIAGONAL_MM = math.hypot(36.0, 24.0)


def input_focal(entry: Entry, image_size: tuple[int, int]) -> float | None:
    """The camera's focal length (px) from the entry's info.json, else None.

    info.json may give it in one of three ways (``FOCAL_FIELDS``): ``"focal_length"`` in
    pixels; ``"focal_length_35mm"``, the 35 mm equivalent focal length in millimetres that
    phones and cameras report (``f_px = f_35 * image diagonal px / 43.27``); or
    ``"horizontal_fov_deg"``, the horizontal field of view (``f_px = (W / 2) / tan(fov / 2)``).

    Args:
      entry: the input entry; image_size: (H, W) of its frames, pixels.

    InputError naming the file when a field is there but not a positive number (a field of
    view below 180 degrees), or when more than one is given.
    """
    if not entry.info:
        return None
    try:
        with open(entry.info) as f:
            info = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{entry.info}: not readable JSON ({e})") from None
    if not isinstance(info, dict):
        return None
    given = [k for k in FOCAL_FIELDS if info.get(k) is not None]
    if not given:
        return None
    if len(given) > 1:
        raise InputError(f"{entry.info}: give the camera's focal length once; found "
                         f"{', '.join(given)}")
    key = given[0]
    value = info[key]
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
            or (key == "horizontal_fov_deg" and not value < 180.0)):
        raise InputError(f"{entry.info}: \"{key}\" must be a positive number of "
                         f"{FOCAL_FIELDS[key]}" + (" below 180" if key == "horizontal_fov_deg"
                                                   else "") + f", got {value!r}")
    h, w = (float(v) for v in image_size)
    if key == "focal_length_35mm":
        return float(value) * math.hypot(h, w) / FILM_DIAGONAL_MM
    if key == "horizontal_fov_deg":
        return 0.5 * w / math.tan(math.radians(0.5 * float(value)))
    return float(value)
