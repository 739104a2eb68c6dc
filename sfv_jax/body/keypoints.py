"""Keypoint sets of a body model, all in one linear representation.

A keypoint set of K points is a (K, V) vertex regressor plus a (K, 24) joint weight matrix:
``keypoints = vertex_regressor @ vertices + joint_weights @ joints``. This covers

  - HMR's cocoplus-19 from the model file's ``cocoplus_regressor`` (vertex rows only);
  - formats of ``skeletons.FORMATS`` (cocoplus, body25, coco18, coco17) built from SMPL
    joints and single surface vertices (nose, eyes, ears, toes, heels, head top);
  - ``"smpl24"``: the 24 SMPL joints themselves;
  - a regressor the user gives.

Functions here build the matrices with NumPy (model-building time, not traced).
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from sfv_jax import skeletons

__all__ = [
    "SMPL_LANDMARK_VERTEX_IDS", "SMPL_JOINT_FOR_POINT", "KeypointSet", "build_keypoint_set",
    "SMPL24",
]

SMPL24 = "smpl24"

# Surface points on SMPL's own topology (6890 vertices). Face and feet ids are smplx's
# vertex_ids['smplh'] facts; the head top (411) is the vertex SFV/HMR use.
SMPL_LANDMARK_VERTEX_IDS: Mapping[str, int] = {
    "nose": 332, "right_eye": 6260, "left_eye": 2800, "right_ear": 4071, "left_ear": 583,
    "left_big_toe": 3216, "left_small_toe": 3226, "left_heel": 3387,
    "right_big_toe": 6617, "right_small_toe": 6624, "right_heel": 6787,
    "head_top": 411,
}
SMPL_NUM_VERTICES = 6890

# Canonical points taken from an SMPL joint (OpenPose-to-SMPL correspondences as used by
# SMPLify-X / SPIN: neck = SMPL neck, mid-hip = pelvis).
SMPL_JOINT_FOR_POINT: Mapping[str, int] = {
    "neck": 12, "mid_hip": 0,
    "right_shoulder": 17, "right_elbow": 19, "right_wrist": 21,
    "left_shoulder": 16, "left_elbow": 18, "left_wrist": 20,
    "right_hip": 2, "right_knee": 5, "right_ankle": 8,
    "left_hip": 1, "left_knee": 4, "left_ankle": 7,
}


@dataclasses.dataclass(frozen=True)
class KeypointSet:
    """A keypoint set: names, format tag, vertex_regressor (K, V), joint_weights (K, J)."""

    names: tuple[str, ...]
    fmt: str
    vertex_regressor: np.ndarray
    joint_weights: np.ndarray


def _landmark_rows(names: Sequence[str], num_vertices: int, num_joints: int,
                   landmarks: Mapping[str, int], where: str) -> tuple[np.ndarray, np.ndarray]:
    vreg = np.zeros((len(names), num_vertices))
    jw = np.zeros((len(names), num_joints))
    missing = []
    for k, name in enumerate(names):
        if name in SMPL_JOINT_FOR_POINT and SMPL_JOINT_FOR_POINT[name] < num_joints:
            jw[k, SMPL_JOINT_FOR_POINT[name]] = 1.0
        elif name in landmarks:
            vid = int(landmarks[name])
            if not 0 <= vid < num_vertices:
                raise ValueError(f"{where}: landmark vertex id {vid} for {name!r} is outside "
                                 f"0..{num_vertices - 1}")
            vreg[k, vid] = 1.0
        else:
            missing.append(name)
    if missing:
        raise ValueError(
            f"{where}: cannot build keypoints {missing}: they are neither SMPL joints nor "
            f"landmark vertices of this model (landmarks known: {sorted(landmarks)})")
    return vreg, jw


def build_keypoint_set(spec: str | np.ndarray, num_vertices: int, num_joints: int = 24, *,
                       landmarks: Mapping[str, int] | None = None,
                       cocoplus_regressor: np.ndarray | None = None,
                       joint_weights: np.ndarray | None = None,
                       names: Sequence[str] | None = None,
                       where: str = "model") -> KeypointSet:
    """Builds a keypoint set (NumPy, float64).

    Args:
      spec: ``"auto"`` (cocoplus when the model has a cocoplus regressor or the landmarks to
        build it, else ``"smpl24"``), a format name of ``skeletons.FORMATS``, ``"smpl24"``,
        or a user vertex regressor (K, V).
      num_vertices, num_joints: V and J of the model.
      landmarks: canonical point name -> vertex id.
      cocoplus_regressor: (19, V) dense, HMR's cocoplus regressor, or None.
      joint_weights: (K, J) for a user regressor (default zeros).
      names: K names for a user regressor (default ``kp0``, ``kp1``, ...).
      where: text naming the model in errors.
    """
    landmarks = dict(landmarks or {})
    if isinstance(spec, str):
        if spec == "auto":
            coco_names = skeletons.FORMATS["cocoplus"]
            can = cocoplus_regressor is not None or all(
                n in SMPL_JOINT_FOR_POINT or n in landmarks for n in coco_names)
            spec = "cocoplus" if can else SMPL24
        if spec == SMPL24:
            return KeypointSet(skeletons.SMPL_JOINT_NAMES[:num_joints], SMPL24,
                               np.zeros((num_joints, num_vertices)), np.eye(num_joints))
        if spec == "cocoplus" and cocoplus_regressor is not None:
            reg = np.asarray(cocoplus_regressor, dtype=np.float64)
            if reg.shape != (19, num_vertices):
                raise ValueError(f"{where}: 'cocoplus_regressor' has shape {reg.shape}, "
                                 f"expected (19, {num_vertices})")
            return KeypointSet(skeletons.FORMATS["cocoplus"], "cocoplus", reg,
                               np.zeros((19, num_joints)))
        if spec not in skeletons.FORMATS:
            raise ValueError(f"{where}: unknown keypoint set {spec!r}; known: 'auto', "
                             f"{SMPL24!r}, {sorted(skeletons.FORMATS)} or a (K, V) regressor")
        kp_names = skeletons.FORMATS[spec]
        vreg, jw = _landmark_rows(kp_names, num_vertices, num_joints, landmarks, where)
        return KeypointSet(kp_names, spec, vreg, jw)

    reg = np.asarray(spec.toarray() if hasattr(spec, "toarray") else spec, dtype=np.float64)
    if reg.ndim != 2 or reg.shape[1] != num_vertices:
        raise ValueError(f"{where}: keypoint regressor has shape {reg.shape}, expected "
                         f"(K, {num_vertices})")
    k = reg.shape[0]
    jw = (np.zeros((k, num_joints)) if joint_weights is None
          else np.asarray(joint_weights, dtype=np.float64))
    if jw.shape != (k, num_joints):
        raise ValueError(f"{where}: joint_weights has shape {jw.shape}, expected ({k}, "
                         f"{num_joints})")
    kp_names = tuple(names) if names is not None else tuple(f"kp{i}" for i in range(k))
    if len(kp_names) != k:
        raise ValueError(f"{where}: {len(kp_names)} names given for {k} keypoints")
    if not (np.all(np.isfinite(reg)) and np.all(np.isfinite(jw))):
        raise ValueError(f"{where}: keypoint regressor holds non-finite values")
    return KeypointSet(kp_names, "custom", reg, jw)
