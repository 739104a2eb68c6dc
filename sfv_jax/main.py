"""The batch job: ``python -m sfv_jax.main --config=configs/<name>.py --workdir=DIR``.

Reads every video entry of ``config.inputs``, tracks the people, solves every track of every
video in one batched solve, writes per track a result archive, BVH, DeepMimic motion file,
comparison video and plots under ``DIR/results/<video>/track_NNN/``, and finally
``DIR/summary.json`` plus a table on stdout. Rerunning skips finished tracks; the exit status
is non-zero when anything failed. Override any config key with ``--config.key=value``.

Many processes (one per machine, or several on one): set ``--config.distributed.*`` or
``SFV_COORDINATOR`` / ``SFV_NUM_PROCESSES`` / ``SFV_PROCESS_ID``, or run under Slurm; each
process takes its share of the videos, process 0 writes the merged summary.
"""
from __future__ import annotations

import glob
import json
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Job config file (configs/*.py), e.g. configs/sfv_paper.py.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder (created; reruns resume).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # Imported here so --help stays fast and JAX starts after flag parsing.
    from sfv_jax import atomic, distributed, pipeline

    cfg = _CONFIG.value
    workdir = os.path.abspath(_WORKDIR.value)
    process = distributed.initialize(cfg.distributed)
    summary = pipeline.run(cfg, workdir, process)

    if process.count == 1:
        merged = pipeline.merge_summaries([summary])
    else:
        part = os.path.join(workdir, f"summary.process-{process.index:04d}-of-"
                                     f"{process.count:04d}.json")
        atomic.write_json(part, summary)
        pattern = os.path.join(workdir, f"summary.process-*-of-{process.count:04d}.json")
        distributed.barrier(process, "sfv_jax_summaries", cfg.distributed.barrier_timeout_s,
                            ready=lambda: len(glob.glob(pattern)) >= process.count)
        if process.index != 0:
            return 1 if summary["failures"] else 0
        parts = []
        for p in sorted(glob.glob(pattern)):
            with open(p) as f:
                parts.append(json.load(f))
        merged = pipeline.merge_summaries(parts)
    atomic.write_json(os.path.join(workdir, "summary.json"), merged)
    print(pipeline.format_summary(merged))
    print(f"summary: {os.path.join(workdir, 'summary.json')}")
    return 0 if merged["ok"] else 1


def run() -> None:
    app.run(lambda argv: sys.exit(main(argv)))


if __name__ == "__main__":
    run()
