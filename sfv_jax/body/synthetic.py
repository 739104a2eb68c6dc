"""A deterministic SMPL-format human built by code (real SMPL files are licence-restricted).

``synthetic_smpl_arrays`` returns the arrays an SMPL ``.pkl`` holds after loading (plus HMR's
``cocoplus_regressor`` and surface landmark vertex ids); ``synthetic_model`` wraps them in a
``BodyModel``. NumPy / SciPy at build time (~3 s for SMPL's size), cached per argument tuple.

How the body is made:
  * Shape: a smooth implicit surface - smooth union of ellipsoids (pelvis, belly, chest, head,
    jaw, nose, ears, deltoids, calves, hands, two per foot) and round cones (trapezius, neck,
    limbs), cut flat at the soles - laid around SMPL-like rest joints: T-pose, Y up, facing
    +Z, the body's left at +X, palms down. Seed 0: pelvis joint at y = -0.225 m, soles at
    y = -1.15, head top at y = +0.55 (height 1.70 m), arm span 1.74 m, volume 0.064 m^3.
  * Mesh: one genus-0 triangle surface with a hand-made topology: horizontal rings over the
    torso, legs and head, rings across the arms, rings turning about a line in front of each
    ankle over heel and instep then across the forefoot; the torso splits into the legs at
    the crotch and into arms and neck at the shoulders through vertex chains (pairs of
    pants); zipper strips join rings of different sizes; caps close hands, toes and the head.
    Vertices are cast onto the implicit surface, then relaxed (tangential smoothing and
    re-projection). F = 2V - 4 by construction; the default V is SMPL's 6890, so F = 13776.
  * Skinning: each vertex gets the bone of its body part and position (SMPL's convention: a
    thigh vertex follows ``left_hip``); the one-hot weights then diffuse over the mesh graph
    (about 3.5 cm across each joint). Rows are non-negative, sparse and sum to 1.
  * ``J_regressor``: each joint is a non-negative, sum-to-one combination of the vertices
    around it (the nearest vertex in each of 64 direction cones), so joints follow shape
    changes and stay inside the body (V >= 1500; coarser meshes can facet past the ankles).
    ``J`` = ``J_regressor @ v_template``.
  * Shape components, effect of beta = +1 on seed 0 (the seed jitters magnitudes by ~10%):
      0 stature: uniform scale about the origin, height +5.4% (+9 cm), volume +17%
      1 weight: girth about each bone axis (torso 10%, limbs 7%), volume +14%
      2 leg length: everything below the hips stretched downward, hip-to-ankle +5%
      3 arm length: everything outboard of the shoulders stretched outward, +6%
      4 shoulder width: shoulders and arms move outward, 1.5 cm per side
      5 hip width: hips widen and legs move outward, 1.2 cm per side
      6 torso length: the spine between pelvis and neck stretches, +3 cm at the neck
      7 head size: head scaled about the upper neck, +6%
      8 torso depth: chest and belly front-back depth +9%
      9 limb girth: arms and legs thicken about their bone axes, +7%
    At beta = +-2 each stays a plausible, self-intersection-free body. Components beyond 10
    (``num_betas`` > 10) are small smooth random bulges.
  * Pose blend shapes (207 = 23 joints x 9 entries of R - I): smooth bulges along the surface
    normal near each joint, a few mm per unit entry, directions drawn from the seed.
  * ``cocoplus_regressor`` (19, V), HMR's cocoplus order: ankles, knees, hips (LSP-style,
    lower and wider than SMPL's), wrists, elbows, shoulders and neck are interior combinations
    of surrounding vertices; head top, nose, eyes and ears are a surface vertex and its ring.
    Rows are non-negative and sum to 1.
  * ``landmark_vertex_ids``: nose, eyes (and inner / outer corners), ears, mouth corners,
    head top, big / small toes, heels, foot tips, hand index / pinky / thumb points, so
    BODY_25, COCO-18 and MediaPipe points can be built from joints and surface vertices.

``seed`` jitters segment lengths, widths, girth and head size by ~2% and draws the pose blend
directions and the shape-magnitude jitter; the same seed gives bitwise identical arrays.
"""
from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls

from sfv_jax import skeletons

if TYPE_CHECKING:
    from sfv_jax.body.model import BodyModel

__all__ = ["synthetic_smpl_arrays", "synthetic_model", "SHAPE_COMPONENTS", "ROOT_PARENT"]

ROOT_PARENT = 4294967295  # how SMPL files write the root's parent in kintree_table
SHAPE_COMPONENTS: tuple[str, ...] = (
    "stature", "weight", "leg_length", "arm_length", "shoulder_width", "hip_width",
    "torso_length", "head_size", "torso_depth", "limb_girth",
)
_MIN_VERTICES = 600
_MAX_VERTICES = 100_000
_JI = {n: i for i, n in enumerate(skeletons.SMPL_JOINT_NAMES)}

# SMPL-like rest joints (metres) for the centre line and the body's left side; the right
# side mirrors x.
_BASE_JOINTS: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, -0.225, 0.020),
    "left_hip": (0.070, -0.315, 0.015),
    "spine1": (0.0, -0.105, 0.000),
    "left_knee": (0.102, -0.700, 0.020),
    "spine2": (0.0, 0.030, -0.005),
    "left_ankle": (0.088, -1.090, -0.030),
    "spine3": (0.0, 0.090, -0.005),
    "left_foot": (0.112, -1.150, 0.085),
    "neck": (0.0, 0.290, -0.020),
    "left_collar": (0.075, 0.195, -0.010),
    "head": (0.0, 0.365, 0.025),
    "left_shoulder": (0.170, 0.225, -0.020),
    "left_elbow": (0.430, 0.215, -0.035),
    "left_wrist": (0.685, 0.222, -0.040),
    "left_hand": (0.770, 0.215, -0.045),
}

# Body parts (per vertex) used by the skinning rules.
_TORSO, _HEAD, _ARM_L, _ARM_R, _LEG_L, _LEG_R = range(6)


# --------------------------------------------------------------------------------------
# Rest skeleton and implicit surface
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# Rings, chains and zippers
# --------------------------------------------------------------------------------------
def _cast(imp: _Implicit, origins: np.ndarray, dirs: np.ndarray, tmax: float,
          groups: frozenset[str] | None, samples: int = 20) -> np.ndarray:
    """First exit points of rays (origins inside) through the surface, (N, 3)."""
    ts = np.linspace(0.0, tmax, samples)
    pts = origins[None] + ts[:, None, None] * dirs[None]
    f = imp(pts.reshape(-1, 3), groups).reshape(samples, -1)
    outside = f > 0
    outside[-1] = True
    first = np.argmax(outside, axis=0)
    lo = ts[np.maximum(first - 1, 0)]
    hi = ts[first]
    for _ in range(18):
        mid = 0.5 * (lo + hi)
        fm = imp(origins + mid[:, None] * dirs, groups)
        inside = fm < 0
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return origins + (0.5 * (lo + hi))[:, None] * dirs


def _resample_closed(poly: np.ndarray, n: int) -> np.ndarray:
    """n points evenly spaced by arc length along a closed polyline, starting at poly[0]."""
    seg = np.linalg.norm(np.roll(poly, -1, axis=0) - poly, axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    closed = np.concatenate([poly, poly[:1]], axis=0)
    s = np.arange(n) * cum[-1] / n
    return np.stack([np.interp(s, cum, closed[:, a]) for a in range(3)], axis=1)


def _cast_rings(imp: _Implicit, centers: np.ndarray, e1: np.ndarray, e2: np.ndarray,
                counts: list[int], tmax: float, groups: frozenset[str] | None,
                oversample: int = 3) -> list[np.ndarray]:
    """Rings in the planes (e1, e2) around ``centers`` (R, 3), CCW around e1 x e2."""
    m = max(counts) * oversample
    ang = 2 * np.pi * np.arange(m) / m
    dirs = np.cos(ang)[:, None] * e1 + np.sin(ang)[:, None] * e2
    orig = np.repeat(centers, m, axis=0)
    hits = _cast(imp, orig, np.tile(dirs, (len(centers), 1)), tmax, groups)
    hits = hits.reshape(len(centers), m, 3)
    return [_resample_closed(hits[r], counts[r]) for r in range(len(centers))]


def _slab_middle(imp: _Implicit, start: np.ndarray, u: np.ndarray,
                 groups: frozenset[str] | None) -> np.ndarray:
    """Midpoint of the first stretch inside the body along the ray start + t u."""
    ts = np.linspace(0.0, 0.4, 401)
    inside = imp(start + ts[:, None] * u, groups) < 0
    if not inside.any():
        raise RuntimeError(f"synthetic body: no surface along {u} from {start}")
    i0 = int(np.argmax(inside))
    i1 = i0 + int(np.argmax(~inside[i0:])) if not inside[i0:].all() else len(ts) - 1
    return start + 0.5 * (ts[i0] + ts[i1]) * u


def _arc_params(pos: np.ndarray) -> np.ndarray:
    seg = np.linalg.norm(np.roll(pos, -1, axis=0) - pos, axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    return cum / cum[-1]


def _zipper(a: np.ndarray, b: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> list[tuple]:
    """Triangles joining loop a to the next loop b (both CCW around the tube direction,
    starts aligned). Outward-facing when b lies ahead of a along the tube."""
    na, nb = len(a), len(b)
    if nb == 1:
        return [(a[i], a[(i + 1) % na], b[0]) for i in range(na)]
    sa, sb = _arc_params(pa), _arc_params(pb)
    tris = []
    i = k = 0
    while i < na or k < nb:
        if k == nb or (i < na and sa[i + 1] <= sb[k + 1]):
            tris.append((a[i % na], a[(i + 1) % na], b[k % nb]))
            i += 1
        else:
            tris.append((a[i % na], b[(k + 1) % nb], b[k % nb]))
            k += 1
    return tris


def _roll_to(ids: np.ndarray, pos: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotates a loop so that it starts at the vertex most in direction ``ref``."""
    c = pos.mean(axis=0)
    s = int(np.argmax((pos - c) @ ref))
    return np.roll(ids, -s), np.roll(pos, -s, axis=0)


def _band(pa: np.ndarray, pb: np.ndarray, counts: list[int]) -> list[np.ndarray]:
    """Loops interpolated between two aligned loops (to be projected afterwards)."""
    out = []
    for r, n in enumerate(counts):
        t = (r + 1) / (len(counts) + 1)
        qa, qb = _resample_closed(pa, n), _resample_closed(pb, n)
        out.append((1 - t) * qa + t * qb)
    return out


class _MeshBuilder:
    def __init__(self) -> None:
        self.pos: list[np.ndarray] = []
        self.part: list[np.ndarray] = []
        self.faces: list[tuple] = []
        self.n = 0

    def add(self, p: np.ndarray, part: int) -> np.ndarray:
        p = np.atleast_2d(p)
        ids = np.arange(self.n, self.n + len(p))
        self.pos.append(p)
        self.part.append(np.full(len(p), part))
        self.n += len(p)
        return ids

    def close_tube(self, part: int, ids0: np.ndarray, p0: np.ndarray,
                   loops: list[np.ndarray], tip: np.ndarray) -> None:
        """Adds ``loops`` (rings of points) after the ring (ids0, p0), stitching each ring to
        the one before, and closes the tube with a single ``tip`` (3,) vertex."""
        prev_ids, prev_p = ids0, p0
        for q in loops:
            ids = self.add(q, part)
            self.faces += _zipper(prev_ids, ids, prev_p, q)
            prev_ids, prev_p = ids, q
        pole = self.add(tip[None], part)
        self.faces += _zipper(prev_ids, pole, prev_p, tip[None])


# --------------------------------------------------------------------------------------
# Layout: how many rings and how many vertices per ring, for a target edge length h
# --------------------------------------------------------------------------------------
def _layout(h: float, J: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
    j = {n: J[i] for i, n in enumerate(skeletons.SMPL_JOINT_NAMES)}
    even = lambda x: max(8, 2 * int(round(x / 2)))  # noqa: E731
    cnt = lambda x, lo=6: max(lo, int(round(x)))  # noqa: E731
    lay: dict[str, Any] = {"h": h}
    lay["y_bot"] = j["left_hip"][1] - 0.04           # torso bottom ring (crotch split)
    lay["y_top"] = j["spine3"][1] + 0.045             # torso top ring (armpits)
    lay["nt"] = even(0.86 / h)
    lay["n_torso"] = cnt((lay["y_top"] - lay["y_bot"]) / h + 1, 4)
    lay["n_crotch"] = cnt(0.22 / h, 3)
    lay["n_shoulder"] = cnt(0.30 / h, 3)
    lay["leg_y0"] = j["left_hip"][1] - 0.155
    lay["n_leg_ring"] = cnt(0.45 / h, 8)
    # Feet: the leg's horizontal rings stop at the pivot (in front of and above the ankle);
    # rings in planes turning about the pivot's x-parallel line sweep heel and instep, then
    # rings in planes z = const run to the toes.
    an = j["left_ankle"]
    lay["pivot_y"], lay["pivot_z"] = an[1] + 0.04, an[2] + 0.09
    lay["toe_z"] = an[2] + 0.21
    lay["n_leg"] = cnt((lay["leg_y0"] - lay["pivot_y"]) / h + 1, 8)
    lay["n_fan"] = max(2, int(round(0.5 * np.pi * 0.085 / h)))
    lay["n_fwd"] = max(1, int(round((lay["toe_z"] - 0.025 - lay["pivot_z"]) / h)))
    n_toe = cnt(0.24 / h, 8)
    lay["fwd_counts"] = [int(round(lay["n_leg_ring"] + (n_toe - lay["n_leg_ring"]) * (r + 1)
                                   / lay["n_fwd"])) for r in range(lay["n_fwd"])]
    lay["n_toe_cap"] = max(2, int(round(0.025 / h)))
    lay["arm_x0"] = j["left_shoulder"][0] + 0.09
    lay["n_arm_ring"] = cnt(0.30 / h, 8)
    lay["x_tip"] = j["left_wrist"][0] + 0.18
    lay["n_arm"] = cnt((lay["x_tip"] - 0.02 - lay["arm_x0"]) / h + 1, 6)
    lay["n_hand_cap"] = max(2, int(round(0.025 / h)))
    lay["neck_y0"] = j["neck"][1] + 0.065
    lay["n_neck_ring"] = cnt(0.40 / h, 8)
    # Head rings: even in y over the neck, then in latitude over the skull's top half.
    lay["head_ys"], lay["head_counts"] = _head_levels(lay, info)
    # Junction bands: rings between a junction loop and the first clean ring, their sizes
    # going from the junction loop's (estimated) size to the tube's.
    band = lambda n0, n1, length: [  # noqa: E731
        int(round(n0 + (n1 - n0) * (r + 1) / (k + 1))) for k in [max(1, int(round(length / h)))]
        for r in range(k)]
    lay["leg_band"] = band(lay["nt"] // 2 + 1 + lay["n_crotch"], lay["n_leg_ring"], 0.07)
    lay["arm_band"] = band(0.25 * lay["nt"] + lay["n_shoulder"], lay["n_arm_ring"], 0.09)
    lay["neck_band"] = band(0.5 * lay["nt"] + 2 * lay["n_shoulder"], lay["n_neck_ring"], 0.15)
    lay["extra"] = 0
    return lay


def _head_levels(lay: dict[str, Any], info: dict[str, Any]) -> tuple[np.ndarray, list[int]]:
    """Heights (R,) and vertex counts of the neck and head rings."""
    h = lay["h"]
    cy, ry = info["head_c"][1], 0.105 * info["hs"]
    y0 = lay["neck_y0"]
    n_lin = max(2, int(round((cy - y0) / h)))
    ys = list(np.linspace(y0, cy, n_lin, endpoint=False))
    n_lat = max(2, int(round(0.5 * np.pi * ry / h)))
    lats = np.linspace(0.0, 0.5 * np.pi, n_lat + 1)[:-1]
    ys += list(cy + ry * np.sin(lats) * 0.985)
    counts = []
    for y in ys:
        c = np.cos(np.arcsin(np.clip((y - cy) / ry, -1, 1))) if y > cy else 1.0
        circ = 0.40 + (0.58 - 0.40) * np.clip((y - y0) / max(cy - y0, 1e-6), 0, 1) if y <= cy \
            else 0.58 * c
        counts.append(max(6, int(round(circ / h))))
    return np.asarray(ys), counts


def _count(lay: dict[str, Any]) -> int:
    """Vertex count of a layout (mirrors _assemble)."""
    nt = lay["nt"]
    v = nt * lay["n_torso"] + lay["extra"] + lay["n_crotch"] + 2 * lay["n_shoulder"]
    leg = (sum(lay["leg_band"]) + (lay["n_leg"] + lay["n_fan"]) * lay["n_leg_ring"]
           + sum(lay["fwd_counts"]) + sum(_cap_counts(lay["fwd_counts"][-1], lay["n_toe_cap"]))
           + 1)
    arm = (sum(lay["arm_band"]) + lay["n_arm"] * lay["n_arm_ring"]
           + sum(_cap_counts(lay["n_arm_ring"], lay["n_hand_cap"])) + 1)
    head = sum(lay["neck_band"]) + sum(lay["head_counts"]) + 1
    return v + 2 * leg + 2 * arm + head


def _cap_counts(n: int, k: int) -> list[int]:
    return [max(6, int(round(n * np.cos(0.5 * np.pi * (r + 1) / (k + 1))))) for r in range(k)]


def _plan(target: int, J: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
    """Finds the finest layout with at most ``target`` vertices and pads the torso rings."""
    lo, hi = 0.004, 0.2
    if _count(_layout(hi, J, info)) > target:
        raise ValueError(f"num_vertices={target} is too small for the synthetic body "
                         f"(at least {_MIN_VERTICES})")
    for _ in range(60):
        mid = np.sqrt(lo * hi)
        if _count(_layout(mid, J, info)) > target:
            lo = mid
        else:
            hi = mid
    lay = _layout(hi, J, info)
    lay["extra"] = target - _count(lay)
    return lay


# --------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------
_ALL = None  # every primitive
# Primitive groups that horizontal torso rings and head rings are cast against.
_G_TORSO = frozenset({"torso", "leg_l", "leg_r"})
_G_HEAD = frozenset({"head"})


def _assemble(lay: dict[str, Any], imp: _Implicit, J: np.ndarray, info: dict[str, Any]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    j = {n: J[i] for i, n in enumerate(skeletons.SMPL_JOINT_NAMES)}
    mb = _MeshBuilder()
    ex, ey, ez = np.eye(3)
    nt = lay["nt"]

    # ---- torso: horizontal rings, front (+z) first, CCW around +y --------------------
    ys = np.linspace(lay["y_bot"], lay["y_top"], lay["n_torso"])
    counts = [nt] * lay["n_torso"]
    inner = list(range(1, lay["n_torso"] - 1))
    for r in range(lay["extra"]):  # spread the padding over the inner rings
        counts[inner[(r * 7919) % len(inner)] if inner else 0] += 1
    zc = np.interp(ys, [j["pelvis"][1], j["spine3"][1]], [0.0, -0.005])
    cen = np.stack([np.zeros_like(ys), ys, zc], axis=1)
    rings_p = _cast_rings(imp, cen, ez, ex, counts, 0.3, _G_TORSO)
    rings = [mb.add(p, _TORSO) for p in rings_p]
    for r in range(len(rings) - 1):
        mb.faces += _zipper(rings[r], rings[r + 1], rings_p[r], rings_p[r + 1])

    # ---- crotch chain and leg loops ----------------------------------------------------
    r0, p0 = rings[0], rings_p[0]
    half = nt // 2
    front, back = p0[0], p0[half]
    midp = 0.5 * (front + back)
    bottom = _cast(imp, midp[None], -ey[None], 0.2, _ALL)[0]
    kc = lay["n_crotch"]
    al = np.pi * np.arange(1, kc + 1) / (kc + 1)
    chain = midp + np.cos(al)[:, None] * (front - midp) + np.sin(al)[:, None] * (bottom - midp)
    chain = imp.project(chain)
    crotch = mb.add(chain, _TORSO)
    legs = {}
    legs[_LEG_L] = (np.concatenate([r0[half::-1], crotch]),
                    np.concatenate([p0[half::-1], chain]))
    legs[_LEG_R] = (np.concatenate([r0[[0]], r0[:half - 1:-1], crotch[::-1]]),
                    np.concatenate([p0[[0]], p0[:half - 1:-1], chain[::-1]]))

    # ---- shoulder chains, arm loops and the neck loop ---------------------------------
    rt, pt = rings[-1], rings_p[-1]
    ntop = len(rt)
    x_cut = 0.70 * j["left_shoulder"][0]
    left_idx = np.nonzero(pt[:, 0] > x_cut)[0]
    right_idx = np.nonzero(pt[:, 0] < -x_cut)[0]
    if len(left_idx) < 3 or np.any(np.diff(left_idx) != 1) or np.any(np.diff(right_idx) != 1):
        raise RuntimeError("synthetic body: shoulder sections are not contiguous")
    ks = lay["n_shoulder"]
    chains = {}
    for name, (f_i, b_i) in (("l", (left_idx[0], left_idx[-1])),
                             ("r", (right_idx[-1], right_idx[0]))):
        F, B = pt[f_i], pt[b_i]
        m = 0.5 * (F + B)
        top = _cast(imp, m[None], ey[None], 0.3, _ALL)[0]
        al = np.pi * np.arange(1, ks + 1) / (ks + 1)
        c = m + np.cos(al)[:, None] * (F - m) + np.sin(al)[:, None] * (top - m)
        c = imp.project(c)
        chains[name] = (mb.add(c, _TORSO), c)
    cl, cl_p = chains["l"]
    cr, cr_p = chains["r"]
    arms = {
        _ARM_L: (np.concatenate([rt[left_idx], cl[::-1]]),
                 np.concatenate([pt[left_idx], cl_p[::-1]])),
        _ARM_R: (np.concatenate([rt[right_idx], cr]), np.concatenate([pt[right_idx], cr_p])),
    }
    front_sec = np.concatenate([np.arange(right_idx[-1], ntop), np.arange(0, left_idx[0] + 1)])
    back_sec = np.arange(left_idx[-1], right_idx[0] + 1)
    neck0 = (np.concatenate([rt[front_sec], cl, rt[back_sec], cr[::-1]]),
             np.concatenate([pt[front_sec], cl_p, pt[back_sec], cr_p[::-1]]))

    # ---- legs: band, horizontal rings to the ankle, heel fan, forefoot, toe cap --------
    for part, side in ((_LEG_L, 1.0), (_LEG_R, -1.0)):
        m = np.array([side, 1, 1])
        hp, kn, an = j["left_hip"] * m, j["left_knee"] * m, j["left_ankle"] * m
        grp = frozenset({"leg_l" if side > 0 else "leg_r"})
        e1, e2 = ex, ez  # CCW around -y
        nl = lay["n_leg_ring"]
        ys = np.linspace(lay["leg_y0"], lay["pivot_y"], lay["n_leg"])
        axis_y = [an[1], kn[1], hp[1]]
        cx = np.interp(ys, axis_y, [an[0], kn[0], hp[0]])
        cz = np.interp(ys, axis_y, [an[2], kn[2], hp[2]])
        cen = np.stack([cx, ys, cz], axis=1)
        loops_p = _cast_rings(imp, cen, e1, e2, [nl] * len(ys), 0.2, grp)
        ids0, p_0 = legs[part]
        ids0, p_0 = _roll_to(ids0, p_0, e1)
        loops_p = _band(p_0, loops_p[0], lay["leg_band"]) + loops_p
        # heel and instep: planes through the pivot line, from horizontal to vertical
        fx = an[0] + 0.006 * side
        pivot = np.array([fx, lay["pivot_y"], lay["pivot_z"]])
        for k in range(1, lay["n_fan"] + 1):
            th = 0.5 * np.pi * k / lay["n_fan"]
            u = np.array([0.0, -np.sin(th), -np.cos(th)])  # from the pivot into the body
            c = _slab_middle(imp, pivot, u, grp)
            e2k = np.array([0.0, np.sin(th), np.cos(th)])
            loops_p += _cast_rings(imp, c[None], e1, e2k, [nl], 0.2, grp)
        # forefoot: planes z = const, then the toe cap
        zs = lay["pivot_z"] + (lay["toe_z"] - 0.025 - lay["pivot_z"]) * (
            np.arange(1, lay["n_fwd"] + 1) / lay["n_fwd"])
        for z, n in zip(zs, lay["fwd_counts"]):
            c = _slab_middle(imp, np.array([fx, info["sole_y"] + 0.1, z]), -ey, grp)
            loops_p += _cast_rings(imp, c[None], e1, ey, [n], 0.12, grp)
        c = _slab_middle(imp, np.array([fx, info["sole_y"] + 0.1, zs[-1]]), -ey, grp)
        tip = _cast(imp, c[None], ez[None], 0.1, grp)[0]
        cc = _cap_counts(lay["fwd_counts"][-1], lay["n_toe_cap"])
        for r, n in enumerate(cc):
            zr = zs[-1] + (tip[2] - zs[-1]) * np.sin(0.5 * np.pi * (r + 1) / (len(cc) + 1)) * 0.97
            cr_ = np.array([[c[0], c[1], zr]])
            loops_p.append(_cast_rings(imp, cr_, e1, ey, [n], 0.1, grp)[0])
        mb.close_tube(part, ids0, p_0, loops_p, tip)

    # ---- arms: bands, rings across x, hand cap ----------------------------------------
    for part, side in ((_ARM_L, 1.0), (_ARM_R, -1.0)):
        m = np.array([side, 1, 1])
        sh, el, wr, hn = (j["left_shoulder"] * m, j["left_elbow"] * m, j["left_wrist"] * m,
                          j["left_hand"] * m)
        grp = frozenset({"arm_l" if side > 0 else "arm_r"})
        e1, e2 = (ey, ez) if side > 0 else (ez, ey)  # CCW around +-x
        na = lay["n_arm_ring"]
        xs = np.linspace(lay["arm_x0"], lay["x_tip"] - 0.02, lay["n_arm"])
        kx = [sh[0] * side, el[0] * side, wr[0] * side, hn[0] * side, lay["x_tip"]]
        cy = np.interp(xs, kx, [sh[1], el[1], wr[1], wr[1] - 0.006, wr[1] - 0.006])
        cz = np.interp(xs, kx, [sh[2], el[2], wr[2], wr[2], wr[2]])
        cen = np.stack([xs * side, cy, cz], axis=1)
        arm_p = _cast_rings(imp, cen, e1, e2, [na] * len(xs), 0.12, grp)
        ids0, p_0 = arms[part]
        ids0, p_0 = _roll_to(ids0, p_0, e1)
        loops_p = _band(p_0, arm_p[0], lay["arm_band"]) + arm_p
        # fingertip cap: slices closer to the tip with fewer vertices
        cc = _cap_counts(na, lay["n_hand_cap"])
        x_last = xs[-1]
        tip = _cast(imp, np.array([[x_last * side - 0.03 * side, cy[-1], cz[-1]]]),
                    np.array([[side, 0.0, 0.0]]), 0.2, grp)[0]
        for r, n in enumerate(cc):
            xr = x_last + (abs(tip[0]) - x_last) * np.sin(0.5 * np.pi * (r + 1)
                                                          / (len(cc) + 1)) * 0.97
            cen_r = np.array([[xr * side, cy[-1], cz[-1]]])
            loops_p.append(_cast_rings(imp, cen_r, e1, e2, [n], 0.1, grp)[0])
        mb.close_tube(part, ids0, p_0, loops_p, tip)

    # ---- neck and head ----------------------------------------------------------------
    hys = lay["head_ys"]
    hcz = np.interp(hys, [j["neck"][1], j["head"][1], info["head_c"][1]],
                    [j["neck"][2], j["head"][2] - 0.01, info["head_c"][2]])
    cen = np.stack([np.zeros_like(hys), hys, hcz], axis=1)
    head_p = _cast_rings(imp, cen, ez, ex, lay["head_counts"], 0.16, _G_HEAD)
    ids0, p_0 = _roll_to(neck0[0], neck0[1], ez)
    loops_p = _band(p_0, head_p[0], lay["neck_band"]) + head_p
    top = _cast(imp, np.array([[0.0, hys[-1], hcz[-1]]]), ey[None], 0.2, _G_HEAD)[0]
    mb.close_tube(_HEAD, ids0, p_0, loops_p, top)

    pos = np.concatenate(mb.pos, axis=0)
    part = np.concatenate(mb.part)
    faces = np.asarray(mb.faces, dtype=np.int64)
    return pos, faces, part


def _adjacency(faces: np.ndarray, nv: int) -> sp.csr_matrix:
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    a = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(nv, nv)).tocsr()
    a = ((a + a.T) > 0).astype(np.float64)
    return a


def _relax(pos: np.ndarray, faces: np.ndarray, imp: _Implicit, iters: int) -> np.ndarray:
    """Tangential umbrella smoothing + re-projection onto the implicit surface."""
    a = _adjacency(faces, len(pos))
    deg = np.asarray(a.sum(axis=1)).ravel()
    avg = sp.diags(1.0 / deg) @ a
    act = imp.active(pos)
    pos = imp.project(pos, steps=3, active=act)
    for _ in range(iters):
        _, n = imp.value_grad(pos, active=act)
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        lap = avg @ pos - pos
        lap -= np.sum(lap * n, axis=1, keepdims=True) * n
        pos = imp.project(pos + 0.5 * lap, steps=2, active=act)
    return imp.project(pos, steps=2, active=act)


# --------------------------------------------------------------------------------------
# Skinning, regressors, blend shapes
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# Landmarks and the cocoplus regressor
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)  # an SMPL-sized entry holds ~45 MB
def _build(seed: int, num_vertices: int, num_betas: int) -> dict[str, Any]:
    ss = np.random.SeedSequence([int(seed), 20181]).spawn(3)
    rng_prop, rng_shape, rng_pose = (np.random.default_rng(s) for s in ss)
    J_design, jit = _rest_joints(rng_prop)
    imp, info = _body_implicit(J_design, jit)
    lay = _plan(num_vertices, J_design, info)
    pos, faces, part = _assemble(lay, imp, J_design, info)
    if len(pos) != num_vertices or len(faces) != 2 * num_vertices - 4:
        raise RuntimeError(f"synthetic body: built {len(pos)} vertices / {len(faces)} faces, "
                           f"expected {num_vertices} / {2 * num_vertices - 4}")
    pos = _relax(pos, faces, imp, iters=20)

    nv = len(pos)
    weights = _skin_weights(pos, faces, part, J_design, lay["h"])
    jrows = [_surround_weights(pos, J_design[k], 0.15, where=skeletons.SMPL_JOINT_NAMES[k])
             for k in range(skeletons.NUM_SMPL_JOINTS)]
    j_reg = _regressor(jrows, nv)
    J = np.asarray(j_reg @ pos)

    lm_pts = _landmark_points(imp, J_design, info)
    tree = _nearest(pos)
    landmarks = {name: int(tree(p)) for name, p in sorted(lm_pts.items())}
    landmarks["head_top"] = int(np.argmax(pos[:, 1]))
    coco = _regressor(_cocoplus_rows(pos, faces, J_design, landmarks), nv)

    shapedirs = _shape_dirs(pos, weights, J_design, faces, num_betas, rng_shape)
    posedirs = _pose_dirs(pos, weights, J_design, faces, rng_pose)
    kintree = np.stack([np.asarray(skeletons.SMPL_PARENTS, dtype=np.int64),
                        np.arange(skeletons.NUM_SMPL_JOINTS, dtype=np.int64)])
    kintree[0, 0] = ROOT_PARENT
    out = {
        "v_template": pos, "shapedirs": shapedirs, "posedirs": posedirs, "J_regressor": j_reg,
        "weights": weights, "f": faces.astype(np.uint32), "kintree_table": kintree, "J": J,
        "cocoplus_regressor": coco, "bs_type": "lrotmin", "bs_style": "lbs",
        "landmark_vertex_ids": landmarks, "part": part.astype(np.int8),
    }
    for v in out.values():  # the cache hands out copies; its own arrays stay read-only
        for a in ((v.data, v.indices, v.indptr) if sp.issparse(v) else (v,)):
            if isinstance(a, np.ndarray):
                a.flags.writeable = False
    return out


def _nearest(pos: np.ndarray) -> Callable[[np.ndarray], int]:
    return lambda p: int(np.argmin(np.sum((pos - p) ** 2, axis=1)))


def synthetic_smpl_arrays(seed: int = 0, num_vertices: int = 6890,
                          num_betas: int = 10) -> dict[str, Any]:
    """SMPL-format arrays of a deterministic synthetic human (as an SMPL .pkl after loading).

    Args:
      seed: varies proportions (~2%), shape-component magnitudes and pose blend directions.
      num_vertices: V (default SMPL's 6890; at least 600). Faces are always 2V - 4.
      num_betas: B shape components (the first 10 are documented in the module docstring).

    Returns:
      dict with 'v_template' (V, 3) float64, 'shapedirs' (V, 3, B), 'posedirs' (V, 3, 207),
      'J_regressor' scipy.sparse csc (24, V), 'weights' (V, 24), 'f' (F, 3) uint32,
      'kintree_table' (2, 24) int64 (root parent 4294967295), 'J' (24, 3),
      'cocoplus_regressor' scipy.sparse csc (19, V) in cocoplus order, 'bs_type' 'lrotmin',
      'bs_style' 'lbs', 'landmark_vertex_ids' dict canonical point name -> vertex id, and
      'part' (V,) int8 body part of each vertex (0 torso, 1 neck/head, 2/3 left/right arm,
      4/5 left/right leg). Fresh, writable copies on every call.
    """
    try:  # integers only (numpy integers too); 1.5 vertices is a caller's bug
        seed, num_vertices, num_betas = (operator.index(x) for x in (seed, num_vertices,
                                                                     num_betas))
    except TypeError as e:
        raise TypeError(f"synthetic_smpl_arrays: seed, num_vertices and num_betas must be "
                        f"integers, got {seed!r}, {num_vertices!r}, {num_betas!r}") from e
    if not _MIN_VERTICES <= int(num_vertices) <= _MAX_VERTICES:
        raise ValueError(f"num_vertices={num_vertices}: the synthetic body takes "
                         f"{_MIN_VERTICES}..{_MAX_VERTICES} vertices")
    if int(num_betas) < 1:
        raise ValueError(f"num_betas={num_betas}: need at least one shape component")
    if int(seed) < 0:
        raise ValueError(f"seed={seed}: the synthetic body takes a non-negative seed")
    cached = _build(int(seed), int(num_vertices), int(num_betas))
    out: dict[str, Any] = {}
    for k, v in cached.items():
        if isinstance(v, np.ndarray):
            out[k] = v.copy()
        elif sp.issparse(v):
            out[k] = v.copy()
        elif isinstance(v, dict):
            out[k] = dict(v)
        else:
            out[k] = v
    return out


def synthetic_model(seed: int = 0, **kw: Any) -> "BodyModel":
    """``BodyModel`` of the synthetic human: ``from_arrays(synthetic_smpl_arrays(seed, **kw))``.

    Keyword arguments ``num_vertices`` and ``num_betas`` go to ``synthetic_smpl_arrays``;
    any other keyword (``dtype``, ``keypoints``, ...) goes to ``model.from_arrays``.
    """
    from sfv_jax.body.model import from_arrays  # noqa: PLC0415  (keeps the import one-way)
    arr_kw = {k: kw.pop(k) for k in ("num_vertices", "num_betas") if k in kw}
    kw.setdefault("name", f"synthetic(seed={seed})")
    return from_arrays(synthetic_smpl_arrays(seed, **arr_kw), **kw)
