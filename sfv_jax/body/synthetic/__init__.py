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

from sfv_jax import skeletons
from sfv_jax.body.synthetic.proportions import ROOT_PARENT, _MAX_VERTICES, _MIN_VERTICES
from sfv_jax.body.synthetic.surface import _body_implicit, _rest_joints
from sfv_jax.body.synthetic.mesh import _assemble, _plan, _relax
from sfv_jax.body.synthetic.blend_shapes import _pose_dirs, _shape_dirs
from sfv_jax.body.synthetic.rig import (_cocoplus_rows, _landmark_points, _regressor, _skin_weights,
                                        _surround_weights)
from sfv_jax.body.synthetic.proportions import SHAPE_COMPONENTS  # noqa: F401  public

if TYPE_CHECKING:
    from sfv_jax.body.model import BodyModel


__all__ = ["synthetic_smpl_arrays", "synthetic_model", "SHAPE_COMPONENTS", "ROOT_PARENT"]

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
