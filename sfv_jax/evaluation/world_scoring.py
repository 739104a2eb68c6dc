"""World-frame scoring of the accuracy benchmark: the truth's world motion and floor against the
world motion the pipeline EXPORTS (``export.world_motion``), with ``world_metrics``.

Per clip the truth keeps its world trajectory and the mocap's floor (y = 0, Y up, SMPL's world
frame). Per clip-view the estimate (initial or solved) goes through ``world_motion`` exactly as
the pipeline's outputs do (image size, the focal length the job would assume or the true one,
the export section's ground option), and is scored in that exported frame:
  w_mpjpe, wa_mpjpe (mm) on the evaluation joints; root_accel (mm/frame^2) of their root
  (``eval_root`` midpoint); foot_skate (mm/frame), foot_float (mm) on the foot points
  (``foot_points`` of ``foot_format``) over the truth's contact pairs; ground_penetration (mm)
  of the mesh. The truth scores its own root_accel, foot_skate, foot_float and
  ground_penetration ("*_truth").
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sfv_jax import body, skeletons
from sfv_jax.evaluation import metrics
from sfv_jax.evaluation import world_metrics as wmet
from sfv_jax.evaluation.config import EvaluationSettings
from sfv_jax.export import bvh
from sfv_jax.export.world_motion import WorldMotion

WORLD_KEYS = ("w_mpjpe", "wa_mpjpe", "root_accel", "foot_skate", "foot_float",
              "ground_penetration")
TRUTH_KEYS = ("root_accel_truth", "foot_skate_truth", "foot_float_truth",
              "ground_penetration_truth")


@dataclasses.dataclass(frozen=True)
class WorldTruth:
    """A clip's truth in the world (Y up, floor y = 0, metres).

    joints: (T, E, 3) evaluation joints; root: (T, 3) their ``eval_root`` midpoint;
    feet: (T, F, 3) foot points; contact: (T-1, F) bool planted pairs (``contact_mask``);
    lowest: (T,) lowest mesh point height.
    """
    joints: np.ndarray
    root: np.ndarray
    feet: np.ndarray
    contact: np.ndarray
    lowest: np.ndarray


def foot_indices(cfg: EvaluationSettings) -> tuple[int, ...]:
    """Indices of ``foot_points`` in ``foot_format``; ValueError naming a missing point."""
    names = skeletons.keypoint_names(cfg.foot_format)
    missing = [n for n in cfg.foot_points if n not in names]
    if missing:
        raise ValueError(f"evaluation.foot_points {missing} are not in format {cfg.foot_format!r}")
    return tuple(names.index(n) for n in cfg.foot_points)


@jax.jit
def _points(model: body.BodyModel, pose: jax.Array, betas: jax.Array,
            transl: jax.Array) -> jax.Array:
    return body.forward(model, pose, betas, transl).keypoints


def _forward(model: body.BodyModel, pose: np.ndarray, betas: np.ndarray,
             transl: np.ndarray) -> np.ndarray:
    """(T, K, 3) keypoints of a keypoint model for (T, 72), (B,) one shape, (T, 3), float64."""
    t = pose.shape[0]
    pad = -(-t // 128) * 128 - t  # one compiled shape per 128 frames
    rep = lambda a: np.concatenate([a, np.repeat(a[-1:], pad, 0)])  # noqa: E731
    b = np.broadcast_to(np.asarray(betas, np.float32), (t + pad, np.shape(betas)[-1]))
    out = _points(model, jnp.asarray(rep(pose), jnp.float32), jnp.asarray(b),
                  jnp.asarray(rep(transl), jnp.float32))
    return np.asarray(out, np.float64)[:t]


def _root(joints: np.ndarray, root: tuple[int, ...]) -> np.ndarray:
    return joints[:, list(root)].mean(axis=1)


def world_truth(pose: np.ndarray, betas: np.ndarray, transl: np.ndarray, full: body.BodyModel,
                evaluate: body.BodyModel, feet: body.BodyModel, root: tuple[int, ...],
                cfg: EvaluationSettings) -> WorldTruth:
    """``WorldTruth`` of a world-frame truth: pose (T, 72), betas (B,), transl (T, 3).

    evaluate / feet: keypoint models of ``eval_format`` / ``foot_format``; root: indices of the
    evaluation root among the first ``eval_joints`` points.
    """
    joints = _forward(evaluate, pose, betas, transl)[:, :cfg.eval_joints]
    fp = _forward(feet, pose, betas, transl)[:, list(foot_indices(cfg))]
    contact = np.asarray(wmet.contact_mask(fp, cfg.contact_height, cfg.contact_still))
    lowest = bvh.lowest_mesh_points(full, pose, betas, transl, np.eye(3))
    return WorldTruth(joints=joints, root=_root(joints, root), feet=fp, contact=contact,
                      lowest=lowest)


def truth_figures(wt: WorldTruth) -> dict[str, float]:
    """The truth's own root_accel (mm/frame^2), foot_skate (mm/frame), foot_float and
    ground_penetration (mm)."""
    low = wt.lowest[:, None, None] * np.array([0.0, 1.0, 0.0])  # (T, 1, 3) lowest point
    return {"root_accel_truth": _mm(wmet.root_accel(wt.root)),
            "foot_skate_truth": _mm(wmet.foot_skate(wt.feet, wt.contact)),
            "foot_float_truth": _mm(wmet.foot_float(wt.feet, wt.contact)),
            "ground_penetration_truth": _mm(wmet.ground_penetration(low))}


def _mm(x: Any) -> float:
    return float(metrics.to_mm(x))


@functools.partial(jax.jit, static_argnames=())
def _scores(joints: jax.Array, true_joints: jax.Array, root: jax.Array, feet: jax.Array,
            contact: jax.Array, lowest: jax.Array) -> dict[str, jax.Array]:
    low = lowest[:, None, None] * jnp.array([0.0, 1.0, 0.0], lowest.dtype)
    return {"w_mpjpe": wmet.w_mpjpe(joints, true_joints),
            "wa_mpjpe": wmet.wa_mpjpe(joints, true_joints),
            "root_accel": wmet.root_accel(root),
            "foot_skate": wmet.foot_skate(feet, contact),
            "foot_float": wmet.foot_float(feet, contact),
            "ground_penetration": wmet.ground_penetration(low)}


def score_world(wm: WorldMotion, wt: WorldTruth, full: body.BodyModel,
                evaluate: body.BodyModel, feet: body.BodyModel, root: tuple[int, ...],
                cfg: EvaluationSettings) -> dict[str, float]:
    """World metrics (``WORLD_KEYS``, mm units) of an exported world motion against the truth."""
    joints = _forward(evaluate, wm.pose, wm.betas, wm.transl)[:, :cfg.eval_joints]
    fp = _forward(feet, wm.pose, wm.betas, wm.transl)[:, list(foot_indices(cfg))]
    lowest = bvh.lowest_mesh_points(full, wm.pose, wm.betas, wm.transl, np.eye(3))
    res = _scores(*(jnp.asarray(a, jnp.float32) for a in
                    (joints, wt.joints, _root(joints, root), fp)),
                  jnp.asarray(wt.contact), jnp.asarray(lowest, jnp.float32))
    return {k: _mm(v) for k, v in res.items()}
