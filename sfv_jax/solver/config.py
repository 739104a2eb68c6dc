"""Config section of the temporal solver: ``SolverSettings`` (the schema) and ``solver_config()``.

Defaults are the SFV paper's (``refine_video.py`` / ``src/config.py``): weights 10 / 0.5 / 100 /
25 / 1, Adam with learning rate 1e-3 for 300 iterations, the init-pose term weighted per frame by
``exp(-(e / e_max)^2)`` with e_max the clip's largest initial residual, keypoints with confidence
<= 0.2 ignored. The frozen dataclasses below are the single source of the section's defaults
(each field documented above it); ``solver_config()`` is the same section as a ConfigDict for
``main`` and ``launch/``, and ``SolverSettings.from_config`` the one strict bridge back
(``sfv_jax.schema``). Settings are hashable: the compiled solve takes them as a static argument.
Library functions take this section explicitly; nothing reads it globally.
"""
from __future__ import annotations

import dataclasses

import ml_collections

from sfv_jax import schema


@dataclasses.dataclass(frozen=True)
class Weights:
    """Objective weights (dimensionless; 0 switches a term off and removes it from the solve).

    The field order is the order of the terms in loss histories (``TERM_NAMES``)."""
    # Confidence-weighted L1 of projected vs 2D keypoints, normalized crop units. Paper: 10.
    keypoints: float = 10.0
    # Geman-McClure robust reprojection (optional, replaces nothing; add it or zero keypoints).
    keypoints_gmof: float = 0.0
    # Mean squared distance of each frame's betas to the clip's mean initial betas. Paper: 0.5.
    shape: float = 0.5
    # Per-joint (1 - cos(angle to the initial rotation))^2, per-frame weighted. Paper: 100.
    init_pose: float = 100.0
    # Mean squared velocity of mid-hip-relative 3D keypoints (metres). Paper: 25.
    joint_smooth: float = 25.0
    # Mean squared change of the crop-undone camera scale and position. Paper: 1.
    camera_smooth: float = 1.0
    # Rotation-space pose smoothness, (1 - cos(angle between frames))^2 (optional).
    pose_smooth: float = 0.0
    # Mean squared acceleration of mid-hip-relative 3D keypoints (optional).
    accel_smooth: float = 0.0
    # Squared hinge on knee / elbow hyper-extension, radians (optional).
    joint_limits: float = 0.0
    # Charbonnier (edge-preserving) acceleration of mid-hip-relative 3D keypoints (optional):
    # sigma^2 (sqrt(1 + |a|^2 / sigma^2) - 1) per keypoint, sigma = accel_robust_sigma.
    accel_robust: float = 0.0
    # --- world mode only (mode = "world"; must be 0 in the paper mode) ---
    # Contact foot points do not move: mean of c c' |x_{t+1} - x_t|^2, metres^2 / frame^2.
    contact_static: float = 0.0
    # Contact foot points rest on the ground plane: mean of c h^2, metres^2.
    contact_height: float = 0.0
    # No body point below the plane: mean of max(-h, 0)^2 over keypoints and foot points.
    ground_penetration: float = 0.0
    # World root (hip midpoint + translation) acceleration: mean squared, metres^2 / frame^4.
    root_accel: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            schema.require_range(v >= 0.0, "solver", f"weights.{f.name}", v, ">= 0")


# Order of the objective terms in loss histories (only terms with a non-zero weight are kept).
TERM_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Weights))
WORLD_TERMS: tuple[str, ...] = ("contact_static", "contact_height", "ground_penetration",
                                "root_accel")


@dataclasses.dataclass(frozen=True)
class WorldSettings:
    """``solver.world``: the world-grounded mode's contacts and ground plane."""
    # Contact weight c = exp(-(max(h, 0) / height_scale)^2 - (speed / speed_scale)^2) of each
    # foot point (heel and toe of each foot, the lowest sole vertices of the model), metres
    # and metres / frame; recomputed every iteration and held fixed within it.
    contact_height_scale: float = 0.03
    contact_speed_scale: float = 0.01
    # Contact stillness from the image instead (static camera): where a foot point's 2D
    # keypoint (heel, big toe; the ankle for formats without foot points) is observed, its
    # image speed v (normalized crop units per frame, i.e. relative to the person's size)
    # gives exp(-(v / this)^2) in place of the 3D speed's factor (losses.soft_foot_contacts,
    # world.image_stillness); 0 = off (the 3D speed alone). 0.01 = 1.1 px of a 224 crop, about
    # 1.3 cm per frame for a 1.7 m person.
    contact_image_speed_scale: float = 0.0
    # Runs of at most this many frames where a foot point's keypoint is not seen keep image
    # evidence: its mean speed from the frame before the run to the frame after it
    # (world.image_stillness); 0 = those frames fall back on the 3D speed.
    contact_image_gap: int = 0
    # Iterations between re-estimates of each video's plane (closed form: the weighted total
    # least-squares plane of the contact foot points of all its clips); 0 = never (the plane
    # stays at its initial estimate).
    plane_every: int = 10
    # ground_penetration counts points more than this far below the plane (metres): the plane
    # is fitted through the lowest foot points, so without a margin the noise of those points
    # pushes the body up and the refitted plane follows it, a ratchet.
    penetration_margin: float = 0.01
    # Softness (metres) of the plane fit's selection of each frame's lowest foot point (the
    # floor supports the lowest point; see world.plane_moments).
    plane_softmin: float = 0.01
    # Pull of the plane normal towards the people's mean body-up direction in that fit
    # (metres^2 of scatter per unit of 1 - cos^2; 0 = the feet alone decide the normal).
    normal_prior: float = 1e-3
    # Pull of the plane normal into the camera's y-z plane, i.e. a level camera (no roll: the
    # horizon is horizontal in the image, as in nearly all handheld and tripod footage), in
    # the same fit (metres^2 per unit of n_x^2; 0 = off). It settles the roll that the feet
    # leave free when they lie along one line (a straight walk or run).
    level_prior: float = 0.0
    # Most clips of one video (people solved together; a static size of the coupling).
    max_clips_per_video: int = 8
    # Adam learning rate multipliers of the root variable (u, v, log z) = (Tx/Tz, Ty/Tz,
    # log Tz) relative to adam.learning_rate (the pose's), at the first iteration.
    root_lr_scale: float = 1.0
    # The root multiplier at the last iteration relative to root_lr_scale, reached along a
    # cosine over the solve's iterations (1 = constant): long steps first, short ones at the end.
    root_lr_decay: float = 1.0
    # Closed-form refits of the first plane before the solve (each weights the feet by their
    # contact with the previous plane).
    initial_plane_fits: int = 1

    def __post_init__(self) -> None:
        s = "solver"
        schema.require(self.initial_plane_fits >= 1, s, "world.initial_plane_fits must be >= 1")
        schema.require(self.contact_height_scale > 0 and self.contact_speed_scale > 0, s,
                       "world.contact_height_scale and world.contact_speed_scale must be > 0")
        schema.require(self.penetration_margin >= 0, s, "world.penetration_margin must be >= 0")
        schema.require(self.contact_image_speed_scale >= 0, s,
                       "world.contact_image_speed_scale must be >= 0")
        schema.require(self.contact_image_gap >= 0, s, "world.contact_image_gap must be >= 0")
        schema.require(self.plane_softmin > 0, s, "world.plane_softmin must be > 0")
        schema.require(self.plane_every >= 0 and self.normal_prior >= 0
                       and self.level_prior >= 0, s,
                       "world.plane_every, world.normal_prior and world.level_prior must be >= 0")
        schema.require(self.max_clips_per_video >= 1 and self.root_lr_scale > 0, s,
                       "world.max_clips_per_video must be >= 1 and world.root_lr_scale > 0")
        schema.require_range(0.0 < self.root_lr_decay <= 1.0, s, "world.root_lr_decay",
                             self.root_lr_decay, "in (0, 1]")


@dataclasses.dataclass(frozen=True)
class AdamSettings:
    """``solver.adam``: the paper's optimizer."""
    learning_rate: float = 1e-3   # step size, parameter units per iteration. Paper: 1e-3.
    iterations: int = 300         # number of Adam steps. Paper: 300.
    b1: float = 0.9               # first-moment decay (TF1 default).
    b2: float = 0.999             # second-moment decay (TF1 default).
    eps: float = 1e-8             # denominator epsilon (TF1 default).

    def __post_init__(self) -> None:
        s = "solver"
        schema.require_range(self.learning_rate > 0, s, "adam.learning_rate",
                             self.learning_rate, "> 0")
        schema.require(0 <= self.b1 < 1 and 0 <= self.b2 < 1, s,
                       "adam.b1 and adam.b2 must be in [0, 1)")
        schema.require(self.eps > 0, s, "adam.eps must be > 0")
        schema.require(self.iterations >= 0, s, "adam.iterations must be >= 0")


@dataclasses.dataclass(frozen=True)
class LbfgsSettings:
    """``solver.lbfgs``: the fast option (per-clip L-BFGS, see sfv_jax/solver/lbfgs.py)."""
    # L-BFGS iterations (each one line search; usually one value-and-gradient evaluation,
    # the cost of one Adam step). One history row per iteration.
    iterations: int = 30
    # Curvature pairs kept (the inverse-Hessian approximation's rank).
    memory_size: int = 10
    # Line-search trials per iteration at most (Armijo backtracking from the unit step,
    # halving; each trial is one value-and-gradient evaluation).
    max_linesearch_steps: int = 15
    # Diagonal variable scaling: L-BFGS runs in x / D with D from the Gauss-Newton diagonal
    # of the keypoint reprojection at the initial estimate (per clip, per parameter, shared
    # by all frames). False: the raw variables (radians, betas, crop camera).
    precondition: bool = True
    # Frames of the initial estimate, evenly spaced, whose keypoint Jacobian gives D (cost
    # ~ this many frames x 85 forward-mode directions, once per solve).
    precondition_frames: int = 8
    # Added to the diagonal before D = 1 / sqrt(diag), relative to its mean (bounds D of
    # parameters no keypoint depends on, e.g. the hands). Dimensionless.
    precondition_damping: float = 0.1
    # Weight of the 3D keypoints' (metres) Jacobian in that diagonal, relative to the 2D
    # reprojection's (normalized crop units); brings in the depth-only directions.
    precondition_3d_weight: float = 0.3
    # eps of the smoothed L1 keypoint term minimized by L-BFGS, sqrt(r^2 + eps^2) - eps, in
    # normalized crop units (5e-3 = 0.56 px of a 224 crop); 0 = the raw L1. Only the search
    # sees it: the history and the final objective are always the true (paper) objective.
    l1_smoothing: float = 5e-3

    def __post_init__(self) -> None:
        s = "solver"
        schema.require(self.iterations >= 0, s, "lbfgs.iterations must be >= 0")
        schema.require(self.memory_size >= 1 and self.max_linesearch_steps >= 1, s,
                       "lbfgs.memory_size and lbfgs.max_linesearch_steps must be >= 1")
        schema.require(self.precondition_frames >= 1, s,
                       "lbfgs.precondition_frames must be >= 1")
        schema.require(self.precondition_damping > 0 and self.precondition_3d_weight >= 0, s,
                       "lbfgs.precondition_damping must be > 0 and "
                       "lbfgs.precondition_3d_weight >= 0")
        schema.require(self.l1_smoothing >= 0, s, "lbfgs.l1_smoothing must be >= 0")


@dataclasses.dataclass(frozen=True)
class SolverSettings(schema.Section, section="solver"):
    """The ``solver`` section: objective, optimizer, batching (each field documented above it).

    Hashable: a static argument of the compiled solve."""
    weights: Weights = Weights()
    # 'paper': HMR's crop weak perspective, per-frame crop camera (SFV). 'world': a full
    # perspective camera (each clip's focal length and principal point, pixels), per-frame
    # root translation in camera coordinates, one ground plane per video shared by its
    # clips (Clip.video), soft heel / toe contacts; see sfv_jax/solver/world.py.
    mode: str = "paper"
    world: WorldSettings = WorldSettings()

    # Scale of the Geman-McClure kernel, normalized crop units (0.1 = 11 px of a 224 crop).
    gmof_sigma: float = 0.1
    # Scale of accel_robust's Charbonnier kernel, metres / frame^2: quadratic below, linear above.
    accel_robust_sigma: float = 0.01
    # Extra weight of the root joint in pose_smooth (the original's global_only used 10).
    pose_smooth_root_weight: float = 1.0
    # Weight the init-pose term per frame by exp(-(e / e_max)^2) (paper: True); False = 1.
    weighted_init_pose: bool = True
    # e_max of that weighting in normalized crop units; <= 0 means the clip's largest
    # per-frame residual e of the initial estimate (the paper).
    e_max: float = -1.0
    # 2D keypoints with confidence <= this are ignored (SFV's kVisThr). Unitless, 0..1.
    vis_threshold: float = 0.2

    # --- optimizer ----------------------------------------------------------------------
    # 'adam' (the paper) or 'lbfgs' (the fast option: per-clip L-BFGS in diagonally scaled
    # variables on a smoothed L1, see sfv_jax/solver/lbfgs.py; it reaches Adam-300's objective
    # in about a tenth of the time, launch/bench_solver.py --lbfgs-compare).
    optimizer: str = "adam"
    adam: AdamSettings = AdamSettings()
    lbfgs: LbfgsSettings = LbfgsSettings()

    # --- batching, devices, progress ----------------------------------------------------
    # Clip lengths are padded up to the smallest of these (frames); each length is one
    # compiled shape (fewer buckets: fewer compilations, more padding). Longer clips are
    # padded to a multiple of the largest. Sorted on construction.
    bucket_lengths: tuple[int, ...] = (32, 64, 96, 128, 192, 256, 320, 384, 512, 768, 1024)
    # Clips solved together at most (per call of the compiled step); bounds memory. The
    # clip count is padded to a power of two (times the device count) up to this.
    max_clips_per_batch: int = 256
    # Clips per device in every compiled batch (> 0): batches are padded to exactly this
    # many clips per device, so each clip's result is bitwise identical however the clips
    # are split over batches, devices, processes and resumed runs (the job's guarantee).
    # 0: at most max_clips_per_batch per batch, padded to a power of two (less padding,
    # results equal only up to rounding). -1 (default): chosen by the platform of the
    # default JAX backend, ``AUTO_CLIPS_PER_DEVICE`` (CPU 8; GPU / TPU 256, which fills a
    # device and stays within its memory for clips up to the 1,024-frame bucket, long tracks
    # being cut into 512-frame windows by the job): still one fixed number for the whole
    # job, so results stay bitwise reproducible on that platform (``resolved()``).
    clips_per_device: int = -1
    # Report progress (iteration, mean loss) every this many iterations; 0 = silent, one
    # compiled scan over all iterations.
    progress_every: int = 50
    # Floating point type of the solve: 'float32' (fast) or 'float64' (needs jax x64).
    dtype: str = "float32"
    # Also return full mesh vertices (T, V, 3) per clip (computed after the solve only).
    return_vertices: bool = False

    def __post_init__(self) -> None:
        s = "solver"
        schema.require(self.mode in ("paper", "world"), s,
                       f"mode must be 'paper' or 'world', got {self.mode!r}")
        world_on = [n for n in WORLD_TERMS if getattr(self.weights, n) != 0.0]
        schema.require(self.mode == "world" or not world_on, s,
                       f"weights {world_on} need mode 'world' (the paper mode has no plane, "
                       f"contacts or world root)")
        schema.require(self.optimizer in ("adam", "lbfgs"), s,
                       f"optimizer must be 'adam' or 'lbfgs', got {self.optimizer!r}")
        schema.require(self.gmof_sigma > 0, s, f"gmof_sigma must be > 0, got {self.gmof_sigma}")
        schema.require(self.accel_robust_sigma > 0, s, "accel_robust_sigma must be > 0")
        schema.require(self.pose_smooth_root_weight >= 0, s,
                       "pose_smooth_root_weight must be >= 0")
        schema.require(0 <= self.vis_threshold < 1, s, "vis_threshold must be in [0, 1)")
        schema.require(self.dtype in ("float32", "float64"), s,
                       f"dtype must be float32 or float64, got {self.dtype!r}")
        buckets = tuple(sorted(self.bucket_lengths))
        schema.require(bool(buckets) and buckets[0] >= 1, s,
                       f"bucket_lengths must be positive, got {buckets}")
        object.__setattr__(self, "bucket_lengths", buckets)
        schema.require(self.clips_per_device >= -1, s,
                       "clips_per_device must be >= 0, or -1 (auto)")
        schema.require(self.max_clips_per_batch >= 1, s, "max_clips_per_batch must be >= 1")
        schema.require(self.progress_every >= 0, s, "progress_every must be >= 0")

    @property
    def iterations(self) -> int:
        return self.adam.iterations if self.optimizer == "adam" else self.lbfgs.iterations

    @property
    def active_terms(self) -> tuple[str, ...]:
        """Names of the terms with a non-zero weight, in ``TERM_NAMES`` order."""
        return tuple(n for n in TERM_NAMES if getattr(self.weights, n) != 0.0)

    def weight(self, name: str) -> float:
        return float(getattr(self.weights, name, 0.0))

    def computation_key(self) -> "SolverSettings":
        """These settings with what does not shape a compiled step (batching, progress,
        outputs, iteration counts) set to fixed values, so that a change of those does not
        recompile (the static argument of the compiled init / chunk / finish functions)."""
        return dataclasses.replace(
            self, bucket_lengths=(1,), max_clips_per_batch=1, clips_per_device=0,
            progress_every=0, return_vertices=False,
            adam=dataclasses.replace(self.adam, iterations=0),
            lbfgs=dataclasses.replace(self.lbfgs, iterations=0))

    def resolved(self) -> "SolverSettings":
        """These settings with ``clips_per_device = -1`` replaced by the platform's number
        (``resolve_clips_per_device``; starts JAX's backend)."""
        n = resolve_clips_per_device(self.clips_per_device)
        return self if n == self.clips_per_device else dataclasses.replace(
            self, clips_per_device=n)


def solver_config() -> ml_collections.ConfigDict:
    """The ``solver`` section with its defaults, as a ConfigDict (the edge: main, launch)."""
    return schema.to_config(SolverSettings())


# Clips per device of ``clips_per_device = -1``, by the default backend's platform.
AUTO_CLIPS_PER_DEVICE = {"cpu": 8, "gpu": 256, "cuda": 256, "rocm": 256, "tpu": 256}


def resolve_clips_per_device(value: int) -> int:
    """``value``, or for -1 the default backend's ``AUTO_CLIPS_PER_DEVICE`` entry (starts
    JAX's backend: call it at solve time, after ``jax.distributed.initialize``)."""
    if value != -1:
        return value
    import jax
    return AUTO_CLIPS_PER_DEVICE.get(jax.default_backend(), 8)


