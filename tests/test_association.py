"""Estimates matched to tracks by what they cover (sfv_jax.inputs.association).

Scene: two people of one small body model cross in front of the camera over the same 40
frames, so the number of frames says nothing about who is who. A has the left arm raised,
B a bent knee. Their keypoints are the model's own projection, so a correct estimate has
(almost) zero initial 2D error and a wrong one a large error.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sfv_jax import body, skeletons
from sfv_jax.geometry import cameras
from sfv_jax.inputs import Estimates, reading_config, track_people, tracking_config
from sfv_jax.inputs.association import associate_estimates, match_estimates
from sfv_jax.synthetic import small_body

IMAGE = (480, 640)
T = 40


@pytest.fixture(scope="module")
def model():
    return small_body("body25")


def _pose(person: int) -> np.ndarray:
    pose = np.zeros(72)
    if person == 0:
        pose[16 * 3 + 2] = 1.2      # left shoulder: arm raised
    else:
        pose[5 * 3 + 0] = 1.4       # right knee bent
        pose[2 * 3 + 0] = -0.6      # right hip forward
    return np.tile(pose, (T, 1))


def _scene(model):
    """Per person: full-image camera (T, 3), image keypoints (T, 25, 3), pose, betas."""
    people = []
    for p, (x0, dx, s) in enumerate([(120.0, 9.0, 120.0), (520.0, -9.0, 135.0)]):
        pose, betas = _pose(p), np.zeros((T, 10))
        kp3 = np.asarray(body.forward(model, pose.astype(np.float32),
                                      betas.astype(np.float32)).keypoints, np.float64)
        x = x0 + dx * np.arange(T)
        cam_img = np.stack([np.full(T, s), x / s, np.full(T, 240.0 / s)], axis=1)
        xy = np.asarray(cameras.project_full(kp3, cam_img), np.float64)
        kp = np.concatenate([xy, np.full(xy.shape[:2] + (1,), 0.9)], axis=-1)
        people.append(dict(cam_img=cam_img, kp=kp, pose=pose, betas=betas))
    frames = {f: np.stack([people[0]["kp"][f], people[1]["kp"][f]]) for f in range(T)}
    tracks = track_people(frames, IMAGE, tracking_config(), source="scene")
    assert len(tracks) == 2
    # Which track is which person: the one nearer A's start at frame 0.
    owner = [int(abs(t.keypoints[0, 8, 0] - people[0]["kp"][0, 8, 0]) > 50) for t in tracks]
    assert sorted(owner) == [0, 1]
    return people, tracks, owner


def _crops(person: dict) -> tuple[np.ndarray, np.ndarray]:
    """SFV-style crops around the person's keypoints (not the tracker's)."""
    kp = person["kp"]
    lo, hi = kp[..., :2].min(1), kp[..., :2].max(1)
    scale = 150.0 / np.linalg.norm(hi - lo, axis=-1)
    start = 0.5 * (lo + hi) * scale[:, None] - 112.0
    return scale, start


def _estimate(person: dict, crop_scale, crop_start, source: str, frames=None) -> Estimates:
    cam = np.asarray(cameras.full_to_crop(person["cam_img"], crop_scale, crop_start, 224.0))
    return Estimates(cam=cam, pose=person["pose"], betas=person["betas"], frames=frames,
                     crop_scale=crop_scale, crop_start=crop_start, crop_size=224, source=source)


def _which(tracks, owner, out) -> dict:
    """estimate source -> the person of the track it was attached to."""
    got = {}
    for t, o, before in zip(out, owner, tracks):
        if t.has_estimates:
            for p in (0, 1):
                if np.allclose(t.pose[0], _pose(p)[0]):
                    got[p] = o
    return got


def test_frameless_estimates_with_crops_go_to_their_person(model):
    """SFV's .h5: no frame indices, crops of its own; listed in the wrong order."""
    people, tracks, owner = _scene(model)
    ests = [_estimate(people[p], *_crops(people[p]), f"person_{p}.h5") for p in (1, 0)]
    out, problems = match_estimates(tracks, ests, reading_config(), model)
    assert problems == []
    assert _which(tracks, owner, out) == {0: 0, 1: 1}
    # The attached estimates put the body on the track's keypoints.
    for t in out:
        assert t.num_frames == T


def test_frameless_estimates_without_crops_use_the_projection(model):
    """HMMR's pickle: no frames, no crops; its camera refers to the track's crops. Crop-relative
    cameras fit any track's position, so only the projected body tells the two apart."""
    people, tracks, owner = _scene(model)
    ests = []
    for p in (1, 0):
        t = tracks[owner.index(p)]
        cam = np.asarray(cameras.full_to_crop(people[p]["cam_img"], t.crop_scale, t.crop_start,
                                              224.0))
        ests.append(Estimates(cam=cam, pose=people[p]["pose"], betas=people[p]["betas"],
                              source=f"hmmr_{p}.pkl"))
    out, problems = match_estimates(tracks, ests, reading_config(), model)
    assert problems == []
    assert _which(tracks, owner, out) == {0: 0, 1: 1}
    # Without the model only frame counts remain: both tracks fit equally, and the estimates
    # are refused as ambiguous instead of attached by count.
    out, problems = match_estimates(tracks, ests, reading_config(), None)
    assert not any(t.has_estimates for t in out)
    assert len(problems) == 2 and all("ambiguous" in p["reason"] for p in problems)
    with pytest.raises(ValueError, match="ambiguous"):
        associate_estimates(tracks, ests)


def test_estimate_of_an_untracked_or_wrong_person_is_refused(model):
    people, tracks, owner = _scene(model)
    # C walks 150 px below A, where nobody is tracked: matches no track.
    s = people[0]["cam_img"][:, :1]
    c = dict(people[0], cam_img=people[0]["cam_img"] + np.concatenate(
        [0 * s, 0 * s, 150.0 / s], axis=1), kp=people[0]["kp"] + [0.0, 150.0, 0.0])
    est_c = _estimate(c, *_crops(c), "person_c.h5")
    # A's estimate with a camera scale three times too large: on A's crop, far from A's body.
    scale, start = _crops(people[0])
    bad = dataclasses.replace(_estimate(people[0], scale, start, "person_a_bad.npz",
                                        frames=np.arange(T)))
    bad = dataclasses.replace(bad, cam=bad.cam * [3.0, 1.0, 1.0])
    out, problems = match_estimates(tracks, [est_c, bad], reading_config(), model)
    assert not any(t.has_estimates for t in out)
    by_file = {p["file"]: p for p in problems}
    assert "matches no track" in by_file["person_c.h5"]["reason"]
    assert by_file["person_c.h5"]["track"] is None
    refused = by_file["person_a_bad.npz"]
    assert refused["track"] == tracks[owner.index(0)].track_id
    assert "initial 2D error" in refused["reason"]


def test_estimate_with_frames_covering_part_of_a_track(model):
    """VIBE-like: frame ids 10..29 only; the track is trimmed to them."""
    people, tracks, owner = _scene(model)
    scale, start = _crops(people[1])
    sel = np.arange(10, 30)
    part = {k: (v[sel] if isinstance(v, np.ndarray) else v) for k, v in people[1].items()}
    e = _estimate(part, scale[sel], start[sel], "vibe person 1", frames=sel)
    out, problems = match_estimates(tracks, [e], reading_config(), model)
    assert problems == []
    t = out[owner.index(1)]
    assert t.has_estimates and list(t.frames) == list(sel)
    assert skeletons.NUM_BETAS == t.betas.shape[1]


def test_read_entry_reports_left_out_estimates_with_file_track_and_reason(model, tmp_path):
    """The job's reading stage: the good estimate is attached, the bad one is named in the
    notes (and the printed summary) with its file, track and reason."""
    import json

    from sfv_jax import pipeline
    from sfv_jax.inputs import save_estimates_npz, write_openpose_folder
    from sfv_jax.inputs.discovery import discover_entries
    from sfv_jax.job_config import job_config

    people, tracks, owner = _scene(model)
    entry_dir = tmp_path / "inputs" / "crossing"
    write_openpose_folder(str(entry_dir / "openpose"),
                          {f: np.stack([people[0]["kp"][f], people[1]["kp"][f]]) for f in range(T)},
                          video="crossing")
    (entry_dir / "info.json").write_text(json.dumps({"image_size": list(IMAGE), "fps": 30}))
    (entry_dir / "estimates").mkdir()
    good = _estimate(people[1], *_crops(people[1]), "b")
    bad = _estimate(people[0], *_crops(people[0]), "a")
    bad = dataclasses.replace(bad, cam=bad.cam * [3.0, 1.0, 1.0])
    save_estimates_npz(str(entry_dir / "estimates" / "person_b.npz"), good)
    save_estimates_npz(str(entry_dir / "estimates" / "person_a.npz"), bad)
    cfg = job_config()
    cfg.inputs.dir = str(tmp_path / "inputs")
    entry = discover_entries(cfg.inputs)[0]
    got, props = pipeline.read_entry(entry, pipeline.JobConfig.from_config(cfg), model)
    assert props["frame_numbering"] == "file names (0-based)"
    assert sum(t.has_estimates for t in got) == 1
    (note,) = [n for n in props["notes"] if n["stage"] == "estimates"]
    assert note["file"].endswith("person_a.npz") and note["track"] is not None
    assert "initial 2D error" in note["reason"]
    summary = {"tracks": [], "failures": [], "warnings": [dict(note, video="crossing")]}
    text = pipeline.format_summary(summary)
    assert f"WARNING crossing track {note['track']} [estimates]: {note['file']}: initial" in text
