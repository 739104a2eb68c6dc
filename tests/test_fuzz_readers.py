"""Fuzz test over the readers (issue 18): random truncations and byte flips of valid files.

Valid OpenPose, AlphaPose, estimates (.npz, .h5, HMMR pickle, VIBE joblib plain and gzip),
tracks and model files (.npz, SMPL-style chumpy .pkl) are built here, then damaged at random
(seeded): truncated at a random point, a few bytes flipped, or a run of bytes overwritten. Each
damaged file is read by its reader in a child interpreter, so a crash of the interpreter shows
as a failed test rather than killing pytest; each case has its own alarm, so a hang shows too.
Every case must either read (a flip may land in unused bytes) or fail with a ValueError /
UnsafePickleError whose message names the file.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

CASES = {"openpose": 40, "alphapose": 40, "estimates_npz": 40, "estimates_h5": 40,
         "hmmr_pkl": 25, "vibe_joblib": 25, "vibe_joblib_gz": 25, "tracks_npz": 30,
         "model_npz": 25, "model_pkl": 30}
CASE_TIMEOUT_S = 10


def _seeds(root: str) -> dict[str, str]:
    """One valid file (or folder) per reader."""
    import pickle

    from smpl_files import random_smpl_arrays, write_py2_smpl_pickle

    from sfv_jax.body.model import from_arrays, save_model
    from sfv_jax.inputs import Track, save_tracks, write_alphapose
    from sfv_jax.inputs.estimates import Estimates, save_estimates_npz, save_hmr_h5
    from sfv_jax.inputs.openpose import write_openpose_folder
    from sfv_jax.inputs.synthetic import keypoints_in_boxes

    rng = np.random.default_rng(0)
    T = 8
    people = {f: keypoints_in_boxes(np.array([[50 + 3 * f, 60, 90 + 3 * f, 200],
                                              [150, 60, 190, 200]]), 0.8) for f in range(T)}
    out = {}
    write_openpose_folder(os.path.join(root, "openpose"), people, video="clip")
    out["openpose"] = os.path.join(root, "openpose")
    from sfv_jax import skeletons
    coco = {f: skeletons.convert_keypoints(k, "body25", "coco17") for f, k in people.items()}
    out["alphapose"] = os.path.join(root, "alphapose-results.json")
    write_alphapose(out["alphapose"], coco)
    cam = np.concatenate([rng.uniform(.5, 1.5, (T, 1)), rng.normal(0, .1, (T, 2))], 1)
    est = Estimates(cam=cam, pose=rng.normal(0, .2, (T, 72)), betas=rng.normal(0, .5, (T, 10)),
                    frames=np.arange(T), crop_scale=np.ones(T), crop_start=np.zeros((T, 2)))
    out["estimates_npz"] = os.path.join(root, "est.npz")
    save_estimates_npz(out["estimates_npz"], est)
    out["estimates_h5"] = os.path.join(root, "est.h5")
    save_hmr_h5(out["estimates_h5"], est)
    out["hmmr_pkl"] = os.path.join(root, "hmmr_output.pkl")
    with open(out["hmmr_pkl"], "wb") as f:
        pickle.dump({"cams": cam, "poses": est.pose, "shapes": est.betas}, f, protocol=2)
    vibe = {1: {"pred_cam": cam, "pose": est.pose, "betas": est.betas,
                "bboxes": np.tile([100.0, 120.0, 40.0, 140.0], (T, 1)),
                "frame_ids": np.arange(T)}}
    import joblib

    out["vibe_joblib"] = os.path.join(root, "vibe_output.pkl")
    joblib.dump(vibe, out["vibe_joblib"])
    out["vibe_joblib_gz"] = os.path.join(root, "vibe_gz.pkl")
    joblib.dump(vibe, out["vibe_joblib_gz"], compress=("gzip", 3))
    kp = np.stack([people[f][0] for f in range(T)])
    track = Track(frames=np.arange(T), keypoints=kp,
                  boxes=np.tile([50.0, 60.0, 90.0, 200.0], (T, 1)), image_size=(240, 320),
                  source="seed")
    out["tracks_npz"] = os.path.join(root, "tracks.npz")
    save_tracks(out["tracks_npz"], [track])
    arrays = random_smpl_arrays(0)
    out["model_npz"] = save_model(from_arrays(arrays), os.path.join(root, "model.npz"))
    out["model_pkl"] = write_py2_smpl_pickle(os.path.join(root, "model.pkl"), arrays)
    return out


def _reader(kind: str):
    from sfv_jax.body.model import load_model
    from sfv_jax.inputs import load_tracks, read_alphapose, read_estimates, read_openpose_folder
    from sfv_jax.inputs.config import reading_config

    cfg = reading_config()
    return {
        "openpose": lambda p: read_openpose_folder(p, cfg),
        "alphapose": lambda p: read_alphapose(p, cfg),
        "tracks_npz": load_tracks,
        "model_npz": load_model, "model_pkl": load_model,
    }.get(kind, lambda p: read_estimates(p, cfg))


def _damage(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    how = rng.choice(["truncate", "flip", "overwrite"])
    b = bytearray(data)
    if how == "truncate":
        n = int(rng.integers(0, len(b)))
        return bytes(b[:n]), f"truncated to {n}"
    if how == "flip":
        pos = rng.integers(0, len(b), size=int(rng.integers(1, 9)))
        for p in pos:
            b[p] ^= 1 << int(rng.integers(0, 8))
        return bytes(b), f"flipped bits at {sorted(pos.tolist())}"
    start = int(rng.integers(0, len(b)))
    n = int(rng.integers(1, 64))
    b[start:start + n] = rng.integers(0, 256, size=len(b[start:start + n])).astype(np.uint8).tobytes()
    return bytes(b), f"overwrote {n} bytes at {start}"


class _Hang(Exception):
    pass


def _child(root: str, results: str) -> None:
    """Runs every case, one JSON line each (flushed, so a crash shows the last case)."""
    import shutil
    import warnings

    from sfv_jax.body.pickle_io import UnsafePickleError

    warnings.simplefilter("ignore")
    seeds = _seeds(os.path.join(root, "seeds"))
    rng = np.random.default_rng(18)

    def alarm(*_):
        raise _Hang()

    signal.signal(signal.SIGALRM, alarm)
    with open(results, "w") as out:
        for kind, n in CASES.items():
            read = _reader(kind)
            for i in range(n):
                case = os.path.join(root, f"{kind}_{i:03d}")
                seed = seeds[kind]
                if os.path.isdir(seed):
                    shutil.copytree(seed, case)
                    files = sorted(os.listdir(case))
                    target = os.path.join(case, files[int(rng.integers(0, len(files)))])
                    path = case
                else:
                    os.makedirs(case)
                    target = path = os.path.join(case, os.path.basename(seed))
                with open(seed if not os.path.isdir(seed) else
                          os.path.join(seed, os.path.basename(target)), "rb") as f:
                    data, how = _damage(f.read(), rng)
                with open(target, "wb") as f:
                    f.write(data)
                row = {"kind": kind, "case": i, "how": how, "file": target}
                t0 = time.time()
                signal.alarm(CASE_TIMEOUT_S)
                try:
                    read(path)
                    row["outcome"] = "read"
                except _Hang:
                    row["outcome"] = "hang"
                except (ValueError, UnsafePickleError) as e:
                    msg = str(e)
                    row["outcome"] = "error"
                    row["named"] = os.path.basename(target) in msg or path in msg
                    row["error"] = f"{type(e).__name__}: {msg[:300]}"
                except Exception as e:  # noqa: BLE001 - recorded as an unexpected error type
                    row["outcome"] = "unexpected"
                    row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
                finally:
                    signal.alarm(0)
                row["s"] = round(time.time() - t0, 3)
                out.write(json.dumps(row) + "\n")
                out.flush()


def test_fuzz_readers(tmp_path):
    results = str(tmp_path / "results.jsonl")
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, os.path.join(here, "test_fuzz_readers.py"),
                           str(tmp_path / "cases"), results], env=env, capture_output=True,
                          text=True, timeout=300)
    rows = [json.loads(line) for line in open(results)] if os.path.exists(results) else []
    last = rows[-1] if rows else None
    assert proc.returncode == 0, (f"the interpreter died (rc {proc.returncode}) after case "
                                  f"{last}: {proc.stderr[-2000:]}")
    assert len(rows) == sum(CASES.values())
    bad = [r for r in rows if r["outcome"] in ("hang", "unexpected")]
    assert not bad, bad[:5]
    unnamed = [r for r in rows if r["outcome"] == "error" and not r["named"]]
    assert not unnamed, unnamed[:5]
    assert max(r["s"] for r in rows) < CASE_TIMEOUT_S
    errors = sum(r["outcome"] == "error" for r in rows)
    assert errors > len(rows) // 3   # the damage reaches the readers
    print(json.dumps({"cases": len(rows), "errors": errors,
                      "read": sum(r["outcome"] == "read" for r in rows),
                      "max_case_s": max(r["s"] for r in rows)}))


if __name__ == "__main__":
    os.makedirs(sys.argv[1], exist_ok=True)
    _child(sys.argv[1], sys.argv[2])
