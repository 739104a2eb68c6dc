"""Resume bookkeeping: which tracks are finished, and the temporaries an interrupted run left.

A track is finished exactly when its ``done.json`` exists and records the job's fingerprint.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os

import ml_collections

DONE_FILE = "done.json"


def config_fingerprint(cfg: ml_collections.ConfigDict) -> str:
    """Hash of what decides a track's result (model, tracking, init, solver, export, render,
    outputs), so a changed config is not mistaken for finished work."""
    keys = ("model", "reading", "tracking", "fitting", "solver", "export", "render", "outputs")
    blob = json.dumps({k: cfg[k].to_dict() for k in keys if k in cfg}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def track_dir(workdir: str, video: str, track_id: int) -> str:
    return os.path.join(workdir, "results", video, f"track_{track_id:03d}")


def is_done(out_dir: str, fingerprint: str) -> dict | None:
    path = os.path.join(out_dir, DONE_FILE)
    try:
        with open(path) as f:
            row = json.load(f)
    except (OSError, ValueError):
        return None
    return row if row.get("config") == fingerprint else None


def remove_stale_temporaries(folder: str) -> int:
    """Deletes temporary files a killed run left behind (``atomic``'s ``.*.tmp*`` names)."""
    count = 0
    for path in glob.glob(os.path.join(glob.escape(folder), "**", ".*.tmp*"), recursive=True):
        try:
            os.remove(path)
            count += 1
        except OSError:
            pass
    return count
