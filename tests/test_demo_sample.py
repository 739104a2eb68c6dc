"""The demo's built-in sample: captured motion with planted feet, a known camera and floor."""
import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from sfv_jax import body, skeletons
from sfv_jax.synthetic import demo_sample
from sfv_jax.body import synthetic
from sfv_jax.evaluation import world_metrics as wm

FEET = ("left_heel", "left_big_toe", "left_small_toe", "right_heel", "right_big_toe",
        "right_small_toe")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    model = synthetic.synthetic_model(0, num_vertices=1500)
    settings = demo_sample.SampleSettings(num_frames=60, width=320, height=180, focal=300.0)
    entry = demo_sample.generate(str(tmp_path_factory.mktemp("demo")), settings, model=model)
    return entry, settings, model, dict(np.load(os.path.join(entry, "truth.npz")))


def _feet(model, pose, betas, transl):
    m = body.keypoint_model(body.with_keypoints(model, "body25"))
    names = skeletons.keypoint_names("body25")
    kp = body.forward(m, jnp.asarray(pose, jnp.float32), jnp.broadcast_to(
        jnp.asarray(betas, jnp.float32), (len(pose), betas.shape[-1])),
        jnp.asarray(transl, jnp.float32)).keypoints
    return np.asarray(kp, np.float64)[:, [names.index(n) for n in FEET]]


def test_feet_are_planted(sample):
    _, _, model, truth = sample
    for i in range(2):
        feet = _feet(model, truth[f"person_{i}_world_pose"], truth[f"person_{i}_betas"],
                     truth[f"person_{i}_world_transl"])
        contact = np.asarray(wm.contact_mask(feet, 0.05, 0.01))
        # A walk: a good share of foot-point frames planted, and planted feet barely slide
        # (the former synthetic walkers skated at 2.7 m/s = 90 mm/frame and were never planted).
        assert contact.mean() > 0.3, contact.mean()
        assert float(wm.foot_skate(feet, contact)) * 1000.0 < 5.0
        # On the floor: the lowest foot point touches y = 0 within a centimetre, never deep below.
        low = feet[..., 1].min(axis=1)
        assert abs(np.percentile(low, 10)) < 0.01 and low.min() > -0.02


def test_world_camera_and_floor_are_recorded(sample):
    entry, settings, model, truth = sample
    with open(os.path.join(entry, "info.json")) as f:
        info = json.load(f)
    assert info["focal_length"] == settings.focal
    assert truth["focal"] == settings.focal
    rot, center, plane = truth["camera_rotation"], truth["camera_center"], truth["floor_plane"]
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert center[1] == pytest.approx(settings.camera_height)
    full = model
    for i in range(2):
        b = truth[f"person_{i}_betas"]
        args = lambda k: (jnp.asarray(truth[f"person_{i}_{k}pose"], jnp.float32),  # noqa: E731
                          jnp.broadcast_to(jnp.asarray(b, jnp.float32), (settings.num_frames, 10)),
                          jnp.asarray(truth[f"person_{i}_{k}transl"], jnp.float32))
        world = np.asarray(body.forward(full, *args("world_")).vertices, np.float64)
        cam = np.asarray(body.forward(full, *args("")).vertices, np.float64)
        # The camera-frame truth is the world truth seen by the recorded camera ...
        np.testing.assert_allclose(cam, (world - center) @ rot.T, atol=2e-5)
        # ... and the floor plane in camera coordinates gives the world heights.
        np.testing.assert_allclose(cam @ plane[:3] + plane[3], world[..., 1], atol=2e-5)
        # People stand in front of the camera, inside the image.
        px = settings.focal * cam[..., :2] / cam[..., 2:] + np.array([160.0, 90.0])
        inside = (px[..., 0] > 0) & (px[..., 0] < 320) & (px[..., 1] > 0) & (px[..., 1] < 180)
        assert cam[..., 2].min() > 2.0 and inside.mean() > 0.6


def test_looped_walk_continues_each_cycle():
    rng = np.random.default_rng(0)
    t = 9
    pose = 0.1 * rng.standard_normal((t, 72))
    pose[:, :3] = [0.0, 0.2, 0.0]
    transl = np.stack([np.zeros(t), np.full(t, 0.9), np.linspace(0.0, 0.8, t)], -1)
    pelvis = np.array([0.0, -0.2, 0.0])
    p, tr = demo_sample.looped_walk(pose, transl, pelvis, 30)
    assert p.shape == (30, 72) and tr.shape == (30, 3)
    np.testing.assert_allclose(p[:8], pose[:8])
    # The second cycle starts where the first ended: the clip's first frame placed at its last
    # frame's root (joints as in the first frame).
    np.testing.assert_allclose(tr[8], transl[8], atol=1e-12)
    np.testing.assert_allclose(p[8, :3], pose[8, :3], atol=1e-9)
    np.testing.assert_allclose(p[8, 3:], pose[0, 3:], atol=1e-12)
    steps = np.linalg.norm(np.diff(tr, axis=0), axis=-1)
    np.testing.assert_allclose(steps, 0.1, atol=1e-9)


def test_exports_can_be_scored_against_the_recorded_world(sample):
    # What a world-grounded export of the sample would be if it were exact: the camera-frame
    # truth with the recorded floor plane through export.world_motion. Scored against the
    # recorded world truth it is perfect up to the world's heading and origin.
    import types

    from sfv_jax.export import ExportSettings, world_motion

    _, settings, model, truth = sample
    for i in range(2):
        b = truth[f"person_{i}_betas"]
        res = types.SimpleNamespace(pose=truth[f"person_{i}_pose"], betas=b,
                                    cam_full=np.zeros((settings.num_frames, 3)),
                                    transl=truth[f"person_{i}_transl"],
                                    plane=truth["floor_plane"])
        wmo = world_motion.world_motion(res, model, (settings.height, settings.width),
                                        settings.focal, ExportSettings())
        got = _feet(model, wmo.pose, wmo.betas, wmo.transl)
        want = _feet(model, truth[f"person_{i}_world_pose"], b, truth[f"person_{i}_world_transl"])
        contact = wm.contact_mask(want, 0.05, 0.01)
        assert float(wm.w_mpjpe(got, want)) < 1e-4 and float(wm.wa_mpjpe(got, want)) < 1e-4
        np.testing.assert_allclose(got[..., 1], want[..., 1], atol=2e-5)  # same floor
        assert float(wm.foot_skate(got, contact)) == pytest.approx(
            float(wm.foot_skate(want, contact)), abs=1e-5)
