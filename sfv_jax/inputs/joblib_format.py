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

Sizes are checked before anything is allocated: the file is decompressed as a stream with a
cap on the total (``max_total_bytes``), one read of the pickle (a bytes object, a frame) is
at most ``max_array_bytes``, and an array whose wrapper announces more than
``max_array_bytes`` is skipped in the stream without being kept (it becomes a
``SkippedArray``; using it raises an error naming the file). VIBE files hold big arrays the
job never uses (``verts``, (T, 6890, 3)), so skipping them keeps memory flat; the loaded
object tree goes through ``pickle_io.convert`` (depth, size and cycle caps).
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
import pickle
import struct
import zlib
from typing import Any, BinaryIO

import numpy as np

from sfv_jax.body import pickle_io


# Defaults of load_joblib's caps (bytes); the estimates reader passes limits tied to the
# video's frame count and ``reading.max_decompressed_mb``.
MAX_ARRAY_BYTES = 1 << 30
MAX_TOTAL_BYTES = 4 << 30
_CHUNK = 1 << 20


class SkippedArray:
    """An array of the file that was too large to keep; any use as an array raises."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, source: str, limit: int):
        self.shape, self.dtype, self.source, self.limit = shape, dtype, source, limit

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise ValueError(f"{self.source}: an array of shape {self.shape} {self.dtype} was not "
                         f"read: it is larger than the {self.limit} bytes allowed per array "
                         f"(raise reading.max_frames if the file really covers more frames)")


class _CappedStream:
    """A read-only stream over ``raw`` that refuses to deliver more than ``total`` bytes in
    all and more than ``per_read`` bytes in one read."""

    def __init__(self, raw: BinaryIO, source: str, total: int, per_read: int) -> None:
        self._raw, self._source, self._total, self._per_read = raw, source, total, per_read
        self.count = 0

    def _account(self, n: int) -> None:
        self.count += n
        if self.count > self._total:
            raise ValueError(f"{self._source}: decompresses to more than {self._total} bytes; "
                             f"refused (raise reading.max_decompressed_mb if the file is real)")

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > self._per_read:
            raise ValueError(f"{self._source}: the pickle asks to read {n} bytes at once, more "
                             f"than the {self._per_read} allowed; corrupt or hostile file")
        data = self._raw.read(n)
        self._account(len(data))
        return data

    def readline(self) -> bytes:
        data = self._raw.readline(self._per_read)
        self._account(len(data))
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def skip(self, n: int) -> int:
        """Reads and drops ``n`` bytes; returns how many there were."""
        left = n
        while left > 0:
            got = len(self.read(min(left, _CHUNK, self._per_read)))
            if not got:
                break
            left -= got
        return n - left


class _ZlibStream(io.RawIOBase):
    """A zlib stream decompressed on demand (``zlib.decompress`` would inflate it all)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw, self._z, self._buf = raw, zlib.decompressobj(), b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            if self._z.eof:
                return 0
            chunk = self._z.unconsumed_tail or self._raw.read(_CHUNK)
            if not chunk:
                raise EOFError("compressed stream ended early")
            self._buf = self._z.decompress(chunk, len(b))
        n = min(len(b), len(self._buf))
        b[:n], self._buf = self._buf[:n], self._buf[n:]
        return n


class _WrapperStub:
    """Inert stand-in for ``joblib.numpy_pickle.NumpyArrayWrapper``."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


_EXTRA = {("joblib.numpy_pickle", "NumpyArrayWrapper"): _WrapperStub,
          ("numpy", "memmap"): np.ndarray, ("numpy", "matrix"): np.ndarray}


class _JoblibUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    dispatch = pickle._Unpickler.dispatch.copy()  # type: ignore[attr-defined]

    def __init__(self, file: _CappedStream, source: str, max_array_bytes: int) -> None:
        super().__init__(file, encoding="latin1")
        self._raw = file
        self._source = source
        self._max_array = max_array_bytes

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
        try:
            shape = tuple(int(s) for s in st["shape"])
        except (TypeError, ValueError):
            raise ValueError(f"{self._source}: joblib array wrapper shape is not a tuple of "
                             f"integers") from None
        if any(n < 0 for n in shape):
            raise ValueError(f"{self._source}: joblib array wrapper has a negative shape {shape}")
        if st.get("numpy_array_alignment_bytes") is not None:
            pad = self._raw.read(1)
            if len(pad) != 1:
                raise ValueError(f"{self._source}: truncated joblib file (array padding)")
            self._raw.read(pad[0])
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > self._max_array:  # never kept: dropped from the stream in chunks
            if self._raw.skip(nbytes) != nbytes:
                raise ValueError(f"{self._source}: truncated joblib file: array {shape} {dtype} "
                                 f"runs past the end")
            return SkippedArray(shape, dtype, self._source, self._max_array)  # type: ignore
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


def _open_stream(f: BinaryIO, head: bytes, source: str) -> BinaryIO:
    """The decompressed stream of the file by its magic bytes (see the module doc)."""
    if head[:2] in (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda"):
        return io.BufferedReader(_ZlibStream(f))
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb")
    if head[:3] == b"BZh":
        return bz2.BZ2File(f, "rb")
    if head[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(f, "rb")
    if head[:1] == b"\x5d":  # raw .lzma stream, or a protocol-1 pickle of a list
        try:
            lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(f.read(1 << 16), 1)
            f.seek(0)
            return lzma.LZMAFile(f, "rb", format=lzma.FORMAT_ALONE)
        except lzma.LZMAError:
            f.seek(0)
            return f
    if head[:4] == b"\x04\x22\x4d\x18":
        raise ValueError(f"{source}: lz4-compressed joblib files are not supported; "
                         f"re-save with joblib.dump(obj, path) (no compression)")
    return f


def load_joblib(path: str, max_array_bytes: int = MAX_ARRAY_BYTES,
                max_total_bytes: int = MAX_TOTAL_BYTES) -> Any:
    """Loads a ``joblib.dump`` file (or a plain pickle) with the restricted allow-list.

    Args:
      path: the file.
      max_array_bytes: arrays larger than this are skipped (``SkippedArray``); no single read
        of the pickle stream may be larger either.
      max_total_bytes: the most the file may decompress to.

    Raises:
      FileNotFoundError, pickle_io.UnsafePickleError, ValueError (corrupt, unsupported or over
      a cap; the message names the file).
    """
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    with f:
        head = f.read(6)
        if not head:
            raise ValueError(f"{path}: empty file, expected a joblib pickle")
        f.seek(0)
        try:
            stream = _CappedStream(_open_stream(f, head, path), path, max_total_bytes,
                                   max_array_bytes)
            obj = _JoblibUnpickler(stream, path, max_array_bytes).load()  # type: ignore[arg-type]
        except pickle_io.UnsafePickleError:
            raise
        except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError,
                IndexError, KeyError, struct.error, UnicodeDecodeError, OSError, zlib.error,
                lzma.LZMAError, OverflowError, MemoryError, RecursionError) as e:
            if isinstance(e, ValueError) and str(e).startswith(path):
                raise
            raise ValueError(f"{path}: corrupt pickle ({type(e).__name__}: {e})") from None
    return pickle_io.convert(obj, path)
