"""JAX's persistent compilation cache for the job, and a clock of the time spent compiling.

Set at the job's edge (``pipeline.run`` and the output workers) before anything compiles: a
rerun, or a second job with the same shapes, then loads its executables instead of compiling
them again. ``CompileClock`` adds up JAX's own compile events (tracing, lowering and the
backend compile, which includes loading from the cache), so the summary can say how long
compilation took.
"""
from __future__ import annotations

import os
import threading

import jax
from jax import monitoring

_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
           "/jax/core/compile/jaxpr_to_mlir_module_duration",
           "/jax/core/compile/backend_compile_duration")


def cache_dir(setting: str, workdir: str) -> str:
    """The folder for ``setting``: '' -> '' (no cache), 'workdir' -> WORKDIR/jax_cache,
    'user' -> $XDG_CACHE_HOME/sfv_jax/jax (default ~/.cache/sfv_jax/jax), else the path."""
    if not setting:
        return ""
    if setting == "workdir":
        return os.path.join(workdir, "jax_cache")
    if setting == "user":
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache")
        return os.path.join(base, "sfv_jax", "jax")
    return os.path.abspath(os.path.expanduser(setting))


def enable(path: str) -> None:
    """Points JAX's persistent cache at ``path`` (created) and caches every executable.

    JAX reads the setting when it first compiles; a process that compiled before this call
    keeps its earlier setting."""
    if not path:
        return
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    # The solve's executables take seconds; the small ones add up over many shapes.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


class CompileClock:
    """Seconds spent compiling in this process since the clock was made (thread safe)."""

    _lock = threading.Lock()
    _total = 0.0
    _registered = False

    def __init__(self) -> None:
        with CompileClock._lock:
            if not CompileClock._registered:
                monitoring.register_event_duration_secs_listener(CompileClock._listen)
                CompileClock._registered = True
            self._start = CompileClock._total

    @staticmethod
    def _listen(event: str, duration: float, **_: object) -> None:
        if event in _EVENTS:
            with CompileClock._lock:
                CompileClock._total += float(duration)

    @property
    def seconds(self) -> float:
        return CompileClock._total - self._start
