"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

Killing a job at any moment leaves either the old file or the complete new one, never a
half-written file. Temporary names start with ``.`` and end with ``.tmp`` so that readers
and resume logic can ignore them.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
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
