"""The MediaPipe detector on real images (skips without mediapipe or ../shared).

Run in the detector environment: ``bash launch/make_detect_env.sh && .venv-detect/bin/python
-m pytest -q tests/test_detect.py``.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

pytest.importorskip("mediapipe")

from sfv_jax import body, fitting, skeletons  # noqa: E402
from sfv_jax.detect import detect_config, external, video  # noqa: E402
from sfv_jax.fitting.config import fitting_config  # noqa: E402

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "video")
MESSI = os.path.join(SHARED, "messi5.jpg")
VTEST = os.path.join(SHARED, "vtest.avi")
pytestmark = pytest.mark.skipif(not os.path.isfile(MESSI), reason="../shared data absent")
B25 = {n: i for i, n in enumerate(skeletons.keypoint_names("body25"))}


def _cfg():
    cfg = detect_config()
    cfg.progress = False
    return cfg


@pytest.fixture(scope="module")
def messi(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("messi"))
    summary = video.detect_video(MESSI, out, _cfg())
    return summary, video.load_landmarks(summary["landmarks"]), out


def test_messi_one_person_with_plausible_keypoints(messi):
    summary, z, out = messi
    assert summary["frames"] == 1 and summary["people_per_frame"] == [1]
    doc = json.load(open(video.frame_json_path(out, "messi5", 0)))
    kp = np.asarray(doc["people"][0]["pose_keypoints_2d"]).reshape(25, 3)
    np.testing.assert_allclose(kp, z["body25"][0], atol=1e-3)
    core = [B25[n] for n in ("nose", "neck", "right_shoulder", "left_shoulder", "right_elbow",
                             "left_elbow", "mid_hip", "right_hip", "left_hip", "right_knee",
                             "left_knee", "right_ankle", "left_ankle")]
    assert np.all(kp[core, 2] > 0.5), kp[core, 2]
    w, h = 548, 342
    assert np.all((kp[core, 0] > 0) & (kp[core, 0] < w) & (kp[core, 1] > 0) & (kp[core, 1] < h))
    # Messi stands in the image centre, head up, legs below the hips, spread over the frame.
    assert kp[B25["nose"], 1] < kp[B25["neck"], 1] < kp[B25["mid_hip"], 1]
    assert kp[B25["mid_hip"], 1] < min(kp[B25["right_knee"], 1], kp[B25["left_knee"], 1])
    assert 150 < np.ptp(kp[core, 1]) < h and 150 < np.ptp(kp[core, 0]) < w
    assert 150 < kp[B25["neck"], 0] < 350
    world = z["world_landmarks"][0]
    assert 0.8 < np.ptp(world[:, 1]) < 2.2  # metres, y down
    assert abs(world[skeletons.keypoint_names("mediapipe33").index("left_hip"), 1]) < 0.2


def test_single_frame_fit_on_messi_within_10px(messi):
    _, z, _ = messi
    kp = z["body25"][0].astype(np.float32)
    world = skeletons.convert_keypoints(z["world_landmarks"][0], "mediapipe33", "body25")
    model = body.with_keypoints(body.synthetic_model(seed=0), "body25")
    opts = fitting.FitOptions.from_config(fitting_config())
    w3 = np.where(world[:, 3] > 0.5, world[:, 3], 0.0).astype(np.float32)
    f3 = fitting.fit_3d(model, world[:, :3].astype(np.float32), w3, opts)
    assert float(np.mean(np.asarray(f3.error)[w3 > 0])) < 0.05  # metres
    f2 = fitting.fit_detections(model, kp, opts, world_landmarks=z["world_landmarks"][0])
    assert f2.pose.shape == (72,) and f2.cam.shape == (3,)
    median = float(np.nanmedian(np.asarray(f2.error_px)))
    print(f"messi5.jpg single-frame fit: median projected keypoint error {median:.2f} px")
    assert bool(f2.valid) and median < 10.0


@pytest.mark.skipif(not os.path.isfile(VTEST), reason="vtest.avi absent")
def test_vtest_several_pedestrians(tmp_path):
    cfg = _cfg()
    cfg.start_frame, cfg.num_frames = 30, 3
    s = video.detect_video(VTEST, str(tmp_path), cfg)
    assert s["frames"] == 3 and max(s["people_per_frame"]) >= 2, s["people_per_frame"]
    z = video.load_landmarks(s["landmarks"])
    assert set(z["frame"].tolist()) <= {30, 31, 32}
    ok = z["body25"][..., 2] > 0.3
    xy = z["body25"][..., :2][ok]
    assert np.all((xy >= 0) & (xy < [768, 576]))
    heights = np.asarray([np.nanmax(k[:, 1]) - np.nanmin(k[:, 1]) for k in
                          np.where(ok[..., None], z["body25"][..., :2], np.nan)])
    assert np.all((heights > 40) & (heights < 200)), heights  # 70-100 px pedestrians


def test_cli_subprocess(tmp_path):
    s = external.run_detector(MESSI, str(tmp_path), overrides={"person_detector": "full"},
                              python=sys.executable, timeout_s=300)
    assert s["frames"] == 1 and s["mean_people"] == 1.0
    assert os.path.isfile(video.frame_json_path(str(tmp_path), "messi5", 0))
