"""The .npz result archive: exact round trip (dtypes, shapes, strings), errors, atomicity."""
from __future__ import annotations

import json
import os

import ml_collections
import numpy as np
import pytest

from sfv_jax.export import archive


def _result(t: int = 7, seed: int = 0, **kw) -> archive.MotionResult:
    rng = np.random.default_rng(seed)
    cfg = ml_collections.ConfigDict({"solver": {"steps": 300, "lr": 0.01},
                                     "name": "sfv_paper"})
    fields = dict(
        pose=rng.normal(size=(t, 72)).astype(np.float32),
        betas=rng.normal(size=(t, 10)),  # float64 on purpose: dtypes must survive
        camera=rng.normal(size=(t, 3)).astype(np.float32),
        transl=rng.normal(size=(t, 3)).astype(np.float32),
        keypoints_2d=rng.uniform(0, 500, size=(t, 25, 3)).astype(np.float32),
        keypoints_3d=rng.normal(size=(t, 19, 3)).astype(np.float16),
        fps=29.97,
        source="vidéos/clip 01 ✓.mp4",
        config=cfg,
        extras={"track_id": np.arange(t, dtype=np.int32), "valid": np.ones(t, bool)},
    )
    fields.update(kw)
    if not isinstance(fields["config"], str):
        fields["config"] = archive.config_to_json(fields["config"])
    return archive.MotionResult(**fields)


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip_exact(tmp_path, compress):
    r = _result()
    r.keypoints_2d[2, 3] = np.nan  # undetected points stay NaN
    p = tmp_path / "res.npz"
    archive.save_result(p, r, compress=compress)
    back = archive.load_result(p)
    assert archive.results_equal(r, back)
    for k in ("pose", "betas", "camera", "transl", "keypoints_2d", "keypoints_3d"):
        a, b = getattr(r, k), getattr(back, k)
        assert a.dtype == b.dtype and a.shape == b.shape, k
        np.testing.assert_array_equal(a, b)
    assert back.source == "vidéos/clip 01 ✓.mp4" and isinstance(back.source, str)
    assert back.fps == 29.97
    assert back.config == r.config
    assert back.config_dict()["solver"]["steps"] == 300
    assert back.extras["track_id"].dtype == np.int32
    np.testing.assert_array_equal(back.extras["valid"], np.ones(7, bool))
    assert [x.name for x in tmp_path.iterdir()] == ["res.npz"]  # name kept, no temp left


def test_results_equal_detects_changes(tmp_path):
    r = _result()
    p = tmp_path / "r.npz"
    archive.save_result(p, r)
    back = archive.load_result(p)
    back.pose[0, 0] += 1e-6
    assert not archive.results_equal(r, back)
    other = _result(betas=_result().betas.astype(np.float32))
    assert not archive.results_equal(r, other)  # dtype difference counts


def test_config_string_kept_verbatim(tmp_path):
    text = '{"b": 1, "a": [1, 2]}'
    r = _result(config=text, extras={})
    p = tmp_path / "r.npz"
    archive.save_result(p, r)
    assert archive.load_result(p).config == text
    with pytest.raises(json.JSONDecodeError):
        archive.save_result(p, _result(config="{not json", extras={}))


def test_shape_errors_name_file_and_field(tmp_path):
    p = tmp_path / "bad.npz"
    with pytest.raises(ValueError, match=r"bad\.npz: camera must be \(7, 3\)"):
        archive.save_result(p, _result(camera=np.zeros((6, 3))))
    with pytest.raises(ValueError, match=r"bad\.npz: keypoints_2d"):
        archive.save_result(p, _result(keypoints_2d=np.zeros((7, 25))))
    assert not p.exists()


def test_load_errors(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"x\.npz: not a readable result archive"):
        archive.load_result(p)
    np.savez(p, pose=np.zeros((2, 72)))
    with pytest.raises(ValueError, match=r"x\.npz: result archive lacks field\(s\).*camera"):
        archive.load_result(p)


def test_overwrite_is_atomic(tmp_path):
    p = tmp_path / "r.npz"
    archive.save_result(p, _result(seed=1))
    old = p.read_bytes()
    with pytest.raises(ValueError):
        archive.save_result(p, _result(fps=-1.0))
    assert p.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == ["r.npz"]


def test_from_mapping():
    r = archive.result_from_mapping(dict(
        pose=np.zeros((2, 72)), betas=np.zeros(10), camera=np.zeros((2, 3)),
        transl=np.zeros((2, 3)), keypoints_2d=np.zeros((2, 25, 3)),
        keypoints_3d=np.zeros((2, 24, 3)), fps=30.0, source="a.mp4",
        config={"x": 1}))
    assert r.config == '{"x": 1}'
    with pytest.raises(ValueError, match="unknown result field"):
        archive.result_from_mapping({"poses": 1})
