"""OpenPose per-frame JSON folders -> ``Detections`` (and a writer of the same format).

OpenPose (``--write_json``) writes one file per frame, ``<video>_<12-digit frame>_keypoints.json``,
holding ``{"version": ..., "people": [{"pose_keypoints_2d": [x, y, c, ...], ...}]}``; versions
before 1.2 named the field ``pose_keypoints``. The keypoint count tells the model: 25 points
are BODY_25, 18 are COCO-18. Everything is converted to BODY_25 (``skeletons``).
"""
from __future__ import annotations

import json
import math
import os
import re
import warnings
from typing import Mapping, Sequence

import numpy as np

from sfv_jax import atomic, skeletons
from sfv_jax.inputs.config import ReadingSettings
from sfv_jax.inputs.notes import Tally
from sfv_jax.inputs.track import CANONICAL_FORMAT, Detections, InputError

_FORMAT_BY_COUNT = {25: "body25", 18: "coco18"}
_NAME_RE = re.compile(r"^(?P<video>.*?)_?(?P<frame>\d+)_keypoints\.json$")
_SPLIT_DIGITS = re.compile(r"(\d+)")
_OPENPOSE_INDEX = re.compile(r"(^|_)\d{12}_keypoints\.json$")  # OpenPose's own frame counter


def clean_keypoints(kp: np.ndarray, where: str, cfg: ReadingSettings,
                    tally: Tally | None = None) -> np.ndarray:
    """Applies the NaN and confidence policies of the ``reading`` settings to (K, 3) keypoints.

    NaN points are counted in ``tally`` (one warning per file) when given, else warned here.
    """
    cfg = ReadingSettings.from_config(cfg)  # a ConfigDict section is converted here
    bad = ~np.isfinite(kp).all(axis=-1)
    if bad.any():
        if cfg.nan_keypoints == "error":
            raise InputError(f"{where}: keypoints {np.nonzero(bad)[0].tolist()} are NaN/inf")
        if tally is not None:
            tally.add("people with NaN/inf keypoints", f"{where}: keypoints "
                      f"{np.nonzero(bad)[0].tolist()} are NaN/inf", "treated as missing")
        else:
            warnings.warn(f"{where}: keypoints {np.nonzero(bad)[0].tolist()} are NaN/inf; "
                          f"treated as missing")
        kp = np.where(bad[:, None], 0.0, kp)
    if np.any(kp[:, 2] < 0):
        raise InputError(f"{where}: negative keypoint confidence")
    low = kp[:, 2] < cfg.min_confidence
    if cfg.min_confidence > 0 and low.any():
        kp = np.where(low[:, None], 0.0, kp)
    return kp


def natural_key(name: str) -> list:
    """Sort key that orders digit runs by value ("2.jpg" before "10.jpg")."""
    return [int(t) if i % 2 else t for i, t in enumerate(_SPLIT_DIGITS.split(name))]


def number_frames(names: Sequence[str], numbers: Sequence[int | None], tally: Tally,
                  what: str = "file", video_index: bool = False
                  ) -> tuple[list[tuple[str, int]], str]:
    """Frame indices for per-frame names (files or AlphaPose image ids).

    The numbers in the names are used when they are a consistent index: they increase in
    name order and start at 0 (or the names are bare numbers, as AlphaPose writes for a
    video, whose first frames may hold nobody); a consistent 1-based index (an image dump
    ``frame_00001.png``) is shifted to 0-based. Otherwise frames are numbered by their
    position in natural name order. Names without a number among numbered ones are skipped
    (counted in ``tally``), never used to renumber the rest.

    Args:
      names: (N,) distinct names; numbers: (N,) the frame number each carries, or None.
      tally: collects the skipped names. what: "file" / "image", for messages.
      video_index: the names are known to carry the video's 0-based frame index (OpenPose's
        12-digit ``<video>_000000000012_keypoints.json``), wherever they start.

    Returns:
      [(name, frame index)] in frame order, and how the frames were numbered.
    """
    have = [n is not None for n in numbers]
    if any(have) and not all(have):
        for name, ok in zip(names, have):
            if not ok:
                tally.add(f"{what} without a frame number skipped", repr(name),
                          "the other frames keep the numbers in their names")
        pairs = [(a, b) for a, b in zip(names, numbers) if b is not None]
    else:
        pairs = list(zip(names, numbers))
    pairs.sort(key=lambda p: natural_key(p[0]))
    if not pairs:
        return [], "none"
    if not any(have):
        tally.add("names carry no frame numbers", repr(pairs[0][0]),
                  "frames are numbered by sorted position")
        return [(a, i) for i, (a, _) in enumerate(pairs)], "sorted position"
    nums = np.asarray([b for _, b in pairs], dtype=np.int64)
    increasing = bool(np.all(np.diff(nums) > 0))
    bare = all(re.fullmatch(r"\d+", os.path.splitext(os.path.basename(a))[0]) for a, _ in pairs)
    if increasing and (nums[0] == 0 or bare or video_index):
        return [(a, int(b)) for a, b in pairs], "file names (0-based)"
    if increasing and nums[0] == 1:
        return [(a, int(b) - 1) for a, b in pairs], "file names (1-based, shifted to 0-based)"
    why = ("frame numbers repeat or do not increase in name order" if not increasing else
           f"frame numbers start at {int(nums[0])}, neither 0 nor 1")
    tally.add(why, f"{pairs[0][0]!r} has {int(nums[0])}", "frames are numbered by sorted position")
    return [(a, i) for i, (a, _) in enumerate(pairs)], "sorted position"


def frame_index_from_name(name: str) -> tuple[str, int] | None:
    """(video name, frame index) of an OpenPose file name, or None if it has no number."""
    m = _NAME_RE.match(os.path.basename(name))
    if not m:
        return None
    return m.group("video"), int(m.group("frame"))


def _bad(path: str, msg: str, cfg: ReadingSettings, tally: Tally | None) -> None:
    if cfg.bad_frame == "error":
        raise InputError(f"{path}: {msg}")
    if tally is None:
        warnings.warn(f"{path}: {msg}; frame skipped")
    else:
        tally.add("unreadable frame files skipped", f"{os.path.basename(path)}: {msg}",
                  "the tracker bridges them like gaps")


def read_openpose_frame(path: str, cfg: ReadingSettings,
                        tally: Tally | None = None) -> tuple[np.ndarray, str] | None:
    """One OpenPose JSON file -> ((P, 25, 3) BODY_25 keypoints, source format).

    Returns None for a bad file when ``cfg.bad_frame == "skip"`` (after a warning, or counted
    in ``tally`` when given).
    """
    cfg = ReadingSettings.from_config(cfg)  # a ConfigDict section is converted here
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e})") from e
    if not raw.strip():
        _bad(path, "empty file (no JSON)", cfg, tally)
        return None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        _bad(path, f"malformed JSON ({e})", cfg, tally)
        return None
    if not isinstance(data, Mapping) or not isinstance(data.get("people"), list):
        _bad(path, "no 'people' list (not an OpenPose keypoint file)", cfg, tally)
        return None
    people, fmt = [], None
    for p, person in enumerate(data["people"]):
        if not isinstance(person, Mapping):
            _bad(path, f"person {p} is not an object", cfg, tally)
            return None
        flat = person.get("pose_keypoints_2d", person.get("pose_keypoints"))
        if flat is None:
            _bad(path, f"person {p} has neither 'pose_keypoints_2d' nor 'pose_keypoints'", cfg,
                 tally)
            return None
        try:
            arr = np.asarray([math.nan if v is None else v for v in flat], dtype=np.float64)
        except (TypeError, ValueError):
            _bad(path, f"person {p}: keypoints are not numbers", cfg, tally)
            return None
        if arr.size == 0:  # OpenPose writes [] for people without this part
            continue
        n = arr.size // 3
        if arr.ndim != 1 or arr.size % 3 or n not in _FORMAT_BY_COUNT:
            _bad(path, f"person {p}: {arr.size} keypoint numbers; expected 75 (BODY_25) or "
                       f"54 (COCO-18)", cfg, tally)
            return None
        this = _FORMAT_BY_COUNT[n]
        if fmt is not None and this != fmt:
            _bad(path, f"person {p}: {this} keypoints after {fmt} ones in the same frame", cfg,
                 tally)
            return None
        fmt = this
        name = os.path.basename(path) if tally is not None else path  # tally names the folder
        kp = clean_keypoints(arr.reshape(n, 3), f"{name} person {p}", cfg, tally)
        people.append(kp)
    fmt = fmt or CANONICAL_FORMAT
    if not people:
        return np.zeros((0, skeletons.num_keypoints(CANONICAL_FORMAT), 3)), fmt
    kp = np.stack(people)
    if fmt != CANONICAL_FORMAT:
        kp = skeletons.convert_keypoints(kp, fmt, CANONICAL_FORMAT)
    return kp, fmt


def _video_name(folder: str, names: set[str]) -> str:
    """The video name the files carry, else the folder's (its parent's for ``openpose/``)."""
    if len(names) == 1 and next(iter(names)):
        return names.pop()
    folder = os.path.normpath(os.path.abspath(folder))
    base = os.path.basename(folder)
    if base.lower() in ("openpose", "json", "keypoints", "output", "out"):
        base = os.path.basename(os.path.dirname(folder)) or base
    return base


def read_openpose_folder(folder: str, cfg: ReadingSettings) -> Detections:
    """Reads a folder of OpenPose per-frame JSON files.

    Frame indices come from the file names (``<video>_000000000012_keypoints.json``) as
    ``number_frames`` decides: the numbers when they are a consistent 0-based (or 1-based)
    index, else the sorted position. A ``.json`` without a frame number among numbered files
    (a stray ``_meta.json``) is skipped with one counted warning. Problems repeated over
    many files give one warning each, with the count.

    Args:
      folder: the ``--write_json`` folder (any characters in its name).
      cfg: ``ReadingSettings`` (a ``reading`` ConfigDict section is converted).

    Returns:
      ``Detections`` with (P, 25, 3) BODY_25 keypoints per frame read (P may be 0); its
      ``frame_numbering`` says how the frames were numbered.
    """
    cfg = ReadingSettings.from_config(cfg)  # a ConfigDict section is converted here
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: OpenPose JSON folder does not exist")
    # listdir, not glob: the folder's name may hold glob characters ("clip [1]").
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(".json")
                   and not f.startswith(".") and os.path.isfile(os.path.join(folder, f)))
    if not names:
        raise InputError(f"{folder}: no .json files (expected OpenPose --write_json output)")
    tally = Tally(folder)
    parsed = {n: frame_index_from_name(n) for n in names}
    numbered, how = number_frames(
        names, [None if parsed[n] is None else parsed[n][1] for n in names], tally,
        video_index=all(_OPENPOSE_INDEX.search(n) for n, p in parsed.items() if p is not None))
    people: dict[int, np.ndarray] = {}
    formats = set()
    for name, frame in numbered:
        path = os.path.join(folder, name)
        got = read_openpose_frame(path, cfg, tally)
        if got is None:
            continue
        people[frame] = got[0]
        if got[0].shape[0]:
            formats.add(got[1])
    tally.emit()
    if not people:
        raise InputError(f"{folder}: none of the {len(names)} JSON files could be read")
    if len(formats) > 1:
        warnings.warn(f"{folder}: mixed keypoint formats {sorted(formats)}; all converted to BODY_25")
    video = _video_name(folder, {parsed[n][0] for n, _ in numbered if parsed[n] is not None})
    return Detections(people=people, source=folder, video=video, frame_numbering=how,
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
