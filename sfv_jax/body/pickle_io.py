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
"""
from __future__ import annotations

import codecs
import io
import os
import pickle
from typing import Any, Iterable, Mapping

import numpy as np
import scipy.sparse

__all__ = ["UnsafePickleError", "safe_load", "safe_loads", "ALLOWED_GLOBALS"]


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


def _rebuild_sparse(stub: _SparseStub, source: str) -> scipy.sparse.spmatrix:
    state = stub.state
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
        state = state[1]  # (None, slots) form
    if not isinstance(state, dict):
        raise ValueError(f"{source}: pickled scipy.sparse {stub.fmt} matrix has no state dict")
    shape = state.get("_shape", state.get("shape"))
    try:
        shape = tuple(int(s) for s in shape)
        if stub.fmt == "coo":
            row = state.get("row", state.get("coords", (None, None))[0])
            col = state.get("col", state.get("coords", (None, None))[1])
            return scipy.sparse.coo_matrix((np.asarray(state["data"]), (row, col)), shape=shape)
        cls = scipy.sparse.csc_matrix if stub.fmt == "csc" else scipy.sparse.csr_matrix
        return cls((np.asarray(state["data"]), np.asarray(state["indices"]),
                    np.asarray(state["indptr"])), shape=shape)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(
            f"{source}: pickled scipy.sparse {stub.fmt} matrix is malformed: {e}") from None


def _convert(obj: Any, source: str, where: str = "") -> Any:
    """Replaces chumpy / sparse stand-ins by numpy arrays / scipy matrices, recursively."""
    if isinstance(obj, _ChumpyStub):
        state = getattr(obj, "state", None)
        if not isinstance(state, dict) or "x" not in state:
            raise ValueError(
                f"{source}: chumpy object at {where or 'top level'} holds no array under 'x' "
                f"(a computed chumpy expression cannot be read without chumpy)")
        return np.asarray(_convert(state["x"], source, where))
    if isinstance(obj, _SparseStub):
        return _rebuild_sparse(obj, f"{source} [{where}]" if where else source)
    # Containers are converted in place so that dict / list subclasses keep their type.
    if isinstance(obj, dict):
        for k, v in list(obj.items()):
            obj[k] = _convert(v, source, f"{where}.{k}" if where else str(k))
        return obj
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            obj[i] = _convert(v, source, f"{where}[{i}]")
        return obj
    if isinstance(obj, tuple):
        return tuple(_convert(v, source, f"{where}[{i}]") for i, v in enumerate(obj))
    return obj


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
    except (ValueError, TypeError, AttributeError, IndexError, KeyError,
            UnicodeDecodeError, MemoryError) as e:
        raise ValueError(f"{source}: corrupt pickle ({type(e).__name__}: {e})") from None
    return _convert(obj, source)


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

