"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

Killing a job at any moment leaves either the old file or the complete new one, never a
half-written file. Temporary names start with ``.`` and end with ``.tmp`` so that readers
and resume logic can ignore them. ``load_npz`` is the matching safe reader of ``save_npz``'s
files (no pickled objects; errors name the file).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import socket
import tempfile
import zipfile
from typing import Any, Iterator, Sequence

import numpy as np

# Arrays larger than this are refused by ``load_npz`` from the .npy header, before reading
# (callers that know better, e.g. from a frame count, pass their own limit).
MAX_NPZ_ARRAY_BYTES = 1 << 30


def temp_tag() -> str:
    """``pid<pid>-<host hash>``: put in every temporary name so that start-up cleanup can tell
    a dead job's leftovers from a running job's files (``sfv_jax.workdir_lock``)."""
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    return f"pid{os.getpid()}-{host}"


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` sets it to read it, which
    races with other threads creating files); falls back to set-and-restore."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Yields a temporary path next to ``path``; renames it onto ``path`` on success.

    ``suffix`` keeps an extension on the temporary name for writers that infer the format
    from it (``cv2.VideoWriter``, ``np.savez``). On error the temporary file is removed.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.{temp_tag()}.",
                                   suffix=".tmp" + suffix, dir=folder)
    except OSError as e:  # read-only or full workdir: name the file, not the temporary
        raise OSError(e.errno, e.strerror, path) from None
    os.close(fd)
    try:
        yield tmp
        # mkstemp makes the file 0600; give it the mode a plain open() would (0666 & ~umask)
        # so that outputs are as readable as the user's other files.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        if isinstance(e, OSError) and e.errno is not None and e.filename in (None, tmp):
            raise OSError(e.errno, e.strerror, path) from None  # e.g. ENOSPC on write
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically (flushed and fsynced before the rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN / infinite float (Python or NumPy) replaced by None and NumPy
    scalars / arrays turned into Python numbers / lists, so the JSON written is valid for
    every parser (``json.dumps`` would write the non-standard ``NaN`` / ``Infinity``)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    """JSON to ``path`` atomically; NaN / inf are written as null (``json_safe``)."""
    text = json.dumps(json_safe(obj), indent=indent, sort_keys=False, allow_nan=False)
    write_text(path, text + "\n")


def save_npz(path: str | os.PathLike, compressed: bool = False, **arrays: Any) -> None:
    """``np.savez`` to ``path`` atomically (``path`` keeps its name; no ``.npz`` appended)."""
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    write_bytes(path, buf.getvalue())


def _npy_header(f: Any) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        shape, _, dtype = np.lib.format._read_array_header(f, version)  # 3.0: utf-8 names
    return tuple(int(n) for n in shape), np.dtype(dtype)


def load_npz(path: str | os.PathLike, what: str = ".npz file",
             error: type[ValueError] = ValueError, keys: Sequence[str] | None = None,
             max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (read eagerly; pickled objects are refused, never run).

    Every array's size is taken from its ``.npy`` header and checked before anything is read,
    so a small compressed file that would expand to gigabytes is refused without allocating.

    Args:
      path: the file.
      what: what the file should be, for messages ("result archive", "body model", ...).
      error: the ValueError subclass raised for an unreadable file (e.g. ``InputError``).
      keys: read only these keys (those present; others are never decompressed); None: all.
      max_bytes: largest array accepted, bytes (default ``MAX_NPZ_ARRAY_BYTES``).
    Raises:
      FileNotFoundError: no such file.
      error: the file holds pickled objects, an array over ``max_bytes``, or is truncated /
        not an .npz; the message starts with the path.
    """
    where = os.fspath(path)
    limit = MAX_NPZ_ARRAY_BYTES if max_bytes is None else int(max_bytes)
    if not os.path.isfile(where):
        raise FileNotFoundError(f"{where}: no such file")
    if not zipfile.is_zipfile(where):
        # np.load would take any other bytes for a pickle and report them as one.
        raise error(f"{where}: not a readable {what} (truncated or corrupt .npz: no zip "
                    f"directory)")
    pickled = (f"{where}: the .npz holds pickled Python objects, which are not loaded for "
               f"safety; store plain numeric arrays")
    try:
        with zipfile.ZipFile(where) as zf:
            members = {n[:-4]: n for n in zf.namelist() if n.endswith(".npy")}
            wanted = list(members) if keys is None else [k for k in keys if k in members]
            for k in wanted:
                with zf.open(members[k]) as f:
                    shape, dtype = _npy_header(f)
                if dtype.hasobject:
                    raise error(pickled)
                nbytes = math.prod(shape) * dtype.itemsize
                if nbytes > limit:
                    raise error(f"{where}: array '{k}' of shape {shape} {dtype} would take "
                                f"{nbytes / 2**20:.0f} MiB, more than the {limit / 2**20:.0f} "
                                f"MiB allowed for a {what}; refused before reading")
        with np.load(where, allow_pickle=False) as z:
            return {k: z[k] for k in wanted}
    except ValueError as e:
        if str(e).startswith(where):
            raise
        if "allow_pickle" in str(e):
            raise error(pickled) from None
        raise error(f"{where}: not a readable {what} (corrupt .npz: {e})") from None
    except Exception as e:  # noqa: BLE001 - zip, zlib, header tokenizer...: a corrupt file
        raise error(f"{where}: not a readable {what} (truncated or corrupt .npz: "
                    f"{type(e).__name__}: {e})") from None
