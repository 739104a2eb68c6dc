"""Builds the 2D fit's limb-direction prior (``sfv_jax/data/limb_prior.npz``) from motion capture.

    python launch/build_limb_prior.py [--motions DIR] [--out PATH] [--components 16]

Reads DeepMimic motion files (default: the clips of pybullet_data, the physics extra, that the
accuracy benchmark does not score: backflip, crawl, dance_b, getup_facedown, getup_faceup, roll,
spin, spinkick), takes every frame's limb bone directions in the torso frame
(``fitting.limb_prior.limb_directions``), adds the left <-> right mirror and fits one Gaussian
mixture per limb by EM. The benchmark's clips (walk, run, jump, kick, punch, cartwheel,
dance_a) are refused unless --allow-benchmark-clips, so the benchmark stays held out. Last line:
JSON.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from sfv_jax.evaluation import mocap
from sfv_jax.fitting import limb_prior

TRAIN = ("backflip", "crawl", "dance_b", "getup_facedown", "getup_faceup", "roll", "spin",
         "spinkick")
BENCHMARK = ("walk", "run", "jump", "kick", "punch", "cartwheel", "dance_a")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--motions", default=None, help="folder of DeepMimic clips (default: "
                   "pybullet_data's data/motions, clips " + ", ".join(TRAIN) + ")")
    p.add_argument("--out", default=limb_prior.DEFAULT_PATH)
    p.add_argument("--components", type=int, default=16)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--allow-benchmark-clips", action="store_true")
    args = p.parse_args()
    if args.motions is None:
        import pybullet_data  # the physics extra: pip install -e '.[physics]'
        folder = os.path.join(pybullet_data.getDataPath(), "data", "motions")
        files = [os.path.join(folder, f"humanoid3d_{n}.txt") for n in TRAIN]
    else:
        files = mocap.list_motions(args.motions)
    names = [mocap.clip_name(f) for f in files]
    held = sorted(set(names) & set(BENCHMARK))
    if held and not args.allow_benchmark_clips:
        p.error(f"{held} are the accuracy benchmark's clips; leave them out (or pass "
                "--allow-benchmark-clips)")
    dirs = []
    for f in files:
        clip = mocap.load_mocap(f, fps=args.fps)
        dirs.append(limb_prior.limb_directions(clip.points, clip.point_names))
    d = np.concatenate(dirs)
    d = np.concatenate([d, limb_prior.mirror(d)])
    fits = [limb_prior.fit_gmm(d[:, i], args.components) for i in range(4)]
    prior = limb_prior.LimbPrior(np.stack([f[0] for f in fits]), np.stack([f[1] for f in fits]),
                                 np.stack([f[2] for f in fits]))
    limb_prior.save(args.out, prior, {"clips": ",".join(names), "fps": str(args.fps),
                                      "components": str(args.components), "mirrored": "yes"})
    ll = [round(f[3], 3) for f in fits]
    print(f"limb prior: {len(d)} frames (mirrored) of {len(files)} clips, "
          f"{args.components} components per limb, mean log-likelihood {ll} -> {args.out}")
    print(json.dumps({"frames": int(len(d)), "clips": names, "components": args.components,
                      "mean_log_likelihood": ll, "out": args.out}))


if __name__ == "__main__":
    main()
