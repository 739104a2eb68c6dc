"""Refinement of the chosen hypothesis per frame on skeleton keypoints (cheap, batched).

The body model's keypoints at the mean shape without pose blend shapes are linear in the
joints' global transforms: keypoint k = sum_j (R_j q_kj + c_kj t_j) + sum_j u_kj x_j with
q_kj = sum_v A_kv W_vj v_v, c_kj = sum_v A_kv W_vj (A: the keypoint regressor, W: skinning
weights, v: rest vertices, t_j: the skinning translation, x_j: the posed joints, u: the
keypoint set's joint weights). Precomputing q and c makes one posed frame a kinematic chain
plus a (K, J) contraction, ~20x cheaper than the full forward; Adam then refines pose and crop
camera on the 2D keypoints, the priors and the chosen lifted limb bones (a soft 3D anchor that
keeps the depth orders the temporal pass picked).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from sfv_jax.body import BodyModel
from sfv_jax.body.kinematics import _chain
from sfv_jax.fitting.core import prior_loss
from sfv_jax.fitting.torso import robust_sq
from sfv_jax.geometry import cameras
from sfv_jax.geometry.rotations import elementwise_axis_angle_to_matrix, elementwise_matmul3

Array = jnp.ndarray


class SkinnedKeypoints(NamedTuple):
    """q (K, J, 3), c (K, J), u (K, J), rest joints (J, 3) of the mean shape; parents static."""
    q: Array
    c: Array
    u: Array
    joints: Array


def skinned_keypoints(model: BodyModel) -> SkinnedKeypoints:
    """Precomputed skeleton keypoints of ``model`` (NumPy, float32)."""
    a = np.asarray(model.kp_vertex_regressor, np.float64)
    w = np.asarray(model.lbs_weights, np.float64)
    v = np.asarray(model.v_template, np.float64)
    q = (a @ (w[:, :, None] * v[:, None, :]).reshape(len(v), -1)).reshape(len(a), -1, 3)
    return SkinnedKeypoints(jnp.asarray(q, jnp.float32), jnp.asarray(a @ w, jnp.float32),
                            jnp.asarray(model.kp_joint_weights, jnp.float32),
                            jnp.asarray(model.j_template, jnp.float32))


def skeleton_points(sk: SkinnedKeypoints, parents: tuple[int, ...], root: Array,
                    body_pose: Array) -> Array:
    """(N, K, 3) keypoints for root rotations (N, 3, 3) and body poses (N, 69) axis-angle,
    mean shape. Batched directly (not vmapped: the kinematic chain's gathers are much
    slower under vmap + grad on CPU). The root rotates about the root joint, as SMPL's (equal
    to ``body.forward`` without pose blend shapes).
    """
    n, nj = body_pose.shape[0], sk.joints.shape[0]
    rot = jnp.concatenate([root[:, None], elementwise_axis_angle_to_matrix(
        body_pose.reshape(n, nj - 1, 3))], 1)
    rg, xj = _chain(rot, jnp.broadcast_to(sk.joints, (n,) + sk.joints.shape), parents)
    t_skin = xj - jnp.einsum("njab,jb->nja", rg, sk.joints)
    return (jnp.einsum("njab,kjb->nka", rg, sk.q) + jnp.einsum("kj,nja->nka", sk.c, t_skin)
            + jnp.einsum("kj,nja->nka", sk.u, xj))


def refine(sk: SkinnedKeypoints, parents: tuple[int, ...], uv: Array, w: Array, root: Array,
           body_pose: Array, bones: Array, bone_idx: Array, opts: Any
           ) -> tuple[Array, Array, Array, Array]:
    """Adam on (root, body pose, camera) of every frame -> (root (N, 3, 3), body (N, 69),
    cam (N, 3), loss (N,)).

    uv: (N, K, 2) normalized crop coordinates; w: (N, K) confidences; root (N, 3, 3) and
    body_pose (N, 69) the start (IK); bones: (N, B, 3) lifted bone vectors (metres) between
    the keypoint pairs ``bone_idx`` (B, 2) (the anchor). The camera starts in closed form.
    Frames are independent (the loss is their sum and Adam is per-coordinate).
    """
    inv_s2 = 1.0 / opts.sigma_2d ** 2
    inv_a2 = 1.0 / opts.anchor_sigma ** 2
    betas0 = jnp.zeros((1,), uv.dtype)

    def unpack(p: dict[str, Array]) -> tuple[Array, Array]:
        r = elementwise_matmul3(root, elementwise_axis_angle_to_matrix(p["rot"]))
        return r, jnp.concatenate([jnp.exp(p["log_s"])[:, None], p["t"]], -1)

    def per_frame(p: dict[str, Array]) -> Array:
        r, cam = unpack(p)
        pts = skeleton_points(sk, parents, r, p["body"])
        r2 = jnp.sum((cameras.project_crop(pts, cam) - uv) ** 2, -1)
        data = inv_s2 * jnp.sum(w * robust_sq(r2, opts.robust_scale_2d), -1) / jnp.maximum(
            jnp.sum(w, -1), 1e-9)
        fitted = pts[:, bone_idx[:, 1]] - pts[:, bone_idx[:, 0]]
        anchor = inv_a2 * jnp.mean(jnp.sum((fitted - bones) ** 2, -1), -1)
        return data + anchor + prior_loss(p["body"], betas0, opts, opts.prior_scale_2d)

    cam0 = cameras.weak_perspective_fit(skeleton_points(sk, parents, root, body_pose), uv, w)
    params = {"rot": jnp.zeros(root.shape[:1] + (3,), uv.dtype), "log_s": jnp.log(cam0[:, 0]),
              "t": cam0[:, 1:], "body": body_pose}
    opt = optax.adam(opts.learning_rate_2d)
    grad = jax.grad(lambda p: jnp.sum(per_frame(p)))

    def step(carry: Any, _: Any) -> tuple[Any, None]:
        p, s = carry
        u, s = opt.update(grad(p), s, p)
        return (optax.apply_updates(p, u), s), None

    if opts.refine_steps > 0:
        (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None,
                                      length=opts.refine_steps)
    r, cam = unpack(params)
    return r, params["body"], cam, per_frame(params)
