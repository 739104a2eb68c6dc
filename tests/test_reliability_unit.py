"""Reliability pieces on their own (issue 18): batch isolation, resume records, the workdir
lock, temporary cleanup, config checks, per-track plausibility checks and one-line errors."""
from __future__ import annotations

import errno
import os
import subprocess
import sys

import numpy as np
import pytest

from sfv_jax import atomic, config_checks, resume, track_checks, workdir_lock
from sfv_jax.inputs import InputError, Track
from sfv_jax.inputs.config import reading_config
from sfv_jax.job_config import job_config
from sfv_jax.solve_isolation import solve_isolating


# --- isolation of a failing clip ----------------------------------------------------------
def _fake_solver(bad: set[int], calls: list):
    def solve(clips):
        calls.append(list(clips))
        if bad & set(clips):
            raise FloatingPointError("a clip blew up")   # names no clip: bisection
        return [f"result {c}" for c in clips]
    return solve


def test_failing_clip_isolated_by_bisection():
    calls: list = []
    out = solve_isolating(_fake_solver({5}, calls), list(range(16)))
    assert [o for i, o in enumerate(out) if i != 5] == [f"result {i}" for i in range(16) if i != 5]
    assert isinstance(out[5], FloatingPointError)
    assert len(calls) <= 2 * 4 + 1   # log2(16) levels, two halves each, plus the first try


def test_clip_named_by_the_error_is_dropped_directly():
    calls: list = []

    def solve(clips):
        calls.append(list(clips))
        if 7 in clips:
            raise ValueError(f"clip {clips.index(7)} ('v/track_007'): field 'cam' scale s must "
                             f"be > 0")
        return [c * 10 for c in clips]

    out = solve_isolating(solve, list(range(10)))
    assert len(calls) == 2 and isinstance(out[7], ValueError)
    assert [o for i, o in enumerate(out) if i != 7] == [i * 10 for i in range(10) if i != 7]


def test_error_every_subset_shares_stops_after_a_few_attempts():
    calls: list = []
    out = solve_isolating(_fake_solver(set(range(64)), calls), list(range(64)))
    assert all(isinstance(o, Exception) for o in out)
    assert len(calls) <= 4 * 7 + 4


# --- resume records -------------------------------------------------------------------------
def _finished_track(tmp_path) -> tuple[str, dict]:
    out = tmp_path / "results" / "v" / "track_000"
    out.mkdir(parents=True)
    (out / "result.npz").write_bytes(b"x" * 100)
    (out / "motion.bvh").write_text("HIERARCHY\n")
    row = {"video": "v", "track": 0, "config": "cfg1", "inputs": "in1",
           "outputs": {"result": "result.npz", "bvh": "motion.bvh"}}
    resume.write_done(str(out), row)
    return str(out), row


def test_done_needs_same_config_inputs_and_outputs(tmp_path):
    out, _ = _finished_track(tmp_path)
    assert resume.is_done(out, "cfg1", "in1") is not None
    assert resume.check_done(out, "cfg2", "in1")[1] == "the config changed"
    assert resume.check_done(out, "cfg1", "in2")[1] == "the inputs changed"
    with open(os.path.join(out, "motion.bvh"), "a") as f:
        f.write("x")
    assert "differs" in resume.check_done(out, "cfg1", "in1")[1]
    with open(os.path.join(out, "motion.bvh"), "w") as f:
        f.write("HIERARCHY\n")
    assert resume.is_done(out, "cfg1", "in1") is not None
    os.remove(os.path.join(out, "result.npz"))
    assert "missing" in resume.check_done(out, "cfg1", "in1")[1]


def test_inputs_fingerprint_follows_content_and_names(tmp_path):
    entry = tmp_path / "clip"
    (entry / "openpose").mkdir(parents=True)
    (entry / "openpose" / "a.json").write_text('{"people": []}')
    fp = resume.inputs_fingerprint([str(entry / "openpose")])
    assert fp == resume.inputs_fingerprint([str(entry / "openpose")])
    st = os.stat(entry / "openpose" / "a.json")
    (entry / "openpose" / "a.json").write_text('{"people": [1]}')
    os.utime(entry / "openpose" / "a.json", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert resume.inputs_fingerprint([str(entry / "openpose")]) != fp   # same mtime, new bytes
    other = tmp_path / "elsewhere"
    (other / "openpose").mkdir(parents=True)
    (other / "openpose" / "a.json").write_text('{"people": [1]}')
    assert resume.inputs_fingerprint([str(other / "openpose")]) != \
        resume.inputs_fingerprint([str(entry / "openpose")])


# --- workdir lock and temporaries -----------------------------------------------------------
def test_second_lock_on_a_workdir_is_refused_with_the_holder(tmp_path):
    with workdir_lock.workdir_lock(str(tmp_path)):
        code = ("import sys; from sfv_jax import workdir_lock as w\n"
                "try:\n  w.workdir_lock(sys.argv[1], wait_s=0.3, poll_s=0.1).__enter__()\n"
                "except w.WorkdirLockedError as e:\n  print(e); sys.exit(3)\n")
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 3, proc.stderr
        assert f"pid {os.getpid()}" in proc.stdout and "in use by another job" in proc.stdout
    with workdir_lock.workdir_lock(str(tmp_path)):   # released: taken again at once
        pass


def test_cleanup_removes_only_dead_jobs_temporaries(tmp_path):
    folder = tmp_path / "results" / "v"
    folder.mkdir(parents=True)
    mine = folder / f".result.npz.{atomic.temp_tag()}.abc.tmp"
    mine.write_bytes(b"in progress")
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
    host = atomic.temp_tag().rsplit("-", 1)[1]
    dead = folder / f".motion.bvh.pid{dead_pid}-{host}.xyz.tmp"
    dead.write_bytes(b"left behind")
    legacy = folder / ".old.json.q1w2e3.tmp"
    legacy.write_bytes(b"old")
    assert resume.remove_stale_temporaries(str(folder)) == 2
    assert mine.exists() and not dead.exists() and not legacy.exists()


def test_atomic_write_errors_name_the_target(tmp_path, monkeypatch):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(atomic, "open", full, raising=False)
    target = tmp_path / "results" / "summary.json"
    with pytest.raises(OSError) as e:
        atomic.write_json(target, {"a": 1})
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)
    from sfv_jax.main import error_line
    line = error_line(e.value)
    assert line.startswith(f"{target}: No space left on device (free some space")
    assert not list((tmp_path / "results").iterdir())   # the temporary was removed


# --- config checks --------------------------------------------------------------------------
@pytest.mark.parametrize("key,value,match", [
    ("solver.adam.learning_rate", float("nan"), "solver.adam.learning_rate = nan is not finite"),
    ("solver.adam.learning_rate", 0.0, r"learning_rate = 0.0 is out of range \(must be > 0\)"),
    ("solver.adam.iterations", 0, "loss plots need at least 1 iteration"),
    ("inputs.default_fps", 0.0, r"default_fps = 0.0 is out of range"),
    ("inputs.default_fps", 1e9, r"default_fps = 1000000000.0 is out of range"),
    ("solver.weights.shape", -1.0, "solver.weights.shape = -1.0 is out of range"),
    ("outputs.focal_length", float("inf"), "focal_length = inf is not finite"),
])
def test_config_values_refused(key, value, match):
    cfg = job_config()
    node = cfg
    *path, last = key.split(".")
    for p in path:
        node = node[p]
    node[last] = value
    with pytest.raises(config_checks.ConfigError, match=match):
        config_checks.check_config(cfg)


def test_config_defaults_pass_and_unknown_keys_named():
    cfg = job_config()
    config_checks.check_config(cfg)
    cfg.solver.adam.iterations = 0
    cfg.outputs.plots = False
    config_checks.check_config(cfg)   # no plots: zero iterations are allowed
    cfg = job_config()
    cfg.unlock()
    cfg.render.colour_final = (1, 2, 3)
    with pytest.raises(config_checks.ConfigError, match=r"unknown key\(s\) \['render.colour_final'\]"):
        config_checks.check_config(cfg)


# --- per-video and per-track plausibility ----------------------------------------------------
def _track(conf: float = 0.8, x: float = 100.0, tid: int = 0) -> Track:
    T = 6
    kp = np.zeros((T, 25, 3))
    kp[..., 0], kp[..., 1], kp[..., 2] = x, 120.0, conf
    return Track(frames=np.arange(T), keypoints=kp, boxes=np.tile([80, 100, 120, 200.0], (T, 1)),
                 image_size=(240, 320), source="v/openpose", track_id=tid)


def test_implausible_confidence_and_far_keypoints_fail_only_their_track():
    good, fails = track_checks.check_observations(
        [_track(), _track(conf=1e30, tid=1), _track(x=1e300, tid=2)], "v", (240, 320),
        reading_config())
    assert [t.track_id for t in good] == [0]
    assert [f["track"] for f in fails] == [1, 2]
    assert "v/openpose: track 1: keypoint confidence 1e+30" in fails[0]["error"]
    assert "far outside the 240 x 320 image" in fails[1]["error"]


@pytest.mark.parametrize("props,match", [
    ({"image_size": (100000, 100000), "fps": 30.0}, "image size 100000 x 100000"),
    ({"image_size": (240, 320), "fps": 0.0}, "fps 0 is outside 1..1000"),
    ({"image_size": (240, 320), "fps": 1e9}, "fps 1e[+]09 is outside"),
])
def test_implausible_video_properties_name_the_file(props, match):
    with pytest.raises(InputError, match=rf"^clip/info.json: {match}"):
        track_checks.check_video_properties(props, "clip/info.json", reading_config())


def test_bad_camera_fails_its_track_at_read_time():
    from sfv_jax.body import synthetic
    model = synthetic.synthetic_model(0, num_vertices=1500)
    T = 6
    ok = _track().replace(pose=np.zeros((T, 72)), betas=np.zeros((T, 10)),
                          cam=np.tile([1.0, 0, 0], (T, 1)), crop_scale=np.ones(T),
                          crop_start=np.zeros((T, 2)))
    cam = np.tile([1.0, 0, 0], (T, 1))
    cam[2, 0] = 0.0
    bad = ok.replace(cam=cam, track_id=1)
    good, fails = track_checks.check_clips([ok, bad], "v", model.keypoint_format,
                                           model.num_keypoints, ["v/estimates/person_1.npz"])
    assert [t.track_id for t in good] == [0] and fails[0]["track"] == 1
    assert "scale s must be > 0, frame 2" in fails[0]["error"]
    assert "v/estimates/person_1.npz" in fails[0]["error"]


def test_far_keypoint_in_a_frame_file_is_named_before_tracking():
    from sfv_jax.inputs import Detections
    people = {f: _track().keypoints[:1] for f in range(4)}
    track_checks.check_detections(Detections(people=people, source="v/openpose"), (240, 320),
                                  reading_config())
    people[2] = people[2].copy()
    people[2][0, 4, 0] = 1e300
    with pytest.raises(InputError, match=r"^v/openpose: frame 2: keypoint at \(1e\+300, 120\)"):
        track_checks.check_detections(Detections(people=people, source="v/openpose"),
                                      (240, 320), reading_config())
