"""Small SMPL-format test bodies: a few vertices per joint, so tests compile and run in seconds.

  tiny_body   54 vertices, cocoplus-19 keypoints (solver tests, sharding subprocesses)
  small_body  ~110 vertices on SMPL's tree with BODY_25's landmarks (fitting, tracking, overlay)

Neither is SMPL, nor the synthetic SMPL-format body of ``sfv_jax.body.synthetic`` (a full
surface); both are built with ``body.from_arrays``.
"""
from __future__ import annotations

import numpy as np

from sfv_jax import body, skeletons

# A tiny SMPL-format body (2 vertices per joint + 6 head landmarks), cocoplus keypoints.
_TINY_JOINTS = np.array([
    (0, 0, 0), (0.1, -0.08, 0), (-0.1, -0.08, 0), (0, 0.1, 0), (0.1, -0.45, 0),
    (-0.1, -0.45, 0), (0, 0.25, 0), (0.1, -0.85, 0), (-0.1, -0.85, 0), (0, 0.3, 0),
    (0.1, -0.9, 0.1), (-0.1, -0.9, 0.1), (0, 0.5, 0), (0.08, 0.45, 0), (-0.08, 0.45, 0),
    (0, 0.6, 0), (0.18, 0.45, 0), (-0.18, 0.45, 0), (0.45, 0.45, 0), (-0.45, 0.45, 0),
    (0.7, 0.45, 0), (-0.7, 0.45, 0), (0.78, 0.45, 0), (-0.78, 0.45, 0)])
_TINY_LANDMARKS = {"nose": (0, 0.62, 0.1), "left_eye": (0.03, 0.65, 0.08),
                   "right_eye": (-0.03, 0.65, 0.08), "left_ear": (0.07, 0.63, 0),
                   "right_ear": (-0.07, 0.63, 0), "head_top": (0, 0.75, 0)}


def tiny_body(seed: int = 0) -> body.BodyModel:
    """A 54-vertex SMPL-format body with cocoplus-19 keypoints (the solver tests' body).

    Two vertices per joint (skinned to the joint and its predecessor in index order) and six
    head landmarks; random shape / pose blend shapes; one face. ``seed``: the blend shapes.
    """
    rng = np.random.default_rng(seed)
    verts, weights, ids = [], [], {}
    for j, p in enumerate(_TINY_JOINTS):
        for sign in (1, -1):
            verts.append(p + sign * np.array([0.02, 0.015, 0.01]))
            w = np.zeros(24)
            w[j], w[max(j - 1, 0)] = 0.7, 0.3   # blended skinning, two joints per vertex
            weights.append(w / w.sum())
    for name, p in _TINY_LANDMARKS.items():
        ids[name] = len(verts)
        verts.append(np.array(p))
        w = np.zeros(24)
        w[15], w[12] = 0.8, 0.2
        weights.append(w)
    v = np.asarray(verts)
    jreg = np.zeros((24, len(v)))
    for j in range(24):
        jreg[j, 2 * j] = jreg[j, 2 * j + 1] = 0.5
    arrays = dict(v_template=v, shapedirs=rng.normal(size=(len(v), 3, 10)) * 0.02,
                  posedirs=rng.normal(size=(len(v), 3, 207)) * 0.002, J_regressor=jreg,
                  weights=np.asarray(weights), f=np.array([[0, 1, 2]]))
    return body.from_arrays(arrays, keypoints="cocoplus", landmark_vertex_ids=ids, name="tiny")


# Joints at roughly SMPL's rest positions (metres, Y up, facing +Z).
_SMALL_JOINTS = np.asarray([
    [0.0, 0.0, 0.0], [0.07, -0.09, 0.0], [-0.07, -0.09, 0.0], [0.0, 0.11, -0.01],
    [0.11, -0.47, 0.0], [-0.11, -0.47, 0.0], [0.0, 0.25, 0.0], [0.09, -0.87, -0.04],
    [-0.09, -0.87, -0.04], [0.0, 0.31, 0.02], [0.12, -0.93, 0.08], [-0.12, -0.93, 0.08],
    [0.0, 0.52, -0.01], [0.08, 0.42, 0.0], [-0.08, 0.42, 0.0], [0.0, 0.6, 0.04],
    [0.19, 0.45, -0.01], [-0.19, 0.45, -0.01], [0.45, 0.43, -0.03], [-0.45, 0.43, -0.03],
    [0.71, 0.44, -0.03], [-0.71, 0.44, -0.03], [0.8, 0.44, -0.04], [-0.8, 0.44, -0.04],
])
# Landmark name -> (position, joint it is skinned to).
_SMALL_LANDMARKS = {
    "nose": ([0.0, 0.62, 0.12], 15), "left_eye": ([0.035, 0.66, 0.09], 15),
    "right_eye": ([-0.035, 0.66, 0.09], 15), "left_ear": ([0.075, 0.63, 0.0], 15),
    "right_ear": ([-0.075, 0.63, 0.0], 15), "head_top": ([0.0, 0.78, 0.02], 15),
    "left_big_toe": ([0.1, -0.95, 0.18], 10), "right_big_toe": ([-0.1, -0.95, 0.18], 11),
    "left_small_toe": ([0.15, -0.95, 0.15], 10), "right_small_toe": ([-0.15, -0.95, 0.15], 11),
    "left_heel": ([0.09, -0.95, -0.06], 7), "right_heel": ([-0.09, -0.95, -0.06], 8),
}


def small_body(keypoints: str = "body25", seed: int = 0) -> body.BodyModel:
    """A ~110-vertex humanoid on SMPL's tree (the fitting tests' body), keypoint set ``keypoints``.

    Joints at roughly SMPL's rest positions (metres, Y up, facing +Z), four vertices skinned
    rigidly to each joint, single vertices for BODY_25's face / feet landmarks, random shape
    directions (``seed``). Not SMPL.
    """
    rng = np.random.default_rng(seed)
    nj = skeletons.NUM_SMPL_JOINTS
    tet = 0.02 * np.asarray([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float)
    verts, owner = [], []
    for j in range(nj):
        verts += list(_SMALL_JOINTS[j] + tet)
        owner += [j] * 4
    lm_ids = {}
    for name, (pos, j) in _SMALL_LANDMARKS.items():
        lm_ids[name] = len(verts)
        verts.append(pos)
        owner.append(j)
    v = np.asarray(verts)
    nv = len(v)
    weights = np.zeros((nv, nj))
    weights[np.arange(nv), owner] = 1.0
    jreg = np.zeros((nj, nv))
    for j in range(nj):
        jreg[j, 4 * j:4 * j + 4] = 0.25
    faces = np.asarray([[4 * j, 4 * j + 1, 4 * j + 2] for j in range(nj)])
    arrays = {
        "v_template": v, "shapedirs": 0.02 * rng.standard_normal((nv, 3, 10)),
        "posedirs": 0.001 * rng.standard_normal((nv, 3, 207)), "J_regressor": jreg,
        "weights": weights, "f": faces,
        "kintree_table": np.stack([np.asarray(skeletons.SMPL_PARENTS), np.arange(nj)]),
    }
    return body.from_arrays(arrays, keypoints=keypoints, landmark_vertex_ids=lm_ids,
                            name="small_test_model")
