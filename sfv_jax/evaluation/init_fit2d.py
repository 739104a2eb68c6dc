"""The benchmark's other starts (the HMR-free 2D fit; the truth itself); limb depth order.

``launch/bench_accuracy.py --init fit2d`` replaces the regressor-like initial estimates of every
clip-view by ``fitting.fit_2d`` of that view's detections (the 2D-only path of the pipeline, whose
tracks without estimates are initialized by the same fitter), so the initializer's quality is
measured on the mocap clips. As in the pipeline (``initialize``), the fit sees the detector's own
BODY_25 keypoints with the body model's BODY_25 set, whatever keypoint set the solve then fits:
fitting a converted set instead would carry the two sets' different definitions of the same
points (the hips, the neck) into the start.

``--init truth`` (``truth_observations``, a diagnostic) starts every clip-view from the true pose
and shape, with the weak-perspective camera that best explains the true 2D points: where a solve
from the truth ends is the objective's own limit on those detections, which no initializer can
beat (its 2D error at the start is the weak-perspective camera's own).

Depth order (``depth_order_errors``): per detected frame and per left/right joint pair of the
limbs (elbows, wrists, knees, ankles), d = z(left) - z(right) in the camera frame (z forward).
A pair-frame counts when the truth's |d| exceeds ``margin`` (metres, default 0.1: the limbs are
clearly one in front of the other); it is *opposite* when the estimate's d has the other sign.
The figure is opposite / counted, over all pairs and frames of a clip-view.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax.numpy as jnp
import numpy as np

from sfv_jax import body, fitting, skeletons
from sfv_jax.body import chunked
from sfv_jax.geometry import cameras, crops

DEPTH_PAIRS = (("left_elbow", "right_elbow"), ("left_wrist", "right_wrist"),
               ("left_knee", "right_knee"), ("left_ankle", "right_ankle"))


def _fill_invalid(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Frames where ``valid`` is False take the value of the nearest valid frame."""
    if valid.all() or not valid.any():
        return values
    idx = np.flatnonzero(valid)
    nearest = idx[np.abs(np.arange(len(valid))[:, None] - idx[None, :]).argmin(axis=1)]
    return values[nearest]


def fit2d_observations(observations: Sequence[Any], model: body.BodyModel,
                       detector_format: str, fit_cfg: Any) -> list[Any]:
    """Observations whose ``init_pose / init_betas / init_cam`` come from ``fitting.fit_2d``.

    Args:
      observations: ``benchmark.Observation`` list (``detections`` (T, K, 3) in
        ``detector_format``).
      model: the benchmark's full body model.
      detector_format: the detections' keypoint format (a ``skeletons.FORMATS`` name; BODY_25).
      fit_cfg: the ``fitting`` config section.
    Returns:
      Copies of the observations; the fit's crop camera is carried into each observation's own
      crop (same full-image projection), undetected frames take the nearest fitted frame.
    """
    fit_model = body.with_keypoints(model, detector_format)
    kps = np.concatenate([o.detections for o in observations]).astype(np.float32)
    # One track per clip-view: the fitter's temporal pass runs along each.
    fit = fitting.fit_2d(fit_model, kps, fit_cfg,
                         tracks=[o.detections.shape[0] for o in observations])
    out, start = [], 0
    for o in observations:
        sl = slice(start, start + o.keypoints.shape[0])
        start = sl.stop
        valid = np.asarray(fit.valid[sl]) & np.asarray(o.detected, bool)
        full = np.asarray(cameras.crop_to_full(fit.cam[sl], fit.crop_scale[sl],
                                               fit.crop_start[sl], fit.crop_size))
        full = _fill_invalid(full, valid)
        cam = np.asarray(cameras.full_to_crop(jnp.asarray(full), jnp.asarray(o.crop_scale),
                                              jnp.asarray(o.crop_start), o.crop_size))
        out.append(dataclasses.replace(
            o, init_pose=_fill_invalid(np.asarray(fit.pose[sl], np.float64), valid),
            init_betas=_fill_invalid(np.asarray(fit.betas[sl], np.float64), valid),
            init_cam=cam.astype(np.float64)))
    return out


def truth_observations(observations: Sequence[Any], truth_betas: dict[str, np.ndarray],
                       model: body.BodyModel, eval_joints: int) -> list[Any]:
    """Observations whose initial estimates are the truth (diagnostic start).

    Args:
      observations: ``benchmark.Observation`` list.
      truth_betas: clip name -> its true (B,) betas.
      model: the benchmark's evaluation body model (cocoplus keypoints), whose first
        ``eval_joints`` points are the observations' ``true_2d``.
    Returns:
      Copies whose ``init_pose`` is ``true_pose``, ``init_betas`` the true betas on every frame
      and ``init_cam`` the least-squares weak-perspective camera of the true 2D points (in-image
      points only) in the observation's crop.
    """
    out = []
    for o in observations:
        t = o.true_pose.shape[0]
        betas = np.tile(np.asarray(truth_betas[o.clip], np.float64), (t, 1))
        # Chunked: one compiled forward serves every clip length.
        points = chunked.forward_np(model, o.true_pose, betas, fields=("keypoints",))
        points = np.asarray(points["keypoints"], np.float64)[:, :eval_joints]
        target = crops.image_to_crop_norm(np.asarray(o.true_2d, np.float64), o.crop_scale,
                                          o.crop_start, o.crop_size)
        cam = cameras.weak_perspective_fit(points, target, np.asarray(o.in_image, np.float64))
        out.append(dataclasses.replace(o, init_pose=np.asarray(o.true_pose, np.float64),
                                       init_betas=betas, init_cam=np.asarray(cam, np.float64)))
    return out


def depth_order_errors(pred_3d: np.ndarray, true_3d: np.ndarray, detected: np.ndarray,
                       names: Sequence[str], margin: float = 0.1) -> tuple[int, int]:
    """(opposite, counted) left/right depth-order pair-frames (see the module docstring).

    pred_3d, true_3d: (T, E, 3) camera-frame joints (z forward) named ``names``; detected: (T,).
    """
    idx = [(names.index(a), names.index(b)) for a, b in DEPTH_PAIRS]
    li, ri = np.asarray([i for i, _ in idx]), np.asarray([j for _, j in idx])
    d_true = true_3d[:, li, 2] - true_3d[:, ri, 2]
    d_pred = pred_3d[:, li, 2] - pred_3d[:, ri, 2]
    counted = (np.abs(d_true) > margin) & np.asarray(detected, bool)[:, None]
    opposite = counted & (np.sign(d_pred) != np.sign(d_true))
    return int(opposite.sum()), int(counted.sum())


def depth_order_summary(observations: Sequence[Any], before: Sequence[np.ndarray],
                        after: Sequence[np.ndarray], eval_format: str, eval_joints: int,
                        margin: float = 0.1) -> dict:
    """Per clip and overall fraction of left/right depth orders opposite to the truth's.

    before / after: per observation (T, E, 3) camera-frame evaluation joints of the initial
    estimate and of the solve. Returns {"margin_m", "clips": {clip: {"init", "solved"}},
    "all": {"init", "solved"}} (fractions over the pooled pair-frames).
    """
    names = list(skeletons.keypoint_names(eval_format)[:eval_joints])
    tot: dict[str, dict[str, list[int]]] = {}
    for o, b, a in zip(observations, before, after):
        row = tot.setdefault(o.clip, {"init": [0, 0], "solved": [0, 0]})
        for key, est in (("init", b), ("solved", a)):
            opp, cnt = depth_order_errors(est, o.true_3d, o.detected, names, margin)
            row[key][0] += opp
            row[key][1] += cnt
    frac = lambda oc: round(oc[0] / max(oc[1], 1), 4)  # noqa: E731
    clips = {c: {k: frac(v) for k, v in r.items()} for c, r in tot.items()}
    pooled = {k: [sum(r[k][0] for r in tot.values()), sum(r[k][1] for r in tot.values())]
              for k in ("init", "solved")}
    return {"margin_m": margin, "clips": clips, "all": {k: frac(v) for k, v in pooled.items()}}
