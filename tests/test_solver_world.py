"""The solver's world mode: perspective camera, one ground plane per video, contacts."""
import dataclasses

import numpy as np
import pytest

from sfv_jax import body, solver
from sfv_jax.solver import world
from sfv_jax.synthetic import clips as synthetic_clips
from sfv_jax.solver.config import SolverSettings, solver_config


@pytest.fixture(scope="module")
def model():
    return body.synthetic_model()


def world_config(iterations=300):
    cfg = solver_config()
    cfg.mode = "world"
    w = cfg.weights
    w.camera_smooth = 0.0
    w.root_accel, w.contact_static, w.contact_height, w.ground_penetration = 1e3, 5e3, 2e3, 1e4
    cfg.adam.iterations = iterations
    cfg.progress_every = 0
    return cfg


def angle_deg(a, b):
    return float(np.degrees(np.arccos(np.clip(np.dot(a, b), -1.0, 1.0))))


def floor_error(plane, truth):
    """Mean distance (m) between the solved and the true floor under the person's feet."""
    feet = truth.transl                               # near the person (camera coordinates)
    foot = feet - (feet @ truth.plane[:3] + truth.plane[3])[:, None] * truth.plane[:3]
    return float(np.mean(np.abs(foot @ plane[:3] + plane[3])))


def test_tilted_camera_plane_is_recovered(model):
    clip, truth = synthetic_clips.make_world_clip(model, 64, seed=0, pitch_deg=15.0,
                                                  camera_height=1.5)
    res = solver.solve(model, [clip], world_config(200), progress=False)[0]
    assert not res.nonfinite
    assert angle_deg(res.plane[:3], truth.plane[:3]) < 3.0
    assert floor_error(res.plane, truth) < 0.03
    # The solved translation is the camera-frame root, depth included.
    assert np.mean(np.abs(res.transl[:, 2] - truth.transl[:, 2])) < 0.15
    assert res.contacts.shape == (64, 4) and res.foot_points.shape == (64, 4, 3)
    assert res.focal == clip.focal and res.history["total"][-1] < res.history["total"][0]


def test_world_recipe_recovers_a_tilted_cameras_plane(model):
    """configs/world.py's own solver section (its weights, image contacts, root step size)."""
    from sfv_jax import recipes
    cfg = recipes.get("world").solver
    cfg.adam.iterations = 300
    cfg.progress_every = 0
    clip, truth = synthetic_clips.make_world_clip(model, 64, seed=0, pitch_deg=15.0,
                                                  camera_height=1.5)
    res = solver.solve(model, [clip], cfg, progress=False)[0]
    assert not res.nonfinite
    assert angle_deg(res.plane[:3], truth.plane[:3]) < 3.0
    assert floor_error(res.plane, truth) < 0.03
    assert np.mean(np.abs(res.transl[:, 2] - truth.transl[:, 2])) < 0.15


def _plane_from_points(points, up, normal_prior=1e-3, level_prior=0.0):
    """fit_planes on one clip's (N, 3) points, all weights 1."""
    import jax.numpy as jnp
    p = jnp.asarray(points, jnp.float32)
    moments = (jnp.full((1,), float(len(p))), jnp.sum(p, 0)[None],
               jnp.einsum("ni,nj->ij", p, p)[None])
    old = jnp.zeros((1, 4))
    group, mask = jnp.zeros((1, 1), jnp.int32), jnp.ones((1, 1))
    plane = world.fit_planes(moments, jnp.asarray(up, jnp.float32)[None], group, mask, old,
                             normal_prior, level_prior)
    return np.asarray(plane[0])


def test_level_prior_settles_the_roll_the_feet_leave_free():
    # A straight run towards the camera: the foot points lie along one line on the floor
    # (1.5 m below a level camera, normal -y), so the roll about that line is free and the
    # body-up prior (rolled 20 degrees, as a leaning runner's) decides it alone.
    z = np.linspace(4.0, 9.0, 40)
    line = np.stack([0.1 * np.sin(z), np.full_like(z, 1.5), z], -1)
    roll = np.deg2rad(20.0)
    leaning_up = np.array([np.sin(roll), -np.cos(roll), 0.0])
    free = _plane_from_points(line, leaning_up)
    assert angle_deg(free[:3], [0.0, -1.0, 0.0]) > 10.0
    level = _plane_from_points(line, leaning_up, level_prior=1e-2)
    # What is left is the two priors' compromise, 20 deg x 1e-3 / (1e-3 + 1e-2) = 1.8 deg.
    assert angle_deg(level[:3], [0.0, -1.0, 0.0]) < 2.5
    assert abs(level[3] - 1.5) < 0.01
    # A floor really rolled 10 degrees, with feet spread over it, stays rolled: the data win.
    rng = np.random.default_rng(0)
    n = np.array([np.sin(np.deg2rad(10.0)), -np.cos(np.deg2rad(10.0)), 0.0])
    e1 = np.cross(n, [0.0, 0.0, 1.0]); e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    pts = (-1.5 * n + rng.uniform(-1.0, 1.0, (200, 1)) * e1
           + (6.0 + rng.uniform(-2.0, 2.0, (200, 1))) * e2)
    rolled = _plane_from_points(pts, n, level_prior=1e-2)
    assert angle_deg(rolled[:3], n) < 1.5


def test_videos_are_coupled_within_and_independent_across(model):
    a1, _ = synthetic_clips.make_world_clip(model, 60, seed=1, video="a", path_offset=(0, 0.5))
    a2, _ = synthetic_clips.make_world_clip(model, 50, seed=2, video="a", path_offset=(0, -0.5))
    b, _ = synthetic_clips.make_world_clip(model, 40, seed=3, pitch_deg=5.0, video="b")
    cfg = world_config(iterations=20)
    alone = solver.solve(model, [a1, a2], cfg, progress=False)
    mixed = solver.solve(model, [b, a2, a1], cfg, progress=False)
    # One plane per video, bit for bit the same in all its clips ...
    np.testing.assert_array_equal(alone[0].plane, alone[1].plane)
    assert not np.array_equal(mixed[0].plane, mixed[1].plane)
    # ... and a video's results do not depend on the other videos in the batch.
    for x, y in ((alone[0], mixed[2]), (alone[1], mixed[1])):
        for f in ("pose", "betas", "transl", "plane", "contacts"):
            np.testing.assert_array_equal(getattr(x, f), getattr(y, f))
    # The same clip in its own video gets its own plane.
    solo = solver.solve(model, [dataclasses.replace(a1, video="")], cfg, progress=False)[0]
    assert not np.array_equal(solo.plane, alone[0].plane)


def test_lbfgs_option_solves_the_world_objective(model):
    clip, truth = synthetic_clips.make_world_clip(model, 64, seed=4)
    cfg = world_config()
    cfg.optimizer = "lbfgs"
    cfg.lbfgs.iterations = 30
    res = solver.solve(model, [clip], cfg, progress=False)[0]
    assert not res.nonfinite
    assert res.final_loss["total"] < 0.5 * res.history["total"][0]
    assert angle_deg(res.plane[:3], truth.plane[:3]) < 5.0


def test_config_errors(model):
    cfg = solver_config()
    cfg.weights.root_accel = 1.0
    with pytest.raises(ValueError, match="need mode 'world'"):
        SolverSettings.from_config(cfg)
    cfg.mode = "sideways"
    with pytest.raises(ValueError, match="mode must be"):
        SolverSettings.from_config(cfg)
    clip, _ = synthetic_clips.make_world_clip(model, 32, seed=5)
    with pytest.raises(ValueError, match="focal length"):
        solver.solve(model, [dataclasses.replace(clip, focal=0.0)], world_config(1),
                     progress=False)
    many = [dataclasses.replace(clip, video="v")] * 3
    small = world_config(1)
    small.world.max_clips_per_video = 2
    with pytest.raises(ValueError, match="video 'v'"):
        solver.solve(model, many, small, progress=False)


def test_foot_sole_points_are_the_lowest_rest_vertices(model):
    ids = world.foot_sole_vertices(model)
    v = np.asarray(model.v_template)
    assert len(set(ids)) == 4
    assert np.all(v[list(ids), 1] < v[:, 1].min() + 0.005)
    # Heels behind toes (the body faces +Z); left foot at +X.
    assert v[ids[0], 2] < v[ids[1], 2] and v[ids[2], 2] < v[ids[3], 2]
    assert v[ids[0], 0] > 0 > v[ids[2], 0]


def test_root_steps_shorten_along_a_cosine():
    from sfv_jax.solver.world_optimize import root_lr_multiplier
    cfg = world_config()
    cfg.world.root_lr_scale, cfg.world.root_lr_decay = 12.0, 0.1
    s = SolverSettings.from_config(cfg)
    m = np.array([float(root_lr_multiplier(s, i, 600)) for i in range(600)])
    assert m[0] == pytest.approx(12.0) and m[-1] == pytest.approx(1.2)
    assert m[299] == pytest.approx(6.6, abs=0.02)          # half way: the mean of both ends
    assert np.all(np.diff(m) <= 1e-6)                      # never longer again
    # Decay 1 is the constant multiplier, a plain number (the solve's dtype decides).
    cfg.world.root_lr_decay = 1.0
    assert root_lr_multiplier(SolverSettings.from_config(cfg), 7, 600) == 12.0
    cfg.world.root_lr_decay = 0.0
    with pytest.raises(ValueError, match="root_lr_decay"):
        SolverSettings.from_config(cfg)


def test_first_plane_finds_the_feet_under_a_leaning_start(model):
    """A start whose body-up leans 25 degrees towards the camera (a 2D fit cannot tell the
    lean) of a person walking in depth: one closed-form fit from that up leaves the first floor
    far from the feet (6.6 cm here), and the solve's first long root steps then chase the
    penetration term; a few refits (world.initial_plane_fits) find the feet's own floor."""
    import jax.numpy as jnp
    from sfv_jax.geometry import rotations
    clip, truth = synthetic_clips.make_world_clip(model, 48, seed=4, pitch_deg=15.0,
                                                  camera_height=1.5, pose_noise=0.0,
                                                  speed=1.5, distance=4.0)
    lean = np.asarray(rotations.axis_rotation("x", jnp.float32(np.deg2rad(25.0))))
    root = np.asarray(rotations.axis_angle_to_matrix(jnp.asarray(clip.pose[:, :3], jnp.float32)))
    pose = clip.pose.copy()
    pose[:, :3] = np.asarray(rotations.matrix_to_axis_angle(jnp.asarray(lean @ root)))
    leaning = dataclasses.replace(clip, pose=pose)
    floor = {}
    for fits in (1, 5):
        cfg = world_config(iterations=1)      # the first plane: refits start at iteration > 0
        cfg.world.initial_plane_fits = fits
        res = solver.solve(model, [leaning], cfg, progress=False)[0]
        floor[fits] = floor_error(res.plane, truth)
    assert floor[5] < 0.35 * floor[1] and floor[5] < 0.04, floor
    cfg = world_config(iterations=1)
    cfg.world.initial_plane_fits = 0
    with pytest.raises(ValueError, match="initial_plane_fits"):
        solver.solve(model, [leaning], cfg, progress=False)
