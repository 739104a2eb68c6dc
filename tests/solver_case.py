"""The solver tests' shared case: a tiny SMPL-format body, solver configs and synthetic clips."""
import numpy as np

from sfv_jax import body
from sfv_jax.solver import make_synthetic_clip, solver_config

# A tiny SMPL-format body (2 vertices per joint + 6 head landmarks), cocoplus keypoints.
_JOINTS = np.array([
    (0, 0, 0), (0.1, -0.08, 0), (-0.1, -0.08, 0), (0, 0.1, 0), (0.1, -0.45, 0),
    (-0.1, -0.45, 0), (0, 0.25, 0), (0.1, -0.85, 0), (-0.1, -0.85, 0), (0, 0.3, 0),
    (0.1, -0.9, 0.1), (-0.1, -0.9, 0.1), (0, 0.5, 0), (0.08, 0.45, 0), (-0.08, 0.45, 0),
    (0, 0.6, 0), (0.18, 0.45, 0), (-0.18, 0.45, 0), (0.45, 0.45, 0), (-0.45, 0.45, 0),
    (0.7, 0.45, 0), (-0.7, 0.45, 0), (0.78, 0.45, 0), (-0.78, 0.45, 0)])
_LANDMARKS = {"nose": (0, 0.62, 0.1), "left_eye": (0.03, 0.65, 0.08),
              "right_eye": (-0.03, 0.65, 0.08), "left_ear": (0.07, 0.63, 0),
              "right_ear": (-0.07, 0.63, 0), "head_top": (0, 0.75, 0)}


def tiny_model(seed: int = 0) -> body.BodyModel:
    rng = np.random.default_rng(seed)
    verts, weights, ids = [], [], {}
    for j, p in enumerate(_JOINTS):
        for sign in (1, -1):
            verts.append(p + sign * np.array([0.02, 0.015, 0.01]))
            w = np.zeros(24)
            w[j], w[max(j - 1, 0)] = 0.7, 0.3   # blended skinning, two joints per vertex
            weights.append(w / w.sum())
    for name, p in _LANDMARKS.items():
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


MODEL = tiny_model()


def config(**overrides):
    cfg = solver_config()
    cfg.adam.iterations = 30
    cfg.progress_every = 10
    cfg.bucket_lengths = (32, 64)
    for k, v in overrides.items():
        node, *rest = k.split(".")
        if rest:
            cfg[node][rest[0]] = v
        else:
            cfg[k] = v
    return cfg


def clips(lengths, seed=0):
    return [make_synthetic_clip(MODEL, n, seed=seed + i)[0] for i, n in enumerate(lengths)]
