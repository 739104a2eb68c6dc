"""Detector geometry, output files and config checks that need no mediapipe."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from sfv_jax import skeletons
from sfv_jax.detect import detect_config, landmarks as L, video
from sfv_jax.detect.detector import PoseDetector


def _mp_person(cx: float, cy: float, h: float) -> np.ndarray:
    """(33, 4) MediaPipe landmarks of an upright stick person of height h centred at cx, cy."""
    lm = np.zeros((33, 4))
    lm[:, 3] = 0.9
    rows = {"nose": (0, -0.45), "left_shoulder": (0.1, -0.3), "right_shoulder": (-0.1, -0.3),
            "left_elbow": (0.15, -0.1), "right_elbow": (-0.15, -0.1), "left_wrist": (0.15, 0.05),
            "right_wrist": (-0.15, 0.05), "left_hip": (0.07, 0.05), "right_hip": (-0.07, 0.05),
            "left_knee": (0.07, 0.27), "right_knee": (-0.07, 0.27), "left_ankle": (0.07, 0.5),
            "right_ankle": (-0.07, 0.5)}
    for name, (dx, dy) in rows.items():
        lm[L.MP_NAMES.index(name), :2] = cx + dx * h, cy + dy * h
    return lm


def test_iou_nms_and_crops():
    a = np.asarray([[0, 0, 10, 10], [5, 0, 15, 10], [100, 100, 110, 120]])
    iou = L.box_iou(a, a)
    np.testing.assert_allclose(np.diag(iou), 1.0)
    assert iou[0, 1] == pytest.approx(50 / 150) and iou[0, 2] == 0.0
    assert L.nms(a, np.asarray([0.5, 0.9, 0.1]), 0.3).tolist() == [1, 2]
    assert L.nms(a, np.asarray([0.5, 0.9, 0.1]), 0.4).tolist() == [1, 0, 2]
    crop = L.square_crop(np.asarray([10, 20, 30, 100]), 1.5)
    np.testing.assert_allclose(crop, [-40, 0, 120])
    pts = L.square_crop_to_image(np.asarray([[0.5, 0.25, 0.1, 0.7]]), crop)
    np.testing.assert_allclose(pts, [[20, 30, 12, 0.7]])


def test_make_person_converts_to_body25_and_drops_outside_points():
    lm = _mp_person(100, 100, 150)
    lm[L.MP_NAMES.index("left_ankle"), 1] = 400  # below a 300 px tall image
    world = np.zeros((33, 4))
    p = L.make_person([0, 0, 200, 200], lm, world, (200, 300), outside_confidence=0.0)
    names = skeletons.keypoint_names("body25")
    b = p.body25
    assert b.shape == (25, 3)
    np.testing.assert_allclose(b[names.index("nose")], [100, 100 - 0.45 * 150, 0.9])
    np.testing.assert_allclose(b[names.index("neck"), :2], [100, 100 - 0.3 * 150])
    np.testing.assert_allclose(b[names.index("mid_hip"), :2], [100, 100 + 0.05 * 150])
    assert b[names.index("left_ankle"), 2] == 0.0 and b[names.index("right_ankle"), 2] == 0.9
    assert b[names.index("left_big_toe"), 2] == 0.0  # MediaPipe has no toes
    assert p.score == pytest.approx(0.9)  # MediaPipe visibility: leaving the frame is no penalty


def test_dedupe_and_box_match():
    world = np.zeros((33, 4))
    p1 = L.make_person([50, 0, 150, 200], _mp_person(100, 100, 150), world, (640, 480), 0.0)
    p2 = L.make_person([50, 0, 150, 200], _mp_person(102, 101, 150), world, (640, 480), 0.0)
    p3 = L.make_person([300, 0, 400, 200], _mp_person(350, 100, 150), world, (640, 480), 0.0)
    p2 = L.Person(p2.box, 0.95, p2.image_landmarks, p2.world_landmarks, p2.body25)
    kept = L.dedupe_people([p1, p2, p3], 0.5, 10)
    assert [k.score for k in kept] == [0.95, p3.score]
    assert len(L.dedupe_people([p1, p2, p3], 0.5, 1)) == 1
    assert L.matches_box(p1, [50, 0, 150, 200]) and not L.matches_box(p1, [300, 0, 400, 200])
    assert not L.matches_box(None, [0, 0, 1, 1])


class _FakeDetector:
    """Two stick people per frame, for the writer (no mediapipe)."""

    def __call__(self, image: np.ndarray) -> list[L.Person]:
        h, w = image.shape[:2]
        world = np.tile([0.1, -0.2, 0.05, 0.8], (33, 1))
        return [L.make_person([0, 0, w / 2, h], _mp_person(w / 4, h / 2, h / 2), world, (w, h),
                              0.0),
                L.make_person([w / 2, 0, w, h], _mp_person(3 * w / 4, h / 2, h / 2), world,
                              (w, h), 0.0)]


def test_detect_video_writes_openpose_json_and_npz(tmp_path):
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    cfg = detect_config()
    cfg.progress = False
    cfg.start_frame, cfg.frame_step = 1, 2
    out = str(tmp_path / "out")
    s = video.detect_video(path, out, cfg, detector=_FakeDetector())
    assert s["frames"] == 2 and s["people_per_frame"] == [2, 2]
    assert sorted(os.listdir(out)) == ["clip_000000000001_keypoints.json",
                                       "clip_000000000003_keypoints.json", "clip_mediapipe.npz"]
    doc = json.load(open(os.path.join(out, "clip_000000000003_keypoints.json")))
    assert doc["version"] == 1.3 and len(doc["people"]) == 2
    kp = np.asarray(doc["people"][1]["pose_keypoints_2d"]).reshape(25, 3)
    assert kp[0, 0] == pytest.approx(48.0)  # nose of the right-hand person at 3/4 width
    z = video.load_landmarks(s["landmarks"])
    assert z["frame"].tolist() == [1, 1, 3, 3] and z["person"].tolist() == [0, 1, 0, 1]
    assert z["frames"].tolist() == [1, 3] and z["image_size"].tolist() == [64, 48]
    assert z["world_landmarks"].shape == (4, 33, 4) and z["body25"].shape == (4, 25, 3)
    np.testing.assert_allclose(z["body25"][3], kp, atol=1e-3)


def test_bad_inputs_name_the_file(tmp_path):
    cfg = detect_config()
    with pytest.raises(FileNotFoundError, match="nope.avi"):
        list(video.iter_frames(str(tmp_path / "nope.avi")))
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="broken.jpg"):
        list(video.iter_frames(str(bad)))
    npz = tmp_path / "x_mediapipe.npz"
    np.savez(npz, frame=np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="x_mediapipe.npz.*'person'"):
        video.load_landmarks(str(npz))
    cfg.person_detector = "yolo"
    with pytest.raises(ValueError, match="person_detector"):
        PoseDetector(cfg)
    cfg = detect_config()
    cfg.model_complexity = 2
    with pytest.raises(ValueError, match="model_complexity"):
        PoseDetector(cfg)
