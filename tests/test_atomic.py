"""The atomic .npz writer and its safe reader (sfv_jax.atomic)."""
import numpy as np
import pytest

from sfv_jax import atomic


class _MyError(ValueError):
    pass


def test_save_then_load_roundtrip(tmp_path):
    p = tmp_path / "a.npz"
    atomic.save_npz(p, x=np.arange(6).reshape(2, 3), name=np.array("walk"))
    z = atomic.load_npz(p)
    np.testing.assert_array_equal(z["x"], np.arange(6).reshape(2, 3))
    assert str(z["name"]) == "walk"
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz: no such file"):
        atomic.load_npz(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage, not a zip")
    with pytest.raises(_MyError, match=r"bad\.npz: not a readable tracks file \(truncated or corrupt"):
        atomic.load_npz(bad, "tracks file", _MyError)
    good = tmp_path / "good.npz"
    np.savez(good, x=np.zeros(1000))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError, match=r"cut\.npz: not a readable \.npz file"):
        atomic.load_npz(cut)
    obj = tmp_path / "obj.npz"
    np.savez(obj, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"obj\.npz: the \.npz holds pickled Python objects"):
        atomic.load_npz(obj)
