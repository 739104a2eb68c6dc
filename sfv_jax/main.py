"""The batch job: ``python -m sfv_jax.main --config=configs/<name>.py --workdir=DIR``.

Reads every video entry of ``config.inputs``, tracks the people, solves every track of every
video in one batched solve, writes per track a result archive, BVH, DeepMimic motion file,
comparison video and plots under ``DIR/results/<video>/track_NNN/``, and finally
``DIR/summary.json`` plus a table on stdout. Rerunning skips finished tracks; the exit status
is non-zero when anything failed. Override any config key with ``--config.key=value``.

Many processes (one per machine, or several on one): set ``--config.distributed.*`` or
``SFV_COORDINATOR`` / ``SFV_NUM_PROCESSES`` / ``SFV_PROCESS_ID``, or run under Slurm; each
process takes its share of the videos, process 0 writes the merged summary.

Before anything is read the whole config is checked (``sfv_jax.config_checks``) and the
workdir locked (``sfv_jax.workdir_lock``; a second job on it stops with a message). An error
that stops the job (bad config, missing model, read-only or full workdir, locked workdir,
...) is printed as one line naming the file or key, what is wrong and what to do, with exit
status 2; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import errno
import glob
import json
import os
import pickle
import sys

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Job config file (configs/*.py), e.g. configs/sfv_paper.py.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder (created; reruns resume).")
_DEBUG = flags.DEFINE_bool("debug", False, "Show tracebacks of errors that stop the job.")
flags.mark_flags_as_required(["config", "workdir"])

_HINTS = {
    errno.ENOSPC: "free some space or choose another --workdir; rerunning resumes",
    errno.EDQUOT: "free some space or choose another --workdir; rerunning resumes",
    errno.EROFS: "the workdir must be writable; choose another --workdir",
    errno.EACCES: "check the permissions, or choose another --workdir",
    errno.EPERM: "check the permissions, or choose another --workdir",
}


def error_line(e: BaseException) -> str:
    """One line for an error that stops the job: the file or key, what is wrong, what to do."""
    if isinstance(e, OSError) and e.filename is not None:
        text = f"{e.filename}: {e.strerror or e}"
        hint = _HINTS.get(e.errno or 0)
        if hint:
            text += f" ({hint})"
    else:
        text = str(e).strip() or type(e).__name__
    expected = isinstance(e, (ValueError, OSError, RuntimeError, pickle.UnpicklingError))
    if not expected:
        text = f"{type(e).__name__}: {text} (an internal error; rerun with --debug for the " \
               f"traceback and report it)"
    return " ".join(text.split())


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        return _run_job(_CONFIG.value, os.path.abspath(_WORKDIR.value))
    except Exception as e:  # noqa: BLE001 - one line per error; --debug for the traceback
        if _DEBUG.value:
            raise
        print(f"sfv_jax: error: {error_line(e)}", file=sys.stderr)
        return 2


def _run_job(cfg, workdir: str) -> int:
    # Imported here so --help stays fast and JAX starts after flag parsing.
    from sfv_jax import config_checks, distributed, workdir_lock

    # The edge: the command line's ConfigDict becomes the typed JobConfig, once.
    cfg = config_checks.check_config(cfg)
    try:
        os.makedirs(workdir, exist_ok=True)
    except OSError as e:
        raise OSError(e.errno, e.strerror, e.filename or workdir) from None
    process = distributed.initialize(cfg.distributed)
    with workdir_lock.workdir_lock(workdir, process.index,
                                   cfg.workdir_lock_wait_s):
        return _run_locked(cfg, workdir, process)


def _run_locked(cfg, workdir: str, process) -> int:
    from sfv_jax import atomic, distributed, pipeline

    summary = pipeline.run(cfg, workdir, process)

    if process.count == 1:
        merged = pipeline.merge_summaries([summary])
    else:
        part = os.path.join(workdir, f"summary.process-{process.index:04d}-of-"
                                     f"{process.count:04d}.json")
        atomic.write_json(part, summary)
        pattern = os.path.join(glob.escape(workdir),
                               f"summary.process-*-of-{process.count:04d}.json")
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


def _override_error(e: Exception) -> str:
    """Names the ``--config.key=value`` override that does not exist (ml_collections only says
    ``AttributeError: "'foo'"``)."""
    from sfv_jax.job_config import job_config

    ref = job_config()
    for arg in sys.argv[1:]:
        if not arg.startswith("--config."):
            continue
        key = arg[len("--config."):].split("=", 1)[0]
        node = ref
        for i, part in enumerate(key.split(".")):
            if not hasattr(node, "keys") or part not in node:
                have = ", ".join(sorted(node.keys())) if hasattr(node, "keys") else ""
                where = ".".join(key.split(".")[:i]) or "the config"
                return (f"{arg}: no config key {key!r} ({where} has: {have}); every key is "
                        f"listed in sfv_jax/job_config.py")
            node = node[part]
    return f"bad command line ({type(e).__name__}: {e})"


def run() -> None:
    try:
        app.run(lambda argv: sys.exit(main(argv)))
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        # Raised while absl parses --config.* overrides, before main runs.
        if "--debug" in sys.argv:
            raise
        print(f"sfv_jax: error: {' '.join(_override_error(e).split())}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    run()
