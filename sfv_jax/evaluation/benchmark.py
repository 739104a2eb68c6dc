"""The accuracy benchmark on motion capture: truth -> views -> observations -> one batched solve -> metrics.

Per clip (a DeepMimic motion file):
  1. truth: ``mocap.load_mocap`` + ``mocap.fit_truth`` (the body model fitted to the mocap joints);
  2. ``views`` static perspective cameras with a focal length, height and pitch drawn per view
     (``virtual_cameras``; the focal is not given to the solver unless ``focal_known``);
  3. per view: detector-like BODY_25 keypoints converted to the solver's keypoint format (as the
     pipeline converts a track), SFV-style crops, regressor-like initial pose / shape / camera;
  4. every clip-view goes into ONE call of the batched solver with the chosen solver section;
  5. metrics before (initial estimate) and after (solver output), in the camera frame of each
     view, on the LSP-14 joints of the body model's cocoplus keypoints:
       - MPJPE (mm) after aligning the hip midpoints, over frames where the person was detected;
       - PA-MPJPE (mm), Procrustes with scale per frame, same frames;
       - acceleration error (mm/frame^2 at the benchmark frame rate), HMMR's definition with
         second differences touching an undetected frame dropped, on hip-aligned joints;
       - 2D error (px): the estimate's projection (its crop camera -> full image; a world-mode
         result's own pinhole camera) against the true perspective projection of the same
         points, over detected frames and points inside the image;
       - fit 2D (px): the job's own 2D error (a track's ``err2d_px``): the projected solver
         keypoints against the detections (confidence >= the solver's ``vis_threshold``), mean
         over detected frames of each frame's mean distance.
  6. world metrics (``world_scoring``): each estimate as the pipeline exports it
     (``export.world_motion`` with the export section, the image size and the focal the job
     would use), against the truth's world trajectory and the mocap floor: w_mpjpe, wa_mpjpe,
     root_accel, foot_skate, foot_float, ground_penetration; and the truth's own root_accel,
     foot_skate, foot_float and ground_penetration ("*_truth").
     A clip's figure is the mean over its views; the benchmark's mean is the mean over clips.

Randomness comes only from ``np.random.SeedSequence([seed, crc32(clip name), view, stream])``, so a
clip's observations do not depend on which other clips are in the folder.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import time
import types
import zlib
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from scipy.ndimage import gaussian_filter1d

from sfv_jax import atomic, body, chunking, skeletons
from sfv_jax.evaluation import init_fit2d, metrics, mocap
from sfv_jax.evaluation import observations as obs
from sfv_jax.evaluation import world_scoring as ws
from sfv_jax.evaluation.config import EvaluationSettings
from sfv_jax.evaluation.tables import format_table, format_world_table  # noqa: F401 - re-exported
from sfv_jax.geometry import cameras as geo_cams
from sfv_jax.geometry import crops
from sfv_jax.inputs import limb_swaps
from sfv_jax.inputs.config import TrackingSettings
from sfv_jax.render.plots import keypoint_error_per_frame

METRIC_KEYS = ("mpjpe", "pa_mpjpe", "accel", "err_2d", "fit_2d") + ws.WORLD_KEYS
# Streams of clip_view_rng (the cameras draw from the clip's view-0 stream 4).
_STREAM_DETECT, _STREAM_POSE, _STREAM_BETAS, _STREAM_CAM, _STREAM_VIEWS = 0, 1, 2, 3, 4


@dataclasses.dataclass(frozen=True)
class Observation:
    """What the solver gets for one clip-view, and the truth to score it against.

    keypoints: (T, K, 3) detections in the solver model's keypoint format, full-image px + conf.
    detections: (T, K_det, 3) the same detections in the detector's own format (BODY_25), which
    the pipeline's tracker and initializer see; ``keypoints`` is their conversion.
    detected: (T,) bool, frames with a detection. crop_scale (T,), crop_start (T, 2), crop_size.
    init_pose (T, 72), init_betas (T, 10), init_cam (T, 3): the regressor-like initial estimate.
    true_pose: (T, 72) the truth in the camera's axes (global orientation rotated into them).
    true_3d: (T, E, 3) evaluation joints in the camera frame, metres.
    true_2d: (T, E, 2) their perspective projection, px; in_image (T, E) bool.
    focal: the view's true focal length, px; image_size: (H, W) px; pitch_deg: camera pitch.
    """
    clip: str
    view: int
    azimuth_deg: float
    keypoints: np.ndarray
    detections: np.ndarray
    detected: np.ndarray
    crop_scale: np.ndarray
    crop_start: np.ndarray
    crop_size: float
    init_pose: np.ndarray
    init_betas: np.ndarray
    init_cam: np.ndarray
    true_pose: np.ndarray
    true_3d: np.ndarray
    true_2d: np.ndarray
    in_image: np.ndarray
    focal: float = 0.0
    image_size: tuple[int, int] = (0, 0)
    pitch_deg: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.clip}/view{self.view}"


@dataclasses.dataclass(frozen=True)
class Models:
    """The body model in the three keypoint sets the benchmark needs (keypoint-restricted)."""
    full: body.BodyModel
    detect: body.BodyModel   # the detector's format (BODY_25): what a detector would see
    solver: body.BodyModel   # the solver's keypoint format
    evaluate: body.BodyModel  # cocoplus; its first ``eval_joints`` points are scored
    smpl: body.BodyModel     # the 24 SMPL joints (truth fitting)
    feet: body.BodyModel     # foot_format: the foot points of the contact metrics


def make_models(model: body.BodyModel, cfg: EvaluationSettings) -> Models:
    """Restricted copies of ``model`` for detection, solving, evaluation and truth fitting."""
    cfg = EvaluationSettings.from_config(cfg)  # a ConfigDict section is converted here
    def kp(fmt: str) -> body.BodyModel:
        return body.keypoint_model(body.with_keypoints(model, fmt))
    return Models(full=model, detect=kp(cfg.keypoint_format), solver=kp(cfg.solver_format),
                  evaluate=kp(cfg.eval_format), smpl=kp("smpl24"), feet=kp(cfg.foot_format))


def _rng(seed: int, clip: str, view: int, stream: int) -> np.random.Generator:
    return obs.clip_view_rng(seed, zlib.crc32(clip.encode("utf-8")), view, stream)


_PAD = 128  # frames are padded to a multiple of this so each compiled shape serves many clips


@jax.jit
def _keypoints_jit(model: body.BodyModel, pose: jax.Array, betas: jax.Array,
                   transl: jax.Array) -> jax.Array:
    return body.forward(model, pose, betas, transl).keypoints


def _forward_np(model: body.BodyModel, pose: np.ndarray, betas: np.ndarray,
                transl: np.ndarray | None = None) -> np.ndarray:
    """(T, K, 3) keypoints of ``model`` for (T, 72) pose, (T, B) betas, (T, 3) transl, float64."""
    t = pose.shape[0]
    length = -(-t // _PAD) * _PAD
    transl = np.zeros((t, 3)) if transl is None else transl
    args = [jnp.asarray(chunking.pad_to(np.asarray(a, np.float32), length))
            for a in (pose, betas, transl)]
    return np.asarray(_keypoints_jit(model, *args), np.float64)[:t]


def observe(truth: mocap.TruthClip, models: Models, cfg: EvaluationSettings,
            seed: int) -> list[Observation]:
    """Cameras, detections, crops and initial estimates of every view of one clip.

    Args:
      truth: the clip's body-model truth (world frame).
      models: ``make_models`` output.
      cfg: the ``evaluation`` settings (or a ConfigDict section).
      seed: benchmark seed.
    """
    cfg = EvaluationSettings.from_config(cfg)  # a ConfigDict section is converted here
    cam_set = obs.CameraSettings.from_config(cfg)
    det_set = dataclasses.replace(obs.DetectorSettings.from_config(cfg), fps=truth.fps)
    reg_set = obs.RegressorSettings.from_config(cfg)
    num_frames = truth.num_frames
    betas_t = np.broadcast_to(truth.betas, (num_frames, truth.betas.shape[-1]))
    world_det = _forward_np(models.detect, truth.pose, betas_t, truth.transl)
    world_eval = _forward_np(models.evaluate, truth.pose, betas_t, truth.transl)[:, :cfg.eval_joints]
    pelvis = _forward_np(models.smpl, truth.pose, betas_t, truth.transl)[:, 0]
    cams = obs.make_cameras(pelvis, cam_set, _rng(seed, truth.name, 0, _STREAM_VIEWS))
    det_cam = cams.to_camera(world_det)          # (V, T, K, 3)
    det_px = cams.project(det_cam)
    eval_cam = cams.to_camera(world_eval)
    eval_px = cams.project(eval_cam)
    width, height = cams.image_size
    det_names = skeletons.keypoint_names(cfg.keypoint_format)
    out = []
    for v in range(cam_set.views):
        det, detected = obs.detect_keypoints(det_px[v], det_cam[v, ..., 2], det_names,
                                             cams.image_size, det_set,
                                             _rng(seed, truth.name, v, _STREAM_DETECT))
        if not detected.any():
            raise ValueError(f"clip {truth.name!r} view {v}: the person is never detected; "
                             "change the camera ranges (frame_fill, field of view)")
        kp_solver = skeletons.convert_keypoints(det, cfg.keypoint_format, cfg.solver_format)
        crop_scale, crop_start = obs.crop_params(det, reg_set)
        true_pose = obs.rotate_root(truth.pose, cams.rotation[v])
        init_pose = obs.perturb_pose(true_pose, reg_set, _rng(seed, truth.name, v, _STREAM_POSE))
        init_betas = obs.perturb_betas(truth.betas, num_frames, reg_set,
                                       _rng(seed, truth.name, v, _STREAM_BETAS))
        # The regressor's camera explains the true image with its own (wrong) pose and shape.
        init_kp = _forward_np(models.detect, init_pose, init_betas)
        target = crops.image_to_crop_norm(np.asarray(det_px[v], np.float64), crop_scale,
                                          crop_start, reg_set.crop_size)
        cam_fit = geo_cams.weak_perspective_fit(init_kp, target)
        init_cam = obs.perturb_cameras(cam_fit, reg_set, _rng(seed, truth.name, v, _STREAM_CAM))
        in_image = ((eval_px[v, ..., 0] >= 0) & (eval_px[v, ..., 0] < width)
                    & (eval_px[v, ..., 1] >= 0) & (eval_px[v, ..., 1] < height))
        out.append(Observation(
            clip=truth.name, view=v, azimuth_deg=float(cams.azimuth_deg[v]),
            keypoints=kp_solver, detections=det, detected=detected, crop_scale=crop_scale,
            crop_start=crop_start, crop_size=float(reg_set.crop_size), init_pose=init_pose,
            init_betas=init_betas, init_cam=init_cam, true_pose=true_pose, true_3d=eval_cam[v],
            true_2d=eval_px[v], in_image=in_image, focal=float(cams.focal[v]),
            image_size=(height, width), pitch_deg=float(cams.pitch_deg[v])))
    return out


def score(pose: np.ndarray, betas: np.ndarray, cam: np.ndarray, ob: Observation,
          models: Models, cfg: EvaluationSettings, vis_threshold: float = 0.2,
          perspective: tuple[np.ndarray, float, np.ndarray] | None = None
          ) -> dict[str, float]:
    """Metrics of one estimate of one clip-view (see the module docstring).

    Args:
      pose: (T, 72) camera-frame axis-angle; betas: (T, 10); cam: (T, 3) crop cameras;
      vis_threshold: the solver's ``vis_threshold`` (the detections ``fit_2d`` counts);
      perspective: a world-mode estimate's own camera, (transl (T, 3) metres, focal px,
        centre (2,) px): its 2D figures use this pinhole projection instead of ``cam``'s weak
        perspective (which is only an approximation of it).
    Returns:
      {"mpjpe", "pa_mpjpe" (mm), "accel" (mm/frame^2), "err_2d", "fit_2d" (px)}.
    """
    cfg = EvaluationSettings.from_config(cfg)  # a ConfigDict section is converted here
    root = eval_root(cfg)
    t = ob.true_3d.shape[0]

    def projected(points: np.ndarray) -> np.ndarray:
        """(T, K, 3) body-frame points -> (T, K, 2) full-image px, as the estimate sees them."""
        if perspective is not None:
            transl, focal, center = perspective
            f32 = lambda a: jnp.asarray(np.asarray(a, np.float32))  # noqa: E731
            return np.asarray(geo_cams.project_perspective(f32(points), f32(transl),
                                                           float(focal), f32(center)))
        return np.asarray(crops.crop_norm_to_image(geo_cams.project_crop(points, cam),
                                                   ob.crop_scale, ob.crop_start, ob.crop_size))

    pred = _forward_np(models.evaluate, pose, betas)[:, :cfg.eval_joints]
    # Padded frames are invisible: they count nowhere (and one compiled shape serves all clips).
    length = -(-t // _PAD) * _PAD
    vis = np.zeros(length, bool)
    vis[:t] = ob.detected
    arrays = [chunking.pad_to(np.asarray(a, np.float64), length).astype(np.float32) for a in
              (pred, ob.true_3d, projected(pred), ob.true_2d)]
    in_image = chunking.pad_to(ob.in_image, length)
    res = {k: float(v) for k, v in _score_jit(*arrays, vis, in_image, root).items()}
    # The job's own 2D error (a track's err2d_px): the solver's keypoints against the detections.
    px = projected(_forward_np(models.solver, pose, betas))
    per_frame = keypoint_error_per_frame(px, ob.keypoints, vis_threshold)[ob.detected]
    res["fit_2d"] = float(np.nanmean(per_frame)) if np.isfinite(per_frame).any() else np.nan
    return res


@functools.partial(jax.jit, static_argnames=("root",))
def _score_jit(pred: jax.Array, true: jax.Array, pred_px: jax.Array, true_2d: jax.Array,
               vis: jax.Array, in_image: jax.Array, root: tuple[int, ...]
               ) -> dict[str, jax.Array]:
    return {
        "mpjpe": metrics.to_mm(metrics.mpjpe(pred, true, root=root, frame_mask=vis)),
        "pa_mpjpe": metrics.to_mm(metrics.pa_mpjpe(pred, true, frame_mask=vis)),
        "accel": metrics.to_mm(metrics.accel_error(metrics.root_center(pred, root),
                                                   metrics.root_center(true, root), visible=vis)),
        "err_2d": metrics.error_2d(pred_px, true_2d, mask=in_image & vis[:, None]),
    }


def eval_root(cfg: EvaluationSettings) -> tuple[int, ...]:
    """Indices of the ``eval_root`` points among the scored joints (their mean is the root)."""
    names = skeletons.keypoint_names(cfg.eval_format)[:cfg.eval_joints]
    return tuple(names.index(n) for n in cfg.eval_root)


def motion_reference(ob: Observation, cfg: EvaluationSettings,
                     blur_frames: float = 1.0) -> dict[str, float]:
    """How hard one clip-view is for the acceleration metric (truth only, no estimate).

    Returns:
      {"accel_truth": mean |second difference| of the true hip-centred joints (mm/frame^2),
       "accel_blur": the acceleration error that the truth itself would score after a Gaussian
       blur of ``blur_frames`` frames (std) over time, i.e. a reconstruction exact in every
       frame but one frame less sharp in time}. Both over the frames ``score`` counts.
    """
    # NumPy float64 (the metrics module runs in JAX's float32): these are references for the
    # scores, computed from the truth alone, and exact zeros / exact values are testable.
    true = np.asarray(ob.true_3d, np.float64)
    root = list(eval_root(EvaluationSettings.from_config(cfg)))
    true = true - true[:, root].mean(axis=1, keepdims=True)
    blurred = gaussian_filter1d(true, blur_frames, axis=0, mode="nearest")
    vis = np.asarray(ob.detected, bool)
    win = vis[2:] & vis[1:-1] & vis[:-2]

    def accel(x: np.ndarray) -> np.ndarray:
        return x[2:] - 2.0 * x[1:-1] + x[:-2]

    if not win.any():
        return {"accel_truth": float("nan"), "accel_blur": float("nan")}
    a_true = accel(true)
    return {"accel_truth": float(np.linalg.norm(a_true, axis=-1)[win].mean() * 1000.0),
            "accel_blur": float(np.linalg.norm(accel(blurred) - a_true, axis=-1)[win].mean()
                                * 1000.0)}


def _mean_dicts(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def summarize(observations: Sequence[Observation], before: Sequence[dict[str, float]],
              after: Sequence[dict[str, float]], truths: dict[str, mocap.TruthClip],
              references: Sequence[dict[str, float]] | None = None) -> dict:
    """Per-clip (mean over views) and overall (mean over clips) figures.

    Args:
      references: optional ``motion_reference`` per observation; adds "accel_truth" and
        "accel_blur" per clip and to the mean.
    Returns:
      {"mean": {"<metric>_init": ..., "<metric>": ...}, "clips": {name: {... "frames", "views",
      "truth_fit_mm", "truth_accel_mm"}}} with metric in ``METRIC_KEYS`` (mpjpe, pa_mpjpe,
      accel, err_2d and the world metrics when the score dicts hold them).
    """
    clips: dict[str, dict] = {}
    for name in dict.fromkeys(o.clip for o in observations):
        idx = [i for i, o in enumerate(observations) if o.clip == name]
        b = _mean_dicts([before[i] for i in idx])
        a = _mean_dicts([after[i] for i in idx])
        row: dict = {}
        for k in METRIC_KEYS:
            row[f"{k}_init"] = round(b[k], 3)
            row[k] = round(a[k], 3)
        row["frames"] = int(observations[idx[0]].keypoints.shape[0])
        row["views"] = len(idx)
        row["truth_fit_mm"] = round(truths[name].marker_error_mm, 3)
        row["truth_accel_mm"] = round(truths[name].accel_error_mm, 3)
        if references is not None:
            for k, v in _mean_dicts([references[i] for i in idx]).items():
                row[k] = round(v, 3)
        clips[name] = row
    keys = [f"{k}_init" for k in METRIC_KEYS] + list(METRIC_KEYS)
    ordered = []
    for k in METRIC_KEYS:
        ordered += [f"{k}_init", k]
    mean = {k: _clip_mean([c[k] for c in clips.values()]) for k in ordered}
    assert set(mean) == set(keys)
    if references is not None:
        for k in references[0]:
            mean[k] = _clip_mean([c[k] for c in clips.values()])
    return {"mean": mean, "clips": clips}


def _clip_mean(values: Sequence[float]) -> float:
    """Mean over the clips that have the figure: a clip without truth foot contacts (a
    cartwheel) has NaN foot metrics and is left out of their mean; NaN when none has it."""
    v = np.asarray(values, np.float64)
    ok = np.isfinite(v)
    return round(float(v[ok].mean()), 3) if ok.any() else float("nan")


def goals(summary: dict) -> dict[str, bool]:
    """The issue's targets on the mean figures: accel after <= 25% of before and <= 7 mm/frame^2,
    PA-MPJPE at least 15% below the initial estimate's."""
    m = summary["mean"]
    return {
        "accel_ratio_le_0.25": m["accel"] <= 0.25 * m["accel_init"],
        "accel_le_7": m["accel"] <= 7.0,
        "pa_mpjpe_15pct_better": m["pa_mpjpe"] <= 0.85 * m["pa_mpjpe_init"],
    }


# ----------------------------------------------------------------------------------------------
# The whole run
# ----------------------------------------------------------------------------------------------
def build_truths(models: Models, files: Sequence[str], cfg: EvaluationSettings,
                 workdir: str | None = None, log: Callable[[str], None] = print
                 ) -> list[mocap.TruthClip]:
    """Loads and fits every clip (cached as ``workdir/truth_<clip>_<key>.npz`` when given)."""
    clips = [mocap.load_mocap(f, fps=cfg.fps, frames_max=cfg.frames_max) for f in files]
    key = f"{zlib.crc32(repr(mocap.truth_cache_key(cfg)).encode()):08x}"
    truths: dict[int, mocap.TruthClip] = {}
    todo = []
    for i, c in enumerate(clips):
        path = None if workdir is None else os.path.join(workdir, f"truth_{c.name}_{key}.npz")
        cached = mocap.load_truth(path) if path and os.path.exists(path) else None
        if cached is not None and cached.num_frames == c.num_frames:
            truths[i] = cached
        else:
            todo.append(i)
    if todo:
        t0 = time.time()
        fitted = mocap.fit_truth(models.full, [clips[i] for i in todo], cfg)
        log(f"truth: fitted {len(todo)} clips in {time.time() - t0:.1f} s")
        for i, tr in zip(todo, fitted):
            truths[i] = tr
            if workdir is not None:
                mocap.save_truth(os.path.join(workdir, f"truth_{tr.name}_{key}.npz"), tr)
    return [truths[i] for i in range(len(clips))]


def unswap_observations(observations: Sequence[Observation], keypoint_format: str,
                        solver_format: str, tracking_cfg: ml_collections.ConfigDict | None
                        ) -> list[Observation]:
    """The observations with their detections' left/right limb swaps undone, as the pipeline's
    tracker undoes them (``inputs.limb_swaps``; the ``tracking`` section, None: its defaults):
    on the detector's own ``keypoint_format`` (``detections``), then converted to the solver's
    ``solver_format`` (``keypoints``) as a track is."""
    trk = TrackingSettings.from_config(tracking_cfg)
    names = skeletons.keypoint_names(keypoint_format)
    out = []
    for o in observations:
        det = limb_swaps.repair_swaps(o.detections, names, trk)[0].astype(o.detections.dtype)
        out.append(dataclasses.replace(o, detections=det, keypoints=skeletons.convert_keypoints(
            det, keypoint_format, solver_format).astype(o.keypoints.dtype)))
    return out


def run_benchmark(files: Sequence[str], eval_cfg: EvaluationSettings,
                  solver_cfg: ml_collections.ConfigDict, seed: int = 0,
                  workdir: str | None = None, log: Callable[[str], None] = print,
                  progress: bool = False, fit_cfg: ml_collections.ConfigDict | None = None,
                  export_cfg: ml_collections.ConfigDict | None = None,
                  focal_known: bool = False, configured_focal: float = 0.0,
                  focal_scale: float = 1.0, truth_init: bool = False,
                  tracking_cfg: ml_collections.ConfigDict | None = None) -> dict:
    """Truth, observations, one batched solve, metrics (see the module docstring).

    ``fit_cfg`` (a ``fitting`` section): start from ``fitting.fit_2d`` of the detections instead
    of the regressor-like estimates (``init_fit2d``); the summary gains "depth_order".
    ``truth_init``: start from the truth instead (a diagnostic: the objective's own limit).
    ``tracking_cfg`` (a ``tracking`` section; None: its defaults): the detections' left/right
    limb swaps are undone with it first (``inputs.limb_swaps``), as the pipeline's tracker does.

    Args:
      files: DeepMimic motion files.
      eval_cfg: ``EvaluationSettings`` or the ``evaluation`` section (``evaluation_config()``).
      solver_cfg: the ``solver`` section (``solver.solver_config()`` or a config file's).
      seed: benchmark seed (observations and initial estimates).
      workdir: optional folder for the truth cache and ``results.json``.
      log: where progress lines go.
      progress: show the solver's progress bar.
      export_cfg: the ``export`` section the world motion is derived with (``world_motion``:
        ground option); default ``export_config()``.
      focal_known: give the solver and ``world_motion`` each view's true focal length
        (times ``focal_scale``: a study of how the results depend on a wrong focal);
        otherwise the focal a job would use for an input without one (``configured_focal``
        when > 0, else ``world_motion.default_focal`` of the image size).
    Returns:
      ``summarize`` output plus "goals" and "timing" (seconds).
    """
    # Deferred: the solver is a heavier import and only this entry point needs it.
    from sfv_jax import solver
    from sfv_jax.export import ExportSettings
    from sfv_jax.export import world_motion as wmo

    export_cfg = ExportSettings.from_config(export_cfg)  # a ConfigDict, settings or None
    eval_cfg = EvaluationSettings.from_config(eval_cfg)  # likewise (not None)
    t_start = time.time()
    model = body.synthetic_model(seed=eval_cfg.model_seed)
    models = make_models(model, eval_cfg)
    truths = build_truths(models, files, eval_cfg, workdir, log)
    t_truth = time.time()
    observations: list[Observation] = []
    for tr in truths:
        observations += observe(tr, models, eval_cfg, seed)
    observations = unswap_observations(observations, eval_cfg.keypoint_format,
                                       eval_cfg.solver_format, tracking_cfg)
    if fit_cfg is not None:
        observations = init_fit2d.fit2d_observations(observations, model,
                                                     eval_cfg.keypoint_format, fit_cfg)
    elif truth_init:
        observations = init_fit2d.truth_observations(
            observations, {t.name: np.asarray(t.betas) for t in truths}, models.evaluate,
            eval_cfg.eval_joints)
    t_obs = time.time()
    focals = [o.focal * focal_scale if focal_known else
              wmo.resolve_focal(configured_focal, None, o.image_size)[0] for o in observations]
    # Each clip-view is its own static camera, i.e. its own video.
    clips = [solver.Clip(keypoints=o.keypoints, pose=o.init_pose, betas=o.init_betas,
                         cam=o.init_cam, crop_scale=o.crop_scale, crop_start=o.crop_start,
                         crop_size=o.crop_size, name=o.name, focal=float(f),
                         center=np.array([o.image_size[1] / 2.0, o.image_size[0] / 2.0]),
                         video=o.name) for o, f in zip(observations, focals)]
    solver_model = body.with_keypoints(model, eval_cfg.solver_format)
    results = solver.solve(solver_model, clips, solver_cfg, progress=progress)
    t_solve = time.time()
    thr = float(solver_cfg.vis_threshold)
    before = [score(o.init_pose, o.init_betas, o.init_cam, o, models, eval_cfg, thr)
              for o in observations]
    after = [score(r.pose, r.betas, r.cam, o, models, eval_cfg, thr,
                   None if r.transl is None else (r.transl, r.focal, r.center))
             for r, o in zip(results, observations)]
    # World frame: the motion as exported (world_motion), against the truth's world and floor.
    root = eval_root(eval_cfg)
    wtruth = {t.name: ws.world_truth(t.pose, t.betas, t.transl, model, models.evaluate,
                                     models.feet, root, eval_cfg) for t in truths}

    def world(res, o: Observation, f: float) -> dict[str, float]:
        wm = wmo.world_motion(res, model, o.image_size, f, export_cfg)
        return ws.score_world(wm, wtruth[o.clip], model, models.evaluate, models.feet, root,
                              eval_cfg)

    for i, (o, r, f) in enumerate(zip(observations, results, focals)):
        init = types.SimpleNamespace(pose=o.init_pose, betas=o.init_betas, cam_full=np.asarray(
            geo_cams.crop_to_full(jnp.asarray(o.init_cam), jnp.asarray(o.crop_scale),
                                  jnp.asarray(o.crop_start), o.crop_size)))
        before[i] = {**before[i], **world(init, o, f)}
        after[i] = {**after[i], **world(r, o, f)}
    references = [{**motion_reference(o, eval_cfg), **ws.truth_figures(wtruth[o.clip])}
                  for o in observations]
    summary = summarize(observations, before, after, {t.name: t for t in truths}, references)
    summary["goals"] = goals(summary)
    if fit_cfg is not None or truth_init:
        joints = lambda p, b: _forward_np(models.evaluate, p, b)[:, :eval_cfg.eval_joints]  # noqa
        summary["depth_order"] = init_fit2d.depth_order_summary(
            observations, [joints(o.init_pose, o.init_betas) for o in observations],
            [joints(r.pose, r.betas) for r in results], eval_cfg.eval_format, eval_cfg.eval_joints)
    # Per clip-view, before -> after (which view of a clip carries its mean), and the solve's
    # final objective terms (weighted), e.g. to compare solves of one view.
    summary["views"] = {o.name: {**{f"{k}_init": round(b[k], 2) for k in METRIC_KEYS},
                                 **{k: round(a[k], 2) for k in METRIC_KEYS},
                                 "objective": {n: float(v) for n, v in r.final_loss.items()}}
                        for o, b, a, r in zip(observations, before, after, results)}
    summary["nonfinite"] = [r.name for r in results if r.nonfinite]
    summary["focal"] = {"known": bool(focal_known), "scale": float(focal_scale),
                        "used_px": [round(float(f), 1) for f in focals],
                        "true_px": [round(o.focal, 1) for o in observations]}
    summary["timing"] = {"truth_s": round(t_truth - t_start, 1),
                         "observe_s": round(t_obs - t_truth, 1),
                         "solve_s": round(t_solve - t_obs, 1),
                         "score_s": round(time.time() - t_solve, 1),
                         "clip_views": len(clips),
                         "frames": int(sum(c.num_frames for c in clips))}
    if workdir is not None:
        atomic.write_json(os.path.join(workdir, "results.json"), summary)
    return summary
