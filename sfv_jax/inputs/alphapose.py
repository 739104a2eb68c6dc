"""AlphaPose / PoseFlow result JSON -> ``Detections`` (and a writer of the same formats).

Two layouts are read:
  - AlphaPose ``alphapose-results.json``: a list of ``{"image_id": "12.jpg", "category_id": 1,
    "keypoints": [x, y, c, ...], "score": s, "box": [x, y, w, h], "idx": id}``; ``idx`` (an
    int or a one-element list) is present when tracking (PoseFlow / ``--pose_track``) ran.
  - PoseFlow's tracked output: ``{"12.jpg": [{"keypoints": [...], "scores": s, "idx": id}]}``.
Keypoints: 17 per person (COCO-17), or 26 / 136 (Halpe; its first 17 are COCO-17 and its
neck, mid-hip, toes and heels are kept too). The frame index is the last number in the
image name when the names form a consistent index, else the position in natural name
order (``openpose.number_frames``).
"""
from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Mapping

import numpy as np

from sfv_jax import atomic, skeletons
from sfv_jax.inputs.config import ReadingSettings
from sfv_jax.inputs.notes import Tally
from sfv_jax.inputs.openpose import clean_keypoints, number_frames
from sfv_jax.inputs.track import CANONICAL_FORMAT, Detections, InputError, video_name_of

# Halpe-26 points beyond COCO-17 that BODY_25 has (index in Halpe -> BODY_25 name).
_HALPE_EXTRA = {18: "neck", 19: "mid_hip", 20: "left_big_toe", 21: "right_big_toe",
                22: "left_small_toe", 23: "right_small_toe", 24: "left_heel", 25: "right_heel"}
_DIGITS = re.compile(r"(\d+)")


def _frame_number(image_id: Any) -> int | None:
    """The last number in an image name (or an int id); None without one or beyond int64."""
    if isinstance(image_id, (int, np.integer)):
        n = int(image_id)
    else:
        nums = _DIGITS.findall(os.path.splitext(os.path.basename(str(image_id)))[0])
        if not nums:
            return None
        n = int(nums[-1])
    return n if abs(n) < 2 ** 62 else None


def _to_body25(kp: np.ndarray) -> np.ndarray:
    """(P, 17|26|136, 3) AlphaPose keypoints -> (P, 25, 3) BODY_25."""
    out = skeletons.convert_keypoints(kp[:, :17], "coco17", CANONICAL_FORMAT)
    if kp.shape[1] >= 26:
        names = skeletons.keypoint_names(CANONICAL_FORMAT)
        for i, name in _HALPE_EXTRA.items():
            out[:, names.index(name)] = kp[:, i]
    return out


def _track_id(value: Any, where: str, tally: Tally) -> int | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            # AlphaPose without --pose_track writes [[0.0], [0.0]] for merged poses.
            tally.add("entries whose 'idx' is not a single id", f"{where}: {value!r}",
                      "ids ignored")
            return None
        value = value[0]
    try:
        f = float(value)
    except (TypeError, ValueError):
        tally.add("entries whose 'idx' is not a number", f"{where}: {value!r}", "ids ignored")
        return None
    if not math.isfinite(f) or abs(f) > 2 ** 62:
        tally.add("entries whose 'idx' is not a usable id", f"{where}: {value!r}", "ids ignored")
        return None
    return int(f)


def read_alphapose(path: str, cfg: ReadingSettings) -> Detections:
    """Reads an AlphaPose results JSON (list layout) or a PoseFlow JSON (dict layout).

    Frames are numbered from the image names by ``openpose.number_frames`` (the numbers when
    they are a consistent 0-based index or bare numbers, a 1-based dump shifted by one, else
    the position in natural name order). Records without a usable image id (``null``, or no
    number among numbered names) are skipped with one counted warning. Every problem that
    repeats over records gives one warning with its count.

    Args:
      path: the JSON file.
      cfg: ``ReadingSettings`` (a ``reading`` ConfigDict section is converted).

    Returns:
      ``Detections`` with BODY_25 keypoints per frame, and ``ids`` when every person of every
      frame has a tracking ``idx`` (whether they carry identity is the tracker's call).
    """
    cfg = ReadingSettings.from_config(cfg)  # a ConfigDict section is converted here
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: AlphaPose result file does not exist")
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: malformed JSON ({e})") from e
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply") from None
    if isinstance(data, list):
        entries = data
    elif isinstance(data, Mapping):
        entries = []
        for image_id, people in data.items():
            if not isinstance(people, list):
                raise InputError(f"{path}: image {image_id!r}: expected a list of people")
            entries += [dict(p, image_id=image_id) if isinstance(p, Mapping) else p for p in people]
    else:
        raise InputError(f"{path}: expected a list (AlphaPose) or an object (PoseFlow), "
                         f"got {type(data).__name__}")

    tally = Tally(path)
    by_image: dict[str, list[tuple[np.ndarray, int | None]]] = {}
    numbers: dict[str, int | None] = {}
    all_ids = True
    for n, e in enumerate(entries):
        where = f"entry {n}"
        if not isinstance(e, Mapping) or "keypoints" not in e or "image_id" not in e:
            raise InputError(f"{path} {where}: needs 'image_id' and 'keypoints'")
        image_id = e["image_id"]
        if image_id is None or isinstance(image_id, (bool, float, list, dict)):
            tally.add("records without a usable image_id skipped", f"{where}: {image_id!r}",
                      "the other frames keep their numbers")
            continue
        where = f"image {image_id!r} entry {n}"
        if e.get("category_id", 1) != 1:
            continue  # not a person
        try:
            flat = np.asarray([math.nan if v is None else v for v in e["keypoints"]], dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise InputError(f"{path} {where}: keypoints are not numbers") from err
        if flat.ndim != 1 or flat.size % 3 or flat.size // 3 not in (17, 26, 136):
            raise InputError(f"{path} {where}: {flat.size} keypoint numbers; expected 51 "
                             f"(COCO-17), 78 (Halpe-26) or 408 (Halpe-136)")
        kp = clean_keypoints(flat.reshape(-1, 3), where, cfg, tally)
        tid = _track_id(e.get("idx"), where, tally)
        all_ids &= tid is not None
        key = str(image_id)
        by_image.setdefault(key, []).append((kp, tid))
        numbers[key] = _frame_number(image_id)
    if not by_image:
        tally.emit()
        raise InputError(f"{path}: no person detections")

    names = list(by_image)
    numbered, how = number_frames(names, [numbers[n] for n in names], tally, what="image")
    tally.emit()
    people, ids = {}, {}
    counts = set()
    for name, frame in numbered:
        sizes = {kp.shape[0] for kp, _ in by_image[name]}
        if len(sizes) > 1:
            raise InputError(f"{path} image {name!r}: people with different keypoint counts {sorted(sizes)}")
        counts |= sizes
        kp = np.stack([k for k, _ in by_image[name]])
        people[frame] = _to_body25(kp)
        if all_ids:
            ids[frame] = np.asarray([t for _, t in by_image[name]], dtype=np.int64)
    fmt = "coco17" if counts == {17} else "halpe"
    return Detections(people=people, ids=ids if all_ids else None, source=path,
                      video=video_name_of(path), source_format=fmt, frame_numbering=how)


def write_alphapose(path: str, people: Mapping[int, np.ndarray], ids: Mapping[int, Any] | None = None,
                    layout: str = "alphapose", image_ext: str = ".jpg") -> None:
    """Writes {frame: (P, 17, 3) COCO-17 keypoints} as AlphaPose (list) or PoseFlow (dict) JSON.

    ``ids`` ({frame: (P,) ints}) adds ``idx`` fields. Image names are ``<frame><image_ext>``.
    """
    entries: list[dict] = []
    pf: dict[str, list[dict]] = {}
    for f, kp in sorted(people.items()):
        kp = np.asarray(kp, dtype=np.float64).reshape(-1, 17, 3)
        for p, k in enumerate(kp):
            d: dict[str, Any] = {"keypoints": [float(v) for v in k.reshape(-1)]}
            vis = k[:, 2] > 0
            if ids is not None:
                d["idx"] = int(np.asarray(ids[f]).reshape(-1)[p])
            if layout == "alphapose":
                lo = k[vis, :2].min(0) if vis.any() else np.zeros(2)
                hi = k[vis, :2].max(0) if vis.any() else np.zeros(2)
                d.update(image_id=f"{f}{image_ext}", category_id=1,
                         score=float(k[:, 2].mean() * 3), box=[*map(float, lo), *map(float, hi - lo)])
                entries.append(d)
            elif layout == "poseflow":
                d["scores"] = float(k[:, 2].mean())
                pf.setdefault(f"{f}{image_ext}", []).append(d)
            else:
                raise ValueError(f"layout must be 'alphapose' or 'poseflow', got {layout!r}")
    atomic.write_json(path, entries if layout == "alphapose" else pf, indent=None)
