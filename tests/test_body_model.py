"""Tests of body model loading/saving, the restricted unpickler and input errors."""
from __future__ import annotations

import os
import pickle
import sys

import jax
import numpy as np
import pytest
import scipy.sparse

from smpl_files import random_smpl_arrays, write_py2_smpl_pickle, write_smplx_npz  # noqa: E402

from sfv_jax import body, skeletons  # noqa: E402
from sfv_jax.body import pickle_io  # noqa: E402

NV = 200


@pytest.fixture(scope="module")
def arrays():
    return random_smpl_arrays(seed=3, num_vertices=NV, num_betas=12)


@pytest.fixture(scope="module")
def files(arrays, tmp_path_factory):
    d = tmp_path_factory.mktemp("smpl")
    return {
        "pkl": write_py2_smpl_pickle(str(d / "model.pkl"), arrays),
        "npz": write_smplx_npz(str(d / "model.npz"), arrays),
        "dir": d,
    }


def _assert_same_arrays(a: body.BodyModel, b: body.BodyModel) -> None:
    for f in ("v_template", "shapedirs", "posedirs", "lbs_weights", "faces", "j_template",
              "j_shapedirs", "kp_vertex_regressor", "kp_joint_weights", "j_regressor",
              "cocoplus_regressor"):
        x, y = getattr(a, f), getattr(b, f)
        assert (x is None) == (y is None), f
        if x is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y), f


def test_from_arrays_contents(arrays):
    m = body.from_arrays(arrays, num_betas=10)
    assert m.num_vertices == NV and m.num_betas == 10 and m.num_joints == 24
    assert m.parents == skeletons.SMPL_PARENTS
    assert m.joint_names == skeletons.SMPL_JOINT_NAMES
    assert m.keypoint_names == skeletons.FORMATS["cocoplus"] and m.keypoint_format == "cocoplus"
    assert m.v_template.dtype == np.float32 and m.faces.dtype == np.int32
    jr = arrays["J_regressor"].toarray()
    np.testing.assert_allclose(m.j_template, jr @ arrays["v_template"], atol=1e-6)
    np.testing.assert_allclose(m.j_shapedirs,
                               np.einsum("jv,vcb->jcb", jr, arrays["shapedirs"][..., :10]),
                               atol=1e-6)
    np.testing.assert_allclose(m.kp_vertex_regressor, arrays["cocoplus_regressor"].toarray(),
                               atol=1e-7)
    assert not np.any(m.kp_joint_weights)
    # Static data is hashable (pytree aux data), arrays are leaves.
    leaves, treedef = jax.tree_util.tree_flatten(m)
    hash(treedef)
    assert len(leaves) == 11


def test_py2_chumpy_pickle_loads_without_chumpy(arrays, files):
    assert "chumpy" not in sys.modules
    m = body.load_model(files["pkl"], num_betas=None, dtype=np.float64,
                        landmark_vertex_ids=arrays["landmark_vertex_ids"])
    assert "chumpy" not in sys.modules
    ref = body.from_arrays(arrays, dtype=np.float64)
    _assert_same_arrays(m, ref)
    assert m.name == files["pkl"] and m.num_betas == 12
    raw = pickle_io.safe_load(files["pkl"])
    assert isinstance(raw["J_regressor"], scipy.sparse.csc_matrix)
    assert isinstance(raw["shapedirs"], np.ndarray)
    assert raw["bs_style"] == "lbs"
    np.testing.assert_array_equal(raw["kintree_table"], arrays["kintree_table"])


def test_smplx_npz_loads_same_as_pkl(arrays, files):
    a = body.load_model(files["pkl"], landmark_vertex_ids=arrays["landmark_vertex_ids"])
    b = body.load_model(files["npz"], landmark_vertex_ids=arrays["landmark_vertex_ids"])
    _assert_same_arrays(a, b)
    assert a.num_betas == 10  # load_model's default


@pytest.mark.parametrize("module,cls", [("scipy.sparse._csc", "csc_matrix"),
                                        ("scipy.sparse.csr", "csr_matrix"),
                                        ("scipy.sparse._csr", "csr_matrix")])
def test_sparse_old_and_new_module_paths(module, cls):
    m = scipy.sparse.random(5, 7, density=0.4, random_state=0, format=cls[:3])
    state = {"_shape": m.shape, "data": m.data, "indices": m.indices.astype(np.int32),
             "indptr": m.indptr.astype(np.int32), "maxprint": 50}
    # {'reg': <NEWOBJ + BUILD of the sparse class>} as Python 2 scipy wrote it.
    from smpl_files import _Py2PickleWriter
    w = _Py2PickleWriter()
    w.out += b"}U\x03reg"
    w.new_object(module, cls, state)
    w.out += b"s"
    out = pickle_io.safe_loads(w.finish(), "mem")
    assert isinstance(out["reg"], scipy.sparse.spmatrix)
    np.testing.assert_array_equal(out["reg"].toarray(), m.toarray())


def test_python3_numpy_pickles_load():
    d = {"a": np.arange(12.0).reshape(3, 4), "b": np.int64(7), "c": [np.float32(1.5)],
         "s": scipy.sparse.csr_matrix(np.eye(3))}
    for proto in (2, 4, 5):
        out = pickle_io.safe_loads(pickle.dumps(d, protocol=proto), f"proto{proto}")
        np.testing.assert_array_equal(out["a"], d["a"])
        assert out["b"] == 7 and out["c"][0] == np.float32(1.5)
        np.testing.assert_array_equal(out["s"].toarray(), np.eye(3))


class _Evil:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


class _EvalEvil:
    def __reduce__(self):
        import builtins
        return (builtins.eval, ("1 + 1",))


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": _Evil(f"touch {marker}")}, protocol=2))
    with pytest.raises(pickle_io.UnsafePickleError) as e:
        body.load_model(path)
    msg = str(e.value)
    assert str(path) in msg and "system" in msg and "allow-list" in msg
    assert not marker.exists()
    path.write_bytes(pickle.dumps(_EvalEvil(), protocol=0))
    with pytest.raises(pickle_io.UnsafePickleError, match=r"(__builtin__|builtins)\.eval"):
        pickle_io.safe_load(path)


def test_extra_allowed(tmp_path):
    import collections
    path = tmp_path / "od.pkl"
    path.write_bytes(pickle.dumps(collections.OrderedDict(a=np.ones(2)), protocol=2))
    with pytest.raises(pickle_io.UnsafePickleError, match="collections.OrderedDict"):
        pickle_io.safe_load(path)
    out = pickle_io.safe_load(path, extra_allowed={("collections", "OrderedDict"):
                                                   collections.OrderedDict})
    np.testing.assert_array_equal(out["a"], np.ones(2))
    out = pickle_io.safe_load(path, extra_allowed=["collections.OrderedDict"])
    assert isinstance(out, collections.OrderedDict)


def test_chumpy_expression_without_x_is_refused():
    from smpl_files import _Py2PickleWriter
    w = _Py2PickleWriter()
    w.out += b"}U\x01a"
    w.new_object("chumpy.ch", "Ch", {"_cache": {}})
    w.out += b"s"
    with pytest.raises(ValueError, match="chumpy object at a holds no array"):
        pickle_io.safe_loads(w.finish(), "mem.pkl")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip_exact(arrays, tmp_path, dtype):
    m = body.from_arrays(arrays, dtype=dtype, name="roundtrip")
    for model in (m, body.with_keypoints(m, "body25"), body.keypoint_model(m),
                  body.with_keypoints(m, "smpl24")):
        path = body.save_model(model, str(tmp_path / "m.npz"))
        back = body.load_model(path)
        assert body.models_equal(model, back)
        assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(model)
        for x, y in zip(jax.tree_util.tree_leaves(model), jax.tree_util.tree_leaves(back)):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # no temporary files left
    other = body.from_arrays(arrays, dtype=dtype, name="roundtrip", num_betas=5)
    assert not body.models_equal(m, other)


def test_real_smpl_topology_gets_smpl_landmarks():
    a = random_smpl_arrays(seed=1, num_vertices=6890, cocoplus=False, landmarks=False)
    m = body.from_arrays(a)
    assert dict(m.landmarks)["nose"] == 332 and dict(m.landmarks)["head_top"] == 411
    assert m.keypoint_format == "cocoplus"  # built from joints + vertex ids
    m25 = body.with_keypoints(m, "body25")
    idx = m25.keypoint_names.index("right_heel")
    assert m25.kp_vertex_regressor[idx, 6787] == 1.0
    assert m25.kp_joint_weights[m25.keypoint_names.index("neck"), 12] == 1.0


def test_small_model_without_landmarks_falls_back_to_joints(arrays):
    a = dict(arrays)
    del a["cocoplus_regressor"], a["landmark_vertex_ids"]
    m = body.from_arrays(a)
    assert m.keypoint_format == "smpl24" and m.keypoint_names == skeletons.SMPL_JOINT_NAMES
    with pytest.raises(ValueError, match="nose"):
        body.with_keypoints(m, "body25")


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        body.load_model(tmp_path / "nope.pkl")


def test_truncated_and_empty_files(files, tmp_path):
    data = open(files["pkl"], "rb").read()
    for cut in (len(data) // 2, 10, len(data) - 1):
        p = tmp_path / f"cut{cut}.pkl"
        p.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"cut{cut}.pkl.*(truncated|corrupt)"):
            body.load_model(p)
    p = tmp_path / "empty.pkl"
    p.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.pkl: empty"):
        body.load_model(p)
    z = open(files["npz"], "rb").read()
    p = tmp_path / "cut.npz"
    p.write_bytes(z[: len(z) // 2])
    with pytest.raises(ValueError, match="cut.npz.*(truncated|corrupt)"):
        body.load_model(p)


@pytest.mark.parametrize("key,bad,pattern", [
    ("shapedirs", lambda a: a[:, :2], r"'shapedirs' has shape \(200, 2, 12\), expected "
                                      r"\(200, 3, \*\)"),
    ("posedirs", lambda a: a[..., :100], r"'posedirs' has shape .*expected \(200, 3, 207\)"),
    ("weights", lambda a: a[:, :20], r"'weights' has shape \(200, 20\), expected \(200, 24\)"),
    ("v_template", lambda a: a[:, :2], r"'v_template' has shape \(200, 2\)"),
    ("J_regressor", lambda a: a[:10], r"'J_regressor' has shape \(10, 200\), expected "
                                      r"\(24, 200\)"),
    ("kintree_table", lambda a: a[:, :5], r"'kintree_table' has shape"),
    ("cocoplus_regressor", lambda a: a[:4], r"'cocoplus_regressor' has shape"),
    ("f", lambda a: a[:0], r"'f' \(faces\) is empty"),
    ("f", lambda a: a + 1000, r"'f' \(faces\) indexes vertices outside"),
    ("weights", lambda a: a * np.nan, r"'weights' holds NaN"),
])
def test_wrong_shapes_name_file_and_key(arrays, tmp_path, key, bad, pattern):
    a = dict(arrays)
    a[key] = bad(a[key])
    path = write_smplx_npz(str(tmp_path / "bad.npz"), a)
    with pytest.raises(ValueError, match=pattern) as e:
        body.load_model(path)
    assert "bad.npz" in str(e.value)


def test_model_without_faces(arrays, tmp_path):
    a = {k: v for k, v in arrays.items() if k != "f"}
    path = write_py2_smpl_pickle(str(tmp_path / "nofaces.pkl"), a)
    with pytest.raises(ValueError, match=r"nofaces.pkl: missing 'f' \(faces\)"):
        body.load_model(path)


def test_num_betas_too_large_and_not_a_dict(arrays, files, tmp_path):
    with pytest.raises(ValueError, match="num_betas=20 but the model has 12"):
        body.load_model(files["pkl"], num_betas=20)
    p = tmp_path / "list.pkl"
    p.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(ValueError, match="list.pkl: expected a dict"):
        body.load_model(p)


def test_npz_with_objects_is_refused(arrays, tmp_path):
    p = str(tmp_path / "obj.npz")
    np.savez(p, v_template=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="obj.npz: the .npz holds pickled Python objects"):
        body.load_model(p)


def test_body_config_loads_the_file_it_names(arrays, files):
    from sfv_jax.body.config import BodySettings, body_config, model_from_config
    cfg = body_config()
    assert cfg.model_path == "" and cfg.num_betas == 10 and cfg.keypoints == "auto"
    cfg.model_path = files["npz"]
    cfg.keypoints = "smpl24"
    cfg.dtype = "float64"
    m = model_from_config(BodySettings.from_config(cfg))
    assert m.keypoint_format == "smpl24" and m.dtype == np.float64 and m.num_betas == 10
    km = model_from_config(BodySettings.from_config(cfg), restrict_to_keypoints=True)
    assert km.is_restricted and km.num_vertices == 0
    cfg.keypoints = "auto"  # the file's cocoplus regressor
    km = model_from_config(BodySettings.from_config(cfg), restrict_to_keypoints=True)
    assert km.keypoint_format == "cocoplus" and km.num_vertices > 0
    assert body.pair_model(km).num_pairs > 0
