"""The synthetic body's shape: jittered rest joints and the implicit surface (smooth union of
ellipsoids and round cones, cut flat at the soles) laid around them.

Part of ``sfv_jax.body.synthetic`` (the package docstring says how the body is made).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sfv_jax import skeletons
from sfv_jax.body.synthetic.proportions import _BASE_JOINTS


def _rest_joints(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    """(24, 3) rest joints with the seed's ~2% proportion jitter, and the jitter factors."""
    z = lambda: float(np.clip(rng.standard_normal(), -2.0, 2.0))  # noqa: E731
    jit = {"torso": 1 + 0.02 * z(), "leg": 1 + 0.02 * z(), "arm": 1 + 0.02 * z(),
           "width": 1 + 0.02 * z(), "girth": 1 + 0.03 * z(), "head": 1 + 0.02 * z()}
    base = {k: np.array(v, dtype=np.float64) for k, v in _BASE_JOINTS.items()}
    pel_y = base["pelvis"][1]
    for k in ("spine1", "spine2", "spine3", "neck", "left_collar", "head", "left_shoulder",
              "left_elbow", "left_wrist", "left_hand"):
        base[k][1] = pel_y + (base[k][1] - pel_y) * jit["torso"]
    sh_x = base["left_shoulder"][0]
    for k in ("left_elbow", "left_wrist", "left_hand"):
        base[k][0] = sh_x + (base[k][0] - sh_x) * jit["arm"]
    # widths scale about the midline; the arms move out with the shoulder, unscaled
    arm_shift = base["left_shoulder"][0] * (jit["width"] - 1)
    for k in ("left_hip", "left_collar", "left_shoulder", "left_knee", "left_ankle",
              "left_foot"):
        base[k][0] *= jit["width"]
    for k in ("left_elbow", "left_wrist", "left_hand"):
        base[k][0] += arm_shift
    hip_y = base["left_hip"][1]
    for k in ("left_knee", "left_ankle", "left_foot"):
        base[k][1] = hip_y + (base[k][1] - hip_y) * jit["leg"]
    joints = np.zeros((skeletons.NUM_SMPL_JOINTS, 3))
    for i, name in enumerate(skeletons.SMPL_JOINT_NAMES):
        if name in base:
            joints[i] = base[name]
        else:
            joints[i] = base["left_" + name[len("right_"):]] * np.array([-1.0, 1.0, 1.0])
    return joints, jit


_FAR = 1e3  # stands for "out of reach" in the smooth union
_FLOOR_BLEND = 0.006  # rounding of the soles' edges (m)
_TETRA = np.array([[1, -1, -1], [-1, -1, 1], [-1, 1, -1], [1, 1, 1]], dtype=np.float64)


class _Implicit:
    """Smooth union of primitives; ``f < 0`` inside. Not an exact distance, but smooth."""

    def __init__(self, floor: float) -> None:
        self.prims: list[tuple[str, tuple[np.ndarray, ...], float, str]] = []
        self.floor = floor  # the soles: everything is cut flat at y = floor

    def add(self, kind: str, params: tuple[Any, ...], blend: float, group: str) -> None:
        self.prims.append((kind, tuple(np.asarray(p, dtype=np.float64) for p in params),
                           blend, group))

    @staticmethod
    def _prim(kind: str, prm: tuple[np.ndarray, ...], p: np.ndarray) -> np.ndarray:
        if kind == "ell":
            c, r = prm
            q = (p - c) / r
            k0 = np.sqrt(np.einsum("ij,ij->i", q, q))
            qr = q / r
            k1 = np.sqrt(np.einsum("ij,ij->i", qr, qr))
            return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)
        if kind == "cone":  # round cone between spheres (a, ra) and (b, rb)
            a, b, ra, rb = prm
            ba = b - a
            l2 = float(ba @ ba)
            rr = float(ra - rb)
            a2 = l2 - rr * rr
            pa = p - a
            y = pa @ ba
            zz = y - l2
            x2 = np.sum((pa * l2 - y[:, None] * ba) ** 2, axis=-1)
            y2, z2 = y * y * l2, zz * zz * l2
            k = np.sign(rr) * rr * rr * x2
            d_mid = (np.sqrt(np.maximum(x2 * a2 / l2, 0.0)) + y * rr) / l2 - ra
            d_b = np.sqrt(x2 + z2) / l2 - rb
            d_a = np.sqrt(x2 + y2) / l2 - ra
            return np.where(np.sign(zz) * a2 * z2 > k, d_b,
                            np.where(np.sign(y) * a2 * y2 < k, d_a, d_mid))
        if kind == "box":  # rounded box: centre, half extents, rounding radius
            c, h, rnd = prm
            q = np.abs(p - c) - h
            qp = np.maximum(q, 0.0)
            return (np.sqrt(np.einsum("ij,ij->i", qp, qp))
                    + np.minimum(q.max(axis=-1), 0.0) - rnd)
        raise ValueError(kind)

    def __call__(self, p: np.ndarray, groups: frozenset[str] | None = None,
                 active: np.ndarray | None = None) -> np.ndarray:
        """f at points p (..., 3). ``active`` (P, n_prims) bool limits which primitives are
        evaluated per point (the others cannot reach the smooth union there)."""
        p = np.asarray(p, dtype=np.float64)
        shape = p.shape[:-1]
        p = p.reshape(-1, 3)
        out = None
        for i, (kind, prm, blend, group) in enumerate(self.prims):
            if groups is not None and group not in groups:
                continue
            if active is None:
                d = self._prim(kind, prm, p)
            else:
                rows = active[:, i]
                if not rows.any():
                    continue
                d = np.full(len(p), _FAR)
                d[rows] = self._prim(kind, prm, p[rows])
            if out is None:
                out = d
            else:  # polynomial smooth minimum
                h = np.maximum(blend - np.abs(out - d), 0.0) / blend
                out = np.minimum(out, d) - h * h * blend * 0.25
        assert out is not None
        # smooth maximum with the half-space above the floor: flat soles
        d = self.floor - p[:, 1]
        h = np.maximum(_FLOOR_BLEND - np.abs(out - d), 0.0) / _FLOOR_BLEND
        out = np.maximum(out, d) + h * h * _FLOOR_BLEND * 0.25
        return out.reshape(shape)

    def value_grad(self, p: np.ndarray, groups: frozenset[str] | None = None,
                   active: np.ndarray | None = None, eps: float = 1e-6
                   ) -> tuple[np.ndarray, np.ndarray]:
        """f and its gradient at p (P, 3) from four tetrahedral samples."""
        f = np.zeros(len(p))
        g = np.zeros_like(p)
        for k in _TETRA:
            fk = self(p + eps * k, groups, active)
            f += 0.25 * fk
            g += fk[:, None] * k
        return f, g / (4 * eps)

    def active(self, p: np.ndarray, margin: float = 0.1) -> np.ndarray:
        """(P, n_prims) mask of primitives within ``margin`` of the nearest one."""
        d = np.stack([self._prim(kind, prm, p) for kind, prm, _, _ in self.prims], axis=1)
        return d < d.min(axis=1, keepdims=True) + margin

    def project(self, p: np.ndarray, steps: int = 4, groups: frozenset[str] | None = None,
                active: np.ndarray | None = None) -> np.ndarray:
        """Newton steps onto the zero level set along the gradient."""
        for _ in range(steps):
            f, g = self.value_grad(p, groups, active)
            p = p - (f / np.maximum(np.sum(g * g, axis=-1), 1e-12))[:, None] * g
        return p


def _body_implicit(J: np.ndarray, jit: dict[str, float]) -> tuple[_Implicit, dict[str, Any]]:
    """The body surface around rest joints ``J`` (24, 3); also returns a few landmarks."""
    j = {n: J[i] for i, n in enumerate(skeletons.SMPL_JOINT_NAMES)}
    w, g, hs = jit["width"], jit["girth"], jit["head"]
    sole_y = j["left_ankle"][1] - 0.08
    imp = _Implicit(sole_y)
    pel, sp1, sp3, nk, hd = j["pelvis"], j["spine1"], j["spine3"], j["neck"], j["head"]
    imp.add("ell", ((0, pel[1] - 0.03, -0.005), (0.165 * w, 0.12, 0.112 * g)), 0.05, "torso")
    imp.add("ell", ((0, sp1[1] + 0.02, 0.015), (0.138 * w * g, 0.150, 0.110 * g)), 0.09,
            "torso")
    chest_c = np.array([0.0, sp3[1] + 0.045, -0.005])
    imp.add("ell", (chest_c, (0.170 * w, 0.165, 0.117 * g)), 0.09, "torso")
    for s in (1.0, -1.0):
        sh = j["left_shoulder"] * np.array([s, 1, 1])
        imp.add("cone", ((0.035 * s, nk[1] - 0.01, nk[2] - 0.01),
                         (sh[0] - 0.03 * s, sh[1] + 0.012, sh[2]), 0.036, 0.036), 0.04, "torso")
    # neck and head (scaled about the upper neck by the seed's head factor)
    neck_top = np.array([0.0, hd[1] + 0.01, hd[2] - 0.035])
    imp.add("cone", ((0, nk[1] - 0.04, nk[2]), neck_top, 0.057 * g, 0.051 * g), 0.04, "head")
    hc = lambda v: neck_top + hs * (np.asarray(v) - neck_top)  # noqa: E731
    head_c = hc((0.0, hd[1] + 0.065, hd[2] + 0.0))
    imp.add("ell", (head_c, (0.078 * hs, 0.105 * hs, 0.095 * hs)), 0.03, "head")
    imp.add("ell", (hc((0.0, hd[1] + 0.0, hd[2] + 0.03)), (0.060 * hs, 0.048 * hs, 0.07 * hs)),
            0.03, "head")  # jaw
    nose_c = hc((0.0, hd[1] + 0.053, hd[2] + 0.093))
    imp.add("ell", (nose_c, (0.013 * hs, 0.022 * hs, 0.02 * hs)), 0.012, "head")
    for s in (1.0, -1.0):
        imp.add("ell", (hc((0.076 * s, hd[1] + 0.06, hd[2] - 0.02)),
                        (0.012 * hs, 0.027 * hs, 0.017 * hs)), 0.01, "head")  # ears
    # arms
    for s, grp in ((1.0, "arm_l"), (-1.0, "arm_r")):
        m = np.array([s, 1, 1])
        sh, el, wr = j["left_shoulder"] * m, j["left_elbow"] * m, j["left_wrist"] * m
        imp.add("ell", (sh + np.array([0.025 * s, 0.004, 0.0]), (0.075, 0.058 * g, 0.055 * g)),
                0.05, grp)  # deltoid
        imp.add("cone", (sh, el, 0.053 * g, 0.039 * g), 0.04, grp)
        imp.add("cone", (el, wr, 0.039 * g, 0.027 * g), 0.02, grp)
        imp.add("ell", (wr + np.array([0.085 * s * jit["arm"], -0.006, 0.0]),
                        (0.095 * jit["arm"], 0.021 * g, 0.045 * g)), 0.025, grp)  # hand
    # legs
    for s, grp in ((1.0, "leg_l"), (-1.0, "leg_r")):
        m = np.array([s, 1, 1])
        hp, kn, an = j["left_hip"] * m, j["left_knee"] * m, j["left_ankle"] * m
        imp.add("cone", (hp, kn, 0.083 * g, 0.052 * g), 0.04, grp)
        imp.add("ell", (kn + np.array([-0.004 * s, -0.13, -0.025]), (0.048 * g, 0.11, 0.054 * g)),
                0.04, grp)  # calf
        imp.add("cone", (kn, an, 0.051 * g, 0.034 * g), 0.03, grp)
        # rear foot (heel, instep) and a flatter forefoot; the floor cuts both flat
        imp.add("ell", ((an[0] + 0.004 * s, sole_y + 0.012, an[2] + 0.03),
                        (0.040 * g, 0.066, 0.088)), 0.035, grp)
        imp.add("ell", ((an[0] + 0.008 * s, sole_y + 0.018, an[2] + 0.115),
                        (0.047 * g, 0.03, 0.095)), 0.03, grp)
    info = {"sole_y": sole_y, "head_c": head_c, "nose_c": nose_c, "chest_c": chest_c,
            "hs": hs}
    return imp, info
