"""Tests of the synthetic SMPL-format human (sfv_jax/body/synthetic.py)."""
from __future__ import annotations

import jax
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial import cKDTree

from sfv_jax import skeletons
from sfv_jax.body import synthetic as syn

JI = {n: i for i, n in enumerate(skeletons.SMPL_JOINT_NAMES)}


@pytest.fixture(scope="module")
def arr() -> dict:
    return syn.synthetic_smpl_arrays(0)


@pytest.fixture(scope="module")
def small() -> dict:
    """A coarser body (fast forward passes)."""
    return syn.synthetic_smpl_arrays(1, num_vertices=1500)


# --------------------------------------------------------------------------------------
# geometry helpers (plain NumPy, independent of the builder)
# --------------------------------------------------------------------------------------
def _volume(v: np.ndarray, f: np.ndarray) -> float:
    return float(np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6)


def _winding(points: np.ndarray, v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Generalized winding number of a closed mesh at points (P, 3): ~1 inside, ~0 outside."""
    out = []
    for p in points:
        a, b, c = v[f[:, 0]] - p, v[f[:, 1]] - p, v[f[:, 2]] - p
        la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
        num = np.einsum("ij,ij->i", a, np.cross(b, c))
        den = (la * lb * lc + np.einsum("ij,ij->i", a, b) * lc
               + np.einsum("ij,ij->i", b, c) * la + np.einsum("ij,ij->i", c, a) * lb)
        out.append(2 * np.arctan2(num, den).sum() / (4 * np.pi))
    return np.asarray(out)


def _self_intersections(v: np.ndarray, f: np.ndarray) -> int:
    """Number of face pairs (sharing no vertex) where an edge of one pierces the other."""
    tri = v[f]
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    cen = tri.mean(axis=1)
    rad = np.linalg.norm(tri - cen[:, None], axis=2).max(axis=1)
    tree = cKDTree(cen)
    q = float(np.quantile(rad, 0.95))
    pairs = [tree.query_pairs(2 * q, output_type="ndarray")]
    for i in np.nonzero(rad > q)[0]:  # the few big faces against everything near them
        js = np.asarray(tree.query_ball_point(cen[i], rad[i] + rad.max()), dtype=np.int64)
        pairs.append(np.stack([np.full(len(js), i), js], axis=1))
    p = np.concatenate(pairs)
    p = p[np.linalg.norm(cen[p[:, 0]] - cen[p[:, 1]], axis=1) <= rad[p[:, 0]] + rad[p[:, 1]]]
    p = np.unique(np.sort(p, axis=1), axis=0)
    p = p[p[:, 0] != p[:, 1]]
    share = (f[p[:, 0], :, None] == f[p[:, 1], None, :]).any(axis=(1, 2))
    p = p[~share]
    overlap = np.all((lo[p[:, 0]] <= hi[p[:, 1]]) & (lo[p[:, 1]] <= hi[p[:, 0]]), axis=1)
    p = p[overlap]

    def seg_hits(t1: np.ndarray, t2: np.ndarray) -> np.ndarray:
        hit = np.zeros(len(t1), dtype=bool)
        e1, e2 = t2[:, 1] - t2[:, 0], t2[:, 2] - t2[:, 0]
        for k in range(3):
            o, d = t1[:, k], t1[:, (k + 1) % 3] - t1[:, k]
            pv = np.cross(d, e2)
            det = np.einsum("ij,ij->i", e1, pv)
            ok = np.abs(det) > 1e-14
            inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
            tv = o - t2[:, 0]
            u = np.einsum("ij,ij->i", tv, pv) * inv
            qv = np.cross(tv, e1)
            w = np.einsum("ij,ij->i", d, qv) * inv
            t = np.einsum("ij,ij->i", e2, qv) * inv
            hit |= ok & (u >= 0) & (w >= 0) & (u + w <= 1) & (t >= 0) & (t <= 1)
        return hit

    a, b = tri[p[:, 0]], tri[p[:, 1]]
    return int(np.count_nonzero(seg_hits(a, b) | seg_hits(b, a)))


def _shaped(arr: dict, k: int, value: float) -> tuple[np.ndarray, np.ndarray]:
    betas = np.zeros(arr["shapedirs"].shape[-1])
    betas[k] = value
    v = arr["v_template"] + arr["shapedirs"] @ betas
    return v, np.asarray(arr["J_regressor"] @ v)


# --------------------------------------------------------------------------------------
# sizes and format
# --------------------------------------------------------------------------------------
def test_sizes_and_types(arr: dict) -> None:
    assert arr["v_template"].shape == (6890, 3) and arr["v_template"].dtype == np.float64
    assert arr["f"].shape == (13776, 3) and arr["f"].dtype == np.uint32
    assert arr["shapedirs"].shape == (6890, 3, 10)
    assert arr["posedirs"].shape == (6890, 3, 207)
    assert arr["weights"].shape == (6890, 24)
    assert sp.isspmatrix_csc(arr["J_regressor"]) and arr["J_regressor"].shape == (24, 6890)
    assert sp.isspmatrix_csc(arr["cocoplus_regressor"])
    assert arr["cocoplus_regressor"].shape == (19, 6890)
    assert arr["bs_type"] == "lrotmin" and arr["bs_style"] == "lbs"
    kt = arr["kintree_table"]
    assert kt.shape == (2, 24) and kt[0, 0] == 4294967295
    assert tuple(kt[0, 1:]) == skeletons.SMPL_PARENTS[1:]
    assert np.array_equal(kt[1], np.arange(24))
    np.testing.assert_array_equal(arr["J"], arr["J_regressor"] @ arr["v_template"])
    for a in arr.values():
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            assert np.all(np.isfinite(a))


def test_other_sizes_and_betas() -> None:
    a = syn.synthetic_smpl_arrays(3, num_vertices=1500, num_betas=16)
    assert a["v_template"].shape == (1500, 3) and a["f"].shape == (2 * 1500 - 4, 3)
    assert a["shapedirs"].shape == (1500, 3, 16)
    e = _edge_counts(a["f"])
    assert set(e.values()) == {2}
    assert np.abs(a["shapedirs"][..., 10:]).max() > 0
    a4 = syn.synthetic_smpl_arrays(3, num_vertices=1500, num_betas=4)
    np.testing.assert_array_equal(a4["shapedirs"], a["shapedirs"][..., :4])
    with pytest.raises(ValueError, match="num_vertices"):
        syn.synthetic_smpl_arrays(0, num_vertices=100)
    with pytest.raises(ValueError, match="num_betas"):
        syn.synthetic_smpl_arrays(0, num_betas=0)
    with pytest.raises(ValueError, match="seed"):
        syn.synthetic_smpl_arrays(-1)
    with pytest.raises(TypeError, match="integers"):
        syn.synthetic_smpl_arrays(0, num_vertices=1500.5)


def _edge_counts(f: np.ndarray) -> dict:
    f = f.astype(np.int64)
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    u, c = np.unique(e, axis=0, return_counts=True)
    return dict(zip(map(tuple, u), c))


# --------------------------------------------------------------------------------------
# the surface
# --------------------------------------------------------------------------------------
def test_watertight_oriented_genus0(arr: dict) -> None:
    f = arr["f"].astype(np.int64)
    v = arr["v_template"]
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    # each directed edge once, and its reverse present: closed and consistently oriented
    assert len(np.unique(directed, axis=0)) == len(directed)
    key = directed[:, 0] * len(v) + directed[:, 1]
    rkey = directed[:, 1] * len(v) + directed[:, 0]
    assert np.all(np.isin(rkey, key))
    counts = _edge_counts(f)
    assert set(counts.values()) == {2}
    assert len(v) - len(counts) + len(f) == 2  # Euler characteristic of a sphere
    assert len(np.unique(f)) == len(v)  # no stray vertices
    # one connected component
    a = sp.coo_matrix((np.ones(len(directed)), (directed[:, 0], directed[:, 1])),
                      shape=(len(v), len(v)))
    ncomp, _ = sp.csgraph.connected_components(a, directed=False)
    assert ncomp == 1
    vol = _volume(v, f)
    assert 0.06 <= vol <= 0.09, vol


def test_no_degenerate_faces(arr: dict) -> None:
    v, f = arr["v_template"], arr["f"].astype(np.int64)
    t = v[f]
    area = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    assert area.min() > 1e-6  # 1 mm^2
    for k in range(3):
        u, w = t[:, (k + 1) % 3] - t[:, k], t[:, (k + 2) % 3] - t[:, k]
        cos = np.einsum("ij,ij->i", u, w) / np.linalg.norm(u, axis=1) / np.linalg.norm(w, axis=1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).min() > 3.0
    edges = np.linalg.norm(t - np.roll(t, 1, axis=1), axis=2)
    assert edges.min() > 1e-3 and edges.max() < 0.1


def test_no_self_intersections(arr: dict) -> None:
    assert _self_intersections(arr["v_template"], arr["f"].astype(np.int64)) == 0


def test_self_intersection_check_can_fail(arr: dict) -> None:
    v = arr["v_template"].copy()
    f = arr["f"].astype(np.int64)
    # push one hand vertex through the opposite side of the hand
    hand = np.nonzero(v[:, 0] > 0.8)[0]
    i = hand[np.argmax(v[hand, 1])]
    v[i, 1] -= 0.06
    assert _self_intersections(v, f) > 0


def test_human_proportions(arr: dict) -> None:
    v, J = arr["v_template"], arr["J"]
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.62 < height < 1.78, height
    assert -0.26 < J[JI["pelvis"], 1] < -0.19
    assert -1.2 < v[:, 1].min() < -1.1 and 0.45 < v[:, 1].max() < 0.58
    # T-pose: arm span about the height, arms along x at shoulder height
    span = v[:, 0].max() - v[:, 0].min()
    assert 0.95 * height < span < 1.1 * height
    assert abs(J[JI["left_wrist"], 1] - J[JI["left_shoulder"], 1]) < 0.03
    # left is +x, faces +z (nose in front of the head joint), Y up
    assert J[JI["left_shoulder"], 0] > 0 > J[JI["right_shoulder"], 0]
    nose = v[arr["landmark_vertex_ids"]["nose"]]
    assert nose[2] > J[JI["head"], 2] + 0.07
    assert J[JI["head"], 1] > J[JI["neck"], 1] > J[JI["spine3"], 1] > J[JI["pelvis"], 1]
    # toes point forward
    assert J[JI["left_foot"], 2] > J[JI["left_ankle"], 2] + 0.05
    # left/right mirror of the template joints
    for name in skeletons.SMPL_JOINT_NAMES:
        if name.startswith("left_"):
            l, r = J[JI[name]], J[JI["right_" + name[5:]]]
            np.testing.assert_allclose(l * [-1, 1, 1], r, atol=2e-3)


def test_joints_and_keypoints_inside_body(arr: dict) -> None:
    v, f = arr["v_template"], arr["f"].astype(np.int64)
    wn = _winding(arr["J"], v, f)
    assert np.all(wn > 0.99), dict(zip(skeletons.SMPL_JOINT_NAMES, wn.round(3)))
    # outside points are outside (the check can fail)
    assert np.all(np.abs(_winding(np.array([[0, 0, 0.5], [0.4, -0.5, 0], [0, 1, 0]]), v, f))
                  < 0.01)
    # interior cocoplus points (limbs, neck) inside as well
    kp = np.asarray(arr["cocoplus_regressor"] @ v)
    names = skeletons.FORMATS["cocoplus"]
    interior = [i for i, n in enumerate(names)
                if n not in ("head_top", "nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    assert np.all(_winding(kp[interior], v, f) > 0.99)
    # each joint regressed from a ring of vertices around it: several, all nearby
    jr = arr["J_regressor"].tocsr()
    for j in range(24):
        ids = jr.indices[jr.indptr[j]:jr.indptr[j + 1]]
        assert len(ids) >= 4
        assert np.linalg.norm(v[ids] - arr["J"][j], axis=1).max() < 0.16


def test_regressors_rows(arr: dict) -> None:
    for key in ("J_regressor", "cocoplus_regressor"):
        r = arr[key]
        assert r.data.min() >= 0
        np.testing.assert_allclose(np.asarray(r.sum(axis=1)).ravel(), 1.0, atol=1e-12)
    coco = arr["cocoplus_regressor"].tocsr()
    assert max(np.diff(coco.indptr)) <= 32  # sparse: a small set per keypoint
    kp = np.asarray(coco @ arr["v_template"])
    names = skeletons.FORMATS["cocoplus"]
    pos = {n: kp[i] for i, n in enumerate(names)}
    J = arr["J"]
    for n in ("left_knee", "right_ankle", "left_wrist", "right_elbow"):
        assert np.linalg.norm(pos[n] - J[JI[n]]) < 0.01
    assert pos["head_top"][1] > pos["nose"][1] > pos["neck"][1] > pos["left_hip"][1]
    assert pos["left_eye"][0] > 0 > pos["right_eye"][0]
    assert pos["left_ear"][0] > pos["left_eye"][0]
    assert pos["nose"][2] > pos["left_eye"][2] > pos["left_ear"][2]


def test_landmarks(arr: dict) -> None:
    lm = arr["landmark_vertex_ids"]
    v = arr["v_template"]
    need = {"nose", "left_eye", "right_eye", "left_ear", "right_ear", "head_top",
            "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
            "right_heel"}
    assert need <= set(lm) and set(lm) <= set(skeletons.CANONICAL)
    assert len({lm[n] for n in need}) == len(need)
    assert lm["head_top"] == int(np.argmax(v[:, 1]))
    for side, s in (("left", 1), ("right", -1)):
        heel, big, small = (v[lm[f"{side}_{n}"]] for n in ("heel", "big_toe", "small_toe"))
        assert big[2] > heel[2] + 0.15 and small[2] > heel[2] + 0.1
        assert s * small[0] > s * big[0]  # big toe on the inside
        assert max(heel[1], big[1], small[1]) < v[:, 1].min() + 0.04
        assert s * v[lm[f"{side}_ear"]][0] > 0.06


def test_skinning_weights(arr: dict) -> None:
    w, v, f = arr["weights"], arr["v_template"], arr["f"].astype(np.int64)
    assert w.min() >= 0
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(w.max(axis=0) > 0.5)  # every joint drives some vertices
    # smooth: weights change little across an edge (the largest steps are on the few long
    # edges at the armpit folds and across the crotch)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    step = np.abs(w[e[:, 0]] - w[e[:, 1]]).max(axis=1)
    assert step.max() < 0.4 and np.percentile(step, 99) < 0.3
    # the knee blends over a few cm (not a hard cut)
    kn = arr["J"][JI["left_knee"]]
    leg = (arr["part"] == 4)
    wk = w[:, JI["left_knee"]]
    mixed = leg & (wk > 0.1) & (w[:, JI["left_hip"]] > 0.1)
    span = v[mixed, 1].max() - v[mixed, 1].min()
    assert 0.02 < span < 0.15, span
    assert abs(np.median(v[mixed, 1]) - kn[1]) < 0.03
    # far above the knee (thigh), nothing of it
    assert wk[leg & (v[:, 1] > kn[1] + 0.15)].max() < 1e-3
    # the right side never follows left joints
    left_j = [i for i, n in enumerate(skeletons.SMPL_JOINT_NAMES) if n.startswith("left_")]
    assert w[v[:, 0] < -0.1][:, left_j].max() < 1e-3


def test_determinism_and_seeds(arr: dict) -> None:
    fresh = syn._build.__wrapped__(0, 6890, 10)
    for k, a in arr.items():
        b = fresh[k]
        if sp.issparse(a):
            assert (a != b).nnz == 0 and a.dtype == b.dtype
        elif isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), k
        else:
            assert a == b, k
    other = syn.synthetic_smpl_arrays(1, num_vertices=1500)
    same = syn.synthetic_smpl_arrays(1, num_vertices=1500)
    other2 = syn.synthetic_smpl_arrays(2, num_vertices=1500)
    assert np.array_equal(other["posedirs"], same["posedirs"])
    assert not np.array_equal(other["posedirs"], other2["posedirs"])
    assert not np.array_equal(other["v_template"], other2["v_template"])
    h1 = np.ptp(other["v_template"][:, 1])
    h2 = np.ptp(other2["v_template"][:, 1])
    assert 0 < abs(h1 - h2) < 0.1


def test_returns_fresh_copies(small: dict) -> None:
    a = syn.synthetic_smpl_arrays(1, num_vertices=1500)
    a["v_template"][0] = 99.0
    a["landmark_vertex_ids"]["nose"] = -1
    a["J_regressor"].data[:] = 0.0
    b = syn.synthetic_smpl_arrays(1, num_vertices=1500)
    assert b["J_regressor"].data.max() > 0
    assert b["v_template"][0, 0] != 99.0 and b["landmark_vertex_ids"]["nose"] >= 0


# --------------------------------------------------------------------------------------
# shape components
# --------------------------------------------------------------------------------------
def _dist(J: np.ndarray, a: str, b: str) -> float:
    return float(np.linalg.norm(J[JI[a]] - J[JI[b]]))


def _measures(arr: dict, v: np.ndarray, J: np.ndarray) -> dict[str, float]:
    f = arr["f"].astype(np.int64)
    part = arr["part"]
    head = part == 1
    torso = (part == 0) & (np.abs(v[:, 1] - J[JI["spine3"], 1]) < 0.05)
    arm = (part == 2) & (np.abs(v[:, 0] - J[JI["left_elbow"], 0]) < 0.05)
    upper = J[JI["left_shoulder"]]
    return {
        "height": float(np.ptp(v[:, 1])),
        "volume": _volume(v, f),
        "leg": _dist(J, "left_hip", "left_knee") + _dist(J, "left_knee", "left_ankle"),
        "arm": _dist(J, "left_shoulder", "left_elbow") + _dist(J, "left_elbow", "left_wrist"),
        "shoulders": _dist(J, "left_shoulder", "right_shoulder"),
        "hips": _dist(J, "left_hip", "right_hip"),
        "torso": _dist(J, "pelvis", "neck"),
        "head": float(v[head, 1].max() - J[JI["neck"], 1]),
        "chest_depth": float(np.ptp(v[torso, 2])),
        "arm_girth": float(np.linalg.norm((v[arm] - upper)[:, 1:], axis=1).mean()),
    }


# (component, measure that must grow by at least, measures that must stay within 1%)
EFFECTS = [
    (0, {"height": 0.15}, ()),
    (1, {"volume": 0.25, "chest_depth": 0.2}, ("leg", "arm")),
    (2, {"leg": 0.15, "height": 0.06}, ("arm", "torso", "head")),
    (3, {"arm": 0.15}, ("leg", "height", "torso")),
    (4, {"shoulders": 0.12}, ("arm", "leg", "height")),
    (5, {"hips": 0.2}, ("arm", "shoulders", "height")),
    (6, {"torso": 0.12, "height": 0.04}, ("leg", "arm")),
    (7, {"head": 0.12}, ("leg", "arm", "torso")),
    (8, {"chest_depth": 0.2}, ("leg", "arm", "height", "shoulders")),
    (9, {"arm_girth": 0.18}, ("leg", "arm", "height", "chest_depth")),
]


@pytest.mark.parametrize("k,grow,keep", EFFECTS)
def test_shape_component_effects(arr: dict, k: int, grow: dict, keep: tuple) -> None:
    lo = _measures(arr, *_shaped(arr, k, -2.0))
    hi = _measures(arr, *_shaped(arr, k, 2.0))
    for m, frac in grow.items():
        assert hi[m] > lo[m] * (1 + frac), (syn.SHAPE_COMPONENTS[k], m, lo[m], hi[m])
    for m in keep:
        assert abs(hi[m] - lo[m]) <= 0.01 * lo[m], (syn.SHAPE_COMPONENTS[k], m, lo[m], hi[m])


def test_extreme_shapes_stay_plausible(arr: dict) -> None:
    f = arr["f"].astype(np.int64)
    rng = np.random.default_rng(0)
    # each component alone at +-2, and random shapes of norm 2: a plausible human
    settings = [np.eye(10)[k] * s for k in range(10) for s in (-2.0, 2.0)]
    settings += [2.0 * b / np.linalg.norm(b) for b in rng.normal(size=(3, 10))]
    for betas in settings:
        v = arr["v_template"] + arr["shapedirs"] @ betas
        J = np.asarray(arr["J_regressor"] @ v)
        assert 0.04 < _volume(v, f) < 0.11, betas
        assert 1.5 < np.ptp(v[:, 1]) < 1.9, betas
        assert np.all(_winding(J, v, f) > 0.99), betas
        assert _self_intersections(v, f) == 0, betas
    # every component at +-2 at once (far outside the usual range): still a clean surface
    for betas in (np.full(10, 2.0), np.full(10, -2.0)):
        v = arr["v_template"] + arr["shapedirs"] @ betas
        assert _volume(v, f) > 0
        assert np.all(_winding(np.asarray(arr["J_regressor"] @ v), v, f) > 0.99), betas
        assert _self_intersections(v, f) == 0, betas


def test_pose_blend_shapes(arr: dict) -> None:
    pd = arr["posedirs"]
    assert np.abs(pd).max() < 0.02  # mm to cm per unit of (R - I)
    assert np.abs(pd).max() > 1e-4
    # local: the left knee's entries (joint 4 -> columns 27..35) only move vertices near it
    cols = slice(9 * (JI["left_knee"] - 1), 9 * JI["left_knee"])
    moved = np.abs(pd[:, :, cols]).max(axis=(1, 2)) > 1e-5
    d = np.linalg.norm(arr["v_template"][moved] - arr["J"][JI["left_knee"]], axis=1)
    assert moved.sum() > 10 and d.max() < 0.3


# --------------------------------------------------------------------------------------
# with the body model and forward pass
# --------------------------------------------------------------------------------------
def test_model_and_knee_bend(small: dict) -> None:
    body = pytest.importorskip("sfv_jax.body")
    arr = small
    model = syn.synthetic_model(1, num_vertices=1500)
    assert model.num_vertices == 1500 and model.num_faces == 2996
    assert model.parents == skeletons.SMPL_PARENTS
    pose = np.zeros((2, 72))
    pose[1, 3 * JI["left_knee"]] = np.pi / 2  # bend the left knee 90 degrees about x
    out = jax.jit(body.forward)(model, pose.astype(np.float32), np.zeros((2, 10), np.float32))
    v0, v1 = np.asarray(out.vertices[0]), np.asarray(out.vertices[1])
    assert np.all(np.isfinite(v1))
    np.testing.assert_allclose(v0, arr["v_template"], atol=1e-6)  # float32 under default jax
    moved = np.linalg.norm(v1 - v0, axis=1)
    knee_y = arr["J"][JI["left_knee"], 1]
    part = arr["part"]
    shin = (part == 4) & (v0[:, 1] < knee_y - 0.12)
    assert moved[shin].min() > 0.05
    assert moved[(part != 4) & (part != 0)].max() < 0.02  # other limbs, head: pose blend only
    assert moved[part == 5].max() < 1e-3
    thigh = (part == 4) & (v0[:, 1] > knee_y + 0.12)
    assert moved[thigh].max() < 0.01
    # the shin now points backwards (-z) from the knee; the foot's toes point down
    ank = np.asarray(out.joints[1])[JI["left_ankle"]]
    assert ank[2] < arr["J"][JI["left_knee"], 2] - 0.3
    assert abs(ank[1] - knee_y) < 0.08
    # smooth bend: neighbouring vertices stay neighbours (edges stretch < 3x)
    f = arr["f"].astype(np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    l0 = np.linalg.norm(v0[e[:, 0]] - v0[e[:, 1]], axis=1)
    l1 = np.linalg.norm(v1[e[:, 0]] - v1[e[:, 1]], axis=1)
    assert (l1 / l0).max() < 3.0
    # keypoints of the model follow
    assert np.all(np.isfinite(np.asarray(out.keypoints)))


def test_openpose_keypoints_from_landmarks(small: dict) -> None:
    body = pytest.importorskip("sfv_jax.body")
    arr = small
    model = syn.synthetic_model(1, num_vertices=1500)
    v = arr["v_template"]
    lm = arr["landmark_vertex_ids"]
    for fmt in ("body25",):
        m = body.with_keypoints(model, fmt)
        names = skeletons.FORMATS[fmt]
        assert m.keypoint_names == names
        out = jax.jit(body.forward)(m, np.zeros((1, 72), np.float32),
                                    np.zeros((1, 10), np.float32))
        kp = np.asarray(out.keypoints[0], dtype=np.float64)
        assert np.all(np.isfinite(kp))
        pos = dict(zip(names, kp))
        for n in ("nose", "left_eye", "right_ear"):
            np.testing.assert_allclose(pos[n], v[lm[n]], atol=1e-5)
        np.testing.assert_allclose(pos["left_knee"], arr["J"][JI["left_knee"]], atol=1e-5)
        if fmt == "body25":
            assert pos["left_big_toe"][2] > pos["left_ankle"][2] + 0.1
            assert pos["left_heel"][2] < pos["left_ankle"][2]


def test_another_seed_is_clean_too() -> None:
    a = syn.synthetic_smpl_arrays(7)
    v, f = a["v_template"], a["f"].astype(np.int64)
    assert v.shape == (6890, 3) and f.shape == (13776, 3)
    assert set(_edge_counts(f).values()) == {2}
    assert 0.055 < _volume(v, f) < 0.09
    assert 1.62 < np.ptp(v[:, 1]) < 1.78
    assert _self_intersections(v, f) == 0
    assert np.all(_winding(a["J"], v, f) > 0.99)
