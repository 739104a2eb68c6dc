"""Short keypoint gaps along a track (sfv_jax.fitting.temporal.fill_gaps) and their use by the
2D fit from keypoints alone."""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from sfv_jax import body, fitting
from sfv_jax.fitting import temporal
from sfv_jax.geometry import cameras, rotations
from sfv_jax.synthetic import small_body


def _track(t_len: int) -> np.ndarray:
    """(T, 5, 3): 4 torso points moving right 10 px / frame, a wrist swinging about them."""
    t = np.arange(t_len, dtype=np.float64)
    torso = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 100.0], [40.0, 100.0]])
    kp = np.zeros((t_len, 5, 3))
    kp[:, :4, :2] = torso[None] + np.stack([10.0 * t, 2.0 * t], -1)[:, None]
    kp[:, 4, :2] = kp[:, :4, :2].mean(1) + np.stack([60.0 - 3.0 * t, 5.0 * t], -1)
    kp[..., 2] = 0.9
    return kp


def test_fill_gaps_interpolates_short_runs_with_the_torso():
    kp = _track(12)
    truth = kp.copy()
    hole = kp.copy()
    hole[3:6, 4] = 0.0                  # a 3-frame gap of the wrist (OpenPose: 0, 0, 0)
    hole[9, 4, 2] = 0.05                # a low-confidence frame counts as unseen too
    hole[8, 4, 2] = 0.6
    out = temporal.fill_gaps(hole, [12], [0, 1, 2, 3], 0.1, 4, 0.5)
    # The wrist's offset from the torso is linear in time here: interpolation recovers it
    # exactly, although the body moves (a plain linear fill would too; see the next case).
    np.testing.assert_allclose(out[3:6, 4, :2], truth[3:6, 4, :2], atol=1e-9)
    np.testing.assert_allclose(out[3:6, 4, 2], 0.5 * 0.9)
    np.testing.assert_allclose(out[9, 4, 2], 0.5 * 0.6)      # min of its ends (frames 8, 10)
    untouched = np.ones(12, bool)
    untouched[[3, 4, 5, 9]] = False
    np.testing.assert_array_equal(out[untouched], hole[untouched])
    # Too long a gap (5 > 4), one touching the track's end, frames where nothing is seen and
    # gaps across two tracks' boundary stay as they are.
    hole2 = kp.copy()
    hole2[2:7, 4] = 0.0
    hole2[10:, 4] = 0.0
    hole2[8] = 0.0
    out2 = temporal.fill_gaps(hole2, [12], [0, 1, 2, 3], 0.1, 4, 0.5)
    np.testing.assert_array_equal(out2, hole2)
    hole3 = kp.copy()
    hole3[5:7, 4] = 0.0
    out3 = temporal.fill_gaps(hole3, [6, 6], [0, 1, 2, 3], 0.1, 4, 0.5)
    np.testing.assert_array_equal(out3, hole3)
    np.testing.assert_array_equal(temporal.fill_gaps(hole, [12], [0, 1, 2, 3], 0.1, 0, 0.5),
                                  hole)
    # Ends must be confident detections: frame 8's 0.6 is below 0.7, so frame 9's gap now
    # reaches back to frame 7 and forward to 10; frame 8 itself (seen) is kept as it is.
    out4 = temporal.fill_gaps(hole, [12], [0, 1, 2, 3], 0.1, 4, 0.5, end_confidence=0.7)
    np.testing.assert_allclose(out4[9, 4, :2], truth[9, 4, :2], atol=1e-9)
    np.testing.assert_allclose(out4[9, 4, 2], 0.5 * 0.9)
    np.testing.assert_array_equal(out4[8], hole[8])
    hole5 = hole.copy()
    hole5[10:, 4, 2] = 0.2
    out5 = temporal.fill_gaps(hole5, [12], [0, 1, 2, 3], 0.1, 4, 0.5, end_confidence=0.3)
    np.testing.assert_array_equal(out5[9], hole5[9])   # no confident end after it
    with pytest.raises(ValueError, match="track lengths"):
        temporal.fill_gaps(hole, [11], [], 0.1, 4, 0.5)


def test_fill_gaps_follows_the_torso_where_plain_interpolation_cuts_corners():
    # The body turns back mid-gap (the torso's path is not linear): the wrist keeps its place
    # on the body with the anchor, a straight line between the gap's ends does not.
    kp = _track(9)
    back = np.concatenate([np.arange(5), 8 - np.arange(5, 9)]).astype(np.float64) * 10.0
    kp[:, :, 0] += back[:, None] - 10.0 * np.arange(9)[:, None]
    truth = kp.copy()
    kp[2:7, 4] = 0.0
    anchored = temporal.fill_gaps(kp, [9], [0, 1, 2, 3], 0.1, 6, 0.5)
    plain = temporal.fill_gaps(kp, [9], [], 0.1, 6, 0.5)
    err_a = np.abs(anchored[2:7, 4, :2] - truth[2:7, 4, :2]).max()
    err_p = np.abs(plain[2:7, 4, :2] - truth[2:7, 4, :2]).max()
    assert err_a < 1e-9 < 10.0 < err_p, (err_a, err_p)


def test_the_fit_places_an_unseen_arm_where_the_track_says():
    # A track of an upright body whose left elbow bends from straight to 90 degrees; the left
    # arm is not detected on the middle frames. With the gaps filled the fitted wrist follows
    # the true one there; the fit's 2D error still counts only the detected points.
    model = small_body("body25")
    n = 9
    pose = np.zeros((n, 72), np.float32)
    pose[:, 3:] = np.asarray(fitting.neutral_body_pose(1.1))
    pose[:, 3 * 18 + 1] = -np.linspace(0.0, 1.6, n)          # left elbow
    pose[:, 3 * 16 + 2] = -np.linspace(0.0, 0.8, n)          # left shoulder raises the arm
    upright = np.asarray(rotations.axis_rotation("x", jnp.asarray(np.pi)))
    pose[:, :3] = np.asarray(rotations.matrix_to_axis_angle(jnp.asarray(upright)))
    out = body.forward(model, pose, np.zeros((n, 10), np.float32))
    px = np.asarray(cameras.project_full(out.keypoints, jnp.asarray([150.0, 2.0, 2.0])))
    kp = np.concatenate([px, np.full(px.shape[:-1] + (1,), 0.9, np.float32)], -1)
    names = model.keypoint_names
    arm = [names.index(p) for p in ("left_elbow", "left_wrist")]
    hidden = kp.copy()
    hidden[3:6, arm] = 0.0
    opts = fitting.FitOptions.from_config(fitting.fitting_config())
    assert opts.gap_fill_frames >= 3
    wrist = names.index("left_wrist")

    def wrist_error(o) -> float:
        fit = fitting.fit_2d(model, hidden, o, tracks=[n])
        k = np.asarray(body.forward(model, fit.pose, fit.betas).keypoints)
        proj = np.asarray(cameras.project_full(jnp.asarray(k), jnp.asarray(
            cameras.crop_to_full(fit.cam, fit.crop_scale, fit.crop_start, fit.crop_size))))
        err = np.asarray(fit.error_px)
        assert np.all(np.isnan(err[3:6][:, arm])) and np.all(np.isfinite(err[:3][:, arm]))
        return float(np.linalg.norm(proj[3:6, wrist] - px[3:6, wrist], axis=-1).mean())

    filled = wrist_error(opts)
    unfilled = wrist_error(dataclasses.replace(opts, gap_fill_frames=0))
    assert filled < 8.0 and filled < 0.5 * unfilled, (filled, unfilled)


def test_fill_gaps_holds_a_point_near_one_end_where_no_run_bridges():
    kp = _track(14)
    hole = kp.copy()
    hole[9:, 4] = 0.0                   # the wrist is lost until the track's end
    hole[0:2, 4] = 0.0                  # ... and unseen in its first two frames
    hole[8, 4, 2] = 0.6
    out = temporal.fill_gaps(hole, [14], [0, 1, 2, 3], 0.1, 4, 0.5, max_hold=3)
    # Frames 9-11 keep frame 8's offset from the torso (which moves on), with half its
    # confidence; frames 12-13 are beyond the hold and stay unseen.
    offset = kp[8, 4, :2] - kp[8, :4, :2].mean(0)
    np.testing.assert_allclose(out[9:12, 4, :2], kp[9:12, :4, :2].mean(1) + offset, atol=1e-9)
    np.testing.assert_allclose(out[9:12, 4, 2], 0.5 * 0.6)
    np.testing.assert_array_equal(out[12:], hole[12:])
    # At the track's start the nearest end is after the run (frame 2).
    offset2 = kp[2, 4, :2] - kp[2, :4, :2].mean(0)
    np.testing.assert_allclose(out[:2, 4, :2], kp[:2, :4, :2].mean(1) + offset2, atol=1e-9)
    # A run too long to bridge (6 > 4) is held from both of its ends, each half to the nearer.
    long_gap = kp.copy()
    long_gap[3:9, 4] = 0.0
    out2 = temporal.fill_gaps(long_gap, [14], [0, 1, 2, 3], 0.1, 4, 0.5, max_hold=3)
    for t, end in ((3, 2), (4, 2), (5, 2), (6, 9), (7, 9), (8, 9)):
        off = kp[end, 4, :2] - kp[end, :4, :2].mean(0)
        np.testing.assert_allclose(out2[t, 4, :2], kp[t, :4, :2].mean(0) + off, atol=1e-9)
    # Without holding the same runs stay as they are; with a bridge in reach it interpolates.
    np.testing.assert_array_equal(temporal.fill_gaps(hole, [14], [0, 1, 2, 3], 0.1, 4, 0.5),
                                  hole)
    short = kp.copy()
    short[5:7, 4] = 0.0
    np.testing.assert_allclose(
        temporal.fill_gaps(short, [14], [0, 1, 2, 3], 0.1, 4, 0.5, max_hold=3)[5:7, 4, :2],
        kp[5:7, 4, :2], atol=1e-9)


def _swinging_arm(t_len: int) -> np.ndarray:
    """(T, 6, 3): ``_track``'s moving torso, its point 4 now an elbow swinging on an arc about
    the first shoulder, and a wrist (5) at a fixed offset from the elbow (the forearm keeps its
    direction)."""
    kp = np.concatenate([_track(t_len), np.full((t_len, 1, 3), 0.9)], axis=1)
    angle = np.linspace(0.2, 1.6, t_len)
    kp[:, 4, :2] = kp[:, 0, :2] + np.stack([-50.0 * np.cos(angle), 50.0 * np.sin(angle)], -1)
    kp[:, 5, :2] = kp[:, 4, :2] + np.array([-30.0, 35.0])
    return kp


def test_fill_gaps_moves_a_hand_point_with_its_seen_parent():
    kp = _swinging_arm(14)
    truth = kp.copy()
    hole = kp.copy()
    hole[3:7, 5] = 0.0                  # the wrist behind the body for 4 frames ...
    hole[10:, 5] = 0.0                  # ... and lost for the track's last 4
    parents = [-1, -1, -1, -1, 0, 4]
    args = ([14], [0, 1, 2, 3], 0.1, 6, 0.5)
    with_parent = temporal.fill_gaps(hole, *args, max_hold=6, parents=parents)
    torso_only = temporal.fill_gaps(hole, *args, max_hold=6)
    gaps = np.r_[3:7, 10:14]
    err_parent = np.abs(with_parent[gaps, 5, :2] - truth[gaps, 5, :2]).max()
    err_torso = np.abs(torso_only[gaps, 5, :2] - truth[gaps, 5, :2]).max()
    # The elbow swings ~70 px over the track: the torso's offset misses the wrist by tens of
    # px, the elbow's offset is exact (the forearm keeps its direction here).
    assert err_parent < 1e-9 and err_torso > 10.0, (err_parent, err_torso)
    np.testing.assert_allclose(with_parent[gaps, 5, 2], 0.5 * 0.9)
    # Where the parent is unseen too the torso rule applies, and nothing else changes.
    hole2 = hole.copy()
    hole2[4, 4] = 0.0
    out2 = temporal.fill_gaps(hole2, *args, max_hold=6, parents=parents)
    torso2 = temporal.fill_gaps(hole2, *args, max_hold=6)
    np.testing.assert_array_equal(out2[4, 5], torso2[4, 5])
    np.testing.assert_allclose(out2[[3, 5, 6], 5, :2], truth[[3, 5, 6], 5, :2], atol=1e-9)
    seen = hole[..., 2] > 0.1
    np.testing.assert_array_equal(with_parent[seen], hole[seen])
    for bad, kps in (([0, 1], hole), ([-1, -1, -1, -1, 0, 6], kp)):   # even with nothing to fill
        with pytest.raises(ValueError, match="parents"):
            temporal.fill_gaps(kps, *args, parents=bad)
