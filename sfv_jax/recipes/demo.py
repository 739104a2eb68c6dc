"""The embedded default: the whole pipeline on a sample it generates, in about a minute.

    python -m sfv_jax.main --config=configs/demo.py --workdir=/tmp/sfv_demo

Generates two people crossing paths (DeepMimic's captured walk on the built-in synthetic
SMPL-format model; rendered video, OpenPose-style keypoints with detector-like noise, HMR-like
per-frame estimates) into WORKDIR/inputs, then tracks, solves with the paper's objective and
writes every output. Needs nothing but the installed package.
"""
import ml_collections

from sfv_jax.synthetic.demo_sample import SampleSettings
from sfv_jax.job_config import job_config


def get_config() -> ml_collections.ConfigDict:
    c = job_config()
    c.inputs.demo_sample = True
    # The sample's camera is known: the job gets its focal length (as a user would pass a
    # calibrated camera's), so the exports place the people at their true depth.
    c.outputs.focal_length = SampleSettings().focal
    return c
