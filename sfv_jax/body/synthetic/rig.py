"""The synthetic body's rig: skinning weights, joint and cocoplus regressors, surface landmarks.

Part of ``sfv_jax.body.synthetic`` (the package docstring says how the body is made).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls

from sfv_jax import skeletons
from sfv_jax.body.synthetic.proportions import _ARM_L, _ARM_R, _HEAD, _JI, _LEG_L, _LEG_R, _TORSO
from sfv_jax.body.synthetic.surface import _Implicit
from sfv_jax.body.synthetic.mesh import _G_HEAD, _adjacency, _cast


def _labels(pos: np.ndarray, part: np.ndarray, J: np.ndarray) -> np.ndarray:
    """Hard bone label per vertex (SMPL convention: a vertex follows its segment's joint)."""
    ji = _JI
    x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
    ax = np.abs(x)
    lab = np.zeros(len(pos), dtype=np.int64)
    # limbs know their side from their part; the trunk from the sign of x
    left = np.where(part >= _ARM_L, (part == _ARM_L) | (part == _LEG_L), x > 0)
    side = lambda name: np.where(left, ji["left_" + name], ji["right_" + name])  # noqa: E731
    jy = lambda name: J[ji[name], 1]  # noqa: E731

    t = part == _TORSO
    lab[t] = ji["pelvis"]
    lab[t & (y > 0.5 * (jy("pelvis") + jy("spine1")))] = ji["spine1"]
    lab[t & (y > 0.5 * (jy("spine1") + jy("spine2")))] = ji["spine2"]
    lab[t & (y > 0.5 * (jy("spine2") + jy("spine3")))] = ji["spine3"]
    col = t & (y > jy("spine3") + 0.07) & (ax > 0.6 * J[ji["left_collar"], 0])
    lab[col] = side("collar")[col]

    hm = part == _HEAD
    lab[hm] = ji["spine3"]
    col = hm & (y > jy("spine3") + 0.07) & (ax > 0.6 * J[ji["left_collar"], 0])
    lab[col] = side("collar")[col]
    lab[hm & (y > jy("neck") - 0.01)] = ji["neck"]
    hz = J[ji["head"], 2]
    lab[hm & (y + 0.4 * (z - hz) > jy("head"))] = ji["head"]

    am = (part == _ARM_L) | (part == _ARM_R)
    lab[am] = side("collar")[am]
    for name in ("shoulder", "elbow", "wrist", "hand"):
        sel = am & (ax > J[ji["left_" + name], 0] - (0.02 if name == "shoulder" else 0.0))
        lab[sel] = side(name)[sel]

    lm = (part == _LEG_L) | (part == _LEG_R)
    lab[lm] = side("hip")[lm]
    sel = lm & (y < jy("left_knee"))
    lab[sel] = side("knee")[sel]
    sel = lm & (y < jy("left_ankle"))
    lab[sel] = side("ankle")[sel]
    sel = lm & (y < jy("left_ankle")) & (z > J[ji["left_foot"], 2] - 0.01)
    lab[sel] = side("foot")[sel]
    return lab


def _skin_weights(pos: np.ndarray, faces: np.ndarray, part: np.ndarray, J: np.ndarray,
                  h: float, blend: float = 0.035) -> np.ndarray:
    """(V, 24) skinning weights: part/position labels diffused over ~``blend`` metres."""
    lab = _labels(pos, part, J)
    w = np.zeros((len(pos), skeletons.NUM_SMPL_JOINTS))
    w[np.arange(len(pos)), lab] = 1.0
    a = _adjacency(faces, len(pos))
    avg = sp.diags(1.0 / np.asarray(a.sum(axis=1)).ravel()) @ a
    iters = max(2, int(np.ceil(2.0 * (blend / h) ** 2)))
    for _ in range(iters):  # lazy random walk: diffuses ~blend across each boundary
        w = 0.5 * w + 0.5 * (avg @ w)
    w[w < 1e-2] = 0.0  # keep the weights sparse and local, like SMPL's
    return w / w.sum(axis=1, keepdims=True)


def _fib_dirs(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    th = np.pi * (1 + 5 ** 0.5) * i
    return np.stack([np.cos(th) * np.sin(phi), np.cos(phi), np.sin(th) * np.sin(phi)], axis=1)


def _surround_weights(pos: np.ndarray, target: np.ndarray, radius: float,
                      n_dirs: int = 64, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Vertex ids and non-negative, sum-to-one weights whose combination lands on target.

    One nearest vertex per direction cone around ``target`` (within ``radius``), then a
    non-negative least-squares fit regularized toward equal weights. On coarse meshes the
    cones widen and the radius grows until the vertices enclose the target.
    """
    d = pos - target
    dist = np.linalg.norm(d, axis=1)
    u = d / np.maximum(dist, 1e-12)[:, None]
    cos_all = u @ _fib_dirs(n_dirs).T  # (V, D)
    best_fit = None
    for grow in range(4):
        r, min_cos = radius * (1 + 0.5 * grow), 0.85 - 0.1 * grow
        near = np.nonzero(dist < r)[0]
        if len(near) < 4:
            continue
        score = np.where(cos_all[near] > min_cos, dist[near][:, None], np.inf)
        best = np.argmin(score, axis=0)
        ok = np.isfinite(score[best, np.arange(n_dirs)])
        ids = np.unique(near[best[ok]])
        n = len(ids)
        wp, ws, mu = 1e3, 1e3, 3e-2
        a = np.concatenate([wp * pos[ids].T, ws * np.ones((1, n)), np.sqrt(mu) * np.eye(n)])
        b = np.concatenate([wp * target, [ws], np.sqrt(mu) * np.full(n, 1.0 / n)])
        w, _ = nnls(a, b, maxiter=50 * n)
        keep = w > 1e-4
        ids, w = ids[keep], w[keep] / w[keep].sum()
        err = float(np.linalg.norm(w @ pos[ids] - target))
        if best_fit is None or err < best_fit[0]:
            best_fit = (err, ids, w)
        if err < 1e-4:
            break
    if best_fit is None:
        raise RuntimeError(f"synthetic body: too few vertices around {where}")
    return best_fit[1], best_fit[2]


def _regressor(rows: list[tuple[np.ndarray, np.ndarray]], nv: int) -> sp.csc_matrix:
    r = np.concatenate([np.full(len(ids), k) for k, (ids, _) in enumerate(rows)])
    c = np.concatenate([ids for ids, _ in rows])
    v = np.concatenate([w for _, w in rows])
    return sp.csc_matrix((v, (r, c)), shape=(len(rows), nv))


def _landmark_points(imp: _Implicit, J: np.ndarray, info: dict[str, Any]) -> dict[str, np.ndarray]:
    j = {n: J[i] for i, n in enumerate(skeletons.SMPL_JOINT_NAMES)}
    hc, hs = info["head_c"], info["hs"]
    pts: dict[str, tuple[np.ndarray, np.ndarray, frozenset | None]] = {}
    face_c = np.array([0.0, hc[1], hc[2] - 0.01])
    for s, side in ((1.0, "left"), (-1.0, "right")):
        eye_y = info["nose_c"][1] + 0.02 * hs
        for nm, ang in (("eye", 0.33), ("eye_inner", 0.2), ("eye_outer", 0.48)):
            pts[f"{side}_{nm}"] = (np.array([0, eye_y, face_c[2]]),
                                   np.array([s * np.sin(ang), 0, np.cos(ang)]), _G_HEAD)
        pts[f"mouth_{side}"] = (np.array([0, info["nose_c"][1] - 0.05 * hs, face_c[2]]),
                                np.array([s * np.sin(0.3), 0, np.cos(0.3)]), _G_HEAD)
        pts[f"{side}_ear"] = (np.array([0, hc[1] - 0.005, hc[2] - 0.02]), np.array([s, 0, 0.0]),
                              _G_HEAD)
        an = j["left_ankle"] * np.array([s, 1, 1])
        fy = info["sole_y"] + 0.015
        fc = np.array([an[0] + 0.006 * s, fy, an[2] + 0.085])
        grp = frozenset({f"leg_{side[0]}"})
        pts[f"{side}_heel"] = (fc, np.array([0, 0, -1.0]), grp)
        pts[f"{side}_big_toe"] = (fc - np.array([0.018 * s, 0, 0]), np.array([0, 0, 1.0]), grp)
        pts[f"{side}_small_toe"] = (fc + np.array([0.022 * s, 0, -0.03]),
                                    np.array([0, 0, 1.0]), grp)
        pts[f"{side}_foot_index"] = (fc, np.array([0, 0, 1.0]), grp)
        wr = j["left_wrist"] * np.array([s, 1, 1])
        grp = frozenset({f"arm_{side[0]}"})
        hcn = wr + np.array([0.09 * s, -0.006, 0.0])
        pts[f"{side}_index"] = (hcn + np.array([0, 0, 0.025]), np.array([s, 0, 0.0]), grp)
        pts[f"{side}_pinky"] = (hcn - np.array([0, 0, 0.025]), np.array([s, 0, 0.0]), grp)
        pts[f"{side}_thumb"] = (wr + np.array([0.05 * s, -0.006, 0.0]), np.array([0, 0, 1.0]),
                                grp)
    pts["nose"] = (np.array([0, info["nose_c"][1], face_c[2]]), np.array([0, 0, 1.0]), _G_HEAD)
    pts["head_top"] = (hc, np.array([0, 1.0, 0]), _G_HEAD)
    out = {}
    for name, (o, d, grp) in pts.items():
        out[name] = _cast(imp, o[None], (d / np.linalg.norm(d))[None], 0.3, grp)[0]
    return out


def _cocoplus_rows(pos: np.ndarray, faces: np.ndarray, J: np.ndarray,
                   landmarks: dict[str, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    ji = _JI
    adj = _adjacency(faces, len(pos)).tolil()
    rows = []
    for name in skeletons.FORMATS["cocoplus"]:
        if name in ("head_top", "nose", "left_eye", "right_eye", "left_ear", "right_ear"):
            v = landmarks[name]
            nb = np.asarray(adj.rows[v], dtype=np.int64)
            ids = np.concatenate([[v], nb])
            w = np.concatenate([[0.6], np.full(len(nb), 0.4 / len(nb))])
            rows.append((ids, w))
            continue
        if name == "neck":
            target = J[ji["neck"]] + np.array([0.0, 0.025, 0.0])
        elif name.endswith("hip"):
            hp = J[ji[name]]
            target = hp + np.array([0.25 * hp[0], -0.04, 0.0])  # LSP hips sit lower and wider
        elif name.endswith("shoulder"):
            target = J[ji[name]] + np.array([0.0, 0.01, 0.0])
        else:
            target = J[ji[name]]
        # fewer directions than the joints: a small set keeps the keypoint-only model small
        ids, w = _surround_weights(pos, target, 0.13, n_dirs=20, where=name)
        rows.append((ids, w))
    return rows
