"""Keypoints of a body model without its vertices: skinning folded into (keypoint, joint) pairs.

The solver needs only the keypoints, which are linear in the vertices
(``kp_k = sum_v R_kv x_v``), and each skinned vertex is
``x_v = sum_j w_vj (G_j (T_v + S_v beta + P_v f) + t_j)`` (G_j, t_j the joint transforms,
f = the 207 pose features). Swapping the sums gives, exactly::

    kp_k = sum_{j: (k, j) in pairs} G_j (s_kj + S_kj beta + Q_kj f) + sum_j a_kj t_j

with ``c_v = R_kv w_vj``, ``s_kj = sum_v c_v T_v``, ``S_kj = sum_v c_v S_v``,
``Q_kj = sum_v c_v P_v`` and ``a_kj = sum_v R_kv w_vj``, precomputed once per model. A keypoint
regressor touches few joints, so the pairs are few (45 for cocoplus on SMPL vs 600+ vertices
of the restricted model): the pose blend shapes shrink by the same factor. Joints, global
rotations and rest joints come from ``body.forward_from_rotations`` / ``body.rest_joints`` on
a vertex-free copy of the model, so the kinematic chain is the body module's own.
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sfv_jax.body.kinematics import forward_from_rotations, rest_joints
from sfv_jax.body.model import BodyModel

Array = jnp.ndarray


@dataclasses.dataclass(frozen=True)
class PairModel:
    """A body model's keypoints as (keypoint, joint) pairs (a pytree; indices are static).

    Leaves (P pairs, K keypoints, J joints, B betas, F pose features):
      skeleton: the ``BodyModel`` with no vertices (joints, rotations, joint keypoint part);
      s_template (P, 3), s_dirs (P, 3, B), q_dirs (P, 3, F): per-pair blended rest geometry;
      pair_to_kp (K, P) 0/1 sum matrix; a (K, J) translation weights.
    Static: pair_joint (P,) joint of each pair.
    """
    skeleton: BodyModel
    s_template: Any
    s_dirs: Any
    q_dirs: Any
    pair_to_kp: Any
    a: Any
    pair_joint: tuple[int, ...]

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        return self.skeleton.keypoint_names

    @property
    def num_pairs(self) -> int:
        return len(self.pair_joint)


jax.tree_util.register_dataclass(
    PairModel, data_fields=["skeleton", "s_template", "s_dirs", "q_dirs", "pair_to_kp", "a"],
    meta_fields=["pair_joint"])


class PairOutput(NamedTuple):
    """keypoints (N, K, 3) and joints (N, J, 3), posed, no translation."""
    keypoints: Array
    joints: Array


def pair_model(model: BodyModel) -> PairModel:
    """Precomputes the pair form of ``model``'s keypoints (NumPy float64, cast to its dtype)."""
    reg = np.asarray(model.kp_vertex_regressor, np.float64)            # (K, V)
    w = np.asarray(model.lbs_weights, np.float64)                      # (V, J)
    keep = np.flatnonzero(np.any(reg != 0, axis=0))                    # vertices read
    reg, w = reg[:, keep], w[keep]
    v_t = np.asarray(model.v_template, np.float64)[keep]
    sdirs = np.asarray(model.shapedirs, np.float64)[keep]
    pdirs = np.asarray(model.posedirs, np.float64)[keep]
    kk, jj = np.nonzero(np.abs(reg) @ np.abs(w) > 0)
    c = reg[kk] * w[:, jj].T                                           # (P, V')
    dtype = np.asarray(model.v_template).dtype
    cast = lambda x: np.ascontiguousarray(x, dtype=dtype)  # noqa: E731
    skeleton = dataclasses.replace(
        model, v_template=np.zeros((0, 3), dtype), shapedirs=np.zeros((0, 3, model.num_betas),
                                                                      dtype),
        posedirs=np.zeros((0,) + np.shape(model.posedirs)[1:], dtype),
        lbs_weights=np.zeros((0, model.num_joints), dtype), faces=np.zeros((0, 3), np.int32),
        kp_vertex_regressor=np.zeros((model.num_keypoints, 0), dtype), j_regressor=None,
        cocoplus_regressor=None, vertex_ids=())
    onehot = np.zeros((model.num_keypoints, len(kk)))
    onehot[kk, np.arange(len(kk))] = 1.0
    return PairModel(
        skeleton=skeleton, s_template=cast(c @ v_t),
        s_dirs=cast(np.einsum("pv,vcb->pcb", c, sdirs)),
        q_dirs=cast(np.einsum("pv,vcf->pcf", c, pdirs)), pair_to_kp=cast(onehot),
        a=cast(reg @ w), pair_joint=tuple(int(j) for j in jj))


def pair_forward(pm: PairModel, rot_local: Array, betas: Array) -> PairOutput:
    """Keypoints and joints of ``pm`` from local rotations (equal to
    ``body.forward_from_rotations(model, ...)``'s, i.e. ``body.forward`` of their pose).

    Args:
      pm: ``pair_model(model)``.
      rot_local: (N, J, 3, 3) local joint rotations (``axis_angle_to_matrix`` of the pose;
        the caller needs them for its pose prior anyway); betas: (N, B') with B' <= B.
    """
    n = rot_local.shape[0]
    nb = betas.shape[-1]
    out = forward_from_rotations(pm.skeleton, rot_local, betas)   # joints, global rotations
    g = out.rotations
    j_rest = rest_joints(pm.skeleton, betas)
    t = out.joints - jnp.einsum("njab,njb->nja", g, j_rest)
    feat = (rot_local[:, 1:] - jnp.eye(3, dtype=rot_local.dtype)).reshape(n, -1)
    p = pm.num_pairs
    u = (pm.s_template[None]
         + (betas @ pm.s_dirs[..., :nb].reshape(p * 3, nb).T).reshape(n, p, 3)
         + (feat @ pm.q_dirs.reshape(p * 3, -1).T).reshape(n, p, 3))
    y = jnp.einsum("npab,npb->npa", g[:, jnp.asarray(pm.pair_joint)], u)
    kp = (jnp.einsum("kp,npc->nkc", pm.pair_to_kp, y) + jnp.einsum("kj,njc->nkc", pm.a, t)
          + out.keypoints)   # the joint part of the keypoint set (vertex part is empty)
    return PairOutput(kp, out.joints)
