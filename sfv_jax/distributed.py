"""Scaling a job out over processes and machines with JAX's own multi-process runtime.

Each process takes its share of the videos (``videos[process_index::process_count]``) and
solves its clips on its own local devices; processes only meet at a barrier at the end,
where process 0 merges the per-process summaries. The coordinator comes from the config
(``distributed.coordinator_address``, ``num_processes``, ``process_id``), else from the
environment (``SFV_COORDINATOR``, ``SFV_NUM_PROCESSES``, ``SFV_PROCESS_ID``), else from
Slurm (``SLURM_NTASKS`` > 1: ``jax.distributed.initialize()`` reads Slurm's variables).
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Sequence, TypeVar

from absl import logging
import jax

from sfv_jax import schema

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class DistributedSettings(schema.Section, section="distributed"):
    """The ``distributed`` section (each field documented above it)."""

    # host:port of process 0's coordinator; empty = from SFV_COORDINATOR, else Slurm, else
    # a single-process job.
    coordinator_address: str = ""
    # Number of processes (<= 0: from SFV_NUM_PROCESSES or Slurm).
    num_processes: int = 0
    # This process's index (< 0: from SFV_PROCESS_ID or Slurm).
    process_id: int = -1
    # Seconds to wait for every process to join (start) or finish (end barrier).
    initialization_timeout_s: int = 300
    barrier_timeout_s: float = 3600.0

    def __post_init__(self) -> None:
        for name in ("barrier_timeout_s", "initialization_timeout_s"):
            v = getattr(self, name)
            schema.require_range(v > 0, "distributed", name, v, "> 0")


@dataclasses.dataclass(frozen=True)
class ProcessInfo:
    """Where this process stands in the job."""
    index: int = 0
    count: int = 1
    initialized: bool = False  # jax.distributed.initialize was called

    def share(self, items: Sequence[T]) -> list[T]:
        """This process's share of ``items``: a strided split, stable across restarts."""
        return list(items[self.index::self.count])


def _from_env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def initialize(cfg: DistributedSettings) -> ProcessInfo:
    """Starts ``jax.distributed`` when the settings, the environment or Slurm ask for it.

    Args:
      cfg: the ``distributed`` settings (``coordinator_address``, ``num_processes``,
        ``process_id``, ``initialization_timeout_s``).
    Returns:
      This process's index and the process count (0 of 1 for a single-process job).
    """
    address = cfg.coordinator_address or _from_env("SFV_COORDINATOR")
    num = cfg.num_processes if cfg.num_processes > 0 else int(_from_env("SFV_NUM_PROCESSES") or 0)
    pid = cfg.process_id if cfg.process_id >= 0 else int(_from_env("SFV_PROCESS_ID") or -1)
    slurm = int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1
    if address:
        if num <= 0 or pid < 0:
            raise ValueError("distributed.coordinator_address is set but num_processes / process_id "
                             f"are not (got num_processes={num}, process_id={pid})")
        if num == 1:
            return ProcessInfo()
        jax.distributed.initialize(coordinator_address=address, num_processes=num,
                                   process_id=pid,
                                   initialization_timeout=cfg.initialization_timeout_s)
    elif slurm:
        logging.info("Slurm job with %s tasks detected; initializing jax.distributed from it",
                     os.environ["SLURM_NTASKS"])
        jax.distributed.initialize(initialization_timeout=cfg.initialization_timeout_s)
    else:
        return ProcessInfo()
    info = ProcessInfo(index=jax.process_index(), count=jax.process_count(), initialized=True)
    logging.info("process %d of %d (local devices: %s)", info.index, info.count,
                 jax.local_devices())
    return info


def barrier(info: ProcessInfo, name: str, timeout_s: float,
            ready: Callable[[], bool] | None = None) -> None:
    """Waits until every process reaches ``name``.

    Uses the coordination service's barrier when available; otherwise polls ``ready``
    (for instance, "every process has written its summary file").
    """
    if info.count <= 1:
        return
    try:
        from jax._src import distributed as _dist  # the coordination service client
        client = _dist.global_state.client
    except (ImportError, AttributeError):  # pragma: no cover - depends on the JAX version
        client = None
    if client is not None:
        client.wait_at_barrier(name, int(timeout_s * 1000))
        return
    if ready is None:
        raise RuntimeError("no coordination service and no readiness check for barrier " + name)
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"barrier {name!r} timed out after {timeout_s} s")
        time.sleep(0.5)
