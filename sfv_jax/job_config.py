"""The job config: every section of ``python -m sfv_jax.main`` assembled in one ConfigDict.

The launchable configs in ``configs/`` (``sfv_paper.py``, ``fast.py``, ``demo.py``, ``video.py``)
start from ``job_config()`` and override keys. Sections (each documented key by key where it
is defined):
  model        which body model and keypoint set          (sfv_jax/body/config.py)
  inputs       where the videos, keypoints and per-frame estimates are (this file)
  reading      reader policies for doubtful input        (sfv_jax/inputs/config.py)
  tracking     the multi-person tracker                  (sfv_jax/inputs/config.py)
  fitting      the HMR-free initializer                  (sfv_jax/fitting/config.py)
  detect       the optional built-in detector            (sfv_jax/detect/config.py)
  solver       the temporal objective and optimizer      (sfv_jax/solver/config.py)
  export       BVH / DeepMimic / archive                 (sfv_jax/export/config.py)
  render       comparison videos and overlays            (sfv_jax/render/config.py)
  outputs      which outputs are written, and by how many workers (this file)
  job          streaming batches, long-track windows, compilation cache (this file)
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
    # translation for the BVH / DeepMimic exports (export.world_motion). 0 = from the input:
    # info.json "focal_length", else the image diagonal sqrt(H^2 + W^2) (~53 degrees diagonal
    # field of view, the usual guess); the summary says which ("focal_source"). SFV used 1000.
    c.outputs.focal_length = 0.0
    # Comparison video for every Nth track of this process (in job order) only; 1 = every
    # track. For batch jobs that want fewer videos; the other outputs are always written.
    c.outputs.video_every = 1

    # --- job: streaming, long tracks, compilation cache -----------------------------------
    c.job = ml_collections.ConfigDict()
    # Clips per streaming batch (read, initialized, solved, then handed to the writers);
    # 0 = one compiled solver batch (solver.clips_per_device x devices). Memory is bounded by
    # the batch, not by the job.
    c.job.batch_clips = 0
    # Worker processes writing the outputs while the job solves the next batch
    # (sfv_jax/output_workers.py): 0 = write inline in the job's process, < 0 = automatic
    # (CPU count - 1, 1..8). Results do not depend on it.
    c.job.workers = -1
    # Solved tracks waiting for a writer at most; the job waits beyond this (bounds memory).
    c.job.max_pending = 16
    # Tracks longer than this (frames) are solved in overlapping windows of exactly this
    # length, blended back into one result (sfv_jax/windows.py); 0 = never cut.
    c.job.window_frames = 512
    # Frames shared by consecutive windows at least (0..window_frames / 2): the blend ramp.
    c.job.window_overlap = 64
    # Frames per forward of the full mesh when writing a track's outputs (and per part of a
    # long track's comparison video): bounds the writers' memory (~85 MB per 1,024 frames).
    c.job.mesh_chunk_frames = 512
    # JAX persistent compilation cache: 'user' ($XDG_CACHE_HOME/sfv_jax/jax, default
    # ~/.cache/sfv_jax/jax: shared by every job of this user), 'workdir' (WORKDIR/jax_cache),
    # a folder path, or '' (off).
    c.job.compile_cache = "user"

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
    # Seconds a job waits for another job holding the same workdir to finish before it stops
    # with a message (sfv_jax.workdir_lock; 0: stop at once).
    c.workdir_lock_wait_s = 0.0
    return c
