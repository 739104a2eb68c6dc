"""One job per workdir: an advisory lock, and telling a dead job's temporary files from a live one's.

Two jobs on one workdir would both recompute everything, and each one's start-up cleanup would
delete the other's in-progress temporary files. ``workdir_lock`` takes an exclusive ``flock``
on ``WORKDIR/.sfv_jax.lock.process-NNNN`` (one per process index, so the processes of one
multi-process job share a workdir while a second job's process 0 finds process 0's lock
taken). The kernel drops the lock when the holder dies (``kill -9`` included), so a killed
job never blocks its rerun. The lock file itself is written in place, not through
``sfv_jax.atomic``: replacing it would give a second job an unlocked inode.

Temporary files carry their writer's ``pid<pid>-<host hash>`` (``atomic.temp_tag``);
``temp_owner_alive`` says whether that writer still runs, so cleanup removes only the files of
dead jobs. flock on network file systems depends on the server; on NFS without lock support
the lock is advisory at best.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import socket
import time
from typing import Iterator

from sfv_jax import atomic

LOCK_PREFIX = ".sfv_jax.lock.process-"
_TAG = re.compile(r"\.pid(\d+)-([0-9a-f]{8})\.")


class WorkdirLockedError(RuntimeError):
    """Another job holds the workdir (the message names it and what to do)."""


def lock_path(workdir: str, process_index: int = 0) -> str:
    return os.path.join(workdir, f"{LOCK_PREFIX}{process_index:04d}")


def _holder(path: str) -> str:
    try:
        with open(path) as f:
            info = json.load(f)
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(info["started"])))
        return f"pid {info['pid']} on {info['host']}, started {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


@contextlib.contextmanager
def workdir_lock(workdir: str, process_index: int = 0, wait_s: float = 0.0,
                 poll_s: float = 0.5) -> Iterator[str]:
    """Holds the workdir's lock for this process index while the block runs.

    Args:
      workdir: the job's output folder (must exist).
      process_index: this process's index in a multi-process job.
      wait_s: how long to wait for another job to finish (0: do not wait).
      poll_s: seconds between attempts while waiting.
    Yields:
      the lock file's path.
    Raises:
      WorkdirLockedError: another job still holds it after ``wait_s``.
      OSError: the lock file cannot be created (read-only workdir; names the path).
    """
    path = lock_path(workdir, process_index)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise OSError(e.errno, e.strerror, path) from None
    try:
        deadline = time.monotonic() + max(0.0, float(wait_s))
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise OSError(e.errno, e.strerror, path) from None
                if time.monotonic() >= deadline:
                    waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
                    raise WorkdirLockedError(
                        f"{workdir}: in use by another job ({_holder(path)}){waited}; wait for "
                        f"it to finish, use another --workdir, or set workdir_lock_wait_s to "
                        f"wait (lock file {path})") from None
                time.sleep(poll_s)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        except OSError as e:  # a full workdir: name the file
            raise OSError(e.errno, e.strerror, path) from None
        yield path
    finally:
        os.close(fd)  # closing drops the flock


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def temp_owner_alive(name: str) -> bool | None:
    """Whether the job that wrote temporary file ``name`` still runs: True / False when its
    tag names this host, None when it names another host or carries no tag."""
    m = _TAG.search(os.path.basename(name))
    if not m:
        return None
    if m.group(2) != atomic.temp_tag().rsplit("-", 1)[1]:
        return None
    return pid_alive(int(m.group(1)))
