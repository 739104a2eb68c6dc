"""A restricted unpickler for model and result pickles (SMPL, HMR, HMMR, VIBE).

``pickle.load`` calls whatever callable a file names, so a model file from the internet
can run arbitrary code. ``safe_load`` admits only the handful of globals that numpy
arrays, Python 2 chumpy arrays and scipy.sparse matrices need, and refuses everything
else (``os.system``, ``builtins.eval``, ...) before it is called, with an error naming the
file and the global.

Chumpy is never imported: a ``chumpy.ch.Ch`` in the file is read into a stand-in that
keeps its pickled state, and is replaced by the numpy array stored under the state's
``'x'`` key. scipy.sparse matrices are rebuilt from their pickled ``data`` / ``indices`` /
``indptr`` (or ``row`` / ``col``) arrays, so pickles written by old scipy versions with
old module paths (``scipy.sparse.csc``) load under any scipy.

Python 2 pickles are read with ``encoding='latin1'`` so that byte strings holding array
data come back unchanged.

A file is data chosen by whoever wrote it, so beyond the allow-list: every sparse matrix is
checked in full (indices, index pointer, lengths, size) before scipy sees it, since scipy
trusts them and an out-of-range index corrupts memory; and the loaded object tree is walked
iteratively with each shared object converted once, cycles refused, and depth and expanded
size capped (``MAX_DEPTH``, ``MAX_NODES``), so self-referencing, deeply nested and "billion
laughs" files fail at once with an error naming the file.
"""
from __future__ import annotations

import codecs
import io
import os
import pickle
from typing import Any, Iterable, Mapping

import numpy as np
import scipy.sparse

__all__ = ["UnsafePickleError", "PickleStructureError", "safe_load", "safe_loads", "convert",
           "check_sparse_parts", "checked_sparse", "ALLOWED_GLOBALS"]


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global that is not on the allow-list."""


class _ChumpyStub:
    """Stand-in for ``chumpy.ch.Ch``: keeps the pickled state, never computes anything."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _SparseStub:
    """Stand-in for a pickled scipy.sparse matrix; rebuilt from its state after loading."""

    fmt = ""

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _sparse_stub(fmt: str) -> type:
    return type(f"_Sparse_{fmt}", (_SparseStub,), {"fmt": fmt})


_SPARSE_STUBS = {fmt: _sparse_stub(fmt) for fmt in ("csc", "csr", "coo")}


def _codecs_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Python 3 pickles of bytes at protocol < 3 use _codecs.encode(str, 'latin1').
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(
            f"_codecs.encode is only allowed for str with latin1, got {type(obj).__name__}, "
            f"{encoding!r}")
    return codecs.encode(obj, encoding, errors)


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    # copy_reg._reconstructor of protocol 0/1 pickles, for the stand-in classes only.
    if not (isinstance(cls, type) and issubclass(cls, (_ChumpyStub, _SparseStub))
            and base is object and state is None):
        raise UnsafePickleError(f"copy_reg._reconstructor called with {cls!r}, {base!r}")
    return cls.__new__(cls)


def _build_allowed() -> dict[tuple[str, str], Any]:
    from numpy._core import multiarray, numeric  # numpy >= 2 layout

    allowed: dict[tuple[str, str], Any] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = multiarray._reconstruct
        allowed[(mod, "scalar")] = multiarray.scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(mod, "_frombuffer")] = numeric._frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    allowed[("_codecs", "encode")] = _codecs_encode
    allowed[("copy_reg", "_reconstructor")] = _reconstructor
    allowed[("copyreg", "_reconstructor")] = _reconstructor
    allowed[("__builtin__", "object")] = object
    allowed[("builtins", "object")] = object
    allowed[("chumpy.ch", "Ch")] = _ChumpyStub
    for fmt, stub in _SPARSE_STUBS.items():
        for mod in (f"scipy.sparse.{fmt}", f"scipy.sparse._{fmt}", "scipy.sparse"):
            allowed[(mod, f"{fmt}_matrix")] = stub
            allowed[(mod, f"{fmt}_array")] = stub
    return allowed


ALLOWED_GLOBALS: Mapping[tuple[str, str], Any] = _build_allowed()


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: str, allowed: Mapping[tuple[str, str], Any],
                 encoding: str) -> None:
        super().__init__(file, encoding=encoding)
        self._source = source
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self._source}: refusing to load global '{module}.{name}': it is not on the "
                f"allow-list of numpy / scipy.sparse / chumpy names this loader admits "
                f"(nothing from the file was run). The file may be malicious or not a model "
                f"file; pass extra_allowed if you trust it.") from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self._source}: persistent ids are not supported ({pid!r})")


def _resolve_extra(extra: Mapping[tuple[str, str], Any] | Iterable[str | tuple[str, str]] | None
                   ) -> dict[tuple[str, str], Any]:
    if extra is None:
        return {}
    if isinstance(extra, Mapping):
        return {tuple(k): v for k, v in extra.items()}  # type: ignore[misc]
    import importlib

    out: dict[tuple[str, str], Any] = {}
    for item in extra:
        if isinstance(item, str):
            mod, _, name = item.rpartition(".") if ":" not in item else item.partition(":")
        else:
            mod, name = item
        obj: Any = importlib.import_module(mod)
        for part in name.split("."):
            obj = getattr(obj, part)
        out[(mod, name)] = obj
    return out


# Caps on what a pickle may build (module-level so every caller shares them; a real SMPL /
# HMMR / VIBE file stays far below both). Nodes count every element the object tree would
# have with shared references expanded, so a small file of nested shared references (a
# "billion laughs") is refused instead of being walked or densified 2**N times.
MAX_NODES = 5_000_000
MAX_DEPTH = 100
# A sparse matrix is densified by the model loader; more dense cells than this is refused.
MAX_SPARSE_CELLS = 2 ** 28


class PickleStructureError(ValueError):
    """A pickle's object tree is cyclic, too deep or too large (shared references expanded)."""


def _int_array(x: Any, name: str, where: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise ValueError(f"{where}: sparse '{name}' must be a 1-D integer array, got "
                         f"{a.dtype} {a.shape}")
    return a.astype(np.int64, copy=False)


def check_sparse_parts(fmt: str, shape: Any, data: Any, *, indices: Any = None,
                       indptr: Any = None, row: Any = None, col: Any = None,
                       where: str = "sparse matrix") -> tuple[int, int]:
    """Checks a sparse matrix's arrays in full before scipy touches them.

    scipy trusts ``indices`` / ``indptr`` (csr, csc) and ``row`` / ``col`` (coo) when it
    densifies, so an out-of-range index from a file writes outside the output buffer. Every
    index, every pointer and every length is checked here.

    Returns:
      the shape (rows, cols).
    Raises:
      ValueError naming ``where`` and the first inconsistency.
    """
    try:
        rows, cols = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: sparse shape must be two integers, got {shape!r}") from None
    if not (0 <= rows < 2 ** 31 and 0 <= cols < 2 ** 31):
        raise ValueError(f"{where}: sparse shape {(rows, cols)} is out of range")
    d = np.asarray(data)
    if d.ndim != 1 or d.dtype.kind not in "biuf":
        raise ValueError(f"{where}: sparse 'data' must be a 1-D numeric array, got {d.dtype} "
                         f"{d.shape}")
    if fmt == "coo":
        r, c = _int_array(row, "row", where), _int_array(col, "col", where)
        if not len(r) == len(c) == len(d):
            raise ValueError(f"{where}: sparse row/col/data lengths differ ({len(r)}, {len(c)}, "
                             f"{len(d)})")
        for name, idx, n in (("row", r, rows), ("col", c, cols)):
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise ValueError(f"{where}: sparse '{name}' indices outside 0..{n - 1} (min "
                                 f"{idx.min()}, max {idx.max()})")
        return rows, cols
    n_major, n_minor = (rows, cols) if fmt == "csr" else (cols, rows)
    ind, ptr = _int_array(indices, "indices", where), _int_array(indptr, "indptr", where)
    if len(ptr) != n_major + 1:
        raise ValueError(f"{where}: sparse 'indptr' has {len(ptr)} entries, expected "
                         f"{n_major + 1} for shape {(rows, cols)}")
    if ptr[0] != 0 or np.any(np.diff(ptr) < 0) or ptr[-1] != len(ind) or len(ind) != len(d):
        raise ValueError(f"{where}: sparse 'indptr' is not a valid index pointer (must start "
                         f"at 0, never decrease and end at {len(ind)} = len(indices) = "
                         f"len(data) {len(d)}; got {ptr[0]}..{ptr[-1]})")
    if ind.size and (ind.min() < 0 or ind.max() >= n_minor):
        raise ValueError(f"{where}: sparse 'indices' outside 0..{n_minor - 1} (min {ind.min()}, "
                         f"max {ind.max()})")
    return rows, cols


def checked_sparse(x: Any, where: str) -> scipy.sparse.spmatrix:
    """A scipy.sparse matrix from any source, checked in full (``check_sparse_parts``) and
    small enough to densify (at most ``MAX_SPARSE_CELLS`` cells)."""
    fmt = getattr(x, "format", "")
    if fmt not in ("csr", "csc", "coo"):
        x = scipy.sparse.coo_matrix(x)  # dia / lil / dok / bsr: built by scipy, not a file
        fmt = "coo"
    if fmt == "coo":
        rows, cols = check_sparse_parts("coo", x.shape, x.data, row=x.row, col=x.col,
                                        where=where)
    else:
        rows, cols = check_sparse_parts(fmt, x.shape, x.data, indices=x.indices,
                                        indptr=x.indptr, where=where)
    if rows * cols > MAX_SPARSE_CELLS:
        raise ValueError(f"{where}: sparse matrix of shape {(rows, cols)} is too large to "
                         f"densify ({rows * cols} cells, at most {MAX_SPARSE_CELLS})")
    return x


def _rebuild_sparse(stub: _SparseStub, state: Any, source: str) -> scipy.sparse.spmatrix:
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
        state = state[1]  # (None, slots) form
    if not isinstance(state, dict):
        raise ValueError(f"{source}: pickled scipy.sparse {stub.fmt} matrix has no state dict")
    shape = state.get("_shape", state.get("shape"))
    where = f"{source}: pickled scipy.sparse {stub.fmt} matrix"
    try:
        data = np.asarray(state["data"])
        if stub.fmt == "coo":
            coords = state.get("coords", (None, None))
            if not isinstance(coords, (tuple, list)) or len(coords) != 2:
                raise ValueError("'coords' is not (row, col)")
            row = state.get("row", coords[0])
            col = state.get("col", coords[1])
            shape = check_sparse_parts("coo", shape, data, row=row, col=col, where=where)
            return scipy.sparse.coo_matrix((data, (np.asarray(row), np.asarray(col))),
                                           shape=shape)
        shape = check_sparse_parts(stub.fmt, shape, data, indices=state["indices"],
                                   indptr=state["indptr"], where=where)
        cls = scipy.sparse.csc_matrix if stub.fmt == "csc" else scipy.sparse.csr_matrix
        return cls((data, np.asarray(state["indices"]), np.asarray(state["indptr"])),
                   shape=shape)
    except (KeyError, TypeError, ValueError) as e:
        if str(e).startswith(where):
            raise
        raise ValueError(f"{where} is malformed: {e}") from None


def _children(obj: Any) -> list[tuple[str, Any]]:
    """(label, child) pairs of a container or stand-in; [] for a leaf."""
    if isinstance(obj, dict):
        return [(f".{k}" if isinstance(k, str) else f"[{k!r}]"[:40], v) for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return [(f"[{i}]", v) for i, v in enumerate(obj)]
    if isinstance(obj, (_ChumpyStub, _SparseStub)):
        return [(".state", getattr(obj, "state", None))]
    return []


def _is_node(obj: Any) -> bool:
    return isinstance(obj, (dict, list, tuple, _ChumpyStub, _SparseStub))


def convert(root: Any, source: str, max_nodes: int = MAX_NODES,
            max_depth: int = MAX_DEPTH) -> Any:
    """Replaces chumpy / sparse stand-ins by numpy arrays / scipy matrices.

    Iterative (no Python recursion), each shared object converted once, cycles refused, and
    the tree capped at ``max_depth`` levels and ``max_nodes`` elements with shared references
    expanded. dicts and lists are converted in place so that subclasses keep their type.

    Raises:
      PickleStructureError (a ValueError) naming ``source`` and where in the tree.
    """
    if not _is_node(root):
        return root
    done: dict[int, tuple[Any, int]] = {}   # id(original) -> (converted, expanded size)
    alive: list[Any] = []                   # keeps originals alive so their ids stay unique
    on_path: set[int] = set()
    # Frames: [object, label, children, next child index].
    stack: list[list[Any]] = [[root, "", _children(root), 0]]
    on_path.add(id(root))
    alive.append(root)

    def where(extra: str = "") -> str:
        return ("".join(f[1] for f in stack) + extra).lstrip(".") or "top level"

    while stack:
        frame = stack[-1]
        obj, _, kids, i = frame
        if i < len(kids):
            frame[3] = i + 1
            child = kids[i][1]
            if not _is_node(child) or id(child) in done:
                continue
            if id(child) in on_path:
                raise PickleStructureError(
                    f"{source}: the pickle is self-referencing (a cycle at "
                    f"{where(kids[i][0])}); model and estimate files hold trees of arrays")
            if len(stack) >= max_depth:
                raise PickleStructureError(
                    f"{source}: the pickle nests deeper than {max_depth} levels (at "
                    f"{where()[:200]}...); not a model or estimates file")
            on_path.add(id(child))
            alive.append(child)
            stack.append([child, kids[i][0], _children(child), 0])
            continue
        stack.pop()
        on_path.discard(id(obj))
        conv = lambda v: done[id(v)][0] if id(v) in done else v  # noqa: E731
        size = 1 + sum(done[id(v)][1] if id(v) in done else 1 for _, v in kids)
        if size > max_nodes:
            raise PickleStructureError(
                f"{source}: the pickle's object tree has more than {max_nodes} elements with "
                f"shared references expanded (at {where(frame[1])}); refused as a "
                f"decompression bomb")
        label = where(frame[1])
        if isinstance(obj, _ChumpyStub):
            state = conv(getattr(obj, "state", None))
            if not isinstance(state, dict) or "x" not in state:
                raise ValueError(
                    f"{source}: chumpy object at {label} holds no array under 'x' (a computed "
                    f"chumpy expression cannot be read without chumpy)")
            out: Any = np.asarray(state["x"])
            if out.dtype == object:
                raise ValueError(f"{source}: chumpy object at {label} holds no numeric array")
        elif isinstance(obj, _SparseStub):
            out = _rebuild_sparse(obj, conv(getattr(obj, "state", None)),
                                  f"{source} [{label}]" if frame[1] else source)
        elif isinstance(obj, dict):
            for k, v in list(obj.items()):
                obj[k] = conv(v)
            out = obj
        elif isinstance(obj, list):
            for j, v in enumerate(obj):
                obj[j] = conv(v)
            out = obj
        else:
            out = tuple(conv(v) for v in obj)
        done[id(obj)] = (out, size)
    return done[id(root)][0]


def safe_loads(data: bytes, source: str = "<bytes>",
               extra_allowed: Mapping[tuple[str, str], Any] | Iterable[str | tuple[str, str]]
               | None = None, encoding: str = "latin1") -> Any:
    """Unpickles ``data`` with the allow-list; see ``safe_load``. ``source`` names it in errors."""
    allowed = dict(ALLOWED_GLOBALS)
    allowed.update(_resolve_extra(extra_allowed))
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), source, allowed, encoding).load()
    except UnsafePickleError:
        raise
    except (EOFError, pickle.UnpicklingError) as e:
        raise ValueError(f"{source}: truncated or corrupt pickle ({e or type(e).__name__})") \
            from None
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, OverflowError,
            UnicodeDecodeError, MemoryError, RecursionError) as e:
        raise ValueError(f"{source}: corrupt pickle ({type(e).__name__}: {e})") from None
    return convert(obj, source)


def safe_load(path: str | os.PathLike,
              extra_allowed: Mapping[tuple[str, str], Any] | Iterable[str | tuple[str, str]]
              | None = None, encoding: str = "latin1") -> Any:
    """Loads a pickle file without running code from it.

    Args:
      path: the pickle file.
      extra_allowed: further globals to admit, either a mapping ``(module, name) -> object``
        (the object is used as is; nothing is imported) or an iterable of ``"module.name"``
        / ``(module, name)`` that are imported with importlib. Only add what you trust.
      encoding: for Python 2 ``str`` objects; ``latin1`` keeps numpy data intact.

    Returns:
      The unpickled object; chumpy arrays become ``np.ndarray``, sparse matrices become
      ``scipy.sparse.csc_matrix`` / ``csr_matrix`` / ``coo_matrix``.

    Raises:
      FileNotFoundError: ``path`` does not exist.
      UnsafePickleError: the file names a global outside the allow-list.
      ValueError: the file is truncated or corrupt (the message names the file).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise ValueError(f"{path}: empty file, expected a pickle")
    return safe_loads(data, source=path, extra_allowed=extra_allowed, encoding=encoding)

