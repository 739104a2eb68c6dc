"""Long tracks in overlapping windows (sfv_jax.windows) and the job's streaming helpers."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sfv_jax import compile_cache, windows
from sfv_jax.solver.clips import Clip, ClipResult


def _result(t: int, seed: int = 0) -> ClipResult:
    r = np.random.default_rng(seed)
    smooth = lambda *shape: np.cumsum(r.normal(0, 0.01, (t,) + shape), 0).astype(np.float32)  # noqa
    return ClipResult(
        name="x", pose=smooth(72), betas=smooth(10), cam=smooth(3), cam_full=smooth(3),
        keypoints_2d=smooth(19, 2), keypoints_3d=smooth(19, 3), joints_3d=smooth(24, 3),
        history={"keypoints": np.linspace(2, 1, 5), "total": np.linspace(3, 1, 5)},
        final_loss={"keypoints": 1.0, "total": 1.0}, nonfinite=False)


@pytest.mark.parametrize("t", [1, 511, 512, 513, 700, 1000, 3000, 18000])
def test_plan_windows_cover_with_equal_lengths(t):
    ws = windows.plan_windows(t, 512, 64)
    if t <= 512:
        assert ws == [windows.Window(0, t)]
        return
    assert ws[0].start == 0 and ws[-1].stop == t
    assert all(w.stop - w.start == 512 for w in ws)          # one compiled shape
    for a, b in zip(ws, ws[1:]):
        assert a.start < b.start and a.stop - b.start >= 64   # overlap at least 64
    # Not more windows than needed.
    assert len(ws) == -(-(t - 64) // (512 - 64))


def test_plan_windows_rejects_big_overlap():
    with pytest.raises(ValueError, match="overlap"):
        windows.plan_windows(2000, 512, 300)


def test_merge_of_slices_gives_back_the_track():
    """Windows cut from one result blend back to it: the blend of equal values is the value."""
    full = _result(1500)
    ws = windows.plan_windows(1500, 512, 64)
    parts = [dataclasses.replace(full, **{k: getattr(full, k)[w.start:w.stop] for k in
                                          ("pose", "betas", "cam", "cam_full", "keypoints_2d",
                                           "keypoints_3d", "joints_3d")}) for w in ws]
    merged = windows.merge_results(parts, ws, "track")
    assert merged.name == "track" and merged.pose.shape == full.pose.shape
    np.testing.assert_allclose(merged.betas, full.betas, atol=1e-6)
    np.testing.assert_allclose(merged.keypoints_3d, full.keypoints_3d, atol=1e-6)
    # Rotations: the same rotation (axis-angle may differ only by representation).
    ra = Rotation.from_rotvec(merged.pose.reshape(-1, 3)).as_matrix()
    rb = Rotation.from_rotvec(full.pose.reshape(-1, 3)).as_matrix()
    np.testing.assert_allclose(ra, rb, atol=1e-5)
    np.testing.assert_allclose(merged.history["total"], full.history["total"])


def test_merge_ramps_between_windows():
    """Across an overlap the result moves from the earlier window's values to the later's."""
    ws = [windows.Window(0, 10), windows.Window(6, 16)]
    a, b = _result(10), _result(10)
    a.cam[:] = 0.0
    b.cam[:] = 1.0
    b.nonfinite = True
    merged = windows.merge_results([a, b], ws, "t")
    c = merged.cam[:, 0]
    assert np.all(c[:6] == 0.0) and np.all(c[10:] == 1.0)
    assert np.all(np.diff(c[5:11]) > 0) and 0 < c[6] < c[9] < 1
    assert merged.nonfinite


def test_split_clip_slices_every_field():
    t = 1200
    clip = Clip(keypoints=np.zeros((t, 19, 3)), pose=np.arange(t * 72.0).reshape(t, 72),
                betas=np.zeros((t, 10)), cam=np.zeros((t, 3)), crop_scale=np.ones(t),
                crop_start=np.zeros((t, 2)), name="v/track_000")
    ws = windows.plan_windows(t, 512, 64)
    parts = windows.split_clip(clip, ws)
    assert [p.num_frames for p in parts] == [512] * len(ws)
    assert parts[1].name == f"v/track_000@{ws[1].start}"
    np.testing.assert_array_equal(parts[-1].pose, clip.pose[-512:])
    assert windows.split_clip(clip, [windows.Window(0, t)]) == [clip]


def test_compile_clock_and_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_dir("", "/w") == ""
    assert compile_cache.cache_dir("workdir", "/w") == "/w/jax_cache"
    assert compile_cache.cache_dir("user", "/w") == str(tmp_path / "xdg" / "sfv_jax" / "jax")
    clock = compile_cache.CompileClock()
    f = jax.jit(lambda x: jnp.sin(x) * 3.0 + x.sum())
    f(jnp.ones((7, 13))).block_until_ready()
    assert clock.seconds > 0.0
    before = clock.seconds
    f(jnp.ones((7, 13))).block_until_ready()     # cached in memory: no new compile
    assert clock.seconds == before
