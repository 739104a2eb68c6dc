"""launch/check_deepmimic.py (sfv_jax.evaluation.deepmimic_check): DeepMimic files played on
pybullet's humanoid (skips without pybullet)."""
import json
import subprocess
import sys
import os

import numpy as np
import pytest

pytest.importorskip("pybullet")
pytest.importorskip("pybullet_data")

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "launch", "check_deepmimic.py")
WALK = os.path.join(HERE, "fixtures", "deepmimic", "humanoid3d_walk.txt")
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "motions"))


@pytest.fixture(scope="module")
def cd():
    from sfv_jax.evaluation import deepmimic_check
    return deepmimic_check


@pytest.fixture(scope="module")
def humanoid(cd):
    h = cd.Humanoid()
    yield h
    h.close()


def _walk_frames(cd) -> np.ndarray:
    return cd.read_frames(WALK)[0]


def test_real_mocap_reference(cd, humanoid):
    # DeepMimic's own walk: what real motion capture gives (the reference figures).
    r = cd.check_motion(_walk_frames(cd), humanoid)
    assert r["frames"] == 39 and r["duration_s"] == pytest.approx(1.2666, abs=1e-3)
    assert r["root_accel_m_s2"] == pytest.approx(2.49, abs=0.05)
    assert r["root_speed_m_s"]["first"] == pytest.approx(1.25, abs=0.02)
    assert r["loop_seam_deg"] == pytest.approx(6.50, abs=0.05)
    assert r["last_duration_s"] == 0.0
    # The feet stay on the floor (within 1.5 cm) and barely skate.
    assert -1.0 < r["foot_height_cm"]["min"] and r["foot_height_cm"]["max"] < 1.5
    assert r["foot_above_5cm_frac"] == 0.0 and r["foot_skate_m_s"] < 0.2


def test_hand_made_motions(cd, humanoid):
    frames = np.repeat(_walk_frames(cd)[:1], 20, axis=0)
    still = cd.check_motion(frames, humanoid)
    assert still["root_speed_m_s"]["mean"] == 0.0 and still["root_accel_m_s2"] == 0.0
    assert still["foot_skate_m_s"] == 0.0 and still["loop_seam_deg"] == 0.0
    # Sliding the whole body at 1.5 m/s: root and the planted foot move at that speed.
    slide = frames.copy()
    slide[:, 1] += 1.5 * np.arange(20) * frames[0, 0]
    r = cd.check_motion(slide, humanoid)
    assert r["root_speed_m_s"]["mean"] == pytest.approx(1.5, rel=1e-6)
    assert r["root_accel_m_s2"] == pytest.approx(0.0, abs=1e-6)
    assert r["foot_skate_m_s"] == pytest.approx(1.5, rel=1e-3)
    # Lifted by 10 cm: the lowest foot is 10 cm higher and always above 5 cm.
    lifted = frames.copy()
    lifted[:, 2] += 0.10
    up = cd.check_motion(lifted, humanoid)
    assert up["foot_height_cm"]["mean"] == pytest.approx(still["foot_height_cm"]["mean"] + 10.0,
                                                         abs=0.02)
    assert up["foot_above_5cm_frac"] == 1.0
    # A knee bent by 0.6 rad in the last frame only: the seam is 0.6 rad over 12 joints.
    bent = frames.copy()
    bent[-1, 20] += 0.6
    assert cd.check_motion(bent, humanoid)["loop_seam_deg"] == pytest.approx(
        np.degrees(0.6) / 12, abs=1e-3)  # the figure is rounded to 3 places


def test_main_prints_json_last_line(cd, tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("{\"Frames\": [[1, 2]]}")
    files = [WALK]
    if os.path.isdir(SHARED):
        files.append(os.path.join(SHARED, "humanoid3d_run.txt"))
    assert cd.main(files + [str(bad)]) == 1  # the bad file is reported, the others checked
    out = capsys.readouterr()
    last = json.loads(out.out.strip().splitlines()[-1])
    assert set(last["files"]) == set(files)
    assert str(bad) in last["failed"] and "44 numbers" in last["failed"][str(bad)]
    if len(files) == 2:
        run = last["files"][files[1]]
        assert run["root_speed_m_s"]["mean"] > 3.0  # DeepMimic's run: ~3.6 m/s


def test_wrapped_export_has_no_seam_in_pybullet(cd, humanoid):
    from sfv_jax.export import deepmimic
    cut = _walk_frames(cd)[:30]  # mid-cycle: a large last -> first jump
    before = cd.check_motion(cut, humanoid)["loop_seam_deg"]
    after = cd.check_motion(deepmimic.blend_loop_seam(cut, 8), humanoid)
    assert before > 10.0 and after["loop_seam_deg"] < 0.01


def test_launch_script_runs_the_check():
    # The launch script is a script: run it as a user does.
    proc = subprocess.run([sys.executable, SCRIPT, WALK], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["files"][WALK]["frames"] == 39 and last["failed"] == {}


def test_world_mode_deepmimic_feet_stand_on_the_solved_floor(cd, humanoid, run_job, tmp_path):
    # A world-mode job as a user runs it (configs/world.py, its own iterations): the DeepMimic
    # humanoid (feet: boxes below its ankles, not SMPL's soles) is lifted once per clip onto the
    # solved floor, so its lowest foot touches y = clearance (unlifted it sank ~6 cm into the
    # floor on the demo), and the solve keeps the feet near that floor. (A paper solve with a
    # few world weights and 40 iterations, which this test ran before, left one track's lower
    # foot 4.5-6.7 cm up on average depending on the sample's noise draw.)
    entry = run_job.sample(str(tmp_path / "gen" / "walk"), 3)
    inputs = tmp_path / "inputs"
    os.makedirs(inputs)
    os.symlink(entry, inputs / "walk")
    keep = [o for o in run_job.overrides
            if not o.startswith(("--config=", "--config.solver.adam.iterations"))]
    cmd = [sys.executable, "-m", "sfv_jax.main",
           "--config=" + os.path.join(run_job.repo, "configs", "world.py"), *keep,
           f"--workdir={tmp_path / 'work'}", f"--config.inputs.dir={inputs}",
           "--config.outputs.video=False", "--config.outputs.plots=False"]
    proc = subprocess.run(cmd, env=run_job.env(), capture_output=True, text=True, timeout=900,
                          cwd=run_job.repo)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = sorted((tmp_path / "work" / "results").glob("*/track_*/motion_deepmimic.txt"))
    assert files
    for f in files:
        r = cd.check_motion(cd.read_frames(str(f))[0], humanoid)
        assert abs(r["foot_height_cm"]["min"]) < 0.5, (f, r["foot_height_cm"])
        assert r["foot_height_cm"]["mean"] < 5.0, (f, r["foot_height_cm"])
