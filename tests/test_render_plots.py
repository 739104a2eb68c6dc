"""PNG plots of sfv_jax.render.plots: files written atomically, readable, sensible content."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from sfv_jax.render import plots


def _read(path) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None, path
    return img


def test_loss_curves_png(tmp_path):
    it = np.arange(300)
    hist = {"keypoints": 1e3 * np.exp(-it / 40) + 5, "smooth_pose": 1e-2 + 0 * it,
            "camera": np.r_[np.zeros(10), np.linspace(1, 2, 290)]}   # zeros are left out
    out = plots.plot_loss_curves(tmp_path / "loss.png", hist)
    img = _read(out)
    assert img.shape[0] == 450 and img.shape[1] == 700
    # Three coloured curves: the default cycle's blue, orange and green are present.
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    assert (hsv[..., 1] > 120).sum() > 500
    assert os.listdir(tmp_path) == ["loss.png"]
    with pytest.raises(ValueError, match="loss.png: empty"):
        plots.plot_loss_curves(tmp_path / "loss.png", {})
    with pytest.raises(ValueError, match="'camera' must be a non-empty 1-D"):
        plots.plot_loss_curves(tmp_path / "loss.png", {"camera": np.zeros((3, 2))})


def test_joint_trajectory_and_error_pngs(tmp_path):
    t = np.linspace(0, 2, 60)
    smooth = np.stack([np.sin(t), np.cos(t), 0.1 * t], 1)
    jitter = smooth + np.random.default_rng(0).normal(scale=0.05, size=smooth.shape)
    a = _read(plots.plot_joint_trajectory(tmp_path / "traj.png", jitter, smooth,
                                          "left_wrist", fps=30))
    assert a.shape[0] == 660                      # three stacked axes
    b = _read(plots.plot_joint_trajectory(tmp_path / "traj2.png", jitter[:, :2], smooth[:, :2]))
    assert b.shape[0] == 440
    with pytest.raises(ValueError, match="traj3.png: before/after"):
        plots.plot_joint_trajectory(tmp_path / "traj3.png", jitter, smooth[:10])
    e = _read(plots.plot_error_per_frame(tmp_path / "err.png", np.abs(jitter[:, 0]) * 10,
                                         np.abs(smooth[:, 0]) * 5))
    assert e.shape[:2] == (350, 800)
    assert sorted(os.listdir(tmp_path)) == ["err.png", "traj.png", "traj2.png"]


def test_keypoint_error_per_frame():
    obs = np.zeros((3, 4, 3))
    obs[..., 2] = 1.0
    obs[1, :2, 2] = 0.0                            # two unconfident points in frame 1
    obs[2, :, 2] = 0.0                             # nothing confident in frame 2
    pred = np.zeros((3, 4, 2))
    pred[:, :, 0] = [[3, 3, 3, 3], [100, 100, 4, 6], [1, 1, 1, 1]]
    pred[0, 0, 1] = 4.0                            # (3, 4): 5 px
    err = plots.keypoint_error_per_frame(pred, obs, threshold=0.5)
    np.testing.assert_allclose(err[:2], [(5 + 3 * 3) / 4, 5.0])
    assert np.isnan(err[2])
    with pytest.raises(ValueError, match="observed"):
        plots.keypoint_error_per_frame(pred, obs[:, :3])
