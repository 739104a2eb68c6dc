"""The accuracy benchmark end to end on a short real mocap clip (small sizes, fixed seeds)."""
import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from sfv_jax import body, skeletons
from sfv_jax.evaluation import benchmark, mocap
from sfv_jax.evaluation.config import evaluation_config
from sfv_jax.solver.config import solver_config

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "evaluation", "humanoid3d_walk20.txt")
SHARED = os.path.join(HERE, "..", "..", "shared", "data", "motions")


def _small_configs():
    ev = evaluation_config()
    ev.views = 2
    ev.frames_max = 12
    ev.truth_fit_steps = 150
    sv = solver_config()
    sv.adam.iterations = 20
    sv.progress_every = 0
    sv.bucket_lengths = (16,)
    return ev, sv


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    ev, sv = _small_configs()
    folder = tmp_path_factory.mktemp("motions")
    shutil.copy(FIXTURE, folder)
    files = mocap.list_motions(str(folder))
    wd = str(tmp_path_factory.mktemp("wd"))
    a = benchmark.run_benchmark(files, ev, sv, seed=3, workdir=wd, log=lambda m: None)
    b = benchmark.run_benchmark(files, ev, sv, seed=3, workdir=wd, log=lambda m: None)
    return a, b, wd


def test_fixed_seed_gives_identical_figures(runs):
    a, b, _ = runs
    # The second run reads the truth from the workdir cache: identical figures anyway.
    assert a["mean"] == b["mean"]
    assert a["clips"] == b["clips"]


def test_summary_layout_and_sanity(runs):
    a, _, wd = runs
    world = {"w_mpjpe", "wa_mpjpe", "root_accel", "foot_skate", "foot_float",
             "ground_penetration"}
    assert set(a["mean"]) == ({"mpjpe_init", "mpjpe", "pa_mpjpe_init", "pa_mpjpe", "accel_init",
                               "accel", "err_2d_init", "err_2d", "fit_2d_init", "fit_2d", "accel_truth",
                               "accel_blur"}
                              | world | {k + "_init" for k in world}
                              | {"root_accel_truth", "foot_skate_truth", "foot_float_truth",
                                 "ground_penetration_truth"})
    row = a["clips"]["walk20"]
    # The truth is real mocap on the mocap floor: a smooth root, planted feet that barely
    # slide, nothing deep in the floor.
    assert 0.0 < row["root_accel_truth"] < 10.0
    assert 0.0 <= row["foot_skate_truth"] < 5.0
    assert row["ground_penetration_truth"] < 10.0
    # The exported world motion (focal not known, weak perspective) is far off in the world
    # and the solve improves it.
    assert row["wa_mpjpe"] < row["wa_mpjpe_init"] and row["w_mpjpe"] > row["wa_mpjpe"]
    assert a["focal"]["known"] is False and len(a["focal"]["true_px"]) == 2
    # A one-frame blur of the truth loses part, not all, of its acceleration.
    assert 0.0 < row["accel_blur"] < row["accel_truth"]
    assert row["frames"] == 12 and row["views"] == 2
    # The body model follows the mocap joints to a few centimetres.
    assert 0.0 < row["truth_fit_mm"] < 60.0
    # Initial estimates are regressor-like, not perfect and not absurd.
    assert 20.0 < row["pa_mpjpe_init"] < 200.0
    assert 5.0 < row["accel_init"] < 100.0
    for k, v in a["mean"].items():
        assert np.isfinite(v), k
    saved = json.load(open(os.path.join(wd, "results.json")))
    assert saved["mean"] == a["mean"]
    assert any(f.startswith("truth_walk20_") for f in os.listdir(wd))


def test_truth_start_begins_at_the_truth(runs):
    """--init truth: the start is the truth (3D errors 0, every depth order right); its 2D
    error is the weak-perspective camera's own (small, not 0: the views are perspective)."""
    ev, sv = _small_configs()
    _, _, wd = runs
    folder = os.path.join(wd, "motions_truth")
    os.makedirs(folder, exist_ok=True)
    shutil.copy(FIXTURE, folder)
    res = benchmark.run_benchmark(mocap.list_motions(folder), ev, sv, seed=3, workdir=wd,
                                  log=lambda m: None, truth_init=True)
    m = res["mean"]
    assert m["mpjpe_init"] < 1.0 and m["pa_mpjpe_init"] < 1.0
    assert 0.0 < m["err_2d_init"] < 8.0
    assert res["depth_order"]["all"]["init"] == 0.0
    assert m["pa_mpjpe"] < 40.0


def test_motion_reference_on_known_motions():
    ev, _ = _small_configs()
    t, e = 40, ev.eval_joints
    names = skeletons.keypoint_names(ev.eval_format)[:e]
    still = np.zeros((t, e, 3))
    for i, n in enumerate(names):
        still[:, i] = [0.1 * i, 0.05 * (i % 3), 0.0]
    ob = dataclasses.replace(_dummy_observation(t, e), true_3d=still)
    ref = benchmark.motion_reference(ob, ev)
    assert ref == {"accel_truth": 0.0, "accel_blur": 0.0}
    # One joint flickering by +-1 mm every frame (Nyquist): |a| = 4 mm/frame^2 on it, and a one-frame
    # Gaussian blur removes almost all of it (gain exp(-pi^2 / 2) ~ 0.007 at Nyquist).
    moving = still.copy()
    j = names.index("right_wrist")
    moving[:, j, 0] += 0.001 * (-1.0) ** np.arange(t)
    ref = benchmark.motion_reference(dataclasses.replace(ob, true_3d=moving), ev)
    assert ref["accel_truth"] == pytest.approx(4.0 / e, rel=1e-6)
    assert ref["accel_blur"] == pytest.approx(ref["accel_truth"], rel=0.05)


def _dummy_observation(t: int, e: int) -> benchmark.Observation:
    z = np.zeros
    return benchmark.Observation(
        clip="x", view=0, azimuth_deg=0.0, keypoints=z((t, 19, 3)), detections=z((t, 25, 3)),
        detected=np.ones(t, bool), crop_scale=np.ones(t), crop_start=z((t, 2)), crop_size=224.0, init_pose=z((t, 72)),
        init_betas=z((t, 10)), init_cam=z((t, 3)), true_pose=z((t, 72)), true_3d=z((t, e, 3)),
        true_2d=z((t, e, 2)), in_image=np.ones((t, e), bool))


def test_observations_are_consistent_with_truth():
    ev, _ = _small_configs()
    ev.views = 1
    clip = mocap.load_mocap(FIXTURE, fps=30.0, frames_max=8)
    model = body.synthetic_model(seed=0)
    models = benchmark.make_models(model, ev)
    truth = mocap.fit_truth(model, [clip], ev)[0]
    # With every regressor error switched off the initial estimate is the truth itself.
    for key in ("pose_bias_std", "pose_slow_std", "pose_jitter_std", "root_jitter_std",
                "root_slow_std", "betas_bias_std", "betas_jitter_std", "cam_scale_jitter",
                "cam_trans_jitter"):
        ev[key] = 0.0
    ob = benchmark.observe(truth, models, ev, seed=0)[0]
    # Another seed, other detections; the same seed, the same ones.
    assert not np.array_equal(ob.keypoints, benchmark.observe(truth, models, ev, seed=1)[0].keypoints)
    np.testing.assert_array_equal(ob.keypoints, benchmark.observe(truth, models, ev, seed=0)[0].keypoints)
    s = benchmark.score(ob.init_pose, ob.init_betas, ob.init_cam, ob, models, ev)
    assert s["mpjpe"] == pytest.approx(0.0, abs=1e-2)
    assert s["pa_mpjpe"] == pytest.approx(0.0, abs=1e-2)
    assert s["accel"] == pytest.approx(0.0, abs=1e-2)
    # Weak perspective vs the true perspective camera at 6 m: a few pixels at most.
    assert s["err_2d"] < 8.0
    # Against the detections the truth scores about the detector's own error (noisy, > 0).
    assert 0.5 < s["fit_2d"] < 30.0
    # A world-mode estimate is scored through its own pinhole camera: the truth with its true
    # translation and focal projects exactly onto the true 2D points.
    body_joints = benchmark._forward_np(models.evaluate, ob.init_pose, ob.init_betas)[:, :14]
    transl = (ob.true_3d - body_joints).mean(axis=1)
    centre = np.array([ob.image_size[1], ob.image_size[0]]) / 2.0
    sp = benchmark.score(ob.init_pose, ob.init_betas, ob.init_cam, ob, models, ev,
                         perspective=(transl, ob.focal, centre))
    assert sp["err_2d"] < 0.05 and sp["mpjpe"] == pytest.approx(s["mpjpe"])
    assert ob.keypoints.shape == (8, 19, 3)  # converted to the solver's cocoplus-19


def test_load_mocap_resamples_and_turns_into_smpl_frame():
    clip = mocap.load_mocap(FIXTURE, fps=15.0)
    # 20 frames of 1/30 s -> t in [0, 19/30] -> 10 frames at 15 fps.
    assert clip.num_frames == 10 and clip.fps == 15.0
    lh, rh = clip.select(("left_hip", "right_hip"))[0]
    assert lh[0] - rh[0] > 0.1           # SMPL: the body's left is +X
    assert clip.points[..., 1].max() > 1.2   # Y up
    assert clip.root[-1, 2] > clip.root[0, 2]  # DeepMimic's walk goes forward: +Z here
    with pytest.raises(ValueError, match="DeepMimic"):
        mocap.list_motions(os.path.dirname(FIXTURE) + "/README.md")


def run_launcher(tmp_path, clip: str, *args: str) -> list[str]:
    """launch/bench_accuracy.py run as a user runs it (a script of its own, not an import of
    launch/) on one shared clip, 1 view, 5 solver steps; its stdout lines."""
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(os.path.join(SHARED, f"humanoid3d_{clip}.txt"), folder)
    run = subprocess.run(
        [sys.executable, os.path.join(HERE, "..", "launch", "bench_accuracy.py"), "--motions",
         str(folder), "--views", "1", *args, "--set", "solver.adam.iterations=5",
         "solver.progress_every=0"], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout.strip().splitlines()


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="../shared/data/motions not present")
def test_launcher_prints_json_last_line(tmp_path):
    out = run_launcher(tmp_path, "run", "--frames-max", "10", "--workdir", str(tmp_path / "w"),
                       "--config", "configs/sfv_paper.py")
    last = json.loads(out[-1])
    assert set(last["clips"]) == {"run"}
    assert "pa_mpjpe_init" in last["mean"]


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="../shared/data/motions not present")
def test_launcher_compares_configs_on_the_same_observations(tmp_path):
    out = run_launcher(tmp_path, "walk", "--frames-max", "12", "--config", "sfv_paper", "world")
    runs = json.loads(out[-1])["configs"]
    assert list(runs) == ["sfv_paper", "world"]
    # The same observations: the initial estimate scores the same under both configs.
    assert runs["world"]["mean"]["pa_mpjpe_init"] == runs["sfv_paper"]["mean"]["pa_mpjpe_init"]
    assert runs["world"]["mean"]["pa_mpjpe"] != runs["sfv_paper"]["mean"]["pa_mpjpe"]
    table = out[out.index(next(l for l in out if l.startswith("config ") and "W" in l)):-1]
    ratio = next(l for l in table if l.strip().startswith("/ sfv_paper"))
    wa = float(ratio.split()[2 + 6])  # "/", "sfv_paper", then the columns: WA is the 7th
    assert wa == pytest.approx(runs["world"]["mean"]["wa_mpjpe"]
                               / runs["sfv_paper"]["mean"]["wa_mpjpe"], abs=1e-3)
