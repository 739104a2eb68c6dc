"""Resume bookkeeping: which tracks are finished, and the temporaries an interrupted run left.

A track is finished exactly when its ``done.json`` exists and records
  - the job's config fingerprint (``config_fingerprint``),
  - the fingerprint of the inputs that produced it (``inputs_fingerprint``: every input file's
    name, size and modification time, and the content hash of the small ones), and
  - the size and SHA-256 of every output it lists,
and all three still hold: a rerun redoes a track whose config or inputs changed, or whose
outputs are missing, truncated or different, instead of reporting stale work as finished.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from typing import Any, Iterable

from sfv_jax import atomic, schema
from sfv_jax.workdir_lock import temp_owner_alive

DONE_FILE = "done.json"
# Input files up to this size are hashed by content (keypoint JSON, estimates, info.json);
# bigger ones (videos) by name, size and modification time.
HASH_CONTENT_BYTES = 16 << 20
# Temporary files of a job on another host are removed only when older than this (seconds):
# their writer's liveness cannot be checked from here.
FOREIGN_TEMP_AGE_S = 24 * 3600.0


def config_fingerprint(cfg: Any) -> str:
    """Hash of what decides a track's result (model, reading, tracking, init, solver, export,
    render, outputs, the default fps), so a changed config is not mistaken for finished work.

    ``cfg``: the typed job config (``job_config.JobConfig``); its sections are hashed as the
    ConfigDicts they make (``schema.to_config``), so equal settings give equal fingerprints
    however they were written."""
    keys = ("model", "reading", "tracking", "fitting", "solver", "export", "render", "outputs")
    blob = {k: schema.to_config(getattr(cfg, k)).to_dict() for k in keys}
    blob["inputs.default_fps"] = cfg.inputs.default_fps
    # Long tracks' windows decide their results (sfv_jax/windows.py).
    blob["job.windows"] = [cfg.job.window_frames, cfg.job.window_overlap]
    text = json.dumps(blob, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _file_hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _input_files(paths: Iterable[str]) -> list[str]:
    """The files under ``paths`` (folders walked, hidden and temporary files left out)."""
    out: set[str] = set()
    for p in paths:
        if not p:
            continue
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out.update(os.path.join(root, f) for f in files if not f.startswith("."))
        else:
            out.add(p)
    return sorted(out)


def inputs_fingerprint(paths: Iterable[str]) -> str:
    """Hash of the input files of one video entry (absolute names, sizes, modification times,
    contents of files up to ``HASH_CONTENT_BYTES``); a missing file counts as missing."""
    h = hashlib.sha256()
    for path in _input_files(paths):
        full = os.path.abspath(path)
        try:
            st = os.stat(full)
        except OSError:
            h.update(f"{full}\0missing\n".encode())
            continue
        h.update(f"{full}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        if st.st_size <= HASH_CONTENT_BYTES:
            h.update(_file_hash(full).encode())
    return h.hexdigest()[:16]


def entry_input_paths(entry: Any) -> list[str]:
    """The input paths of a ``discovery.Entry`` (video, info, keypoints, tracks, estimates,
    detector landmarks)."""
    return [p for p in (entry.video, entry.info, entry.keypoints, entry.tracks,
                        *entry.estimates, entry.landmarks) if p]


def track_dir(workdir: str, video: str, track_id: int) -> str:
    return os.path.join(workdir, "results", video, f"track_{track_id:03d}")


def output_record(out_dir: str, outputs: dict[str, str]) -> dict[str, dict]:
    """{relative name: {"size", "sha256"}} of a track's outputs (``row["outputs"]``)."""
    rec = {}
    for rel in sorted(set(outputs.values())):
        path = os.path.join(out_dir, rel)
        rec[rel] = {"size": os.path.getsize(path), "sha256": _file_hash(path)}
    return rec


def write_done(out_dir: str, row: dict) -> dict:
    """Writes ``done.json`` (last, atomically): ``row`` plus the size and hash of every
    output it lists. Returns what was written."""
    done = dict(row, output_files=output_record(out_dir, row.get("outputs", {})))
    atomic.write_json(os.path.join(out_dir, DONE_FILE), done)
    return done


def check_done(out_dir: str, fingerprint: str, inputs: str | None = None
               ) -> tuple[dict | None, str]:
    """(the done.json row, "") when the track is finished for this config and these inputs
    with every output intact; else (None, why not)."""
    path = os.path.join(out_dir, DONE_FILE)
    try:
        with open(path) as f:
            row = json.load(f)
    except FileNotFoundError:
        return None, "not done"
    except (OSError, ValueError) as e:
        return None, f"{path} unreadable ({e})"
    if not isinstance(row, dict):
        return None, f"{path} is not a JSON object"
    if row.get("config") != fingerprint:
        return None, "the config changed"
    if inputs is not None and row.get("inputs") != inputs:
        return None, "the inputs changed"
    files = row.get("output_files")
    if not isinstance(files, dict):
        return None, "done.json records no output sizes"
    for rel, rec in files.items():
        p = os.path.join(out_dir, rel)
        try:
            if os.path.getsize(p) != rec["size"] or _file_hash(p) != rec["sha256"]:
                return None, f"{p} differs from what was written"
        except OSError:
            return None, f"{p} is missing"
        except (KeyError, TypeError):
            return None, f"done.json's record of {rel} is malformed"
    return row, ""


def is_done(out_dir: str, fingerprint: str, inputs: str | None = None) -> dict | None:
    """The done.json row when the track is finished (``check_done``), else None."""
    return check_done(out_dir, fingerprint, inputs)[0]


def invalidate(out_dir: str) -> bool:
    """Removes a stale ``done.json`` so a track being redone is not finished until rewritten."""
    try:
        os.remove(os.path.join(out_dir, DONE_FILE))
        return True
    except FileNotFoundError:
        return False


def remove_stale_temporaries(folder: str) -> int:
    """Deletes temporary files (``atomic``'s ``.*.tmp*`` names) that dead jobs left behind.

    A temporary whose writer (pid and host in its name) still runs is left alone; one from
    another host is removed only when older than ``FOREIGN_TEMP_AGE_S``; untagged ones (older
    versions) are removed."""
    count = 0
    now = time.time()
    for path in glob.glob(os.path.join(glob.escape(folder), "**", ".*.tmp*"), recursive=True):
        alive = temp_owner_alive(path)
        if alive:
            continue
        try:
            if alive is None and ".pid" in os.path.basename(path) and \
                    now - os.path.getmtime(path) < FOREIGN_TEMP_AGE_S:
                continue
            os.remove(path)
            count += 1
        except OSError:
            pass
    return count
