"""The job config: ``JobConfig``, every section of ``python -m sfv_jax.main`` in one dataclass.

One frozen dataclass per section is the single source of its defaults, types and docs (each
field documented above it where the section is defined); ``JobConfig`` composes them.
``job_config()`` is the whole config as a ConfigDict, the edge that ``main``, the recipes
(``sfv_jax.recipes``, ``configs/*.py``) and ``launch/`` edit; ``JobConfig.from_config`` the one
strict bridge back (unknown keys and wrong types are errors naming the key; ranges are checked
by each section's ``__post_init__``). The job converts once, at its start, and hands the typed
sections down. Sections:
  model        which body model and keypoint set          (sfv_jax/body/config.py)
  inputs       where the videos, keypoints and per-frame estimates are (this file)
  reading      reader policies for doubtful input        (sfv_jax/inputs/config.py)
  tracking     the multi-person tracker                  (sfv_jax/inputs/config.py)
  fitting      the HMR-free initializer                  (sfv_jax/fitting/config.py)
  detect       the optional built-in detector            (sfv_jax/detect/config.py)
  solver       the temporal objective and optimizer      (sfv_jax/solver/config.py)
  export       BVH / DeepMimic / archive                 (sfv_jax/export/config.py)
  render       comparison videos and overlays            (sfv_jax/render/config.py)
  outputs      which outputs are written (this file)
  job          streaming batches, output workers, long-track windows, compilation cache (this file)
  distributed  multi-process / multi-machine runs         (sfv_jax/distributed.py)
"""
from __future__ import annotations

import dataclasses

import ml_collections

from sfv_jax import schema
from sfv_jax.body.config import BodySettings
from sfv_jax.detect.config import DetectSettings
from sfv_jax.distributed import DistributedSettings
from sfv_jax.export.config import ExportSettings
from sfv_jax.fitting.config import FittingSettings
from sfv_jax.inputs.config import ReadingSettings, TrackingSettings
from sfv_jax.render.config import RenderSettings
from sfv_jax.solver.config import SolverSettings

__all__ = ["DistributedSettings", "InputsSettings", "JobConfig", "JobSettings",
           "OutputsSettings", "job_config"]


@dataclasses.dataclass(frozen=True)
class InputsSettings(schema.Section, section="inputs"):
    """The ``inputs`` section."""

    # Folder with one entry per video (see README "Inputs"): a sub-folder holding a video
    # file and/or an OpenPose JSON folder, AlphaPose JSON, per-frame estimates or tracks.
    dir: str = ""
    # Explicit list of video entries (sub-folder paths); used instead of scanning dir.
    videos: tuple[str, ...] = ()
    # Generate the built-in synthetic sample into WORKDIR/inputs and use it (the demo).
    demo_sample: bool = False
    # Frames per second assumed when neither the video nor the inputs say (SFV: 30; 1..1000).
    default_fps: float = 30.0
    # Run the built-in detector on videos that have no keypoints (needs the detect extra).
    detect_missing: bool = False

    def __post_init__(self) -> None:
        schema.require_range(1.0 <= self.default_fps <= 1000.0, "inputs", "default_fps",
                             self.default_fps, ">= 1 and <= 1000")


@dataclasses.dataclass(frozen=True)
class OutputsSettings(schema.Section, section="outputs"):
    """The ``outputs`` section: which outputs are written per track."""

    # Result archive per track (always written: resume uses it).
    npz: bool = True
    # BVH per track (hierarchy / Euler order in export.bvh).
    bvh: bool = True
    # DeepMimic motion file per track.
    deepmimic: bool = True
    # Before/after comparison video per track.
    video: bool = True
    # Loss curves, joint trajectory, 2D error per frame (PNG).
    plots: bool = True
    # Perspective focal length (px) used to turn weak-perspective cameras into a root
    # translation for the BVH / DeepMimic exports (export.world_motion). 0 = from the input:
    # info.json ("focal_length" px, "focal_length_35mm" mm or "horizontal_fov_deg"), else the
    # image diagonal sqrt(H^2 + W^2) (~53 degrees diagonal field of view, the usual guess); the
    # summary says which ("focal_source"). SFV used 1000.
    focal_length: float = 0.0
    # Comparison video for every Nth track of this process (in job order) only; 1 = every
    # track (values below 1 count as 1). For batch jobs that want fewer videos; the other
    # outputs are always written.
    video_every: int = 1

    def __post_init__(self) -> None:
        schema.require_range(self.focal_length >= 0.0, "outputs", "focal_length",
                             self.focal_length, ">= 0")


@dataclasses.dataclass(frozen=True)
class JobSettings(schema.Section, section="job"):
    """The ``job`` section: streaming, output workers, long tracks, compilation cache."""

    # Clips per streaming batch (read, initialized, solved, then handed to the writers);
    # 0 = one compiled solver batch (solver.clips_per_device x devices). Memory is bounded by
    # the batch, not by the job.
    batch_clips: int = 0
    # Worker processes writing the outputs while the job solves the next batch
    # (sfv_jax/output_workers.py): 0 = write inline in the job's process, < 0 = automatic
    # (CPU count - 1, 1..8). Results do not depend on it.
    workers: int = -1
    # Solved tracks waiting for a writer at most (values below 1 count as 1); the job waits
    # beyond this (bounds memory).
    max_pending: int = 16
    # Tracks longer than this (frames) are solved in overlapping windows of exactly this
    # length, blended back into one result (sfv_jax/windows.py); 0 = never cut.
    window_frames: int = 512
    # Frames shared by consecutive windows at least (0..window_frames / 2): the blend ramp.
    window_overlap: int = 64
    # Frames per forward of the full mesh when writing a track's outputs (and per part of a
    # long track's comparison video): bounds the writers' memory (the forward's buffers are
    # a few hundred MB per 512 frames of the SMPL mesh).
    mesh_chunk_frames: int = 128
    # JAX persistent compilation cache: 'user' ($XDG_CACHE_HOME/sfv_jax/jax, default
    # ~/.cache/sfv_jax/jax: shared by every job of this user), 'workdir' (WORKDIR/jax_cache),
    # a folder path, or '' (off).
    compile_cache: str = "user"

    def __post_init__(self) -> None:
        schema.require_range(self.mesh_chunk_frames >= 1, "job", "mesh_chunk_frames",
                             self.mesh_chunk_frames, ">= 1")
        if self.window_frames > 0:  # windows.plan_windows' own rule, checked before the job
            schema.require_range(0 <= self.window_overlap <= self.window_frames // 2, "job",
                                 "window_overlap", self.window_overlap,
                                 f">= 0 and <= window_frames // 2 = {self.window_frames // 2}")


def _section(cls):
    return dataclasses.field(default_factory=cls)


@dataclasses.dataclass(frozen=True)
class JobConfig:
    """The whole job config: one typed section per field (see the module doc)."""

    # --- body model: which model file (or the synthetic body), dtype, keypoint set -----
    model: BodySettings = _section(BodySettings)
    inputs: InputsSettings = _section(InputsSettings)
    reading: ReadingSettings = _section(ReadingSettings)
    tracking: TrackingSettings = _section(TrackingSettings)
    fitting: FittingSettings = _section(FittingSettings)
    detect: DetectSettings = _section(DetectSettings)
    solver: SolverSettings = _section(SolverSettings)
    export: ExportSettings = _section(ExportSettings)
    render: RenderSettings = _section(RenderSettings)
    outputs: OutputsSettings = _section(OutputsSettings)
    job: JobSettings = _section(JobSettings)
    distributed: DistributedSettings = _section(DistributedSettings)
    # Seed for everything random in the job (demo sample generation).
    seed: int = 0
    # Seconds a job waits for another job holding the same workdir to finish before it stops
    # with a message (sfv_jax.workdir_lock; 0: stop at once).
    workdir_lock_wait_s: float = 0.0

    def __post_init__(self) -> None:
        schema.require(self.workdir_lock_wait_s >= 0.0, "config", f"workdir_lock_wait_s = "
                       f"{self.workdir_lock_wait_s!r} is out of range (must be >= 0)")
        # A loss curve needs one point: plots with zero iterations would fail every track at
        # its plot, after hours of reading and initializing.
        s = self.solver
        if self.outputs.plots and s.iterations < 1:
            key = "adam" if s.optimizer == "adam" else "lbfgs"
            schema.require(False, "solver", f"solver.{key}.iterations = {s.iterations}: the "
                           f"loss plots need at least 1 iteration (set it >= 1 or "
                           f"outputs.plots=False)")

    @classmethod
    def from_config(cls, cfg) -> "JobConfig":
        """The whole config from a ConfigDict or a mapping (strict; see ``schema.from_config``).

        A section absent from ``cfg`` keeps its defaults. Raises ValueError naming the key;
        every unknown key of every section at once (a config file's typos in one go).
        """
        unknown = [] if isinstance(cfg, cls) else schema.unknown_keys(cls, cfg)
        if unknown:
            raise ValueError(f"unknown key(s) {unknown}; every key is listed in "
                             f"sfv_jax/job_config.py and the section files it names")
        return schema.from_config(cls, cfg, "")

    def to_config(self) -> ml_collections.ConfigDict:
        """This config as a ConfigDict (what a worker process or an archive records)."""
        return schema.to_config(self)


def job_config() -> ml_collections.ConfigDict:
    """The whole job config with its defaults, as a ConfigDict (the edge: main, launch)."""
    return schema.to_config(JobConfig())
