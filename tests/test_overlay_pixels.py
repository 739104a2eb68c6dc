"""The comparison video's model-keypoint overlay, checked by pixels through the job's own call
(``track_outputs.write_track_outputs``): the overlay colour appears where the model's
keypoints project."""
from __future__ import annotations

import cv2
import numpy as np

from sfv_jax import body, solver
from sfv_jax.geometry import cameras, crops
from sfv_jax.inputs import Track
from sfv_jax.job_config import JobConfig, job_config
from sfv_jax.track_outputs import write_track_outputs
from sfv_jax.synthetic import small_body

H, W, T = 240, 320, 4


def _track_and_result(model):
    pose, betas = np.zeros((T, 72)), np.zeros((T, 10))
    out = body.forward(model, pose.astype(np.float32), betas.astype(np.float32))
    kp3 = np.asarray(out.keypoints, np.float64)
    cam_img = np.stack([np.full(T, 90.0), (140.0 + 5 * np.arange(T)) / 90.0,
                        np.full(T, 120.0 / 90.0)], axis=1)
    kp2 = np.asarray(cameras.project_full(kp3, cam_img), np.float64)
    kp = np.concatenate([kp2, np.full((T, kp2.shape[1], 1), 0.9)], axis=-1)
    lo, hi = kp2.min(1), kp2.max(1)
    crop_scale, crop_start = crops.hmr_crop(0.5 * (lo + hi),
                                            150.0 / np.linalg.norm(hi - lo, axis=-1),
                                            image_size=(H, W))
    cam = np.asarray(cameras.full_to_crop(cam_img, crop_scale, crop_start, 224.0))
    track = Track(frames=np.arange(T), keypoints=kp, boxes=np.concatenate([lo, hi], axis=1),
                  image_size=(H, W), pose=pose, betas=betas, cam=cam, crop_scale=crop_scale,
                  crop_start=crop_start, source="overlay", video="overlay")
    result = solver.ClipResult(
        name="overlay", pose=pose, betas=betas, cam=cam, cam_full=cam_img,
        keypoints_2d=kp2, keypoints_3d=kp3, joints_3d=np.asarray(out.joints, np.float64),
        history={"total": np.asarray([1.0, 0.5])}, final_loss={"total": 0.5},
        nonfinite=False)
    return track, result, kp2


def _green(img: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(K,) whether each pixel is the overlay's green (60, 255, 60 BGR, after mp4 coding)."""
    x = np.clip(np.round(xy[:, 0]).astype(int), 0, img.shape[1] - 1)
    y = np.clip(np.round(xy[:, 1]).astype(int), 0, img.shape[0] - 1)
    b, g, r = (img[y, x, c].astype(int) for c in range(3))
    return (g > 190) & (g - b > 90) & (g - r > 90)


def test_model_keypoints_appear_where_they_project(tmp_path):
    model = small_body("body25")
    track, result, kp2 = _track_and_result(model)
    cfg = job_config()
    cfg.outputs.bvh = cfg.outputs.deepmimic = cfg.outputs.plots = False
    cfg.render.side_view = False
    cfg.render.max_panel_height = cfg.render.max_panel_width = 0
    cfg.render.progress = False
    background = np.full((H, W, 3), 40, np.uint8)
    for draw in (True, False):
        cfg.render.draw_model_keypoints = draw
        out_dir = tmp_path / f"draw_{draw}"
        write_track_outputs(str(out_dir), track, result, model, JobConfig.from_config(cfg),
                            lambda f: background, "{}")
        cap = cv2.VideoCapture(str(out_dir / "comparison.mp4"))
        ok, img = cap.read()
        cap.release()
        assert ok and img.shape == (H, 3 * W, 3)
        for panel in (1, 2):  # initial estimate, reconstruction
            green = _green(img, kp2[0] + [panel * W, 0])
            if draw:
                assert green.mean() > 0.8, (panel, green)
            else:
                assert not green.any()
        # The input panel shows the input keypoints in their own colours, not the overlay's.
        assert _green(img, kp2[0]).mean() < 0.5
