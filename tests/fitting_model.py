"""A small humanoid body model for fitting tests (SMPL's tree and joint layout, ~130 vertices).

Not SMPL: joints at roughly SMPL's rest positions (metres, Y up, facing +Z), a cluster of four
vertices skinned rigidly to each joint, single vertices for the face / feet landmarks of BODY_25,
random shape directions. Small so that the fitting tests compile and run in seconds.
"""
from __future__ import annotations

import numpy as np

from sfv_jax import body, skeletons

REST_JOINTS = np.asarray([
    [0.0, 0.0, 0.0], [0.07, -0.09, 0.0], [-0.07, -0.09, 0.0], [0.0, 0.11, -0.01],
    [0.11, -0.47, 0.0], [-0.11, -0.47, 0.0], [0.0, 0.25, 0.0], [0.09, -0.87, -0.04],
    [-0.09, -0.87, -0.04], [0.0, 0.31, 0.02], [0.12, -0.93, 0.08], [-0.12, -0.93, 0.08],
    [0.0, 0.52, -0.01], [0.08, 0.42, 0.0], [-0.08, 0.42, 0.0], [0.0, 0.6, 0.04],
    [0.19, 0.45, -0.01], [-0.19, 0.45, -0.01], [0.45, 0.43, -0.03], [-0.45, 0.43, -0.03],
    [0.71, 0.44, -0.03], [-0.71, 0.44, -0.03], [0.8, 0.44, -0.04], [-0.8, 0.44, -0.04],
])
# Landmark name -> (position, joint it is skinned to).
LANDMARKS = {
    "nose": ([0.0, 0.62, 0.12], 15), "left_eye": ([0.035, 0.66, 0.09], 15),
    "right_eye": ([-0.035, 0.66, 0.09], 15), "left_ear": ([0.075, 0.63, 0.0], 15),
    "right_ear": ([-0.075, 0.63, 0.0], 15), "head_top": ([0.0, 0.78, 0.02], 15),
    "left_big_toe": ([0.1, -0.95, 0.18], 10), "right_big_toe": ([-0.1, -0.95, 0.18], 11),
    "left_small_toe": ([0.15, -0.95, 0.15], 10), "right_small_toe": ([-0.15, -0.95, 0.15], 11),
    "left_heel": ([0.09, -0.95, -0.06], 7), "right_heel": ([-0.09, -0.95, -0.06], 8),
}


def small_model(keypoints: str = "body25", seed: int = 0) -> body.BodyModel:
    rng = np.random.default_rng(seed)
    nj = skeletons.NUM_SMPL_JOINTS
    tet = 0.02 * np.asarray([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float)
    verts, owner = [], []
    for j in range(nj):
        verts += list(REST_JOINTS[j] + tet)
        owner += [j] * 4
    lm_ids = {}
    for name, (pos, j) in LANDMARKS.items():
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
