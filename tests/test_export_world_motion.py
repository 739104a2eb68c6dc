"""export.world_motion: the one world-frame motion the exports and the benchmark share."""
import types

import jax.numpy as jnp
import numpy as np
import pytest

from sfv_jax import body
from sfv_jax import schema
from sfv_jax.export import ExportSettings, GroundSettings
from sfv_jax.export import world_motion as wmo
from sfv_jax.geometry import cameras

T = 6


@pytest.fixture(scope="module")
def model():
    return body.synthetic_model(0)


def _result(with_plane: bool = False):
    rng = np.random.default_rng(0)
    pose = rng.normal(0.0, 0.2, (T, 72))
    pose[:, :3] = [np.pi, 0.0, 0.0]  # upright in the camera frame (y down)
    cam_full = np.tile([300.0, 0.1, 0.2], (T, 1))
    cam_full[:, 0] += 5.0 * np.arange(T)
    r = types.SimpleNamespace(pose=pose, betas=rng.normal(0.0, 0.5, (T, 10)), cam_full=cam_full)
    if with_plane:
        tilt = 0.3
        r.plane = np.array([0.0, -np.cos(tilt), -np.sin(tilt), 1.5])
    return r


def _forward(model, pose, betas, transl):
    b = jnp.broadcast_to(jnp.asarray(betas, jnp.float32), (pose.shape[0], betas.shape[-1]))
    return np.asarray(body.forward(model, jnp.asarray(pose, jnp.float32), b,
                                   jnp.asarray(transl, jnp.float32)).vertices, np.float64)


def test_paper_mode_matches_the_exports(model):
    r = _result()
    cfg = ExportSettings()
    w = wmo.world_motion(r, model, (480, 640), 800.0, cfg)
    expected = cameras.perspective_from_full(jnp.asarray(r.cam_full, jnp.float32), 800.0,
                                             jnp.asarray([320.0, 240.0]))
    np.testing.assert_allclose(w.camera_transl, np.asarray(expected), rtol=1e-6)
    cam = _forward(model, r.pose, r.betas.mean(0), w.camera_transl)
    world = _forward(model, w.pose, w.betas, w.transl)
    np.testing.assert_allclose(w.to_world(cam), world, atol=1e-5)
    # Y up (the camera's y is down) and the clip's lowest mesh point on the floor.
    assert np.min(world[..., 1]) == pytest.approx(0.0, abs=1e-5)
    np.testing.assert_allclose(w.rotation, np.diag([1.0, -1.0, -1.0]))
    cfg = schema.replace(cfg, ground=GroundSettings(mode="none"))
    w0 = wmo.world_motion(r, model, (480, 640), 800.0, cfg)
    np.testing.assert_allclose(w0.offset, 0.0)


def test_solved_plane_and_translation_are_used(model):
    r = _result(with_plane=True)
    r.transl = np.tile([0.1, -0.2, 6.0], (T, 1))
    w = wmo.world_motion(r, model, (480, 640), 800.0, ExportSettings())
    np.testing.assert_allclose(w.camera_transl, r.transl)
    assert w.ground == "solved"
    cam = _forward(model, r.pose, r.betas.mean(0), r.transl)
    world = _forward(model, w.pose, w.betas, w.transl)
    np.testing.assert_allclose(w.to_world(cam), world, atol=1e-5)
    # Heights in the world are the plane's heights n . p + d of the camera-frame points.
    np.testing.assert_allclose(world[..., 1], cam @ r.plane[:3] + r.plane[3], atol=1e-5)
    # The camera centre stands above the world origin.
    np.testing.assert_allclose(w.to_world(np.zeros((T, 1, 3)))[:, 0, [0, 2]], 0.0, atol=1e-9)


def test_focal_sources():
    assert wmo.default_focal((1080, 1920)) == pytest.approx(np.hypot(1080, 1920))
    assert wmo.resolve_focal(1000.0, 600.0, (360, 640)) == (1000.0, "config")
    assert wmo.resolve_focal(0.0, 600.0, (360, 640)) == (600.0, "input")
    f, src = wmo.resolve_focal(0.0, None, (360, 640))
    assert src == "image_size" and f == pytest.approx(np.hypot(360, 640))
    with pytest.raises(ValueError, match="image size"):
        wmo.default_focal((0, 640))


def test_clip_ground_lift_quantile():
    from sfv_jax.export import ground_lift
    low = np.array([0.30, 0.31, 0.29, 0.32, 0.30, 0.25, 0.31, 0.30, 0.29, 0.31])  # one dip
    np.testing.assert_allclose(ground_lift(low, "clip"), -0.25)   # the minimum lands on 0
    lift = ground_lift(low, "clip", 0.0, 0.2)
    np.testing.assert_allclose(lift, -np.quantile(low, 0.2))      # the dip alone sinks
    assert np.sum(low + lift < 0) == 1 and np.all(lift == lift[0])
    np.testing.assert_allclose(ground_lift(low, "frame", 0.01), 0.01 - low)
    with pytest.raises(ValueError, match="quantile"):
        GroundSettings(quantile=1.0)
