"""The whole job under faults (issue 18): a bad clip costs only itself, resume knows its inputs
and outputs, a locked / read-only / full workdir and a bad config each stop with one line.

Real ``python -m sfv_jax.main`` subprocesses on a small generated sample (one generated video
copied under two names, plus an entry whose tracks.npz carries a clip with camera scale 0 at
one frame), as in ``test_pipeline.py``.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import subprocess
import uuid

import numpy as np
import pytest

from sfv_jax import workdir_lock
from sfv_jax.inputs import load_tracks, save_tracks


def _track_dirs(workdir: str, video: str = "*") -> list[str]:
    return sorted(glob.glob(os.path.join(workdir, "results", video, "track_*")))


@pytest.fixture(scope="module")
def sample(tmp_path_factory, run_job) -> str:
    root = tmp_path_factory.mktemp("inputs")
    entry = run_job.sample(str(root / "gen"), seed=1)
    videos = root / "videos"
    for name in ("walk_a", "walk_b"):
        shutil.copytree(entry, videos / name)
    # walk_bad: the same people as tracks.npz, one of them with camera scale 0 at frame 3.
    from sfv_jax import pipeline
    from sfv_jax.inputs.discovery import discover_entries
    from sfv_jax.job_config import job_config

    cfg = job_config()
    cfg.inputs.dir = str(videos)
    tracks, _ = pipeline.read_entry(discover_entries(cfg.inputs)[0],
                                    pipeline.JobConfig.from_config(cfg))
    assert len(tracks) == 2 and all(t.has_estimates for t in tracks)
    cam = np.array(tracks[0].cam)
    cam[3, 0] = 0.0
    bad = videos / "walk_bad"
    bad.mkdir()
    save_tracks(str(bad / "tracks.npz"), [tracks[0].replace(cam=cam), tracks[1]])
    shutil.copy(os.path.join(entry, "info.json"), bad / "info.json")
    shutil.copy(os.path.join(entry, "video.mp4"), bad / "video.mp4")
    assert load_tracks(str(bad / "tracks.npz"))[0].cam[3, 0] == 0.0
    return str(videos)


@pytest.fixture(scope="module")
def first_run(sample, tmp_path_factory, run_job) -> tuple[str, subprocess.CompletedProcess]:
    workdir = str(tmp_path_factory.mktemp("work"))
    return workdir, run_job(workdir, sample)


def _summary(workdir: str) -> dict:
    with open(os.path.join(workdir, "summary.json")) as f:
        return json.load(f)


def test_bad_clip_among_good_videos_costs_only_itself(first_run):
    workdir, proc = first_run
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = _summary(workdir)
    written = {(r["video"], r["track"]) for r in summary["tracks"]}
    ids = [int(os.path.basename(d)[-3:]) for d in _track_dirs(workdir, "walk_a")]
    assert len(ids) == 2
    assert {("walk_a", i) for i in ids} | {("walk_b", i) for i in ids} <= written
    assert ("walk_bad", ids[1]) in written          # the other person of the bad video too
    assert [(f["video"], f["track"]) for f in summary["failures"]] == [("walk_bad", ids[0])]
    err = summary["failures"][0]["error"]
    assert "tracks.npz" in err and "scale s must be > 0, frame 3" in err
    assert "FAILED walk_bad track" in proc.stdout
    for d in _track_dirs(workdir, "walk_a") + _track_dirs(workdir, "walk_b"):
        assert os.path.exists(os.path.join(d, "done.json"))
    with open(os.path.join(workdir, "summary.json")) as f:   # valid JSON for strict parsers
        json.loads(f.read(), parse_constant=lambda c: pytest.fail(f"{c} in summary.json"))


def test_rerun_redoes_changed_inputs_and_damaged_outputs(first_run, sample, run_job):
    workdir, _ = first_run
    a0, a1 = _track_dirs(workdir, "walk_a")
    os.remove(os.path.join(a0, "result.npz"))                    # deleted output
    video = os.path.join(a1, "comparison.mp4")
    with open(video, "r+b") as f:                                # truncated output
        f.truncate(os.path.getsize(video) // 2)
    est = os.path.join(sample, "walk_b", "estimates", "person_0.npz")
    z = dict(np.load(est))                                       # edited input, same name
    z["pose"] = z["pose"] + 0.01
    np.savez(est, **z)
    mtimes = {d: os.path.getmtime(os.path.join(d, "done.json")) for d in _track_dirs(workdir)}
    proc = run_job(workdir, sample)
    assert proc.returncode == 1, proc.stderr[-3000:]
    rows = {(r["video"], r["track"]): r for r in _summary(workdir)["tracks"]}
    for d in _track_dirs(workdir):
        video_name, tid = d.split(os.sep)[-2], int(d[-3:])
        redone = video_name in ("walk_a", "walk_b")
        assert bool(rows[(video_name, tid)].get("resumed")) is not redone, d
        changed = os.path.getmtime(os.path.join(d, "done.json")) != mtimes[d]
        assert changed is redone, d
    assert os.path.exists(os.path.join(a0, "result.npz"))
    assert os.path.getsize(video) > 0
    proc = run_job(workdir, sample)                  # nothing changed: all resumed
    assert all(r.get("resumed") for r in _summary(workdir)["tracks"])


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("sfv_jax: error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return lines[0]


def test_second_job_on_a_locked_workdir_stops(sample, tmp_path, run_job):
    with workdir_lock.workdir_lock(str(tmp_path)):
        line = _one_line_error(run_job(str(tmp_path), sample, timeout=300))
    assert f"{tmp_path}: in use by another job (pid {os.getpid()}" in line
    assert not os.path.exists(tmp_path / "results")


@pytest.mark.parametrize("override,expected", [
    ("--config.solver.adam.iterations=0", "solver.adam.iterations = 0: the loss plots need"),
    ("--config.solver.adam.learning_rate=nan", "solver.adam.learning_rate = nan is not finite"),
    ("--config.solver.weights.foo=1", "no config key 'solver.weights.foo'"),
    ("--config.model.model_path=/nonexistent/SMPL_NEUTRAL.pkl",
     "/nonexistent/SMPL_NEUTRAL.pkl: no such model file"),
])
def test_bad_config_refused_at_start_in_one_line(sample, tmp_path, override, expected, run_job):
    line = _one_line_error(run_job(str(tmp_path), sample, override, timeout=300))
    assert expected in line
    assert not os.path.exists(tmp_path / "results")


@contextlib.contextmanager
def _tmpfs(path: str, options: str):
    os.makedirs(path, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True)


def test_read_only_workdir_one_line_naming_the_path(sample, tmp_path, run_job):
    with _tmpfs(str(tmp_path / f"ro_{uuid.uuid4().hex[:6]}"), "ro,size=1m") as ro:
        line = _one_line_error(run_job(ro, sample, timeout=300))
    assert line.startswith(f"sfv_jax: error: {ro}")
    assert "Read-only file system" in line and "choose another --workdir" in line


def test_full_workdir_one_line_naming_the_path(sample, tmp_path, run_job):
    with _tmpfs(str(tmp_path / f"full_{uuid.uuid4().hex[:6]}"), "size=64k") as full:
        with open(os.path.join(full, "filler"), "wb") as f:
            with contextlib.suppress(OSError):
                f.write(bytes(1 << 20))
        line = _one_line_error(run_job(full, sample, timeout=300))
    assert line.startswith(f"sfv_jax: error: {full}")
    assert "No space left on device" in line and "free some space" in line
