"""The job config: every section of ``python -m sfv_jax.main`` assembled in one ConfigDict.

The launchable configs in ``configs/`` (``sfv_paper.py``, ``fast.py``, ``demo.py``, ``video.py``)
start from ``job_config()`` and override keys. Sections (each documented key by key where it
is defined):
  model        which body model and keypoint set          (sfv_jax/body/config.py)
  inputs       where the videos, keypoints and per-frame estimates are (this file)
  reading      reader policies for doubtful input        (sfv_jax/inputs/config.py)
  tracking     the multi-person tracker                  (sfv_jax/inputs/config.py)
  fitting      the HMR-free initializer                  (sfv_jax/detect/config.py)
  detect       the optional built-in detector            (sfv_jax/detect/config.py)
  solver       the temporal objective and optimizer      (sfv_jax/solver/config.py)
  export       BVH / DeepMimic / archive                 (sfv_jax/export/config.py)
  render       comparison videos and overlays            (sfv_jax/render/config.py)
  outputs      which outputs are written (this file)
  distributed  multi-process / multi-machine runs (this file)
"""
import ml_collections

from sfv_jax.body.config import body_config
from sfv_jax.detect.config import detect_config, fitting_config
from sfv_jax.export.config import export_config
from sfv_jax.inputs.config import reading_config, tracking_config
from sfv_jax.render.config import render_config
from sfv_jax.solver.config import solver_config


def job_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()

    # --- body model: which model file (or the synthetic body), dtype, keypoint set -----
    c.model = body_config()

    # --- inputs ---------------------------------------------------------------------------
    c.inputs = ml_collections.ConfigDict()
    # Folder with one entry per video (see README "Inputs"): a sub-folder holding a video
    # file and/or an OpenPose JSON folder, AlphaPose JSON, per-frame estimates or tracks.
    c.inputs.dir = ""
    # Explicit list of video entries (sub-folder paths); used instead of scanning dir.
    c.inputs.videos = ()
    # Generate the built-in synthetic sample into WORKDIR/inputs and use it (the demo).
    c.inputs.demo_sample = False
    # Frames per second assumed when neither the video nor the inputs say (SFV: 30).
    c.inputs.default_fps = 30.0
    # Run the built-in detector on videos that have no keypoints (needs the detect extra).
    c.inputs.detect_missing = False

    c.reading = reading_config()
    c.tracking = tracking_config()
    c.fitting = fitting_config()
    c.detect = detect_config()
    c.solver = solver_config()
    c.export = export_config()
    c.render = render_config()

    # --- outputs --------------------------------------------------------------------------
    c.outputs = ml_collections.ConfigDict()
    c.outputs.npz = True        # result archive per track (always written: resume uses it)
    c.outputs.bvh = True        # BVH per track (hierarchy / Euler order in export.bvh)
    c.outputs.deepmimic = True  # DeepMimic motion file per track
    c.outputs.video = True      # before/after comparison video per track
    c.outputs.plots = True      # loss curves, joint trajectory, 2D error per frame (PNG)
    # Perspective focal length (px) used to turn weak-perspective cameras into a root
    # translation for the BVH / DeepMimic exports and the renders (SFV renders with 1000).
    c.outputs.focal_length = 1000.0

    # --- distributed ----------------------------------------------------------------------
    c.distributed = ml_collections.ConfigDict()
    # host:port of process 0's coordinator; empty = from SFV_COORDINATOR, else Slurm, else
    # a single-process job.
    c.distributed.coordinator_address = ""
    # Number of processes (<= 0: from SFV_NUM_PROCESSES or Slurm).
    c.distributed.num_processes = 0
    # This process's index (< 0: from SFV_PROCESS_ID or Slurm).
    c.distributed.process_id = -1
    # Seconds to wait for every process to join (start) or finish (end barrier).
    c.distributed.initialization_timeout_s = 300
    c.distributed.barrier_timeout_s = 3600

    # Seed for everything random in the job (demo sample generation).
    c.seed = 0
    return c
