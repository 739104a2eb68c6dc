"""OpenPose per-frame JSON folders -> ``Detections`` (and a writer of the same format).

OpenPose (``--write_json``) writes one file per frame, ``<video>_<12-digit frame>_keypoints.json``,
holding ``{"version": ..., "people": [{"pose_keypoints_2d": [x, y, c, ...], ...}]}``; versions
before 1.2 named the field ``pose_keypoints``. The keypoint count tells the model: 25 points
are BODY_25, 18 are COCO-18. Everything is converted to BODY_25 (``skeletons``).
"""
from __future__ import annotations

import glob
import json
import math
import os
import re
import warnings
from typing import Mapping

import ml_collections
import numpy as np

from sfv_jax import atomic, skeletons
from sfv_jax.inputs.track import CANONICAL_FORMAT, Detections, InputError

_FORMAT_BY_COUNT = {25: "body25", 18: "coco18"}
_NAME_RE = re.compile(r"^(?P<video>.*?)_?(?P<frame>\d+)_keypoints\.json$")


def clean_keypoints(kp: np.ndarray, where: str, cfg: ml_collections.ConfigDict) -> np.ndarray:
    """Applies the NaN and confidence policies of ``reading_config`` to (K, 3) keypoints."""
    bad = ~np.isfinite(kp).all(axis=-1)
    if bad.any():
        if cfg.nan_keypoints == "error":
            raise InputError(f"{where}: keypoints {np.nonzero(bad)[0].tolist()} are NaN/inf")
        if cfg.nan_keypoints != "missing":
            raise ValueError(f"reading config: nan_keypoints must be 'missing' or 'error', "
                             f"got {cfg.nan_keypoints!r}")
        warnings.warn(f"{where}: keypoints {np.nonzero(bad)[0].tolist()} are NaN/inf; "
                      f"treated as missing")
        kp = np.where(bad[:, None], 0.0, kp)
    if np.any(kp[:, 2] < 0):
        raise InputError(f"{where}: negative keypoint confidence")
    low = kp[:, 2] < cfg.min_confidence
    if cfg.min_confidence > 0 and low.any():
        kp = np.where(low[:, None], 0.0, kp)
    return kp


def frame_index_from_name(name: str) -> tuple[str, int] | None:
    """(video name, frame index) of an OpenPose file name, or None if it has no number."""
    m = _NAME_RE.match(os.path.basename(name))
    if not m:
        return None
    return m.group("video"), int(m.group("frame"))


def _bad(path: str, msg: str, cfg: ml_collections.ConfigDict) -> None:
    if cfg.bad_frame == "error":
        raise InputError(f"{path}: {msg}")
    if cfg.bad_frame != "skip":
        raise ValueError(f"reading config: bad_frame must be 'skip' or 'error', got {cfg.bad_frame!r}")
    warnings.warn(f"{path}: {msg}; frame skipped")


def read_openpose_frame(path: str, cfg: ml_collections.ConfigDict) -> tuple[np.ndarray, str] | None:
    """One OpenPose JSON file -> ((P, 25, 3) BODY_25 keypoints, source format).

    Returns None for a bad file when ``cfg.bad_frame == "skip"`` (after a warning).
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e})") from e
    if not raw.strip():
        _bad(path, "empty file (no JSON)", cfg)
        return None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        _bad(path, f"malformed JSON ({e})", cfg)
        return None
    if not isinstance(data, Mapping) or not isinstance(data.get("people"), list):
        _bad(path, "no 'people' list (not an OpenPose keypoint file)", cfg)
        return None
    people, fmt = [], None
    for p, person in enumerate(data["people"]):
        if not isinstance(person, Mapping):
            _bad(path, f"person {p} is not an object", cfg)
            return None
        flat = person.get("pose_keypoints_2d", person.get("pose_keypoints"))
        if flat is None:
            _bad(path, f"person {p} has neither 'pose_keypoints_2d' nor 'pose_keypoints'", cfg)
            return None
        try:
            arr = np.asarray([math.nan if v is None else v for v in flat], dtype=np.float64)
        except (TypeError, ValueError):
            _bad(path, f"person {p}: keypoints are not numbers", cfg)
            return None
        if arr.size == 0:  # OpenPose writes [] for people without this part
            continue
        n = arr.size // 3
        if arr.size % 3 or n not in _FORMAT_BY_COUNT:
            _bad(path, f"person {p}: {arr.size} keypoint numbers; expected 75 (BODY_25) or "
                       f"54 (COCO-18)", cfg)
            return None
        this = _FORMAT_BY_COUNT[n]
        if fmt is not None and this != fmt:
            _bad(path, f"person {p}: {this} keypoints after {fmt} ones in the same frame", cfg)
            return None
        fmt = this
        kp = clean_keypoints(arr.reshape(n, 3), f"{path} person {p}", cfg)
        people.append(kp)
    fmt = fmt or CANONICAL_FORMAT
    if not people:
        return np.zeros((0, skeletons.num_keypoints(CANONICAL_FORMAT), 3)), fmt
    kp = np.stack(people)
    if fmt != CANONICAL_FORMAT:
        kp = skeletons.convert_keypoints(kp, fmt, CANONICAL_FORMAT)
    return kp, fmt


def read_openpose_folder(folder: str, cfg: ml_collections.ConfigDict) -> Detections:
    """Reads a folder of OpenPose per-frame JSON files.

    Frame indices come from the file names (``<video>_000000000012_keypoints.json``); if any
    name carries no number, files are numbered in sorted order (with a warning).

    Args:
      folder: the ``--write_json`` folder.
      cfg: ``config.reading_config()``.

    Returns:
      ``Detections`` with (P, 25, 3) BODY_25 keypoints per frame read (P may be 0).
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: OpenPose JSON folder does not exist")
    paths = sorted(glob.glob(os.path.join(folder, "*.json")))
    if not paths:
        raise InputError(f"{folder}: no .json files (expected OpenPose --write_json output)")
    parsed = [frame_index_from_name(p) for p in paths]
    if any(x is None for x in parsed):
        warnings.warn(f"{folder}: some file names carry no frame number (e.g. "
                      f"{os.path.basename(paths[[x is None for x in parsed].index(True)])}); "
                      f"frames are numbered in sorted file order")
        parsed = [(os.path.basename(folder), i) for i in range(len(paths))]
    order = np.argsort([f for _, f in parsed], kind="stable")
    people: dict[int, np.ndarray] = {}
    formats = set()
    for i in order:
        path, (_, frame) = paths[i], parsed[i]
        if frame in people:
            raise InputError(f"{path}: frame {frame} appears in two files")
        got = read_openpose_frame(path, cfg)
        if got is None:
            continue
        people[frame] = got[0]
        if got[0].shape[0]:
            formats.add(got[1])
    if not people:
        raise InputError(f"{folder}: none of the {len(paths)} JSON files could be read")
    if len(formats) > 1:
        warnings.warn(f"{folder}: mixed keypoint formats {sorted(formats)}; all converted to BODY_25")
    videos = {v for v, _ in parsed}
    video = videos.pop() if len(videos) == 1 else os.path.basename(os.path.normpath(folder))
    return Detections(people=people, source=folder, video=video,
                      source_format=formats.pop() if len(formats) == 1 else CANONICAL_FORMAT)


def write_openpose_frame(path: str, keypoints: np.ndarray, keypoint_format: str = "body25",
                         legacy: bool = False) -> None:
    """Writes one OpenPose JSON file (atomically).

    Args:
      path: target file.
      keypoints: (P, K, 3) in ``keypoint_format`` ("body25" or "coco18").
      legacy: use the pre-1.2 field name ``pose_keypoints``.
    """
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, skeletons.num_keypoints(keypoint_format), 3)
    field = "pose_keypoints" if legacy else "pose_keypoints_2d"
    people = [{"person_id": [-1], field: [float(v) for v in k.reshape(-1)],
               "face_keypoints_2d": [], "hand_left_keypoints_2d": [],
               "hand_right_keypoints_2d": []} for k in kp]
    atomic.write_json(path, {"version": 1.0 if legacy else 1.3, "people": people}, indent=None)


def write_openpose_folder(folder: str, people: Mapping[int, np.ndarray], video: str,
                          keypoint_format: str = "body25", legacy: bool = False) -> list[str]:
    """Writes {frame: (P, K, 3)} as ``<video>_<frame:012d>_keypoints.json`` files."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for f, kp in sorted(people.items()):
        p = os.path.join(folder, f"{video}_{int(f):012d}_keypoints.json")
        write_openpose_frame(p, kp, keypoint_format, legacy)
        paths.append(p)
    return paths
