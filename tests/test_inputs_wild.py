"""Inputs shaped like real files from the wild: untracked AlphaPose ids, identity switches
across gaps, frame numbering, counted warnings, output file modes, folder names."""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

from sfv_jax import atomic, skeletons
from sfv_jax.inputs import (Detections, read_alphapose, read_openpose_folder, reading_config,
                            track_people, tracking_config, write_alphapose,
                            write_openpose_folder)
from sfv_jax.inputs.synthetic import keypoints_in_boxes

IMAGE = (480, 640)


def _coco(boxes, seed) -> np.ndarray:
    return skeletons.convert_keypoints(keypoints_in_boxes(np.asarray(boxes, float), 0.8,
                                                          jitter_px=1.0, seed=seed),
                                       "body25", "coco17")


def _dancers(T: int = 40) -> dict:
    """Two people 250 px apart, side by side, swaying; COCO-17 keypoints per frame."""
    out = {}
    for f in range(T):
        xa = 150 + 20 * np.sin(f / 5)
        xb = 400 - 20 * np.sin(f / 5)
        out[f] = _coco([[xa, 150, xa + 60, 330], [xb, 160, xb + 70, 350]], f)
    return out


def _recorded(fn, *args, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = fn(*args, **kw)
    return out, [str(w.message) for w in rec]


# ------------------------------------------------------------------ AlphaPose ids
def test_untracked_alphapose_ids_do_not_merge_two_people(tmp_path):
    """AlphaPose without --pose_track: idx 0 for everyone. One track per dancer, not one
    track wandering between them."""
    people = _dancers()
    path = str(tmp_path / "alphapose-results.json")
    write_alphapose(path, people, ids={f: [0, 0] for f in people})
    dets = read_alphapose(path, reading_config())
    assert dets.ids is not None and {int(v) for v in np.concatenate(list(dets.ids.values()))} == {0}
    tracks, msgs = _recorded(track_people, dets, IMAGE, tracking_config())
    assert any("do not tell people apart" in m for m in msgs)
    assert len(tracks) == 2
    for t in tracks:
        x = 0.5 * (t.boxes[:, 0] + t.boxes[:, 2])
        assert np.ptp(x) < 60  # each track stays on its dancer (250 px from the other)
    # Proper PoseFlow ids (one per person) are used as given.
    write_alphapose(path, people, ids={f: [4, 9] for f in people})
    tracks = track_people(read_alphapose(path, reading_config()), IMAGE, tracking_config())
    assert len(tracks) == 2


def test_nested_idx_warns_once_per_file_with_a_count(tmp_path):
    people = _dancers(30)
    path = tmp_path / "res.json"
    write_alphapose(str(path), people, ids={f: [0, 0] for f in people})
    entries = json.loads(path.read_text())
    for e in entries[::2]:
        e["idx"] = [[0.0], [0.0]]  # as AlphaPose writes for merged poses
    path.write_text(json.dumps(entries))
    dets, msgs = _recorded(read_alphapose, str(path), reading_config())
    idx_msgs = [m for m in msgs if "'idx'" in m]
    assert len(idx_msgs) == 1 and "30 times" in idx_msgs[0] and str(path) in idx_msgs[0]
    assert dets.ids is None


# ------------------------------------------------------------------ gaps and identities
def _small_then_big(ids: bool) -> Detections:
    """A 54 px person seen in frames 0-29; a 225 px person from frame 52 (a gap of 22
    frames, within max_gap) whose box covers where the small one would be: by box overlap
    and keypoint similarity alone the tracker takes them for one person."""
    people, idmap = {}, {}
    for f in range(80):
        if f < 30:
            x = 100 + 2 * f
            boxes = [[x, 300, x + 22, 354]]
        elif f >= 52:
            x = 183 + 2 * (f - 52)
            boxes = [[x, 215, x + 95, 440]]
        else:
            boxes = []
        kp = keypoints_in_boxes(np.asarray(boxes, float).reshape(-1, 4), 0.8, jitter_px=0.5,
                                seed=f) if boxes else np.zeros((0, 25, 3))
        people[f] = kp
        idmap[f] = np.full(len(boxes), 3)
    return Detections(people=people, ids=idmap if ids else None, source="gap.json")


@pytest.mark.parametrize("ids", [False, True])
def test_gap_between_different_people_is_not_bridged(ids):
    tracks = track_people(_small_then_big(ids), IMAGE, tracking_config())
    assert len(tracks) == 2
    assert [int(t.frames[0]) for t in tracks] == [0, 52]
    assert all(t.observed.all() for t in tracks)
    # With the gates off (the old behaviour) the two become one track with 22 bridged frames.
    cfg = tracking_config()
    cfg.gap_size_ratio, cfg.gap_max_shift = 1e9, 1e9
    merged = track_people(_small_then_big(ids), IMAGE, cfg)
    assert len(merged) == 1 and int((~merged[0].observed).sum()) == 22


def test_source_id_track_split_at_long_gaps_and_sparse_tracks_dropped():
    """One id seen in frames 0-19 and 60-79 (a 40-frame gap > max_gap): two tracks. An id
    seen in 17 of 79 frames is mostly interpolation: dropped by min_track_fraction."""
    people, ids = {}, {}
    sparse = set(range(0, 79, 5)) | {78}
    for f in range(80):
        boxes, pid = [], []
        if f < 20 or f >= 60:
            boxes.append([100 + f, 100, 160 + f, 280])
            pid.append(1)
        if f in sparse:
            boxes.append([400, 120, 460, 300])
            pid.append(2)
        people[f] = keypoints_in_boxes(np.asarray(boxes, float), 0.8, jitter_px=0.5, seed=f)
        ids[f] = np.asarray(pid)
    tracks = track_people(Detections(people=people, ids=ids, source="pf.json"), IMAGE,
                          tracking_config())
    assert [(int(t.frames[0]), int(t.frames[-1])) for t in tracks] == [(0, 19), (60, 79)]
    cfg = tracking_config()
    cfg.min_track_fraction = 0.0
    cfg.min_track_frames = 5
    tracks = track_people(Detections(people=people, ids=ids, source="pf.json"), IMAGE, cfg)
    assert len(tracks) == 3 and max(int((~t.observed).sum()) for t in tracks) == 62


# ------------------------------------------------------------------ frame numbering
def test_alphapose_one_based_names_are_shifted_and_null_image_ids_skipped(tmp_path):
    people = _dancers(12)
    path = tmp_path / "res.json"
    write_alphapose(str(path), people)
    entries = json.loads(path.read_text())
    for e in entries:  # an image dump named from 1: frame_00001.png is video frame 0
        e["image_id"] = f"frame_{int(e['image_id'].split('.')[0]) + 1:05d}.png"
    entries.append(dict(entries[0], image_id=None))
    entries.append(dict(entries[1], image_id=None))
    path.write_text(json.dumps(entries))
    dets, msgs = _recorded(read_alphapose, str(path), reading_config())
    assert list(dets.people) == list(range(12))
    assert dets.frame_numbering.startswith("file names (1-based")
    np.testing.assert_allclose(dets.people[3][:, :, :2].mean(),
                               skeletons.convert_keypoints(people[3], "coco17", "body25")
                               [:, :, :2].mean(), rtol=0.1)
    skipped = [m for m in msgs if "image_id" in m]
    assert len(skipped) == 1 and "2 times" in skipped[0]
    # Numbers beyond 9 sort by value, not as strings (1, 10, 11, ..., 2).
    assert sorted(dets.people) == list(dets.people)


def test_alphapose_bare_numbers_keep_the_video_frames(tmp_path):
    """AlphaPose on a video names images 0.jpg, 1.jpg, ...; frames without people are
    absent, so a first detection at frame 5 is frame 5."""
    people = {f: kp for f, kp in _dancers(20).items() if f >= 5}
    path = str(tmp_path / "res.json")
    write_alphapose(path, people)
    dets = read_alphapose(path, reading_config())
    assert list(dets.people) == list(range(5, 20))
    assert dets.frame_numbering == "file names (0-based)"


def test_stray_json_in_openpose_folder_does_not_renumber(tmp_path):
    folder = tmp_path / "clip [1]" / "openpose"  # glob characters in the name
    people = {f: keypoints_in_boxes(np.asarray([[100.0 + f, 100, 160 + f, 280]]), 0.8, seed=f)
              for f in range(3, 15)}
    write_openpose_folder(str(folder), people, video="clip")
    (folder / "_meta.json").write_text('{"fps": 30}')
    dets, msgs = _recorded(read_openpose_folder, str(folder), reading_config())
    assert list(dets.people) == list(range(3, 15))  # OpenPose's own 0-based counter
    np.testing.assert_allclose(dets.people[7], people[7])
    assert dets.frame_numbering == "file names (0-based)" and dets.video == "clip"
    assert sum("without a frame number skipped" in m and "_meta.json" in m for m in msgs) == 1


def test_openpose_names_without_video_fall_back_to_the_folder(tmp_path):
    folder = tmp_path / "dance_01" / "openpose"
    people = {f: keypoints_in_boxes(np.asarray([[100.0, 100, 160, 280]]), 0.8, seed=f)
              for f in range(4)}
    write_openpose_folder(str(folder), people, video="x")
    for f in range(4):  # OpenPose run on an image folder named 000000000000.png, ...
        os.rename(folder / f"x_{f:012d}_keypoints.json", folder / f"{f:012d}_keypoints.json")
    dets = read_openpose_folder(str(folder), reading_config())
    assert dets.video == "dance_01" and list(dets.people) == [0, 1, 2, 3]


# ------------------------------------------------------------------ output file modes
def test_outputs_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_json(tmp_path / "a.json", {"x": 1})
        atomic.save_npz(tmp_path / "b.npz", x=np.zeros(3))
        with atomic.atomic_path(tmp_path / "c.mp4", suffix=".mp4") as tmp:
            with open(tmp, "wb") as f:
                f.write(b"data")
        for name in ("a.json", "b.npz", "c.mp4"):
            assert os.stat(tmp_path / name).st_mode & 0o777 == 0o644, name
        os.umask(0o077)
        atomic.write_json(tmp_path / "a.json", {"x": 2})
        assert os.stat(tmp_path / "a.json").st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
