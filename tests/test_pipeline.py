"""End-to-end job tests: the CLI on generated inputs, devices, processes, kills and bad input.

Every run is a real ``python -m sfv_jax.main`` subprocess on a small sample (two entries with
two people each, short clips, a reduced synthetic model, few solver iterations) so the module
stays around a few minutes on two cores.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sfv_jax import pipeline
from sfv_jax.export import archive
from sfv_jax.geometry.rotations import axis_angle_to_matrix
from sfv_jax.job_config import job_config

TEXT_OUTPUTS = ("motion.bvh", "motion_deepmimic.txt")


def track_dirs(workdir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(workdir, "results", "*", "track_*")))


def assert_same_outputs(a: str, b: str, exact: bool = True, rtol: float = 0.0,
                        atol: float = 0.0) -> None:
    """Every finished track of run ``a`` exists in run ``b`` with the same results."""
    da, db = track_dirs(a), track_dirs(b)
    assert [os.path.relpath(d, a) for d in da] == [os.path.relpath(d, b) for d in db]
    assert da, "no tracks"
    for x, y in zip(da, db):
        ra = archive.load_result(os.path.join(x, "result.npz"))
        rb = archive.load_result(os.path.join(y, "result.npz"))
        for key in ("pose", "betas", "camera", "transl", "keypoints_2d", "keypoints_3d"):
            va, vb = getattr(ra, key), getattr(rb, key)
            if exact:
                assert np.array_equal(va, vb), (x, key, np.abs(va - vb).max())
            else:
                np.testing.assert_allclose(va, vb, rtol=rtol, atol=atol, err_msg=f"{x} {key}")
        if exact:
            for name in TEXT_OUTPUTS:
                with open(os.path.join(x, name)) as f1, open(os.path.join(y, name)) as f2:
                    assert f1.read() == f2.read(), (x, name)


@pytest.fixture(scope="module")
def sample(tmp_path_factory, run_job) -> dict:
    """Two good entries and, separately, the same two plus a corrupt one."""
    root = tmp_path_factory.mktemp("inputs")
    good = root / "good"
    for name, seed in (("walk_a", 1), ("walk_b", 2)):
        entry = run_job.sample(str(root / "gen" / name), seed)
        shutil.copytree(entry, good / name)
    bad = root / "with_corrupt"
    shutil.copytree(good, bad)
    corrupt = bad / "walk_c"
    shutil.copytree(good / "walk_a", corrupt)
    est = corrupt / "estimates" / "person_0.npz"
    data = est.read_bytes()
    est.write_bytes(data[: len(data) // 3])  # truncated: a half-copied file
    return {"good": str(good), "bad": str(bad)}


@pytest.fixture(scope="module")
def reference(sample, tmp_path_factory, run_job) -> str:
    workdir = str(tmp_path_factory.mktemp("ref"))
    proc = run_job(workdir, sample["good"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return workdir


def test_outputs_complete(reference):
    dirs = track_dirs(reference)
    assert len(dirs) >= 4  # two people in each of two videos
    for d in dirs:
        for name in ("result.npz", "motion.bvh", "motion_deepmimic.txt", "comparison.mp4",
                     "loss_curves.png", "error_2d.png", "done.json"):
            assert os.path.getsize(os.path.join(d, name)) > 0, (d, name)
        res = archive.load_result(os.path.join(d, "result.npz"))
        assert np.isfinite(res.pose).all() and res.fps == 30.0
    with open(os.path.join(reference, "summary.json")) as f:
        summary = json.load(f)
    assert summary["ok"] and not summary["failures"]
    assert len(summary["tracks"]) == len(dirs)
    # The solve must improve on the noisy per-frame estimates.
    rows = [r for r in summary["tracks"] if r["frames"] >= 20]
    assert np.mean([r["err2d_px"] for r in rows]) < np.mean([r["err2d_init_px"] for r in rows])
    assert np.mean([r["accel2d"] for r in rows]) < np.mean([r["accel2d_init"] for r in rows])


def test_rerun_skips_finished_tracks(reference, sample, run_job):
    before = {d: os.path.getmtime(os.path.join(d, "result.npz")) for d in track_dirs(reference)}
    proc = run_job(reference, sample["good"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = {d: os.path.getmtime(os.path.join(d, "result.npz")) for d in track_dirs(reference)}
    assert before == after
    with open(os.path.join(reference, "summary.json")) as f:
        assert all(r.get("resumed") for r in json.load(f)["tracks"])


def test_four_devices_match_one(reference, sample, tmp_path, run_job):
    env = run_job.env(XLA_FLAGS="--xla_force_host_platform_device_count=4")
    proc = run_job(str(tmp_path), sample["good"], env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / "summary.json") as f:
        assert json.load(f)["ok"]
    # The sharded program is partitioned differently, so float32 results agree to rounding
    # (amplified a little by Adam's normalized steps), not bit for bit.
    assert_same_outputs(reference, str(tmp_path), exact=False, rtol=1e-5, atol=5e-5)


def test_two_processes_match_single(reference, sample, tmp_path, run_job):
    cmd = [sys.executable, os.path.join(run_job.repo, "launch", "launch_local.py"),
           "--num_processes=2", "--", *run_job.overrides, f"--workdir={tmp_path}",
           f"--config.inputs.dir={sample['good']}"]
    proc = subprocess.run(cmd, env=run_job.env(), capture_output=True, text=True, timeout=900,
                          cwd=run_job.repo)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    parts = sorted(glob.glob(str(tmp_path / "summary.process-*.json")))
    assert len(parts) == 2
    shares = [json.load(open(p))["entries"] for p in parts]
    assert shares == [["walk_a"], ["walk_b"]]  # each process took its share
    assert_same_outputs(reference, str(tmp_path), exact=True)


def test_streaming_batches_inline_writers_match(reference, sample, tmp_path, run_job):
    """Batches of one clip, outputs written inline, a video for every second track only:
    the same results as one batch with worker processes (results depend on the track alone)."""
    proc = run_job(str(tmp_path), sample["good"], "--config.job.batch_clips=1",
                   "--config.job.workers=0", "--config.outputs.video_every=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_same_outputs(reference, str(tmp_path), exact=True)
    videos = [os.path.exists(os.path.join(d, "comparison.mp4")) for d in track_dirs(tmp_path)]
    assert videos == [i % 2 == 0 for i in range(len(videos))]
    with open(tmp_path / "summary.json") as f:
        timings = json.load(f)["timings"]["process_0"]
    for key in ("inputs_s", "solve_s", "outputs_s", "outputs_work_s", "compile_s", "total_s"):
        assert timings[key] >= 0.0, key


def test_long_tracks_in_windows_close_to_whole(reference, sample, tmp_path, run_job):
    """Tracks cut into 16-frame windows (4 shared) solve to nearly the whole-track result."""
    proc = run_job(str(tmp_path), sample["good"], "--config.job.window_frames=16",
                   "--config.job.window_overlap=4")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(os.path.join(reference, "summary.json")) as f:
        ref = {(r["video"], r["track"]): r for r in json.load(f)["tracks"]}
    with open(tmp_path / "summary.json") as f:
        rows = json.load(f)["tracks"]
    assert sorted((r["video"], r["track"]) for r in rows) == sorted(ref)
    for r in rows:
        assert r["frames"] == ref[(r["video"], r["track"])]["frames"]
        assert r["err2d_px"] < r["err2d_init_px"]
        assert abs(r["err2d_px"] - ref[(r["video"], r["track"])]["err2d_px"]) < 1.0
    # Windows change the temporal optimum only near their seams: the projected keypoints stay
    # within a pixel or two of the whole-track solve's, a small fraction of a pixel on average.
    da, db = track_dirs(reference), track_dirs(str(tmp_path))
    assert [os.path.relpath(d, reference) for d in da] == [os.path.relpath(d, tmp_path)
                                                           for d in db]
    for x, y in zip(da, db):
        ra = archive.load_result(os.path.join(x, "result.npz"))
        rb = archive.load_result(os.path.join(y, "result.npz"))
        d2 = np.abs(ra.keypoints_2d - rb.keypoints_2d)
        assert d2.max() < 2.0 and d2.mean() < 0.25, (x, d2.max(), d2.mean())
        # Compare rotations, not axis-angle vectors: the blend goes through quaternions, so a
        # rotation near pi may come back as the equivalent vector about the opposite axis.
        rot = lambda p: np.asarray(axis_angle_to_matrix(p.reshape(len(p), -1, 3)))  # noqa: E731
        assert np.abs(rot(ra.pose) - rot(rb.pose)).max() < 0.05, x


def test_killed_run_resumes_to_identical_outputs(reference, sample, tmp_path, run_job):
    cmd = run_job.command(str(tmp_path), sample["good"])
    proc = subprocess.Popen(cmd, env=run_job.env(), cwd=run_job.repo, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    try:
        # Kill as soon as the first track is finished, while the others are being written.
        while not glob.glob(str(tmp_path / "results" / "*" / "*" / "done.json")):
            assert proc.poll() is None, "the job ended before it could be killed"
            assert time.time() < deadline
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done = glob.glob(str(tmp_path / "results" / "*" / "*" / "done.json"))
    assert 1 <= len(done) < len(track_dirs(reference))
    # Whatever exists is complete: every result archive present loads.
    for path in glob.glob(str(tmp_path / "results" / "*" / "*" / "result.npz")):
        archive.load_result(path)
    proc2 = run_job(str(tmp_path), sample["good"])
    assert proc2.returncode == 0, proc2.stderr[-3000:]
    assert not glob.glob(str(tmp_path / "**" / ".*.tmp*"), recursive=True)
    assert_same_outputs(reference, str(tmp_path), exact=True)


def test_corrupt_entry_reported_others_finish(reference, sample, tmp_path, run_job):
    proc = run_job(str(tmp_path), sample["bad"])
    assert proc.returncode != 0
    with open(tmp_path / "summary.json") as f:
        summary = json.load(f)
    assert not summary["ok"]
    assert [f["video"] for f in summary["failures"]] == ["walk_c"]
    assert "person_0.npz" in summary["failures"][0]["error"]
    assert "walk_c" in proc.stdout and "FAILED" in proc.stdout
    assert_same_outputs(reference, str(tmp_path), exact=True)


def test_discover_entries_errors(tmp_path):
    cfg = pipeline.ml_collections.ConfigDict({"dir": str(tmp_path / "missing"), "videos": ()})
    with pytest.raises(FileNotFoundError, match="missing"):
        pipeline.discover_entries(cfg)
    (tmp_path / "empty_entry").mkdir()
    cfg = pipeline.ml_collections.ConfigDict({"dir": str(tmp_path), "videos": ()})
    entries = pipeline.discover_entries(cfg)
    with pytest.raises(Exception, match="empty_entry"):
        pipeline.read_entry(entries[0], pipeline.JobConfig.from_config(job_config()))
