"""Hostile and careless files are harmless (issue 18, findings 3, 4, 7 and 8).

Every crafted file here is built by the test itself: pickles whose sparse matrices index out of
range, "billion laughs" / self-referencing / 200k-deep pickles, decompression bombs in .npz,
.h5 and joblib files, HDF5 external storage and links. Each must fail fast with an error naming
the file, before anything large is allocated.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import time
import tracemalloc
import zipfile

import h5py
import numpy as np
import pytest
import scipy.sparse

from smpl_files import random_smpl_arrays  # noqa: E402

from sfv_jax import atomic
from sfv_jax.body import pickle_io
from sfv_jax.body.model import from_arrays, load_model
from sfv_jax.inputs import InputError
from sfv_jax.inputs.config import reading_config
from sfv_jax.inputs.estimates import (Estimates, frame_limit, read_estimates, save_estimates_npz,
                                      save_hmr_h5)

T = 12


def _est(seed: int = 0) -> Estimates:
    rng = np.random.default_rng(seed)
    cam = np.concatenate([rng.uniform(0.5, 1.5, (T, 1)), rng.normal(0, .1, (T, 2))], 1)
    return Estimates(cam=cam, pose=rng.normal(0, .2, (T, 72)), betas=rng.normal(0, .5, (T, 10)),
                     frames=np.arange(T), source="mem")


def _model_pickle(path, arrays) -> str:
    with open(path, "wb") as f:
        pickle.dump(arrays, f, protocol=2)
    return str(path)


def _timed_error(fn, *args, **kw) -> tuple[Exception, float]:
    """The error ``fn`` raises and the CPU seconds it took (CPU time, so that other jobs on
    the machine do not make the 2 s bound flaky)."""
    t0 = time.process_time()
    with pytest.raises(Exception) as e:
        fn(*args, **kw)
    return e.value, time.process_time() - t0


# --- finding 3: sparse matrices and pickle structure ------------------------------------
@pytest.mark.parametrize("damage", ["indices", "indptr", "coo_row"])
def test_sparse_out_of_range_is_refused_not_densified(tmp_path, damage):
    arrays = random_smpl_arrays(0)
    jr = scipy.sparse.csc_matrix(arrays["J_regressor"])
    if damage == "indices":
        jr.indices[3] = 10 ** 7          # row index far outside the 24 rows
    elif damage == "indptr":
        jr.indptr[5] = jr.indptr[-1] + 1000  # pointer past the data
    else:
        jr = scipy.sparse.coo_matrix(arrays["J_regressor"])
        jr.row[0] = -5
    arrays["J_regressor"] = jr
    path = _model_pickle(tmp_path / f"sparse_{damage}.pkl", arrays)
    err, dt = _timed_error(load_model, path)
    assert isinstance(err, ValueError) and path in str(err) and "J_regressor" in str(err)
    assert ("indices" in str(err) or "indptr" in str(err) or "row" in str(err)), str(err)
    assert dt < 2.0


def test_sparse_matrix_built_in_memory_is_checked_too():
    arrays = random_smpl_arrays(0)
    jr = scipy.sparse.csr_matrix(arrays["J_regressor"])
    jr.indices[0] = 10 ** 6
    arrays["J_regressor"] = jr
    with pytest.raises(ValueError, match=r"mem: 'J_regressor': sparse 'indices' outside"):
        from_arrays(arrays, name="mem")


def test_valid_sparse_model_still_loads(tmp_path):
    arrays = random_smpl_arrays(0)
    path = _model_pickle(tmp_path / "ok.pkl", arrays)
    m = load_model(path)
    dense = np.asarray(arrays["J_regressor"].toarray() if hasattr(arrays["J_regressor"], "toarray")
                       else arrays["J_regressor"])
    np.testing.assert_allclose(np.asarray(m.j_regressor), dense, rtol=1e-6)


def test_shared_reference_bomb_fails_fast(tmp_path):
    x: list = ["lol"]
    for _ in range(25):
        x = [x, x]   # 2**25 leaves once shared references are expanded
    path = _model_pickle(tmp_path / "laughs.pkl", {"v_template": x, "f": x})
    assert os.path.getsize(path) < 1000
    err, dt = _timed_error(load_model, path)
    assert isinstance(err, pickle_io.PickleStructureError), repr(err)
    assert path in str(err) and "shared references" in str(err)
    assert dt < 2.0


def test_self_referencing_pickle_fails_fast(tmp_path):
    loop: list = []
    loop.append(loop)
    d = {"v_template": loop}
    d["self"] = d
    path = _model_pickle(tmp_path / "loop.pkl", d)
    err, dt = _timed_error(load_model, path)
    assert isinstance(err, pickle_io.PickleStructureError) and "self-referencing" in str(err)
    assert path in str(err) and dt < 2.0


def test_deeply_nested_pickle_fails_without_recursion_error(tmp_path):
    n = 200_000
    data = b"\x80\x02" + b"]" * n + b"a" * (n - 1) + b"."   # [[[[...]]]] 200k deep
    path = tmp_path / "deep.pkl"
    path.write_bytes(data)
    err, dt = _timed_error(pickle_io.safe_load, str(path))
    assert isinstance(err, pickle_io.PickleStructureError) and "deeper than" in str(err)
    assert str(path) in str(err) and len(str(err)) < 600 and dt < 2.0


def test_shared_arrays_are_converted_once_and_kept_shared():
    a = np.arange(6.0)
    obj = pickle_io.safe_loads(pickle.dumps({"x": [a, a], "y": (a,)}, protocol=2), "mem")
    assert obj["x"][0] is obj["x"][1] is obj["y"][0]


# --- finding 4: sizes from headers; only needed keys ------------------------------------
def _npz_with_bomb(path, arrays: dict, bomb_key: str, bomb_mb: int) -> None:
    """An .npz whose ``bomb_key`` is ``bomb_mb`` MiB of zeros, written in 1 MiB chunks."""
    atomic.save_npz(path, **arrays)
    chunk = bytes(1 << 20)
    header = io_header((bomb_mb << 20) // 8)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(bomb_key + ".npy", "w", force_zip64=True) as f:
            f.write(header)
            for _ in range(bomb_mb):
                f.write(chunk)


def io_header(count: int) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                               "shape": (count,)})
    return buf.getvalue()  # magic string included


def test_npz_bomb_in_unused_key_is_never_read(tmp_path):
    path = tmp_path / "est.npz"
    e = _est()
    save_estimates_npz(str(path), e)
    _npz_with_bomb(str(path), dict(np.load(path)), "verts", 64)
    assert os.path.getsize(path) < 1_000_000
    tracemalloc.start()
    try:
        est = read_estimates(str(path), reading_config())[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(est.pose, e.pose)
    assert peak < 16 << 20, peak


def test_npz_bomb_in_needed_key_refused_before_allocating(tmp_path):
    path = tmp_path / "est.npz"
    save_estimates_npz(str(path), _est())
    arrays = {k: v for k, v in np.load(path).items() if k != "pose"}
    _npz_with_bomb(str(path), arrays, "pose", 64)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=r"est\.npz: array 'pose'.*refused before reading"):
            read_estimates(str(path), reading_config(), max_frames=frame_limit(reading_config(), 30))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak


def test_load_npz_header_limit_and_keys(tmp_path):
    path = tmp_path / "a.npz"
    atomic.save_npz(path, small=np.zeros(4), big=np.zeros(1000))
    assert list(atomic.load_npz(path, keys=["small", "absent"])) == ["small"]
    with pytest.raises(ValueError, match=r"a\.npz: array 'big' of shape \(1000,\)"):
        atomic.load_npz(path, max_bytes=4000)


def test_h5_bomb_refused_from_header(tmp_path):
    path = tmp_path / "bomb.h5"
    with h5py.File(path, "w") as f:   # never written: chunks are the fill value, file is tiny
        f.create_dataset("theta", shape=(2_000_000, 85), dtype="f8", chunks=(1000, 85),
                         compression="gzip")
    assert os.path.getsize(path) < 100_000
    tracemalloc.start()
    try:
        err, dt = _timed_error(read_estimates, str(path), reading_config(), max_frames=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(err, InputError) and str(path) in str(err) and "refused" in str(err)
    assert peak < 16 << 20 and dt < 2.0


def test_h5_unused_big_dataset_is_not_read(tmp_path):
    path = tmp_path / "flat.h5"
    e = _est()
    save_hmr_h5(str(path), e)
    with h5py.File(path, "a") as f:
        f.create_dataset("verts", shape=(T, 6890, 3), dtype="f4", compression="gzip")
    est = read_estimates(str(path), reading_config())[0]
    np.testing.assert_allclose(est.cam, e.cam)


def test_h5_external_storage_and_links_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(T * 85, dtype="<f8").tobytes())
    ext = tmp_path / "external.h5"
    with h5py.File(ext, "w") as f:
        f.create_dataset("theta", shape=(T, 85), dtype="<f8",
                         external=[(str(secret), 0, h5py.h5f.UNLIMITED)])
    with pytest.raises(InputError, match=r"external\.h5:/theta: dataset with external storage"):
        read_estimates(str(ext), reading_config())
    good = tmp_path / "good.h5"
    save_hmr_h5(str(good), _est())
    for kind in ("external", "soft"):
        path = tmp_path / f"{kind}_link.h5"
        with h5py.File(path, "w") as f:
            f["theta"] = (h5py.ExternalLink(str(good), "/theta") if kind == "external"
                          else h5py.SoftLink("/elsewhere"))
        with pytest.raises(InputError, match=rf"{kind}_link\.h5:/theta: HDF5 \w+Link refused"):
            read_estimates(str(path), reading_config())


def _vibe(frames: int) -> dict:
    rng = np.random.default_rng(0)
    return {1: {"pred_cam": np.tile([1.0, 0.0, 0.0], (frames, 1)),
                "pose": rng.normal(0, .1, (frames, 72)), "betas": np.zeros((frames, 10)),
                "bboxes": np.tile([100.0, 100.0, 50.0, 80.0], (frames, 1)),
                "frame_ids": np.arange(frames),
                "verts": np.zeros((frames, 6890, 3), np.float32)}}


def test_joblib_big_unused_array_skipped_and_total_capped(tmp_path):
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "vibe_output.pkl"
    joblib.dump(_vibe(40), path, compress=("gzip", 3))
    cfg = reading_config()
    tracemalloc.start()
    try:
        est = read_estimates(str(path), cfg, max_frames=frame_limit(cfg, 40))[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert est.num_frames == 40
    assert peak < 3 << 20, peak   # the 3.3 MB verts array was skipped in the stream
    cfg.max_decompressed_mb = 1.0
    with pytest.raises(InputError, match=r"vibe_output\.pkl: decompresses to more than"):
        read_estimates(str(path), cfg)


def test_joblib_needed_array_over_the_limit_is_named(tmp_path):
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "vibe_output.pkl"
    joblib.dump(_vibe(300), path, compress=("gzip", 3))
    with pytest.raises(InputError, match=r"vibe_output\.pkl.*was not read: it is larger"):
        read_estimates(str(path), reading_config(), max_frames=20)


# --- findings 7 and 8: values and messages ------------------------------------------------
def test_theta_of_wrong_width_is_named(tmp_path):
    path = tmp_path / "hmr.h5"
    with h5py.File(path, "w") as f:
        f["theta"] = np.zeros((T, 84))
        f["frames"] = np.arange(T)
    with pytest.raises(InputError, match=r"hmr\.h5: 'theta' has shape \(12, 84\), expected"):
        read_estimates(str(path), reading_config())


def test_absurd_pose_values_refused_with_file():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match=r"f\.npz: pose value 1e\+30 at frame 3"):
        pose = rng.normal(0, .1, (T, 72))
        pose[3, 5] = 1e30
        Estimates(cam=np.ones((T, 3)), pose=pose, betas=np.zeros((T, 10)),
                  frames=np.arange(T), source="f.npz")


def test_json_has_no_nan(tmp_path):
    path = tmp_path / "s.json"
    atomic.write_json(path, {"a": float("nan"), "b": [np.float32("inf"), 1.5],
                             "c": np.array([np.nan, 2.0])})
    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")
    obj = json.loads(path.read_text(), parse_constant=refuse)
    assert obj == {"a": None, "b": [None, 1.5], "c": [None, 2.0]}
    assert not math.isnan(obj["b"][1])
