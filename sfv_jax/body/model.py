"""SMPL-format body models: the ``BodyModel`` pytree, loading and saving.

``BodyModel`` holds the arrays of an SMPL-format model as pytree leaves and its kinematic
tree, names and sizes as static aux data, so ``jit`` / ``vmap`` trace once per model kind.
The joint regressor is folded in at build time: the rest joints are linear in the shape
coefficients, ``J = j_template + j_shapedirs @ betas``, which equals SMPL's
``J_regressor @ (v_template + shapedirs @ betas)``.

Files read by ``load_model``:
  - SMPL ``.pkl`` (SMPL 1.0, HMR's ``neutral_smpl_with_cocoplus_reg.pkl``, smplx-style
    ``SMPL_NEUTRAL.pkl``): Python 2 pickles with chumpy arrays and scipy.sparse
    regressors, read with ``pickle_io.safe_load`` (no chumpy, no code from the file);
  - smplx-style ``.npz`` (same keys as the pickle, dense arrays);
  - the project's own ``.npz`` written by ``save_model`` (``load_model(save_model(m))``
    gives back ``m`` bit for bit).
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
from typing import Any, Mapping, Sequence

import jax
import numpy as np

from sfv_jax import skeletons
from sfv_jax.atomic import load_npz, write_bytes
from sfv_jax.body import pickle_io
from sfv_jax.body.keypoints import (SMPL_LANDMARK_VERTEX_IDS, SMPL_NUM_VERTICES,
                                    build_keypoint_set)

__all__ = ["BodyModel", "from_arrays", "load_model", "save_model", "models_equal",
           "with_keypoints", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_META_KEY = "__sfv_body_model__"
_DATA_FIELDS = ("v_template", "shapedirs", "posedirs", "lbs_weights", "faces", "j_template",
                "j_shapedirs", "kp_vertex_regressor", "kp_joint_weights", "j_regressor",
                "cocoplus_regressor")
_META_FIELDS = ("parents", "joint_names", "keypoint_names", "keypoint_format", "landmarks",
                "vertex_ids", "name")


@dataclasses.dataclass(frozen=True, eq=False)
class BodyModel:
    """An SMPL-format body model (a pytree; arrays are leaves, the rest is static).

    Array leaves (V vertices, B shape components, P = 9 (J - 1) pose components, J joints,
    K keypoints, F faces):
      v_template (V, 3), shapedirs (V, 3, B), posedirs (V, 3, P) in SMPL's layout,
      lbs_weights (V, J), faces (F, 3) int32 (F = 0 in a keypoint-restricted model),
      j_template (J, 3), j_shapedirs (J, 3, B): rest joints, linear in betas,
      kp_vertex_regressor (K, V), kp_joint_weights (K, J): the keypoint set,
      j_regressor (J, V) or None (kept for saving; None when restricted),
      cocoplus_regressor (19, V) or None (the file's HMR regressor, if it had one).
    Static fields:
      parents (J,) with -1 at the root, joint_names, keypoint_names, keypoint_format
      ("cocoplus", "body25", ..., "smpl24", "custom"), landmarks ((name, vertex id), ...),
      vertex_ids (None for a full model; for a keypoint-restricted one the original ids
      of the kept vertices, or () when it keeps no mesh vertex, see
      ``kinematics.keypoint_model``), name (where the model came from; used in messages).
    """

    v_template: Any
    shapedirs: Any
    posedirs: Any
    lbs_weights: Any
    faces: Any
    j_template: Any
    j_shapedirs: Any
    kp_vertex_regressor: Any
    kp_joint_weights: Any
    j_regressor: Any
    cocoplus_regressor: Any
    parents: tuple[int, ...]
    joint_names: tuple[str, ...]
    keypoint_names: tuple[str, ...]
    keypoint_format: str
    landmarks: tuple[tuple[str, int], ...]
    vertex_ids: tuple[int, ...] | None
    name: str = ""

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[-1])

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.v_template.dtype)

    @property
    def is_restricted(self) -> bool:
        """True for a keypoint-only model (a subset of the vertices, no faces)."""
        return self.vertex_ids is not None

    def __repr__(self) -> str:
        kind = f"restricted to {self.num_vertices} vertices" if self.is_restricted else \
            f"{self.num_vertices} vertices, {self.num_faces} faces"
        return (f"BodyModel({self.name!r}, {kind}, {self.num_joints} joints, "
                f"{self.num_betas} betas, {self.num_keypoints} {self.keypoint_format} "
                f"keypoints, {self.dtype})")


jax.tree_util.register_dataclass(BodyModel, data_fields=list(_DATA_FIELDS),
                                 meta_fields=list(_META_FIELDS))


def models_equal(a: BodyModel, b: BodyModel) -> bool:
    """True when both models have bitwise equal arrays (and dtypes) and equal static data."""
    if any(getattr(a, f) != getattr(b, f) for f in _META_FIELDS):
        return False
    for f in _DATA_FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        if (x is None) != (y is None):
            return False
        if x is None:
            continue
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            return False
    return True


# --------------------------------------------------------------------------------------
# Building from SMPL-format arrays
# --------------------------------------------------------------------------------------
def _dense(x: Any, where: str = "sparse matrix") -> np.ndarray:
    if hasattr(x, "toarray"):  # scipy.sparse: indices checked in full first (scipy trusts them)
        return np.asarray(pickle_io.checked_sparse(x, where).toarray())
    return np.asarray(x)


def _array(arrays: Mapping[str, Any], key: str, where: str, required: bool = True
           ) -> np.ndarray | None:
    if key not in arrays or arrays[key] is None:
        if required:
            what = "faces" if key == "f" else "array"
            raise ValueError(f"{where}: missing '{key}' ({what}); an SMPL-format model needs "
                             f"v_template, shapedirs, posedirs, J_regressor, weights, f")
        return None
    try:
        x = _dense(arrays[key], f"{where}: '{key}'")
    except ValueError as e:
        if str(e).startswith(where):
            raise
        raise ValueError(f"{where}: '{key}' is not an array ({e})") from None
    except Exception as e:  # noqa: BLE001 - any unconvertible object is bad input
        raise ValueError(f"{where}: '{key}' is not an array ({type(arrays[key]).__name__}: "
                         f"{e})") from None
    if x.dtype == object:
        raise ValueError(f"{where}: '{key}' is an object array, expected numbers")
    return x


def _check_shape(x: np.ndarray, key: str, expected: tuple[Any, ...], where: str) -> None:
    ok = x.ndim == len(expected) and all(e is None or s == e for s, e in zip(x.shape, expected))
    if not ok:
        exp = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{where}: '{key}' has shape {x.shape}, expected {exp}")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise ValueError(f"{where}: '{key}' holds NaN or infinite values")


def _parents_from_kintree(kintree: np.ndarray | None, num_joints: int, where: str
                          ) -> tuple[int, ...]:
    if kintree is None:
        if num_joints != skeletons.NUM_SMPL_JOINTS:
            raise ValueError(f"{where}: no 'kintree_table' and {num_joints} joints")
        return skeletons.SMPL_PARENTS
    _check_shape(kintree, "kintree_table", (2, num_joints), where)
    raw = kintree[0].astype(np.int64)
    # SMPL stores the root's parent as uint32 max (4294967295) or -1.
    parents = tuple(-1 if (p < 0 or p >= 2 ** 31) else int(p) for p in raw)
    if parents[0] != -1 or any(not 0 <= p < j for j, p in enumerate(parents) if j > 0):
        raise ValueError(f"{where}: 'kintree_table' parents {parents} are not a tree rooted "
                         f"at joint 0 with parents before children")
    return parents


def from_arrays(arrays: Mapping[str, Any], *, num_betas: int | None = None,
                dtype: Any = np.float32, keypoints: str | np.ndarray = "auto",
                landmark_vertex_ids: Mapping[str, int] | None = None,
                name: str = "") -> BodyModel:
    """Builds a ``BodyModel`` from SMPL-format arrays (as in an SMPL .pkl after loading).

    Args:
      arrays: mapping with v_template (V, 3), shapedirs (V, 3, B), posedirs (V, 3, 207),
        J_regressor (24, V) dense or scipy.sparse, weights (V, 24), f (F, 3),
        optionally kintree_table (2, 24), cocoplus_regressor (19, V) dense or sparse,
        landmark_vertex_ids (dict canonical point name -> vertex id).
      num_betas: keep the first ``num_betas`` shape components (default all); more than
        the model has is an error.
      dtype: floating dtype of the model's arrays (float32 or float64).
      keypoints: keypoint set, see ``keypoints.build_keypoint_set`` ("auto" = cocoplus when
        possible, else the 24 joints).
      landmark_vertex_ids: overrides ``arrays['landmark_vertex_ids']``; when neither is
        given and V == 6890 (SMPL's topology), SMPL's known vertex ids are used.
      name: names the model in messages (``load_model`` passes the file path).
    """
    where = name or "model arrays"
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"{where}: dtype must be floating, got {dtype}")
    v_template = _array(arrays, "v_template", where)
    if v_template.ndim != 2 or v_template.shape[1] != 3 or v_template.shape[0] == 0:
        raise ValueError(f"{where}: 'v_template' has shape {v_template.shape}, expected (V, 3)")
    nv = v_template.shape[0]
    _check_shape(v_template, "v_template", (nv, 3), where)
    j_regressor = _array(arrays, "J_regressor", where)
    if j_regressor.ndim != 2:
        raise ValueError(f"{where}: 'J_regressor' has shape {j_regressor.shape}, expected "
                         f"(24, {nv})")
    nj = j_regressor.shape[0]
    _check_shape(j_regressor, "J_regressor", (skeletons.NUM_SMPL_JOINTS, nv), where)
    shapedirs = _array(arrays, "shapedirs", where)
    _check_shape(shapedirs, "shapedirs", (nv, 3, None), where)
    if num_betas is not None:
        if num_betas > shapedirs.shape[-1] or num_betas < 1:
            raise ValueError(f"{where}: num_betas={num_betas} but the model has "
                             f"{shapedirs.shape[-1]} shape components")
        shapedirs = shapedirs[..., :num_betas]
    posedirs = _array(arrays, "posedirs", where)
    _check_shape(posedirs, "posedirs", (nv, 3, 9 * (nj - 1)), where)
    weights = _array(arrays, "weights", where)
    _check_shape(weights, "weights", (nv, nj), where)
    faces = _array(arrays, "f", where)
    if faces.size == 0:
        raise ValueError(f"{where}: 'f' (faces) is empty; a body model needs its triangles")
    _check_shape(faces, "f", (None, 3), where)
    if faces.dtype.kind not in "iu" and not np.all(faces == np.round(faces)):
        raise ValueError(f"{where}: 'f' (faces) holds non-integer values")
    faces = faces.astype(np.int64)
    if faces.min() < 0 or faces.max() >= nv:
        raise ValueError(f"{where}: 'f' (faces) indexes vertices outside 0..{nv - 1} "
                         f"(min {faces.min()}, max {faces.max()})")
    parents = _parents_from_kintree(_array(arrays, "kintree_table", where, required=False),
                                    nj, where)
    cocoplus = _array(arrays, "cocoplus_regressor", where, required=False)
    if cocoplus is not None:
        _check_shape(cocoplus, "cocoplus_regressor", (19, nv), where)

    if landmark_vertex_ids is None:
        landmark_vertex_ids = arrays.get("landmark_vertex_ids")
    if landmark_vertex_ids is None and nv == SMPL_NUM_VERTICES:
        landmark_vertex_ids = SMPL_LANDMARK_VERTEX_IDS
    landmarks = tuple(sorted((str(k), int(v)) for k, v in dict(landmark_vertex_ids or {}).items()))
    for lname, vid in landmarks:
        if not 0 <= vid < nv:
            raise ValueError(f"{where}: landmark {lname!r} has vertex id {vid}, outside "
                             f"0..{nv - 1}")
    kp = build_keypoint_set(keypoints, nv, nj, landmarks=dict(landmarks),
                            cocoplus_regressor=cocoplus, where=where)

    # Fold the joint regressor into the shape space in float64, then cast.
    jr64 = j_regressor.astype(np.float64)
    j_template = jr64 @ v_template.astype(np.float64)
    j_shapedirs = np.einsum("jv,vcb->jcb", jr64, shapedirs.astype(np.float64))
    cast = lambda x: np.ascontiguousarray(x, dtype=dtype)  # noqa: E731
    return BodyModel(
        v_template=cast(v_template), shapedirs=cast(shapedirs), posedirs=cast(posedirs),
        lbs_weights=cast(weights), faces=np.ascontiguousarray(faces, dtype=np.int32),
        j_template=cast(j_template), j_shapedirs=cast(j_shapedirs),
        kp_vertex_regressor=cast(kp.vertex_regressor), kp_joint_weights=cast(kp.joint_weights),
        j_regressor=cast(j_regressor),
        cocoplus_regressor=None if cocoplus is None else cast(cocoplus),
        parents=parents,
        joint_names=(skeletons.SMPL_JOINT_NAMES if nj == skeletons.NUM_SMPL_JOINTS
                     else tuple(f"joint{i}" for i in range(nj))),
        keypoint_names=kp.names, keypoint_format=kp.fmt, landmarks=landmarks,
        vertex_ids=None, name=str(name))


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------
def _from_own_npz(z: Mapping[str, Any], path: str) -> BodyModel:
    try:
        meta = json.loads(str(z[_META_KEY]))
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"{path}: unreadable sfv_jax model metadata ({e})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: sfv_jax model format version {meta.get('format_version')}, "
                         f"this code reads version {FORMAT_VERSION}")
    fields: dict[str, Any] = {}
    for f in _DATA_FIELDS:
        fields[f] = z[f] if f in z else None
    for f in ("v_template", "shapedirs", "posedirs", "lbs_weights", "faces", "j_template",
              "j_shapedirs", "kp_vertex_regressor", "kp_joint_weights"):
        if fields[f] is None:
            raise ValueError(f"{path}: missing '{f}' in an sfv_jax model file")
    m = BodyModel(
        **fields,
        parents=tuple(int(p) for p in meta["parents"]),
        joint_names=tuple(meta["joint_names"]),
        keypoint_names=tuple(meta["keypoint_names"]),
        keypoint_format=str(meta["keypoint_format"]),
        landmarks=tuple((str(n), int(i)) for n, i in meta["landmarks"]),
        vertex_ids=None if meta["vertex_ids"] is None else tuple(int(i) for i in
                                                                 meta["vertex_ids"]),
        name=str(meta["name"]))
    _validate_model(m, path)
    return m


def _validate_model(m: BodyModel, where: str) -> None:
    nv, nj, nb, nk = m.num_vertices, m.num_joints, m.num_betas, m.num_keypoints
    checks = {
        "v_template": (nv, 3), "shapedirs": (nv, 3, nb), "posedirs": (nv, 3, 9 * (nj - 1)),
        "lbs_weights": (nv, nj), "j_template": (nj, 3), "j_shapedirs": (nj, 3, nb),
        "kp_vertex_regressor": (nk, nv), "kp_joint_weights": (nk, nj),
        "j_regressor": (nj, nv), "cocoplus_regressor": (19, nv),
    }
    for key, shape in checks.items():
        x = getattr(m, key)
        if x is not None:
            _check_shape(np.asarray(x), key, shape, where)
    _check_shape(np.asarray(m.faces), "faces", (None, 3), where)
    if m.num_faces == 0 and not m.is_restricted:
        raise ValueError(f"{where}: model has no faces")


def load_model(path: str | os.PathLike, num_betas: int | None = 10, *,
               dtype: Any = np.float32, keypoints: str | np.ndarray = "auto",
               landmark_vertex_ids: Mapping[str, int] | None = None) -> BodyModel:
    """Loads an SMPL-format model file (.pkl or .npz; see the module docstring).

    Args:
      path: the model file.
      num_betas: shape components to keep (default 10; None keeps all). Ignored for the
        project's own .npz, which is restored exactly as saved.
      dtype: floating dtype of the model's arrays (float32 or float64).
      keypoints, landmark_vertex_ids: see ``from_arrays`` (ignored for the project's .npz).

    Raises:
      FileNotFoundError: no such file.
      pickle_io.UnsafePickleError: the pickle names a global outside the allow-list.
      ValueError: truncated/corrupt file, missing keys, wrong shapes, no faces (the message
        names the file and the key).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such model file")
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        z = load_npz(path, "body model")
        if _META_KEY in z:
            return _from_own_npz(z, path)
        arrays: Any = z
    else:
        if not head:
            raise ValueError(f"{path}: empty file, expected an SMPL .pkl or .npz")
        arrays = pickle_io.safe_load(path)
        if not isinstance(arrays, dict):
            raise ValueError(f"{path}: expected a dict of SMPL arrays, got "
                             f"{type(arrays).__name__}")
    return from_arrays(arrays, num_betas=num_betas, dtype=dtype, keypoints=keypoints,
                       landmark_vertex_ids=landmark_vertex_ids, name=path)


def with_keypoints(model: BodyModel, keypoints: str | np.ndarray, *,
                   joint_weights: np.ndarray | None = None,
                   names: Sequence[str] | None = None) -> BodyModel:
    """The same body with another keypoint set.

    Args:
      model: a full (not keypoint-restricted) ``BodyModel``.
      keypoints: a format name (``"cocoplus"``, ``"body25"``, ``"coco18"``, ``"coco17"``,
        ``"smpl24"``, ``"auto"``) or a user vertex regressor (K, V).
      joint_weights: (K, 24) joint part of a user regressor.
      names: K names of a user regressor.

    Returns:
      A new ``BodyModel``; arrays other than the keypoint matrices are shared.
    """
    if model.vertex_ids is not None:
        raise ValueError("with_keypoints needs the full model; this one is restricted to the "
                         "vertices of its keypoints (call it before keypoint_model)")
    dtype = np.asarray(model.v_template).dtype
    kp = build_keypoint_set(keypoints, model.num_vertices, model.num_joints,
                            landmarks=dict(model.landmarks),
                            cocoplus_regressor=(None if model.cocoplus_regressor is None
                                                else np.asarray(model.cocoplus_regressor)),
                            joint_weights=joint_weights, names=names,
                            where=model.name or "model")
    return dataclasses.replace(
        model, kp_vertex_regressor=kp.vertex_regressor.astype(dtype),
        kp_joint_weights=kp.joint_weights.astype(dtype),
        keypoint_names=kp.names, keypoint_format=kp.fmt)


def save_model(model: BodyModel, path: str | os.PathLike) -> str:
    """Writes ``model`` to the project's .npz format, atomically; returns the path.

    ``load_model(save_model(m, p))`` gives back ``m`` exactly (bitwise arrays, same static
    data). Keypoint-restricted models can be saved too.
    """
    path = os.fspath(path)
    meta = {
        "format_version": FORMAT_VERSION,
        "parents": list(model.parents), "joint_names": list(model.joint_names),
        "keypoint_names": list(model.keypoint_names),
        "keypoint_format": model.keypoint_format,
        "landmarks": [list(p) for p in model.landmarks],
        "vertex_ids": None if model.vertex_ids is None else list(model.vertex_ids),
        "name": model.name,
    }
    arrays = {f: np.asarray(getattr(model, f)) for f in _DATA_FIELDS
              if getattr(model, f) is not None}
    arrays[_META_KEY] = np.asarray(json.dumps(meta))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes(path, buf.getvalue())
    return path
