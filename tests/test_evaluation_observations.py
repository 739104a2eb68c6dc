"""Virtual cameras, detector-like keypoints and regressor-like errors of sfv_jax.evaluation."""
import dataclasses

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sfv_jax import skeletons
from sfv_jax.evaluation import config as eval_config
from sfv_jax.evaluation import observations as obs
from sfv_jax.geometry import cameras, crops

NAMES = skeletons.keypoint_names("body25")


def _walker(num_frames: int = 60) -> np.ndarray:
    """(T, 25, 3) a crude standing figure (Y up, ~1.7 m) walking along +Z, metres."""
    rng = np.random.default_rng(0)
    base = rng.uniform([-0.25, 0.0, -0.1], [0.25, 1.7, 0.1], size=(25, 3))
    t = np.arange(num_frames)[:, None, None]
    return base[None] + np.array([0.0, 0.0, 0.04]) * t


def test_settings_from_config_roundtrip():
    cfg = eval_config.evaluation_config()
    cfg.views = 3
    cfg.noise_frac = 0.5
    assert obs.CameraSettings.from_config(cfg).views == 3
    assert obs.DetectorSettings.from_config(cfg).noise_frac == 0.5
    # Every settings field has a documented config key.
    for cls in (obs.CameraSettings, obs.DetectorSettings, obs.RegressorSettings):
        for f in dataclasses.fields(cls):
            assert f.name in cfg, f.name


def test_cameras_are_phone_like_and_frame_the_clip():
    roots = np.array([[0.0, 0.9, 0.0], [0.0, 0.9, 2.0]])
    settings = obs.CameraSettings(views=4, azimuth0_deg=0.0)
    cams = obs.make_cameras(roots, settings, np.random.default_rng(3))
    assert cams.rotation.shape == (4, 3, 3)
    np.testing.assert_allclose(cams.azimuth_deg, [0, 90, 180, 270])
    for r in cams.rotation:  # orthonormal, proper rotations, no roll (camera x stays level)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
        assert abs(r[0, 1]) < 1e-12
    # Focal lengths from 45-70 degree horizontal fields of view; heights 1-2 m; pitch 0-20 down.
    hfov = np.rad2deg(2 * np.arctan(0.5 * settings.image_width / cams.focal))
    assert np.all((hfov >= 45.0) & (hfov <= 70.0)) and np.ptp(cams.focal) > 0
    assert np.all((cams.center[:, 1] >= 1.0) & (cams.center[:, 1] <= 2.0))
    assert np.all((cams.pitch_deg >= 0.0) & (cams.pitch_deg <= 20.0))
    pitch = np.rad2deg(np.arcsin(-cams.rotation[:, 2, 1]))  # forward axis below the horizon
    np.testing.assert_allclose(pitch, cams.pitch_deg, atol=1e-9)
    # Azimuth 0 sits on +Z of the clip centre; camera 0 sees world +X on the image's right.
    assert cams.center[0, 2] > 2.0 and abs(cams.center[0, 0]) < 1e-9
    left = cams.project(cams.to_camera(np.array([[1.0, 0.9, 1.0]])))
    assert left[0, 0, 0] > cams.principal[0]
    # A 1.8 m person standing at either end of the clip is inside the image in every view.
    feet_head = np.array([[0, 0, 0], [0, 1.8, 0], [0, 0, 2], [0, 1.8, 2]], float)
    px = cams.project(cams.to_camera(feet_head))
    w, h = cams.image_size
    assert np.all((px[..., 0] > 0) & (px[..., 0] < w) & (px[..., 1] > 0) & (px[..., 1] < h))
    # Seeded: same generator seed, same cameras.
    again = obs.make_cameras(roots, settings, np.random.default_rng(3))
    np.testing.assert_array_equal(again.center, cams.center)


def test_steep_pitch_is_lowered_until_the_person_fits():
    roots = np.array([[0.0, 0.9, 0.0]])
    settings = obs.CameraSettings(views=1, hfov_deg_min=45.0, hfov_deg_max=45.0, height_min=2.0,
                                  height_max=2.0, pitch_deg_min=20.0, pitch_deg_max=20.0)
    cams = obs.make_cameras(roots, settings, np.random.default_rng(0))
    assert cams.pitch_deg[0] < 20.0
    px = cams.project(cams.to_camera(np.array([[0, 0, 0], [0, 1.8, 0]], float)))
    assert np.all((px[..., 1] > 0) & (px[..., 1] < cams.image_size[1]))


def test_steep_pitch_does_not_send_the_camera_tens_of_metres_away():
    # Just under the steepest pitch that frames a standing person at all, the framing distance
    # runs away (the person fits only far off, at the top of the image): the operator tilts less.
    roots = np.stack([np.zeros(30), np.full(30, 0.9), np.linspace(-1.0, 1.0, 30)], -1)

    def person_px(settings: obs.CameraSettings) -> np.ndarray:
        cams = obs.make_cameras(roots, settings, np.random.default_rng(1))
        feet_head = np.array([[0.0, 0.0, 0.0], [0.0, 1.8, 0.0]])
        px = cams.project(cams.to_camera(feet_head))
        return px[:, 1, 1] - px[:, 0, 1]  # image y grows downwards: head above feet

    capped = obs.CameraSettings(views=48)
    assert np.all(np.abs(person_px(capped)) > 150.0)
    uncapped = dataclasses.replace(capped, max_distance_ratio=1e9)
    assert np.abs(person_px(uncapped)).min() < 100.0  # what the cap removes


def test_detections_are_seeded_and_realistic():
    pts = _walker()
    cams = obs.make_cameras(pts[:, 8], obs.CameraSettings(views=2), np.random.default_rng(0))
    cam_pts = cams.to_camera(pts)
    px = cams.project(cam_pts)
    settings = obs.DetectorSettings(swap_prob=0.1, missing_prob=0.05, drop_prob=0.05)
    a, det_a = obs.detect_keypoints(px[0], cam_pts[0, ..., 2], NAMES, cams.image_size, settings,
                                    obs.clip_view_rng(3, 0, 0, 0))
    b, det_b = obs.detect_keypoints(px[0], cam_pts[0, ..., 2], NAMES, cams.image_size, settings,
                                    obs.clip_view_rng(3, 0, 0, 0))
    c, _ = obs.detect_keypoints(px[0], cam_pts[0, ..., 2], NAMES, cams.image_size, settings,
                                obs.clip_view_rng(4, 0, 0, 0))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(det_a, det_b)
    assert not np.array_equal(a, c)
    assert a.shape == (60, 25, 3)
    conf = a[..., 2]
    assert np.all((conf >= 0) & (conf <= 1))
    # Undetected points are written as zeros, like OpenPose.
    assert np.all(a[conf == 0] == 0)
    # Some missing frames and dropped points, most points present.
    assert (~det_a).sum() >= 1
    assert 0.5 < (conf > 0).mean() < 0.99
    # Confident points stay close to the truth (a few pixels; swaps excepted).
    err = np.linalg.norm(a[..., :2] - px[0], axis=-1)
    good = conf > 0.45
    assert np.median(err[good]) < 10.0


def _detection_error(settings: obs.DetectorSettings, num_frames: int = 400
                     ) -> tuple[np.ndarray, float]:
    """(T, K, 2) detection minus truth of the walker seen by one camera, nothing dropped, and
    the walker's median 2D box diagonal (px)."""
    pts = _walker(num_frames) * np.array([1.0, 1.0, 0.0])  # walk in place: stays in the image
    cams = obs.make_cameras(pts[:, 8], obs.CameraSettings(views=1), np.random.default_rng(0))
    cam_pts = cams.to_camera(pts)
    px = cams.project(cam_pts)[0]
    det, _ = obs.detect_keypoints(px, cam_pts[0, ..., 2], NAMES, cams.image_size, settings,
                                  obs.clip_view_rng(0, 0, 0, 0))
    return det[..., :2] - px, float(np.median(obs.person_height_px(px)))


def _lag1_correlation(err: np.ndarray) -> float:
    e = err - err.mean(axis=0)
    return float(np.sum(e[1:] * e[:-1]) / np.sum(e * e))


@pytest.mark.parametrize("slow, jitter", [(0.012, 0.0), (0.0, 0.002), (0.012, 0.002)])
def test_detection_error_is_slow_drift_plus_jitter(slow: float, jitter: float) -> None:
    clean = dict(swap_prob=0.0, missing_prob=0.0, drop_prob=0.0, occlusion_events=0.0,
                 self_occlusion=False, noise_conf_gain=0.0)
    err, height = _detection_error(obs.DetectorSettings(noise_frac=jitter, noise_slow_frac=slow,
                                                        noise_slow_frames=6.0, **clean))
    std = np.std(err)
    rho = _lag1_correlation(err)
    # Sizes follow the settings (fractions of the box diagonal).
    assert std == pytest.approx(np.hypot(slow, jitter) * height, rel=0.35)
    if jitter == 0.0:
        assert rho > 0.95          # a drifting offset: neighbouring frames nearly agree
    elif slow == 0.0:
        assert abs(rho) < 0.1      # jitter: independent per frame
    else:
        # Mixed: the frame-to-frame change is the jitter's (sqrt(2) jitter std), not the drift's.
        step = np.std(err[1:] - err[:-1])
        assert step == pytest.approx(np.sqrt(2.0) * jitter * height, rel=0.5)


def test_swaps_exchange_left_and_right():
    pts = _walker(200)
    cams = obs.make_cameras(pts[:, 8], obs.CameraSettings(views=1), np.random.default_rng(0))
    cam_pts = cams.to_camera(pts)
    px = cams.project(cam_pts)[0]
    settings = obs.DetectorSettings(swap_prob=0.2, missing_prob=0.0, drop_prob=0.0,
                                    noise_frac=0.0, noise_slow_frac=0.0, occlusion_events=0.0,
                                    self_occlusion=False)
    det, _ = obs.detect_keypoints(px, cam_pts[0, ..., 2], NAMES, cams.image_size, settings,
                                  obs.clip_view_rng(0, 0, 0, 0))
    lk, rk = NAMES.index("left_knee"), NAMES.index("right_knee")
    swapped = np.all(np.isclose(det[:, lk, :2], px[:, rk]), axis=-1)
    assert 0.03 < swapped.mean() < 0.25
    unswapped = np.all(np.isclose(det[:, lk, :2], px[:, lk]), axis=-1)
    assert np.all(swapped | unswapped)


def test_weak_perspective_fit_is_exact_on_weak_perspective_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 19, 3))
    cam = np.stack([rng.uniform(0.5, 1.5, 5), rng.normal(size=5), rng.normal(size=5)], -1)
    y = cameras.project_crop(x, cam)
    np.testing.assert_allclose(cameras.weak_perspective_fit(x, y), cam, rtol=1e-9, atol=1e-9)


def test_crop_conversions_roundtrip_and_follow_design():
    rng = np.random.default_rng(1)
    px = rng.uniform(0, 1000, size=(4, 7, 2))
    scale = rng.uniform(0.3, 1.0, 4)
    start = rng.uniform(0, 300, size=(4, 2))
    norm = crops.image_to_crop_norm(px, scale, start, 224)
    np.testing.assert_allclose(crops.crop_norm_to_image(norm, scale, start, 224), px)
    # design.md: image_px = ((proj + 1) * crop_size / 2 + crop_start) / crop_scale.
    np.testing.assert_allclose(((norm + 1) * 112 + start[:, None]) / scale[:, None, None], px)


def test_crop_params_like_sfv_and_interpolated():
    det = np.zeros((3, 4, 3))
    det[0, :2] = [[100, 100, 0.9], [100, 400, 0.9]]   # box diagonal 300 px
    det[2, :2] = [[200, 100, 0.9], [200, 250, 0.9]]   # 150 px
    scale, start = obs.crop_params(det, obs.RegressorSettings())
    assert scale[0] == pytest.approx(0.5)
    assert scale[2] == pytest.approx(1.0)
    np.testing.assert_allclose(start[0], np.round(np.array([100.0, 250.0]) * 0.5) - 112)
    # Frame 1 has nothing: its crop box is the average of its neighbours'.
    assert scale[1] == pytest.approx(150.0 / 225.0)
    with pytest.raises(ValueError, match="no frame"):
        obs.crop_params(np.zeros((2, 4, 3)), obs.RegressorSettings())


def test_pose_errors_have_requested_structure():
    num_frames = 400
    pose = np.zeros((num_frames, 72))
    s = obs.RegressorSettings(pose_bias_std=0.0, pose_slow_std=0.0, pose_jitter_std=0.1,
                              root_jitter_std=0.0, root_slow_std=0.0)
    noisy = obs.perturb_pose(pose, s, obs.clip_view_rng(0, 0, 0, 1))
    # From the identity the error rotation vector is the noise itself: std 0.1, white.
    assert np.std(noisy[:, 3:]) == pytest.approx(0.1, rel=0.05)
    np.testing.assert_allclose(noisy[:, :3], 0.0, atol=1e-12)
    s_slow = dataclasses.replace(s, pose_jitter_std=0.0, pose_slow_std=0.1, pose_slow_frames=5.0)
    slow = obs.perturb_pose(pose, s_slow, obs.clip_view_rng(0, 0, 0, 1))
    assert np.std(slow[:, 3:]) == pytest.approx(0.1, rel=0.15)
    # The slow part barely changes between neighbouring frames, the jitter does.
    assert np.std(np.diff(slow[:, 3:], axis=0)) < 0.3 * np.std(np.diff(noisy[:, 3:], axis=0))
    # Composition onto a non-trivial truth keeps the error angle.
    truth = np.tile(Rotation.from_rotvec([0.0, 1.0, 0.0]).as_rotvec(), (num_frames, 24))
    pert = obs.perturb_pose(truth, s, obs.clip_view_rng(0, 0, 0, 1))
    ang = (Rotation.from_rotvec(pert.reshape(-1, 3))
           * Rotation.from_rotvec(truth.reshape(-1, 3)).inv()).magnitude()
    np.testing.assert_allclose(ang.reshape(num_frames, 24)[:, 1:],
                               np.linalg.norm(noisy.reshape(num_frames, 24, 3)[:, 1:], axis=-1),
                               atol=1e-9)


def test_rotate_root_rotates_global_orientation_only():
    rng = np.random.default_rng(0)
    pose = rng.normal(scale=0.5, size=(3, 72))
    r = Rotation.from_rotvec([0.2, -0.4, 1.0]).as_matrix()
    out = obs.rotate_root(pose, r)
    np.testing.assert_allclose(out[:, 3:], pose[:, 3:])
    np.testing.assert_allclose(Rotation.from_rotvec(out[:, :3]).as_matrix(),
                               r @ Rotation.from_rotvec(pose[:, :3]).as_matrix(), atol=1e-12)


def test_slow_noise_is_as_noisy_at_the_clip_ends_as_in_the_middle():
    # A detector does not know where a clip starts: the drift's std is the same on every
    # frame (a reflected boundary repeated the end draws: 1.4x the std there).
    x = obs._slow_noise(np.random.default_rng(0), (40, 20000), 6.0)
    std = x.std(axis=1)
    np.testing.assert_allclose(std, 1.0, atol=0.03)
    # Still slow: neighbouring frames correlate as a Gaussian kernel of std 6 frames says
    # (exp(-d^2 / (4 sigma^2)) at d frames apart).
    corr = np.corrcoef(x[[20, 21, 26]])
    np.testing.assert_allclose([corr[0, 1], corr[0, 2]], [np.exp(-1 / 144), np.exp(-36 / 144)],
                               atol=0.02)
