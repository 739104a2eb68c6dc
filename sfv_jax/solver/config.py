"""Config section of the temporal solver: ``solver_config()``, frozen as ``SolverSettings``.

Defaults are the SFV paper's (``refine_video.py`` / ``src/config.py``): weights 10 / 0.5 / 100 /
25 / 1, Adam with learning rate 1e-3 for 300 iterations, the init-pose term weighted per frame by
``exp(-(e / e_max)^2)`` with e_max the clip's largest initial residual, keypoints with confidence
<= 0.2 ignored. Library functions take this section explicitly; nothing reads it globally.
"""
from __future__ import annotations

import dataclasses

import ml_collections

# Order of the objective terms in loss histories (only terms with a non-zero weight are kept).
TERM_NAMES: tuple[str, ...] = (
    "keypoints", "keypoints_gmof", "shape", "init_pose", "joint_smooth", "camera_smooth",
    "pose_smooth", "accel_smooth", "joint_limits", "accel_robust",
    # World mode only (``mode = "world"``): contacts, the ground plane and the world root.
    "contact_static", "contact_height", "ground_penetration", "root_accel",
)
WORLD_TERMS: tuple[str, ...] = ("contact_static", "contact_height", "ground_penetration",
                                "root_accel")


def solver_config() -> ml_collections.ConfigDict:
    """The ``solver`` section with its defaults (each key documented inline)."""
    c = ml_collections.ConfigDict()

    # --- objective weights (dimensionless; 0 switches a term off and removes it) --------
    w = ml_collections.ConfigDict()
    # Confidence-weighted L1 of projected vs 2D keypoints, normalized crop units. Paper: 10.
    w.keypoints = 10.0
    # Geman-McClure robust reprojection (optional, replaces nothing; add it or zero keypoints).
    w.keypoints_gmof = 0.0
    # Mean squared distance of each frame's betas to the clip's mean initial betas. Paper: 0.5.
    w.shape = 0.5
    # Per-joint (1 - cos(angle to the initial rotation))^2, per-frame weighted. Paper: 100.
    w.init_pose = 100.0
    # Mean squared velocity of mid-hip-relative 3D keypoints (metres). Paper: 25.
    w.joint_smooth = 25.0
    # Mean squared change of the crop-undone camera scale and position. Paper: 1.
    w.camera_smooth = 1.0
    # Rotation-space pose smoothness, (1 - cos(angle between frames))^2 (optional).
    w.pose_smooth = 0.0
    # Mean squared acceleration of mid-hip-relative 3D keypoints (optional).
    w.accel_smooth = 0.0
    # Squared hinge on knee / elbow hyper-extension, radians (optional).
    w.joint_limits = 0.0
    # Charbonnier (edge-preserving) acceleration of mid-hip-relative 3D keypoints (optional):
    # sigma^2 (sqrt(1 + |a|^2 / sigma^2) - 1) per keypoint, sigma = accel_robust_sigma.
    w.accel_robust = 0.0
    # --- world mode only (mode = "world"; must be 0 in the paper mode) ---
    # Contact foot points do not move: mean of c c' |x_{t+1} - x_t|^2, metres^2 / frame^2.
    w.contact_static = 0.0
    # Contact foot points rest on the ground plane: mean of c h^2, metres^2.
    w.contact_height = 0.0
    # No body point below the plane: mean of max(-h, 0)^2 over keypoints and foot points.
    w.ground_penetration = 0.0
    # World root (hip midpoint + translation) acceleration: mean squared, metres^2 / frame^4.
    w.root_accel = 0.0
    c.weights = w

    # 'paper': HMR's crop weak perspective, per-frame crop camera (SFV). 'world': a full
    # perspective camera (each clip's focal length and principal point, pixels), per-frame
    # root translation in camera coordinates, one ground plane per video shared by its
    # clips (Clip.video), soft heel / toe contacts; see sfv_jax/solver/world.py.
    c.mode = "paper"
    wd = ml_collections.ConfigDict()
    # Contact weight c = exp(-(max(h, 0) / height_scale)^2 - (speed / speed_scale)^2) of each
    # foot point (heel and toe of each foot, the lowest sole vertices of the model), metres
    # and metres / frame; recomputed every iteration and held fixed within it.
    wd.contact_height_scale = 0.03
    wd.contact_speed_scale = 0.01
    # Iterations between re-estimates of each video's plane (closed form: the weighted total
    # least-squares plane of the contact foot points of all its clips); 0 = never (the plane
    # stays at its initial estimate).
    wd.plane_every = 10
    # ground_penetration counts points more than this far below the plane (metres): the plane
    # is fitted through the lowest foot points, so without a margin the noise of those points
    # pushes the body up and the refitted plane follows it, a ratchet.
    wd.penetration_margin = 0.01
    # Softness (metres) of the plane fit's selection of each frame's lowest foot point (the
    # floor supports the lowest point; see world.plane_moments).
    wd.plane_softmin = 0.01
    # Pull of the plane normal towards the people's mean body-up direction in that fit
    # (metres^2 of scatter per unit of 1 - cos^2; 0 = the feet alone decide the normal).
    wd.normal_prior = 1e-3
    # Most clips of one video (people solved together; a static size of the coupling).
    wd.max_clips_per_video = 8
    # Adam learning rate multipliers of the root variable (u, v, log z) = (Tx/Tz, Ty/Tz,
    # log Tz) relative to adam.learning_rate (the pose's).
    wd.root_lr_scale = 1.0
    c.world = wd

    # Scale of the Geman-McClure kernel, normalized crop units (0.1 = 11 px of a 224 crop).
    c.gmof_sigma = 0.1
    # Scale of accel_robust's Charbonnier kernel, metres / frame^2: quadratic below, linear above.
    c.accel_robust_sigma = 0.01
    # Extra weight of the root joint in pose_smooth (the original's global_only used 10).
    c.pose_smooth_root_weight = 1.0
    # Weight the init-pose term per frame by exp(-(e / e_max)^2) (paper: True); False = 1.
    c.weighted_init_pose = True
    # e_max of that weighting in normalized crop units; <= 0 means the clip's largest
    # per-frame residual e of the initial estimate (the paper).
    c.e_max = -1.0
    # 2D keypoints with confidence <= this are ignored (SFV's kVisThr). Unitless, 0..1.
    c.vis_threshold = 0.2

    # --- optimizer ----------------------------------------------------------------------
    # 'adam' (the paper) or 'lbfgs' (the fast option: per-clip L-BFGS in diagonally scaled
    # variables on a smoothed L1, see sfv_jax/solver/lbfgs.py; it reaches Adam-300's objective
    # in about a tenth of the time, launch/bench_solver.py --lbfgs-compare).
    c.optimizer = "adam"
    adam = ml_collections.ConfigDict()
    adam.learning_rate = 1e-3   # step size, parameter units per iteration. Paper: 1e-3.
    adam.iterations = 300       # number of Adam steps. Paper: 300.
    adam.b1 = 0.9               # first-moment decay (TF1 default).
    adam.b2 = 0.999             # second-moment decay (TF1 default).
    adam.eps = 1e-8             # denominator epsilon (TF1 default).
    c.adam = adam
    lbfgs = ml_collections.ConfigDict()
    # L-BFGS iterations (each one line search; usually one value-and-gradient evaluation,
    # the cost of one Adam step). One history row per iteration.
    lbfgs.iterations = 30
    # Curvature pairs kept (the inverse-Hessian approximation's rank).
    lbfgs.memory_size = 10
    # Line-search trials per iteration at most (Armijo backtracking from the unit step,
    # halving; each trial is one value-and-gradient evaluation).
    lbfgs.max_linesearch_steps = 15
    # Diagonal variable scaling: L-BFGS runs in x / D with D from the Gauss-Newton diagonal
    # of the keypoint reprojection at the initial estimate (per clip, per parameter, shared
    # by all frames). False: the raw variables (radians, betas, crop camera).
    lbfgs.precondition = True
    # Frames of the initial estimate, evenly spaced, whose keypoint Jacobian gives D (cost
    # ~ this many frames x 85 forward-mode directions, once per solve).
    lbfgs.precondition_frames = 8
    # Added to the diagonal before D = 1 / sqrt(diag), relative to its mean (bounds D of
    # parameters no keypoint depends on, e.g. the hands). Dimensionless.
    lbfgs.precondition_damping = 0.1
    # Weight of the 3D keypoints' (metres) Jacobian in that diagonal, relative to the 2D
    # reprojection's (normalized crop units); brings in the depth-only directions.
    lbfgs.precondition_3d_weight = 0.3
    # eps of the smoothed L1 keypoint term minimized by L-BFGS, sqrt(r^2 + eps^2) - eps, in
    # normalized crop units (5e-3 = 0.56 px of a 224 crop); 0 = the raw L1. Only the search
    # sees it: the history and the final objective are always the true (paper) objective.
    lbfgs.l1_smoothing = 5e-3
    c.lbfgs = lbfgs

    # --- batching, devices, progress ----------------------------------------------------
    # Clip lengths are padded up to the smallest of these (frames); each length is one
    # compiled shape (fewer buckets: fewer compilations, more padding). Longer clips are
    # padded to a multiple of the largest.
    c.bucket_lengths = (32, 64, 96, 128, 192, 256, 320, 384, 512, 768, 1024)
    # Clips solved together at most (per call of the compiled step); bounds memory. The
    # clip count is padded to a power of two (times the device count) up to this.
    c.max_clips_per_batch = 256
    # Clips per device in every compiled batch (> 0): batches are padded to exactly this
    # many clips per device, so each clip's result is bitwise identical however the clips
    # are split over batches, devices, processes and resumed runs (the job's guarantee).
    # 0: at most max_clips_per_batch per batch, padded to a power of two (less padding,
    # results equal only up to rounding). -1 (default): chosen by the platform of the
    # default JAX backend, ``AUTO_CLIPS_PER_DEVICE`` (CPU 8; GPU / TPU 256, which fills a
    # device and stays within its memory for clips up to the 1,024-frame bucket, long tracks
    # being cut into 512-frame windows by the job): still one fixed number for the whole
    # job, so results stay bitwise reproducible on that platform.
    c.clips_per_device = -1
    # Report progress (iteration, mean loss) every this many iterations; 0 = silent, one
    # compiled scan over all iterations.
    c.progress_every = 50
    # Floating point type of the solve: 'float32' (fast) or 'float64' (needs jax x64).
    c.dtype = "float32"
    # Also return full mesh vertices (T, V, 3) per clip (computed after the solve only).
    c.return_vertices = False
    return c


# Clips per device of ``clips_per_device = -1``, by the default backend's platform.
AUTO_CLIPS_PER_DEVICE = {"cpu": 8, "gpu": 256, "cuda": 256, "rocm": 256, "tpu": 256}


def resolve_clips_per_device(value: int) -> int:
    """``value``, or for -1 the default backend's ``AUTO_CLIPS_PER_DEVICE`` entry (starts
    JAX's backend: call it at solve time, after ``jax.distributed.initialize``)."""
    if value != -1:
        return value
    import jax
    return AUTO_CLIPS_PER_DEVICE.get(jax.default_backend(), 8)


@dataclasses.dataclass(frozen=True)
class SolverSettings:
    """Hashable snapshot of ``solver_config()`` (a static argument of the compiled solve)."""
    weights: tuple[tuple[str, float], ...]
    gmof_sigma: float = 0.1
    accel_robust_sigma: float = 0.01
    pose_smooth_root_weight: float = 1.0
    weighted_init_pose: bool = True
    e_max: float = -1.0
    vis_threshold: float = 0.2
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    adam_iterations: int = 300
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    lbfgs_iterations: int = 30
    lbfgs_memory_size: int = 10
    lbfgs_max_linesearch_steps: int = 15
    lbfgs_precondition: bool = True
    lbfgs_precondition_frames: int = 8
    lbfgs_precondition_damping: float = 0.1
    lbfgs_precondition_3d_weight: float = 0.3
    lbfgs_l1_smoothing: float = 5e-3
    bucket_lengths: tuple[int, ...] = (32, 64, 96, 128, 192, 256, 320, 384, 512, 768, 1024)
    max_clips_per_batch: int = 256
    clips_per_device: int = 0
    progress_every: int = 50
    dtype: str = "float32"
    return_vertices: bool = False
    mode: str = "paper"
    contact_height_scale: float = 0.03
    contact_speed_scale: float = 0.01
    plane_every: int = 10
    plane_softmin: float = 0.01
    penetration_margin: float = 0.01
    normal_prior: float = 1e-3
    max_clips_per_video: int = 8
    root_lr_scale: float = 1.0

    @property
    def iterations(self) -> int:
        return self.adam_iterations if self.optimizer == "adam" else self.lbfgs_iterations

    @property
    def active_terms(self) -> tuple[str, ...]:
        """Names of the terms with a non-zero weight, in ``TERM_NAMES`` order."""
        w = dict(self.weights)
        return tuple(n for n in TERM_NAMES if w.get(n, 0.0) != 0.0)

    def weight(self, name: str) -> float:
        return dict(self.weights).get(name, 0.0)

    @classmethod
    def from_config(cls, cfg: ml_collections.ConfigDict) -> "SolverSettings":
        """Validates ``cfg`` (a ``solver_config()`` section) and freezes it."""
        unknown = set(cfg.weights.keys()) - set(TERM_NAMES)
        if unknown:
            raise ValueError(f"solver config: unknown weights {sorted(unknown)}; "
                             f"known: {list(TERM_NAMES)}")
        if float(cfg.get("accel_robust_sigma", 0.01)) <= 0:
            raise ValueError("solver config: accel_robust_sigma must be > 0")
        if cfg.optimizer not in ("adam", "lbfgs"):
            raise ValueError(f"solver config: optimizer must be 'adam' or 'lbfgs', "
                             f"got {cfg.optimizer!r}")
        lb = cfg.lbfgs
        if int(lb.memory_size) < 1 or int(lb.max_linesearch_steps) < 1:
            raise ValueError("solver config: lbfgs.memory_size and lbfgs.max_linesearch_steps "
                             "must be >= 1")
        if int(lb.precondition_frames) < 1:
            raise ValueError("solver config: lbfgs.precondition_frames must be >= 1")
        if float(lb.precondition_damping) <= 0 or float(lb.precondition_3d_weight) < 0:
            raise ValueError("solver config: lbfgs.precondition_damping must be > 0 and "
                             "lbfgs.precondition_3d_weight >= 0")
        if float(lb.l1_smoothing) < 0:
            raise ValueError("solver config: lbfgs.l1_smoothing must be >= 0")
        mode = str(cfg.get("mode", "paper"))
        if mode not in ("paper", "world"):
            raise ValueError(f"solver config: mode must be 'paper' or 'world', got {mode!r}")
        world_on = [n for n in WORLD_TERMS if float(cfg.weights.get(n, 0.0)) != 0.0]
        if mode == "paper" and world_on:
            raise ValueError(f"solver config: weights {world_on} need mode 'world' (the paper "
                             f"mode has no plane, contacts or world root)")
        wd = cfg.get("world", None) or solver_config().world
        if float(wd.contact_height_scale) <= 0 or float(wd.contact_speed_scale) <= 0:
            raise ValueError("solver config: world.contact_height_scale and "
                             "world.contact_speed_scale must be > 0")
        if float(wd.get("penetration_margin", 0.0)) < 0:
            raise ValueError("solver config: world.penetration_margin must be >= 0")
        if float(wd.get("plane_softmin", 0.01)) <= 0:
            raise ValueError("solver config: world.plane_softmin must be > 0")
        if int(wd.plane_every) < 0 or float(wd.normal_prior) < 0:
            raise ValueError("solver config: world.plane_every and world.normal_prior must "
                             "be >= 0")
        if int(wd.max_clips_per_video) < 1 or float(wd.root_lr_scale) <= 0:
            raise ValueError("solver config: world.max_clips_per_video must be >= 1 and "
                             "world.root_lr_scale > 0")
        if cfg.dtype not in ("float32", "float64"):
            raise ValueError(f"solver config: dtype must be float32 or float64, got {cfg.dtype!r}")
        buckets = tuple(sorted(int(b) for b in cfg.bucket_lengths))
        if not buckets or buckets[0] < 1:
            raise ValueError(f"solver config: bucket_lengths must be positive, got {buckets}")
        if int(cfg.get("clips_per_device", 0)) < -1:
            raise ValueError("solver config: clips_per_device must be >= 0, or -1 (auto)")
        if int(cfg.max_clips_per_batch) < 1:
            raise ValueError("solver config: max_clips_per_batch must be >= 1")
        for key in ("adam", "lbfgs"):
            if int(cfg[key].iterations) < 0:
                raise ValueError(f"solver config: {key}.iterations must be >= 0")
        if int(cfg.progress_every) < 0:
            raise ValueError("solver config: progress_every must be >= 0")
        return cls(
            weights=tuple((n, float(cfg.weights.get(n, 0.0))) for n in TERM_NAMES),
            gmof_sigma=float(cfg.gmof_sigma),
            accel_robust_sigma=float(cfg.get("accel_robust_sigma", 0.01)),
            pose_smooth_root_weight=float(cfg.pose_smooth_root_weight),
            weighted_init_pose=bool(cfg.weighted_init_pose),
            e_max=float(cfg.e_max),
            vis_threshold=float(cfg.vis_threshold),
            optimizer=str(cfg.optimizer),
            learning_rate=float(cfg.adam.learning_rate),
            adam_iterations=int(cfg.adam.iterations),
            b1=float(cfg.adam.b1), b2=float(cfg.adam.b2), eps=float(cfg.adam.eps),
            lbfgs_iterations=int(cfg.lbfgs.iterations),
            lbfgs_memory_size=int(cfg.lbfgs.memory_size),
            lbfgs_max_linesearch_steps=int(cfg.lbfgs.max_linesearch_steps),
            lbfgs_precondition=bool(cfg.lbfgs.precondition),
            lbfgs_precondition_frames=int(cfg.lbfgs.precondition_frames),
            lbfgs_precondition_damping=float(cfg.lbfgs.precondition_damping),
            lbfgs_precondition_3d_weight=float(cfg.lbfgs.precondition_3d_weight),
            lbfgs_l1_smoothing=float(cfg.lbfgs.l1_smoothing),
            bucket_lengths=buckets,
            max_clips_per_batch=int(cfg.max_clips_per_batch),
            clips_per_device=int(cfg.get("clips_per_device", 0)),
            progress_every=int(cfg.progress_every),
            dtype=str(cfg.dtype),
            return_vertices=bool(cfg.return_vertices),
            mode=mode,
            contact_height_scale=float(wd.contact_height_scale),
            contact_speed_scale=float(wd.contact_speed_scale),
            plane_every=int(wd.plane_every),
            plane_softmin=float(wd.get("plane_softmin", 0.01)),
            penetration_margin=float(wd.get("penetration_margin", 0.01)),
            normal_prior=float(wd.normal_prior),
            max_clips_per_video=int(wd.max_clips_per_video),
            root_lr_scale=float(wd.root_lr_scale),
        )
