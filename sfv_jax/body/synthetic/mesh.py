"""The synthetic body's mesh topology: rings, vertex chains and zippers cast onto the implicit
surface, the ring layout for a target edge length, the genus-0 assembly and relaxation.

Part of ``sfv_jax.body.synthetic`` (the package docstring says how the body is made).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from sfv_jax import skeletons
from sfv_jax.body.synthetic.proportions import (_ARM_L, _ARM_R, _HEAD, _LEG_L, _LEG_R,
                                                _MIN_VERTICES, _TORSO)
from sfv_jax.body.synthetic.surface import _Implicit


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
