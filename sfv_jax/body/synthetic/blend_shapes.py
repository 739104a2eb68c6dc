"""The synthetic body's blend shapes: the documented shape components and the pose blend shapes.

Part of ``sfv_jax.body.synthetic`` (the package docstring says how the body is made).
"""
from __future__ import annotations

import numpy as np

from sfv_jax import skeletons
from sfv_jax.body.synthetic.proportions import _JI


def _vertex_normals(pos: np.ndarray, faces: np.ndarray) -> np.ndarray:
    fn = np.cross(pos[faces[:, 1]] - pos[faces[:, 0]], pos[faces[:, 2]] - pos[faces[:, 0]])
    n = np.zeros_like(pos)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _smoothstep(x: np.ndarray, a: float, b: float) -> np.ndarray:
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _soft_relu(x: np.ndarray, width: float) -> np.ndarray:
    """max(x, 0) with the corner rounded over ``width`` (C1), for stretch fields."""
    return np.where(x > width, x - 0.5 * width, np.where(x > 0, 0.5 * x * x / width, 0.0))


def _bone_radial(pos: np.ndarray, w: np.ndarray, J: np.ndarray,
                 coef: np.ndarray) -> np.ndarray:
    """sum_b w_b coef_b (v - closest point on bone b's segment): girth change about bones."""
    child = {}
    for c, p in enumerate(skeletons.SMPL_PARENTS):
        if p >= 0 and p not in child:
            child[p] = c
    out = np.zeros_like(pos)
    for b in range(skeletons.NUM_SMPL_JOINTS):
        if coef[b] == 0 or not np.any(w[:, b] > 0):
            continue
        a = J[b]
        e = J[child[b]] if b in child else J[b] + (J[b] - J[skeletons.SMPL_PARENTS[b]])
        if b in (_JI["pelvis"], _JI["spine1"], _JI["spine2"], _JI["spine3"]):
            a, e = np.array([0, J[b][1] - 0.2, J[b][2]]), np.array([0, J[b][1] + 0.2, J[b][2]])
        seg = e - a
        t = np.clip(((pos - a) @ seg) / (seg @ seg), 0.0, 1.0)
        q = a + t[:, None] * seg
        out += (w[:, b] * coef[b])[:, None] * (pos - q)
    # Near the midline (inner thighs, crotch) growth toward the other side would make the
    # legs collide: fade it out there.
    inward = out[:, 0] * np.sign(pos[:, 0]) < 0
    out[:, 0] *= np.where(inward, _smoothstep(np.abs(pos[:, 0]), 0.0, 0.06), 1.0)
    return out


def _shape_dirs(pos: np.ndarray, w: np.ndarray, J: np.ndarray, faces: np.ndarray,
                num_betas: int, rng: np.random.Generator) -> np.ndarray:
    ji = _JI
    x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
    ax, sx = np.abs(x), np.sign(x)
    nj = skeletons.NUM_SMPL_JOINTS
    torso_b = [ji[n] for n in ("pelvis", "spine1", "spine2", "spine3")]
    arm_b = [ji[f"{s}_{n}"] for s in ("left", "right") for n in ("shoulder", "elbow", "wrist",
                                                                  "hand")]
    leg_b = [ji[f"{s}_{n}"] for s in ("left", "right") for n in ("hip", "knee", "ankle", "foot")]
    head_b = [ji["neck"], ji["head"]]
    col_b = [ji["left_collar"], ji["right_collar"]]
    hip_y, sh_x = J[ji["left_hip"], 1], J[ji["left_shoulder"], 0]
    pel_y, neck_y = J[ji["pelvis"], 1], J[ji["neck"], 1]
    dirs = []
    # 0 stature
    dirs.append(0.055 * pos)
    # 1 weight (girth about all bones)
    coef = np.zeros(nj)
    coef[torso_b + col_b] = 0.10
    coef[arm_b + leg_b] = 0.07
    coef[head_b] = 0.02
    dirs.append(_bone_radial(pos, w, J, coef))
    # 2 leg length: stretch below the hips (y only, continuous at the hip line)
    d = np.zeros_like(pos)
    d[:, 1] = -0.06 * _soft_relu(hip_y + 0.02 - y, 0.04)
    dirs.append(d)
    # 3 arm length: stretch outboard of the shoulders
    d = np.zeros_like(pos)
    d[:, 0] = 0.065 * sx * _soft_relu(ax - sh_x, 0.04)
    dirs.append(d)
    # 4 shoulder width
    d = np.zeros_like(pos)
    d[:, 0] = 0.015 * sx * _smoothstep(ax, 0.04, sh_x) * _smoothstep(y, J[ji["spine2"], 1],
                                                                     J[ji["spine3"], 1] + 0.06)
    dirs.append(d)
    # 5 hip width
    d = np.zeros_like(pos)
    d[:, 0] = 0.012 * sx * _smoothstep(ax, 0.0, 0.09) * _smoothstep(y, J[ji["spine1"], 1],
                                                                    pel_y)
    dirs.append(d)
    # 6 torso length: stretch the spine between pelvis and neck
    d = np.zeros_like(pos)
    d[:, 1] = 0.03 * np.clip((y - pel_y) / (neck_y - pel_y), 0.0, 1.0)
    dirs.append(d)
    # 7 head size about the upper neck
    top_neck = np.array([0.0, J[ji["neck"], 1] + 0.03, J[ji["neck"], 2]])
    dirs.append(0.06 * (pos - top_neck) * _smoothstep(y, neck_y - 0.01, neck_y + 0.05)[:, None])
    # 8 torso depth
    d = np.zeros_like(pos)
    wt = w[:, torso_b].sum(axis=1) + 0.5 * w[:, col_b].sum(axis=1)
    d[:, 2] = 0.10 * (z - 0.0) * wt
    dirs.append(d)
    # 9 limb girth
    coef = np.zeros(nj)
    coef[arm_b + leg_b] = 0.08
    dirs.append(_bone_radial(pos, w, J, coef))
    # seed: +-10% magnitudes
    mags = 1.0 + 0.1 * np.clip(rng.standard_normal(len(dirs)), -2, 2)
    dirs = [m * dd for m, dd in zip(mags, dirs)]
    # extra components: smooth random bulges along the normal, decreasing in size
    if num_betas > len(dirs):
        nrm = _vertex_normals(pos, faces)
        for k in range(len(dirs), num_betas):
            c = pos[rng.integers(len(pos))]
            g = np.exp(-np.sum((pos - c) ** 2, axis=1) / (2 * 0.08 ** 2))
            dirs.append((0.01 / (1 + 0.1 * k)) * g[:, None] * nrm)
    return np.stack(dirs[:num_betas], axis=-1)


def _pose_dirs(pos: np.ndarray, w: np.ndarray, J: np.ndarray, faces: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    nrm = _vertex_normals(pos, faces)
    nj = skeletons.NUM_SMPL_JOINTS
    out = np.zeros((len(pos), 3, 9 * (nj - 1)))
    amp = rng.normal(0.0, 0.004, size=(nj - 1, 9))
    for jj in range(1, nj):
        par = skeletons.SMPL_PARENTS[jj]
        local = w[:, jj] + w[:, par]
        g = np.exp(-np.sum((pos - J[jj]) ** 2, axis=1) / (2 * 0.06 ** 2)) * local
        out[:, :, 9 * (jj - 1):9 * jj] = (g[:, None] * nrm)[:, :, None] * amp[jj - 1]
    return out
