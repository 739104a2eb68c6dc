"""Per-track outputs written by a pool of worker processes while the job solves the next batch.

``OutputWriter.submit`` hands one solved track to a worker (``track_outputs.write_track_outputs``
runs there: full-mesh forward on the CPU, archive, BVH, DeepMimic, comparison video, plots,
``done.json`` last) and returns at once, so the main process goes on reading and solving. At
most ``job.max_pending`` tracks wait at a time (memory stays bounded by the batch); ``collect``
returns the finished rows and failures. With ``job.workers = 0`` every track is written inline.

Workers are started with 'spawn' (never forked from a process holding a JAX runtime), run JAX
on the CPU only (they must not take an accelerator's memory from the solve) and share the job's
persistent compilation cache. A killed job takes its workers with it (same process group;
a worker whose parent is gone stops at its next task); whatever they left half-written is
only temporaries (``atomic``), removed by the rerun.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import multiprocessing
import os
import time
import traceback
from typing import TYPE_CHECKING, Any, Optional

from absl import logging

if TYPE_CHECKING:  # the worker imports it after choosing JAX's platform (_init_worker)
    from sfv_jax.job_config import JobConfig

_STATE: dict[str, Any] = {}


def default_workers(setting: int) -> int:
    """``job.workers``: < 0 -> automatic (CPU count - 1, at least 1, at most 8)."""
    if setting >= 0:
        return int(setting)
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def _init_worker(cfg_dict: dict, cache: str, parent: int) -> None:
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax
    jax.config.update("jax_platforms", "cpu")
    from sfv_jax import compile_cache
    compile_cache.enable(cache)
    from sfv_jax.body.config import model_from_config
    from sfv_jax.job_config import JobConfig
    cfg = JobConfig.from_config(cfg_dict)  # the job's typed config, rebuilt here
    _STATE.update(cfg=cfg, model=model_from_config(cfg.model), parent=parent, frames=None,
                  clock=compile_cache.CompileClock())


def _frames(path: str, size: tuple[int, int]):
    from sfv_jax.render.frames import VideoFrames
    cur = _STATE.get("frames")
    if cur is None or (cur.path, cur.size) != (path, size):
        if cur is not None:
            cur.close()
        cur = VideoFrames(path, size)
        _STATE["frames"] = cur
    return cur


def _write(task: dict) -> dict:
    """One track's outputs in a worker; returns its row (plus compile seconds)."""
    from sfv_jax.track_outputs import write_track_outputs
    if os.getppid() != _STATE["parent"]:
        raise RuntimeError("the job that started this worker is gone")
    clock = _STATE["clock"]
    before = clock.seconds
    row = write_track_outputs(task["out_dir"], task["track"], task["result"], _STATE["model"],
                              _STATE["cfg"], _frames(task["video"], task["image_size"]),
                              task["config_json"], task["fingerprint"], video=task["video_on"],
                              input_focal=task["input_focal"], **task.get("extra", {}))
    return {"row": row, "compile_s": clock.seconds - before}


class OutputWriter:
    """Writes solved tracks' outputs inline or in worker processes (see the module doc)."""

    def __init__(self, cfg: "JobConfig", model, config_json: str,
                 fingerprint: str, cache: str = ""):
        self.cfg, self.model = cfg, model
        self.config_json, self.fingerprint = config_json, fingerprint
        self.workers = default_workers(cfg.job.workers)
        self.max_pending = max(1, cfg.job.max_pending)
        self.rows: list[dict] = []
        self.failures: list[dict] = []
        self.wait_s = 0.0           # main-process seconds spent on outputs (inline or waiting)
        self.work_s = 0.0           # seconds the writers spent (sum over tracks)
        self.compile_s = 0.0        # workers' compile seconds
        self._pending: collections.deque = collections.deque()
        self._pool: Optional[cf.ProcessPoolExecutor] = None
        self._inline_frames: dict[str, Any] = {}
        self._cache = cache

    def _workers(self) -> cf.ProcessPoolExecutor:
        """The pool, started with the first track (a rerun with nothing to do starts none)."""
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(self.cfg.to_config().to_dict(),
                                                    self._cache, os.getpid()))
        return self._pool

    def start(self) -> None:
        """Starts the workers now (a no-op task makes the pool spawn them and run their
        initializer: imports, the model, the cache), so that cost overlaps the solve that
        comes before the first track. Idempotent; nothing to do with ``job.workers = 0``."""
        if self.workers > 0 and self._pool is None:
            self._workers().submit(os.getpid)

    def submit(self, out_dir: str, track, result, props: dict, video: bool = True,
               **extra) -> None:
        """Queues one solved track (waits first while ``max_pending`` tracks are queued);
        ``extra`` keyword arguments go to ``write_track_outputs`` as they are."""
        task = {"out_dir": out_dir, "track": track, "result": result,
                "video": props["video"], "image_size": tuple(props["image_size"]),
                "config_json": self.config_json, "fingerprint": self.fingerprint,
                "video_on": bool(video), "input_focal": props.get("focal_length"),
                "extra": extra}
        if self.workers == 0:
            t0 = time.time()
            self._finish(track, result, self._inline(task))
            self.wait_s += time.time() - t0
            return
        while len(self._pending) >= self.max_pending:
            self._wait_oldest()
        self._pending.append((track, result, self._workers().submit(_write, task)))

    def _inline(self, task: dict):
        from sfv_jax.render.frames import VideoFrames
        from sfv_jax.track_outputs import write_track_outputs
        key = task["video"]
        if key not in self._inline_frames:
            for src in self._inline_frames.values():
                src.close()
            self._inline_frames = {key: VideoFrames(key, task["image_size"])}
        try:
            row = write_track_outputs(task["out_dir"], task["track"], task["result"], self.model,
                                      self.cfg, self._inline_frames[key], task["config_json"],
                                      task["fingerprint"], video=task["video_on"],
                                      input_focal=task["input_focal"], **task.get("extra", {}))
            return {"row": row, "compile_s": 0.0}
        except Exception as e:  # noqa: BLE001 - one track must not stop the others
            logging.error("%s track %d outputs failed: %s\n%s", task["track"].video,
                          task["track"].track_id, e, traceback.format_exc())
            return e

    def _wait_oldest(self) -> None:
        track, result, fut = self._pending.popleft()
        t0 = time.time()
        try:
            out = fut.result()
        except Exception as e:  # noqa: BLE001 - a worker's error, or a lost worker
            logging.error("%s track %d outputs failed: %s", track.video, track.track_id, e)
            out = e
        self.wait_s += time.time() - t0
        self._finish(track, result, out)

    def _finish(self, track, result, out) -> None:
        if isinstance(out, BaseException):
            self.failures.append({"video": track.video, "track": int(track.track_id),
                                  "file": track.source, "stage": "outputs",
                                  "error": f"{type(out).__name__}: {out}"})
            return
        row = out["row"]
        self.rows.append(row)
        self.work_s += float(row.get("write_s", 0.0))
        self.compile_s += float(out["compile_s"])
        if result.nonfinite:
            self.failures.append({"video": track.video, "track": int(track.track_id),
                                  "file": track.source, "stage": "solve",
                                  "error": "objective turned non-finite"})

    def collect(self) -> None:
        """Takes in every finished track without waiting for the others."""
        while self._pending and self._pending[0][2].done():
            self._wait_oldest()

    def close(self) -> None:
        """Waits for every queued track, then stops the workers."""
        try:
            while self._pending:
                self._wait_oldest()
        finally:
            for src in self._inline_frames.values():
                src.close()
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
