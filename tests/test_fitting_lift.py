"""Tests of the 2D fit from keypoints alone: whole-rotation hypotheses, the temporal pass and
degenerate fits (sfv_jax.fitting.lift / temporal / degenerate); no mediapipe."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from sfv_jax import body, fitting
from sfv_jax.fitting import lift, temporal
from sfv_jax.geometry import cameras, rotations
from sfv_jax.synthetic import small_body


def _rot(axis: str, angle: float) -> np.ndarray:
    return np.asarray(rotations.axis_rotation(axis, jnp.asarray(angle)))


UPRIGHT = _rot("x", np.pi)  # SMPL's Y-up body upright in the y-down camera frame


def known_pose() -> np.ndarray:
    """(72,) a body with bent knees, hips and elbows (root rotation filled in by the cases)."""
    p = np.zeros(72, np.float32)
    p[3:] = np.asarray(fitting.neutral_body_pose(1.1))
    p[3 * 1] = -0.7    # left hip flexed
    p[3 * 2] = 0.3     # right hip slightly extended
    p[3 * 4] = 0.9     # left knee
    p[3 * 5] = 0.4     # right knee
    p[3 * 18 + 1] = -1.0   # left elbow (bends about -y)
    p[3 * 19 + 1] = 1.2    # right elbow
    return p


def pa_mpjpe_mm(pred: np.ndarray, true: np.ndarray) -> float:
    """Procrustes-aligned (with scale) mean joint error of one frame (J, 3), mm."""
    a, b = pred - pred.mean(0), true - true.mean(0)
    u, s, vt = np.linalg.svd(a.T @ b)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    r = u @ d @ vt
    scale = np.sum(s * np.diag(d)) / np.sum(a ** 2)
    return float(np.linalg.norm(scale * a @ r - b, axis=-1).mean() * 1000.0)


@pytest.fixture(scope="module")
def case():
    model = small_body("body25")
    # Upside down (a handstand), lying on the floor seen from the side (head to the image's
    # right, and left), and on the side facing the camera's right, turned a little.
    roots = np.stack([np.eye(3), _rot("z", np.pi / 2) @ UPRIGHT,
                      _rot("z", -np.pi / 2) @ _rot("y", 0.4) @ UPRIGHT,
                      _rot("z", np.pi) @ _rot("y", 2.5) @ UPRIGHT]).astype(np.float32)
    n = len(roots)
    pose = np.repeat(known_pose()[None], n, 0)
    pose[:, :3] = np.asarray(rotations.matrix_to_axis_angle(jnp.asarray(roots)))
    out = body.forward(model, pose, np.zeros((n, 10), np.float32))
    cam_img = np.asarray([[180.0, 2.0, 2.0], [120.0, 3.0, 2.5], [220.0, 2.5, 1.8],
                          [150.0, 2.2, 2.2]], np.float32)
    px = np.asarray(cameras.project_full(out.keypoints, jnp.asarray(cam_img)))
    kp = np.concatenate([px, np.ones(px.shape[:-1] + (1,), np.float32)], -1)
    opts = fitting.FitOptions.from_config(fitting.fitting_config())
    fit = fitting.fit_2d(model, kp, opts)
    return dict(model=model, out=out, kp=kp, fit=fit, opts=opts, roots=roots)


def test_upside_down_and_lying_bodies_are_recovered(case):
    fit, model = case["fit"], case["model"]
    pred = np.asarray(body.forward(model, fit.pose, fit.betas).joints)
    true = np.asarray(case["out"].joints)
    pa = [pa_mpjpe_mm(pred[i], true[i]) for i in range(len(pred))]
    assert max(pa) < 60.0, pa
    # Camera scale in range (the crop spans person_height_px: ~0.6..2 per metre here).
    s = np.asarray(fit.cam[:, 0])
    assert np.all((s > 0.4) & (s < 3.0)), s
    assert np.all(np.asarray(fit.degenerate) == 0) and bool(np.all(fit.valid))
    # The orientation found is the true one, not a mirror or flip: up and forward axes agree.
    r = np.asarray(rotations.axis_angle_to_matrix(fit.pose[:, :3]))
    assert np.all(np.sum(r[:, :, 1] * case["roots"][:, :, 1], -1) > 0.8)
    assert np.all(np.sum(r[:, :, 2] * case["roots"][:, :, 2], -1) > 0.5)
    assert np.all(np.nanmedian(np.asarray(fit.error_px), axis=1) < 3.0)


def test_orientation_hypotheses_cover_the_rotations():
    h = lift.orientation_hypotheses(2)
    assert h.shape == (48, 3, 3)
    np.testing.assert_allclose(np.einsum("hij,hkj->hik", h, h), np.broadcast_to(np.eye(3), h.shape),
                               atol=1e-5)
    assert np.allclose(np.linalg.det(h), 1.0, atol=1e-5)
    # Distinct, and every rotation (here: random ones) lies within 45 deg of one of them.
    tr = np.einsum("aij,bij->ab", h, h)
    assert np.sum(tr > 3.0 - 1e-4) == 48
    q = np.asarray(rotations.axis_angle_to_matrix(jnp.asarray(
        np.random.default_rng(0).standard_normal((200, 3)) * 2.0)))
    ang = np.arccos(np.clip(0.5 * (np.einsum("qij,hij->qh", q, h) - 1.0), -1, 1)).min(1)
    assert np.degrees(ang.max()) < 63.0


def test_viterbi_removes_a_one_frame_flip():
    # Two states: per-frame costs slightly prefer the wrong state on frame 3 only.
    unary = np.zeros((6, 2))
    unary[:, 1] = 1.0
    unary[3] = [1.0, 0.8]
    pair = np.broadcast_to(np.asarray([[0.0, 5.0], [5.0, 0.0]]), (5, 2, 2))
    assert temporal.viterbi(unary, pair).tolist() == [0] * 6
    assert temporal.viterbi(unary, np.zeros((5, 2, 2))).tolist() == [0, 0, 0, 1, 0, 0]


def test_temporal_pass_keeps_depth_order_continuous(case):
    # A track of one body (upright, turned): a knee's depth order picked per frame may flip on
    # near-ambiguous frames; along the track the limbs keep one continuous order.
    model, opts = case["model"], case["opts"]
    n = 8
    pose = np.repeat(known_pose()[None], n, 0)
    yaw = np.linspace(0.3, 0.6, n)
    roots = np.stack([_rot("y", a) @ UPRIGHT for a in yaw]).astype(np.float32)
    pose[:, :3] = np.asarray(rotations.matrix_to_axis_angle(jnp.asarray(roots)))
    out = body.forward(model, pose, np.zeros((n, 10), np.float32))
    px = np.asarray(cameras.project_full(out.keypoints, jnp.asarray([150.0, 2.0, 2.0])))
    kp = np.concatenate([px, np.ones(px.shape[:-1] + (1,), np.float32)], -1)
    fit = fitting.fit_2d(model, kp, opts, tracks=[n])
    kpf = np.asarray(body.forward(model, fit.pose, fit.betas).keypoints)
    names = model.keypoint_names
    for a, b in (("left_hip", "left_knee"), ("left_knee", "left_ankle"),
                 ("left_shoulder", "left_elbow")):
        dz = kpf[:, names.index(b), 2] - kpf[:, names.index(a), 2]
        signs = np.sign(dz[np.abs(dz) > 0.02])
        assert len(set(signs.tolist())) <= 1, (a, b, dz)
    with pytest.raises(ValueError, match="track lengths"):
        fitting.fit_2d(model, kp, opts, tracks=[n - 1])


def test_degenerate_fits_are_named(case):
    model, opts = case["model"], case["opts"]
    kp = case["kp"][:2].copy()
    # Frame 0: every keypoint on one pixel (the camera scale collapses); frame 1: the torso
    # collapsed onto one pixel while the limbs spread out.
    kp[0, :, :2] = kp[0, :1, :2]
    torso = [i for i, n in enumerate(model.keypoint_names) if n in fitting.TORSO_NAMES]
    kp[1, torso, :2] = kp[1, torso[0], :2]
    fit = fitting.fit_2d(model, kp, opts)
    codes = np.asarray(fit.degenerate)
    assert codes[0] == 1 and codes[1] in (2, 3), codes
    why = fitting.track_failure(codes[:1], np.ones(1, bool), np.asarray(fit.cam[:1]), opts)
    assert why.startswith("degenerate fit: camera scale out of range on 1 of 1 frames")
    good = fitting.track_failure(np.zeros(4, np.int32), np.ones(4, bool), np.ones((4, 3)), opts)
    assert good is None
    assert "no frame" in fitting.track_failure(np.zeros(2), np.zeros(2, bool), np.ones((2, 3)),
                                               opts)


def test_degenerate_track_is_a_named_failure_and_the_others_go_on(case):
    # initialize_tracks (the pipeline's step for tracks without estimates): a track whose
    # keypoints all sit on one pixel fails with its reason; the good track is initialized.
    from sfv_jax.initialize import initialize_tracks
    from sfv_jax.inputs import Track
    from sfv_jax.job_config import JobConfig, job_config

    cfg = job_config()
    good = np.repeat(case["kp"][:1], 4, 0)
    bad = good.copy()
    bad[..., :2] = bad[:, :1, :2]
    box = np.tile([0.0, 0.0, 600.0, 600.0], (4, 1))
    tracks = [Track(frames=np.arange(4), keypoints=kp, boxes=box, image_size=(720, 1280),
                    track_id=i, video="v", source="v.json")
              for i, kp in enumerate((good, bad))]
    rows: list = []
    fit_settings = JobConfig.from_config(cfg).fitting
    out = initialize_tracks(tracks, case["model"], fit_settings, failures=rows)
    assert [t.track_id for t in out] == [0] and out[0].has_estimates
    assert len(rows) == 1 and rows[0]["track"] == 1 and rows[0]["stage"] == "initialization"
    assert "v.json: track 1: degenerate fit: camera scale out of range" in rows[0]["error"]
    with pytest.raises(fitting.DegenerateFit, match="track 1"):
        initialize_tracks(tracks, case["model"], fit_settings)
