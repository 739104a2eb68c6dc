"""Test helper: random SMPL-format models and files in the real SMPL formats.

  - ``random_smpl_arrays``: a small random SMPL-format dict (same keys, layouts and
    dtypes as a real SMPL .pkl after loading; sparse regressors as scipy.sparse).
  - ``write_py2_smpl_pickle``: writes the dict as Python 2 with chumpy would have: a
    protocol-2 pickle with ``chumpy.ch.Ch`` objects (state dict with the array under
    'x'), numpy arrays via ``numpy.core.multiarray._reconstruct`` with their data as
    Python 2 byte strings, and ``scipy.sparse.csc.csc_matrix`` objects. The opcodes are
    emitted directly, so neither chumpy nor Python 2 is needed.
  - ``write_smplx_npz``: smplx-style .npz (dense arrays, SMPL key names).
  - ``fake_chumpy``: a context manager putting a test-only stand-in ``chumpy`` package in
    ``sys.modules`` so that code which unpickles with plain ``pickle`` (smplx) can read
    the chumpy pickle.
"""
from __future__ import annotations

import contextlib
import struct
import sys
import types
from typing import Any, Iterator

import numpy as np
import scipy.sparse

from sfv_jax import skeletons

UINT32_MAX = 4294967295


def _f32(x: np.ndarray) -> np.ndarray:
    # Values exactly representable in float32, stored as float64 like SMPL files: smplx
    # casts model arrays through float32, so parity tests need float32-exact data.
    return np.asarray(x, np.float32).astype(np.float64)


def random_smpl_arrays(seed: int = 0, num_vertices: int = 300, num_betas: int = 10,
                       num_faces: int | None = None, cocoplus: bool = True,
                       landmarks: bool = True) -> dict[str, Any]:
    """A random but well-formed SMPL-format model dict (float64 arrays, float32-exact).

    The body is a rough 1.7 m column of vertices; joints are averages of nearby vertices
    with SMPL-like rest positions; skinning weights favour the nearest joints.
    """
    rng = np.random.default_rng(seed)
    nv, nj = num_vertices, skeletons.NUM_SMPL_JOINTS
    # Rest joints at rough SMPL positions (pelvis at the origin, Y up, metres).
    jrest = np.array([
        [0, 0, 0], [.06, -.09, 0], [-.06, -.09, 0], [0, .11, 0], [.1, -.47, 0],
        [-.1, -.47, 0], [0, .25, 0], [.09, -.87, 0], [-.09, -.87, 0], [0, .3, .02],
        [.12, -.93, .12], [-.12, -.93, .12], [0, .51, 0], [.08, .42, 0], [-.08, .42, 0],
        [0, .6, .05], [.19, .43, 0], [-.19, .43, 0], [.45, .41, 0], [-.45, .41, 0],
        [.71, .42, 0], [-.71, .42, 0], [.79, .41, 0], [-.79, .41, 0]], dtype=np.float64)
    owner = rng.integers(0, nj, size=nv)
    v_template = _f32(jrest[owner] + rng.normal(scale=0.04, size=(nv, 3)))
    # Joint regressor: each joint averages the vertices it owns (or 3 random ones).
    rows, cols, vals = [], [], []
    for j in range(nj):
        ids = np.flatnonzero(owner == j)[:12]
        if ids.size == 0:
            ids = rng.choice(nv, size=3, replace=False)
        w = rng.uniform(0.5, 1.5, size=ids.size)
        w = w / w.sum()
        rows += [j] * ids.size
        cols += list(ids)
        vals += list(w)
    j_regressor = scipy.sparse.csc_matrix((_f32(np.asarray(vals)), (rows, cols)), shape=(nj, nv))
    # Skinning weights: 4 joints per vertex, the owner dominant.
    weights = np.zeros((nv, nj))
    for v in range(nv):
        js = np.unique(np.concatenate([[owner[v]], rng.integers(0, nj, size=3)]))
        w = rng.uniform(0.1, 1.0, size=js.size)
        w[js == owner[v]] += 2.0
        weights[v, js] = w / w.sum()
    weights = _f32(weights)
    nf = num_faces if num_faces is not None else 2 * nv - 4
    faces = np.stack([rng.choice(nv, size=3, replace=False) for _ in range(nf)]).astype(np.uint32)
    kintree = np.array([[UINT32_MAX] + list(skeletons.SMPL_PARENTS[1:]), list(range(nj))],
                       dtype=np.int64)
    out: dict[str, Any] = {
        "v_template": v_template,
        "shapedirs": _f32(rng.normal(scale=0.02, size=(nv, 3, num_betas))),
        "posedirs": _f32(rng.normal(scale=0.01, size=(nv, 3, 9 * (nj - 1)))),
        "J_regressor": j_regressor,
        "weights": weights,
        "f": faces,
        "kintree_table": kintree,
        "J": _f32(j_regressor @ v_template),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }
    if cocoplus:
        creg = np.zeros((19, nv))
        for k in range(19):
            ids = rng.choice(nv, size=6, replace=False)
            w = rng.uniform(0.2, 1.0, size=6)
            creg[k, ids] = w / w.sum()
        out["cocoplus_regressor"] = scipy.sparse.csc_matrix(_f32(creg))
    if landmarks:
        names = ("nose", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe",
                 "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
                 "right_heel", "head_top")
        ids = rng.choice(nv, size=len(names), replace=False)
        out["landmark_vertex_ids"] = {n: int(i) for n, i in zip(names, ids)}
    return out


SMPL_FILE_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f",
                  "kintree_table", "J", "bs_style", "bs_type", "cocoplus_regressor")


# --------------------------------------------------------------------------------------
# A Python-2-style pickle writer (protocol 2 opcodes)
# --------------------------------------------------------------------------------------
class _Py2PickleWriter:
    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")  # PROTO 2

    def global_(self, module: str, name: str) -> None:
        self.out += b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    def str_(self, s: bytes | str) -> None:
        b = s.encode("latin1") if isinstance(s, str) else s
        if len(b) < 256:
            self.out += b"U" + bytes([len(b)]) + b  # SHORT_BINSTRING (Python 2 str)
        else:
            self.out += b"T" + struct.pack("<i", len(b)) + b  # BINSTRING

    def int_(self, i: int) -> None:
        if 0 <= i < 256:
            self.out += b"K" + bytes([i])
        elif -2 ** 31 <= i < 2 ** 31:
            self.out += b"J" + struct.pack("<i", i)
        else:
            nbytes = (i.bit_length() + 8) // 8
            self.out += b"\x8a" + bytes([nbytes]) + i.to_bytes(nbytes, "little", signed=True)

    def tuple_(self, items: tuple) -> None:
        if not items:
            self.out += b")"
            return
        if len(items) > 3:
            self.out += b"("
        for x in items:
            self.obj(x)
        self.out += {1: b"\x85", 2: b"\x86", 3: b"\x87"}.get(len(items), b"t")

    def dtype(self, dt: np.dtype) -> None:
        self.global_("numpy", "dtype")
        self.tuple_((dt.str[1:], False, True))
        self.out += b"R"
        order = "|" if dt.itemsize == 1 else "<"
        self.tuple_((3, order, None, None, None, -1, -1, 0))
        self.out += b"b"  # BUILD

    def ndarray(self, a: np.ndarray) -> None:
        a = np.ascontiguousarray(a)
        if a.dtype.byteorder == ">":
            a = a.astype(a.dtype.newbyteorder("<"))
        self.global_("numpy.core.multiarray", "_reconstruct")
        self.out += b"("
        self.global_("numpy", "ndarray")
        self.tuple_((0,))
        self.str_(b"b")
        self.out += b"tR("  # args tuple, REDUCE, MARK for the state tuple
        self.int_(1)
        self.tuple_(tuple(int(s) for s in a.shape))
        self.dtype(a.dtype)
        self.obj(False)
        self.str_(a.tobytes())
        self.out += b"tb"  # state tuple, BUILD

    def new_object(self, module: str, name: str, state: dict) -> None:
        self.global_(module, name)
        self.out += b")\x81"  # EMPTY_TUPLE, NEWOBJ
        self.obj(state)
        self.out += b"b"

    def obj(self, x: Any) -> None:
        if x is None:
            self.out += b"N"
        elif x is True:
            self.out += b"\x88"
        elif x is False:
            self.out += b"\x89"
        elif isinstance(x, (int, np.integer)):
            self.int_(int(x))
        elif isinstance(x, float):
            self.out += b"G" + struct.pack(">d", x)
        elif isinstance(x, (str, bytes)):
            self.str_(x)
        elif isinstance(x, tuple):
            self.tuple_(x)
        elif isinstance(x, list):
            self.out += b"](" if x else b"]"
            for v in x:
                self.obj(v)
            if x:
                self.out += b"e"  # APPENDS
        elif isinstance(x, dict):
            self.out += b"}"
            if x:
                self.out += b"("
                for k, v in x.items():
                    self.obj(k)
                    self.obj(v)
                self.out += b"u"  # SETITEMS
        elif isinstance(x, np.ndarray):
            self.ndarray(x)
        elif isinstance(x, _Ch):
            # chumpy's Ch pickles as NEWOBJ + a state dict holding the value under 'x'.
            self.new_object("chumpy.ch", "Ch", {"x": x.x, "_cache": {}, "_depends_on_deps": {}})
        elif scipy.sparse.issparse(x):
            m = scipy.sparse.csc_matrix(x)
            self.new_object("scipy.sparse.csc", "csc_matrix", {
                "_shape": tuple(int(s) for s in m.shape), "data": m.data,
                "indices": m.indices.astype(np.int32), "indptr": m.indptr.astype(np.int32),
                "maxprint": 50, "format": "csc"})
        else:
            raise TypeError(f"cannot write {type(x)}")

    def finish(self) -> bytes:
        return bytes(self.out + b".")


class _Ch:
    """Marks an array to be written as a chumpy ``Ch`` object."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = np.asarray(x)


def py2_pickle_bytes(obj: Any, chumpy_keys: tuple[str, ...] = ()) -> bytes:
    """Protocol-2 pickle bytes of ``obj`` as Python 2 would write them.

    Arrays of a top-level dict under ``chumpy_keys`` become chumpy ``Ch`` objects.
    """
    if isinstance(obj, dict):
        obj = {k: (_Ch(v) if k in chumpy_keys else v) for k, v in obj.items()}
    w = _Py2PickleWriter()
    w.obj(obj)
    return w.finish()


def write_py2_smpl_pickle(path: str, arrays: dict[str, Any],
                          chumpy_keys: tuple[str, ...] = ("v_template", "shapedirs",
                                                          "posedirs", "weights", "J")) -> str:
    """Writes an SMPL .pkl as SMPL 1.0 / HMR ship it (chumpy + sparse, Python 2)."""
    data = {k: arrays[k] for k in SMPL_FILE_KEYS if k in arrays}
    with open(path, "wb") as f:
        f.write(py2_pickle_bytes(data, chumpy_keys))
    return path


def write_smplx_npz(path: str, arrays: dict[str, Any]) -> str:
    """Writes an smplx-style .npz: SMPL key names, dense numeric arrays."""
    data = {}
    for k in SMPL_FILE_KEYS:
        if k not in arrays or isinstance(arrays[k], str):
            continue
        v = arrays[k]
        data[k] = np.asarray(v.toarray()) if scipy.sparse.issparse(v) else np.asarray(v)
    np.savez(path, **data)
    return path


# --------------------------------------------------------------------------------------
# A test-only chumpy stand-in for code that unpickles with plain pickle (smplx)
# --------------------------------------------------------------------------------------
class _FakeCh:
    def __setstate__(self, state: dict) -> None:
        self.x = np.asarray(state["x"])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.x if dtype is None else self.x.astype(dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.x.shape

    def __getitem__(self, idx: Any) -> np.ndarray:
        return self.x[idx]

    def reshape(self, *args: Any, **kw: Any) -> np.ndarray:
        return self.x.reshape(*args, **kw)


@contextlib.contextmanager
def fake_chumpy() -> Iterator[None]:
    """Temporarily installs a stand-in ``chumpy`` / ``chumpy.ch`` in ``sys.modules``."""
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    pkg = types.ModuleType("chumpy")
    ch = types.ModuleType("chumpy.ch")
    _FakeCh.__module__ = "chumpy.ch"
    ch.Ch = _FakeCh  # type: ignore[attr-defined]
    pkg.ch = ch  # type: ignore[attr-defined]
    pkg.Ch = _FakeCh  # type: ignore[attr-defined]
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = pkg, ch
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
