"""The SMPL forward pass (linear blend skinning) and the keypoint-only restriction.

``forward`` (axis-angle pose) and ``forward_from_rotations`` (local rotation matrices, smplx's
``pose2rot=False``) are pure and batched over any leading dimensions; they work under
``jit``, ``vmap`` and ``grad`` (finite gradients at the zero pose, through
``rotations.axis_angle_to_matrix``), in float32 and float64 (the dtype follows the inputs
and the model). The kinematic chain is a static Python loop over the model's tree.

``keypoint_model`` restricts a model to the vertices its keypoint regressor reads; joints
come from the precomputed joint template and shape directions, so its keypoints and
joints equal the full model's while the per-vertex work shrinks from V to a few vertices.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import Array

from sfv_jax.body.model import BodyModel
from sfv_jax.geometry.rotations import axis_angle_to_matrix

__all__ = ["BodyOutput", "forward", "forward_from_rotations", "keypoint_model", "rest_joints"]


class BodyOutput(NamedTuple):
    """Result of ``forward`` for a batch ``...`` (usually (N,)).

    vertices: (..., V, 3) posed surface (V of the model; few for a restricted model).
    joints: (..., J, 3) posed joints.
    keypoints: (..., K, 3) the model's keypoint set.
    rotations: (..., J, 3, 3) global rotation of each joint (product along the chain).
    """

    vertices: Array
    joints: Array
    keypoints: Array
    rotations: Array


def rest_joints(model: BodyModel, betas: Array) -> Array:
    """Rest-pose joints: betas (..., B') with B' <= model.num_betas -> (..., J, 3)."""
    betas = jnp.asarray(betas)
    nb = betas.shape[-1]
    dirs = jnp.asarray(model.j_shapedirs)[..., :nb]
    return jnp.asarray(model.j_template) + jnp.einsum("...b,jcb->...jc", betas, dirs)


def _levels(parents: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Joints grouped by depth in the tree (static); SMPL has 9 levels."""
    depth: list[int] = []
    for p in parents:
        depth.append(0 if p < 0 else depth[p] + 1)
    return tuple(tuple(j for j, d in enumerate(depth) if d == lvl)
                 for lvl in range(max(depth) + 1))


def _chain(rot_local: Array, joints: Array, parents: tuple[int, ...]) -> tuple[Array, Array]:
    """Global rotations (N, J, 3, 3) and posed joints (N, J, 3) along the kinematic tree.

    Processes the tree level by level (one batched matmul per depth, static gathers), which
    keeps the traced graph small: faster compiles and fewer tiny kernels than a per-joint
    loop.
    """
    levels = _levels(parents)
    if len(levels[0]) != 1 or levels[0][0] != 0:
        raise ValueError(f"kinematic tree must have joint 0 as its only root, got {parents}")
    order: list[int] = [0]
    rg, tg = rot_local[:, :1], joints[:, :1]
    for lvl in levels[1:]:
        pos = {j: i for i, j in enumerate(order)}
        par_pos = np.asarray([pos[parents[j]] for j in lvl])
        par = np.asarray([parents[j] for j in lvl])
        idx = np.asarray(lvl)
        r_par, t_par = rg[:, par_pos], tg[:, par_pos]
        # 3x3 products as broadcast multiply-adds: XLA:CPU mis-lays-out batched dot_generals
        # of this shape under vmap (HLO verifier failure), and these are too small for a GEMM.
        r_child = (r_par[..., :, :, None] * rot_local[:, idx][..., None, :, :]).sum(-2)
        rg = jnp.concatenate([rg, r_child], axis=1)
        offset = joints[:, idx] - joints[:, par]
        tg = jnp.concatenate([tg, (r_par * offset[..., None, :]).sum(-1) + t_par], axis=1)
        order.extend(lvl)
    inv = np.argsort(np.asarray(order))
    return rg[:, inv], tg[:, inv]


def forward(model: BodyModel, pose: Array, betas: Array, transl: Array | None = None
            ) -> BodyOutput:
    """Poses and shapes the body.

    Args:
      model: a ``BodyModel`` (full or keypoint-restricted).
      pose: (..., 3 J) axis-angle (SMPL: (..., 72); root first), or (..., J, 3).
      betas: (..., B') shape coefficients, B' <= model.num_betas (the first B' components
        are used); batch dimensions broadcast against ``pose``'s.
      transl: (..., 3) root translation added to every output point, or None.

    Returns:
      ``BodyOutput`` with vertices (..., V, 3), joints (..., J, 3), keypoints (..., K, 3),
      rotations (..., J, 3, 3) global.
    """
    nj = model.num_joints
    pose = jnp.asarray(pose)
    if pose.ndim >= 2 and pose.shape[-2:] == (nj, 3):
        pose = pose.reshape(pose.shape[:-2] + (3 * nj,))
    if pose.ndim < 1 or pose.shape[-1] != 3 * nj:
        raise ValueError(f"pose has shape {pose.shape}, expected (..., {3 * nj}) axis-angle "
                         f"or (..., {nj}, 3)")
    return _posed(model, pose.reshape(pose.shape[:-1] + (nj, 3)), True, betas, transl)


def forward_from_rotations(model: BodyModel, rotations: Array, betas: Array,
                           transl: Array | None = None) -> BodyOutput:
    """``forward`` from local rotation matrices (smplx's ``pose2rot=False``), for callers
    that already hold the rotations of their pose (no second axis-angle conversion).

    Args:
      model: a ``BodyModel``.
      rotations: (..., J, 3, 3) local (parent-relative) joint rotations, root first; equal
        to ``rotations.axis_angle_to_matrix`` of a pose gives ``forward(model, pose, ...)``.
      betas, transl: as in ``forward``.

    Returns:
      ``BodyOutput`` as ``forward``'s.
    """
    nj = model.num_joints
    rotations = jnp.asarray(rotations)
    if rotations.ndim < 3 or rotations.shape[-3:] != (nj, 3, 3):
        raise ValueError(f"rotations have shape {rotations.shape}, expected (..., {nj}, 3, 3)")
    return _posed(model, rotations, False, betas, transl)


def _posed(model: BodyModel, local: Array, axis_angle: bool, betas: Array,
           transl: Array | None) -> BodyOutput:
    """The forward pass from local joint rotations: (..., J, 3) axis-angle when
    ``axis_angle``, else (..., J, 3, 3) matrices; see ``forward``."""
    nj = model.num_joints
    event = 2 if axis_angle else 3          # trailing (per-body) dims of ``local``
    betas = jnp.asarray(betas)
    if betas.ndim < 1 or betas.shape[-1] > model.num_betas:
        raise ValueError(f"betas has shape {betas.shape}, expected (..., B) with B <= "
                         f"{model.num_betas} (the model's shape components)")
    args = [local, betas]
    if transl is not None:
        transl = jnp.asarray(transl)
        if transl.ndim < 1 or transl.shape[-1] != 3:
            raise ValueError(f"transl has shape {transl.shape}, expected (..., 3)")
        args.append(transl)
    dtype = jnp.result_type(*[a.dtype for a in args], model.v_template.dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    batch = jnp.broadcast_shapes(local.shape[:-event], *[a.shape[:-1] for a in args[1:]])
    n = int(np.prod(batch, dtype=np.int64))

    def flat(a: Array, k: int = 1) -> Array:
        tail = a.shape[a.ndim - k:]
        return jnp.broadcast_to(a.astype(dtype), batch + tail).reshape((n,) + tail)

    local, betas = flat(local, event), flat(betas)
    nb = betas.shape[-1]
    arr = lambda x: jnp.asarray(x, dtype=dtype)  # noqa: E731

    rot_local = axis_angle_to_matrix(local) if axis_angle else local
    j_rest = arr(model.j_template) + jnp.einsum("nb,jcb->njc", betas,
                                                arr(model.j_shapedirs)[..., :nb])
    v_shaped = arr(model.v_template) + jnp.einsum("nb,vcb->nvc", betas,
                                                  arr(model.shapedirs)[..., :nb])
    # Pose blend shapes from (R - I) of the non-root joints, SMPL's row-major order.
    pose_feat = (rot_local[:, 1:] - jnp.eye(3, dtype=dtype)).reshape(n, 9 * (nj - 1))
    v_posed = v_shaped + jnp.einsum("np,vcp->nvc", pose_feat, arr(model.posedirs))

    rot_global, joints = _chain(rot_local, j_rest, model.parents)
    # Skinning transform of joint j: x -> R_j x + (t_j - R_j J_j), blended per vertex.
    t_skin = joints - jnp.einsum("njab,njb->nja", rot_global, j_rest)
    a = jnp.concatenate([rot_global.reshape(n, nj, 9), t_skin], axis=-1)  # (N, J, 12)
    t = jnp.einsum("vj,njk->nvk", arr(model.lbs_weights), a)
    nv = t.shape[1]
    rot_v = t[..., :9].reshape(n, nv, 3, 3)
    vertices = jnp.einsum("nvab,nvb->nva", rot_v, v_posed) + t[..., 9:]

    if transl is not None:
        tr = flat(transl)[:, None, :]
        vertices = vertices + tr
        joints = joints + tr
    keypoints = (jnp.einsum("kv,nvc->nkc", arr(model.kp_vertex_regressor), vertices)
                 + jnp.einsum("kj,njc->nkc", arr(model.kp_joint_weights), joints))
    unflat = lambda x: x.reshape(batch + x.shape[1:])  # noqa: E731
    return BodyOutput(unflat(vertices), unflat(joints), unflat(keypoints), unflat(rot_global))


def keypoint_model(model: BodyModel, tol: float = 0.0) -> BodyModel:
    """``model`` restricted to the vertices its keypoint regressor reads.

    Args:
      model: a ``BodyModel``; a restricted one is returned unchanged.
      tol: regressor weights with ``|w| <= tol`` are treated as zero (default exact: 0,
        which keeps the keypoints identical to the full forward's up to rounding).

    Returns:
      A ``BodyModel`` with no faces and no joint regressor whose joints, keypoints and
      rotations from ``forward`` equal the full model's. ``vertex_ids`` holds the original
      ids of the kept vertices (ascending), or ``()`` when none is kept (joint-only keypoints).
      For objectives that need only keypoints, ``keypoint_pairs.pair_model`` of this model is
      faster still (skinning folded into (keypoint, joint) pairs).
    """
    if model.is_restricted:
        return model
    reg = np.asarray(model.kp_vertex_regressor)
    reg = np.where(np.abs(reg) > tol, reg, 0).astype(reg.dtype)
    keep = np.flatnonzero(np.any(reg != 0, axis=0))
    take = lambda x: np.ascontiguousarray(np.asarray(x)[keep])  # noqa: E731
    return dataclasses.replace(
        model, v_template=take(model.v_template), shapedirs=take(model.shapedirs),
        posedirs=take(model.posedirs), lbs_weights=take(model.lbs_weights),
        kp_vertex_regressor=np.ascontiguousarray(reg[:, keep]),
        vertex_ids=tuple(int(i) for i in keep), faces=np.zeros((0, 3), np.int32),
        j_regressor=None, cocoplus_regressor=None)

