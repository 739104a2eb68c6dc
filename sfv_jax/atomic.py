"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

Killing a job at any moment leaves either the old file or the complete new one, never a
half-written file. Temporary names start with ``.`` and end with ``.tmp`` so that readers
and resume logic can ignore them. ``load_npz`` is the matching safe reader of ``save_npz``'s
files (no pickled objects; errors name the file).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from typing import Any, Iterator

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Yields a temporary path next to ``path``; renames it onto ``path`` on success.

    ``suffix`` keeps an extension on the temporary name for writers that infer the format
    from it (``cv2.VideoWriter``, ``np.savez``). On error the temporary file is removed.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp" + suffix,
                               dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
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


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    write_text(path, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


def save_npz(path: str | os.PathLike, compressed: bool = False, **arrays: Any) -> None:
    """``np.savez`` to ``path`` atomically (``path`` keeps its name; no ``.npz`` appended)."""
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    write_bytes(path, buf.getvalue())


def load_npz(path: str | os.PathLike, what: str = ".npz file",
             error: type[ValueError] = ValueError) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (read eagerly; pickled objects are refused, never run).

    Args:
      path: the file.
      what: what the file should be, for messages ("result archive", "body model", ...).
      error: the ValueError subclass raised for an unreadable file (e.g. ``InputError``).
    Raises:
      FileNotFoundError: no such file.
      error: the file holds pickled objects, or is truncated / not an .npz; the message starts
        with the path.
    """
    where = os.fspath(path)
    if not os.path.isfile(where):
        raise FileNotFoundError(f"{where}: no such file")
    if not zipfile.is_zipfile(where):
        # np.load would take any other bytes for a pickle and report them as one.
        raise error(f"{where}: not a readable {what} (truncated or corrupt .npz: no zip "
                    f"directory)")
    try:
        with np.load(where, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise error(f"{where}: the .npz holds pickled Python objects, which are not loaded "
                        f"for safety; store plain numeric arrays") from None
        raise error(f"{where}: not a readable {what} (corrupt .npz: {e})") from None
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise error(f"{where}: not a readable {what} (truncated or corrupt .npz: {e})") from None
