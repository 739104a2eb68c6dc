"""PNG plots of sfv_jax.render.plots: files written atomically, readable, sensible content."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings

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


def _coloured(img) -> int:
    return int((cv2.cvtColor(img, cv2.COLOR_BGR2HSV)[..., 1] > 120).sum())


def test_log_axis_decade_ticks(tmp_path):
    hist = {"data": np.geomspace(3e3, 2e-5, 300), "prior": np.full(300, 0.5)}
    ylim = plots._limits(np.log10(np.concatenate(list(hist.values()))), 0.05)
    major, labels, minor = plots._log_ticks(*ylim, 370)
    assert labels == [f"1e{k}" for k in range(-5, 4)] and major == list(range(-5, 4))
    # Minor grid lines at 2..9 x each decade (the axis has ~46 px a decade).
    for k in range(-5, 3):
        assert set(np.round(k + np.log10(np.arange(2, 10)), 9)) <= set(np.round(minor, 9))
    assert all(ylim[0] <= m <= ylim[1] for m in minor)
    # Many decades: every other decade labelled, the rest drawn as minor lines.
    major, labels, minor = plots._log_ticks(-12.3, 6.2, 370)
    assert labels[0] == "1e-12" and labels[-1] == "1e6" and np.all(np.diff(major) == 2)
    assert minor == list(range(-11, 6, 2))
    # Under two decades: 1, 2, 5 x 10^k; within a factor of two: linear values.
    assert plots._log_ticks(np.log10(0.3), np.log10(9), 370)[1] == ["5e-1", "1e0", "2e0", "5e0"]
    assert plots._log_ticks(np.log10(2.4), np.log10(4.1), 370)[1] == ["2.5", "3", "3.5", "4"]
    img = _read(plots.plot_loss_curves(tmp_path / "loss.png", hist))
    assert img.shape[:2] == (450, 700) and _coloured(img) > 500


def test_nan_gaps_split_a_series(tmp_path):
    img = np.full((100, 200, 3), 255, np.uint8)
    ax = plots._Axes(0, 0, 199, 99, (0.0, 99.0), (0.0, 1.0))
    y = np.full(100, 0.5)
    y[40:60] = np.nan
    y[64:70] = y[71:78] = np.nan                   # frame 70 alone: a dot
    pts = plots._plot(img, ax, np.arange(100), y, plots._BLUE, 2)
    assert len(pts) == 100 - 33
    drawn = (img < 250).any(axis=(0, 2))           # columns with ink
    col = lambda frame: int(round(frame / 99 * 199))   # noqa: E731  (2 px a frame)
    assert drawn[col(3):col(38)].all() and drawn[col(61):col(63)].all()
    assert drawn[col(70) - 2:col(70) + 3].all() and drawn[col(79):col(97)].all()
    assert not drawn[col(41):col(58)].any()
    assert not drawn[col(65):col(70) - 5].any() and not drawn[col(70) + 5:col(77)].any()
    # Whole plots with gaps (non-positive and NaN losses, NaN error frames).
    e = np.abs(np.sin(np.arange(90) / 7.0)) + 0.5
    e[20:30] = np.nan
    loss = np.r_[np.linspace(5, 1, 40), np.zeros(10), [np.nan] * 5, np.linspace(1, 0.1, 45)]
    for name, draw in (("loss.png", lambda p: plots.plot_loss_curves(p, {"a": loss})),
                       ("err.png", lambda p: plots.plot_error_per_frame(p, 2 * e, e))):
        assert _coloured(_read(draw(tmp_path / name))) > 300


def test_constant_and_single_point_series(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")             # no division by zero, no empty means
        for v in (0.0, 0.01, -3.0):
            lo, hi = plots._limits(np.full(10, v), 0.05)
            assert lo < v < hi
        out = [plots.plot_loss_curves(tmp_path / "l1.png", {"flat": np.full(50, 0.01)}),
               plots.plot_loss_curves(tmp_path / "l2.png", {"one": [5.0], "none": [0.0]}),
               plots.plot_joint_trajectory(tmp_path / "t1.png", np.ones((40, 3)),
                                           np.ones((40, 3)), fps=30),
               plots.plot_joint_trajectory(tmp_path / "t2.png", np.ones((1, 2)), np.zeros((1, 2))),
               plots.plot_error_per_frame(tmp_path / "e1.png", np.zeros(30), np.full(30, np.nan)),
               plots.plot_error_per_frame(tmp_path / "e2.png", np.full(30, 4.0), np.full(30, 2.0))]
    sizes = [(450, 700), (450, 700), (660, 800), (440, 800), (350, 800), (350, 800)]
    for path, size in zip(out, sizes):
        img = _read(path)
        assert img.shape[:2] == size and _coloured(img) > 50, path


def test_plots_are_deterministic(tmp_path):
    it = np.arange(300)
    hist = {f"term{k}": 10.0 ** (3 - k) * np.exp(-it / (20 + 5 * k)) + 1e-4 for k in range(8)}
    t = np.linspace(0, 3, 90)
    after = np.stack([np.sin(t), np.cos(t), t / 10], 1)
    before = after + np.random.default_rng(0).normal(scale=0.03, size=after.shape)
    draws = (lambda p: plots.plot_loss_curves(p, hist),
             lambda p: plots.plot_joint_trajectory(p, before, after, "wrist", fps=30),
             lambda p: plots.plot_error_per_frame(p, np.abs(before[:, 0]), np.abs(after[:, 0])))
    for k, draw in enumerate(draws):
        first = open(draw(tmp_path / f"a{k}.png"), "rb").read()
        draw(tmp_path / f"a{k}.png")                # drawn again over the same file...
        draw(tmp_path / f"b{k}.png")                # ...and to another one
        assert open(tmp_path / f"a{k}.png", "rb").read() == first
        assert open(tmp_path / f"b{k}.png", "rb").read() == first
    assert len(os.listdir(tmp_path)) == 6           # no temporaries left


def test_plots_do_not_need_matplotlib():
    code = "import sys, sfv_jax.render; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


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
