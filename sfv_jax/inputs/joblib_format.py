"""Reading ``joblib.dump`` files (VIBE's ``vibe_output.pkl``) without joblib and without
running code from the file.

joblib writes a pickle in which every numpy array is replaced by a
``joblib.numpy_pickle.NumpyArrayWrapper`` (shape, dtype, order) whose raw bytes follow the
wrapper's BUILD opcode inside the stream (since joblib 1.2 after one padding-length byte
and padding to 16-byte alignment). The C unpickler cannot stop there, so this module runs
Python's own ``pickle._Unpickler`` with two changes: globals are looked up only in the
allow-list of ``sfv_jax.body.pickle_io`` (plus the wrapper, mapped to an inert stand-in),
and after each wrapper's BUILD the array bytes are read directly.

Supported: uncompressed files and files compressed with zlib, gzip, bz2 or lzma/xz
(``joblib.dump(..., compress=...)``), numeric arrays in C or Fortran order. Refused with a
clear error: arrays of Python objects (joblib nests a full pickle for those), lz4
compression, and joblib < 0.10 files (arrays in separate ``.npy`` files).
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import struct
import zlib
from typing import Any

import numpy as np

from sfv_jax.body import pickle_io


class _WrapperStub:
    """Inert stand-in for ``joblib.numpy_pickle.NumpyArrayWrapper``."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


_EXTRA = {("joblib.numpy_pickle", "NumpyArrayWrapper"): _WrapperStub,
          ("numpy", "memmap"): np.ndarray, ("numpy", "matrix"): np.ndarray}


class _JoblibUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    dispatch = pickle._Unpickler.dispatch.copy()  # type: ignore[attr-defined]

    def __init__(self, file: io.BytesIO, source: str) -> None:
        super().__init__(file, encoding="latin1")
        self._raw = file
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        obj = _EXTRA.get((module, name), pickle_io.ALLOWED_GLOBALS.get((module, name)))
        if obj is None:
            raise pickle_io.UnsafePickleError(
                f"{self._source}: refusing to load global '{module}.{name}': not on the allow-list "
                f"of numpy names (nothing from the file was run)")
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise pickle_io.UnsafePickleError(f"{self._source}: persistent ids are not supported")

    def _load_build(self) -> None:
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
        top = self.stack[-1]
        if isinstance(top, _WrapperStub):
            self.stack[-1] = self._read_array(top)

    dispatch[pickle.BUILD[0]] = _load_build

    def _read_array(self, wrapper: _WrapperStub) -> np.ndarray:
        st = getattr(wrapper, "state", None)
        if not isinstance(st, dict) or "dtype" not in st or "shape" not in st:
            raise ValueError(f"{self._source}: joblib array wrapper without dtype/shape")
        dtype = st["dtype"]
        if not isinstance(dtype, np.dtype):
            raise ValueError(f"{self._source}: joblib array wrapper dtype is {type(dtype).__name__}")
        if dtype.hasobject:
            raise ValueError(f"{self._source}: joblib array of Python objects (shape "
                             f"{st['shape']}) is not supported by the safe reader")
        shape = tuple(int(s) for s in st["shape"])
        if st.get("numpy_array_alignment_bytes") is not None:
            pad = self._raw.read(1)
            if len(pad) != 1:
                raise ValueError(f"{self._source}: truncated joblib file (array padding)")
            self._raw.read(pad[0])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        nbytes = count * dtype.itemsize
        data = self._raw.read(nbytes)
        if len(data) != nbytes:
            raise ValueError(f"{self._source}: truncated joblib file: array {shape} {dtype} needs "
                             f"{nbytes} bytes, {len(data)} left")
        arr = np.frombuffer(data, dtype=dtype, count=count).copy()
        if st.get("order", "C") == "F":
            arr = arr.reshape(shape[::-1]).transpose()
        else:
            arr = arr.reshape(shape)
        return arr.astype(arr.dtype.newbyteorder("="), copy=False)


def _decompress(data: bytes, source: str) -> bytes:
    head = data[:6]
    try:
        if head[:2] in (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda"):
            return zlib.decompress(data)
        if head[:2] == b"\x1f\x8b":
            return gzip.decompress(data)
        if head[:3] == b"BZh":
            return bz2.decompress(data)
        if head[:6] == b"\xfd7zXZ\x00":
            return lzma.decompress(data)
    except (OSError, zlib.error, lzma.LZMAError, EOFError) as e:
        raise ValueError(f"{source}: corrupt compressed joblib file ({e})") from None
    if head[:1] == b"\x5d":  # raw .lzma stream, or a protocol-1 pickle of a list
        try:
            return lzma.decompress(data, format=lzma.FORMAT_ALONE)
        except lzma.LZMAError:
            return data
    if head[:4] == b"\x04\x22\x4d\x18":
        raise ValueError(f"{source}: lz4-compressed joblib files are not supported; "
                         f"re-save with joblib.dump(obj, path) (no compression)")
    return data


def load_joblib(path: str) -> Any:
    """Loads a ``joblib.dump`` file (or a plain pickle) with the restricted allow-list.

    Raises:
      FileNotFoundError, pickle_io.UnsafePickleError, ValueError (corrupt or unsupported;
      the message names the file).
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    if not data:
        raise ValueError(f"{path}: empty file, expected a joblib pickle")
    data = _decompress(data, path)
    try:
        return _JoblibUnpickler(io.BytesIO(data), path).load()
    except pickle_io.UnsafePickleError:
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, struct.error, UnicodeDecodeError) as e:
        if isinstance(e, ValueError) and str(e).startswith(path):
            raise
        raise ValueError(f"{path}: corrupt pickle ({type(e).__name__}: {e})") from None

