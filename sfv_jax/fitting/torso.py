"""Whole-rotation torso fits of the 2D fit: every orientation hypothesis refined on the rigid torso.

Weak perspective: a rigid template P (the neutral body's torso and head keypoints, root at 0)
seen under rotation R projects to uv_i ~ s ((R P_i)_xy + t). Per frame and per hypothesis,
``torso_fits`` runs Gauss-Newton on R (updated on the right, R exp([d]x); the Jacobian of
(R P_i)_xy is -(R_a x P_i) for image rows a = x, y) with the camera (s, t) re-solved in closed
form before each step and Geman-McClure weights re-computed each time (IRLS), Levenberg-Marquardt
damping and steps capped at 0.5 rad. Every quantity is written out per component over arrays of
shape (points, frames, hypotheses): XLA:CPU fuses those element-wise loops, where batched 3x3
products and solves under vmap are several times slower. ``distinct_candidates`` then keeps the
best orientations per frame that are not within an angle of a better one (non-maximum
suppression), so that the limbs are lifted only for them.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sfv_jax.geometry.crops import array_module
from sfv_jax.geometry.rotations import elementwise_axis_angle_to_matrix

Array = jnp.ndarray


def robust_sq(r2: Array, scale: float) -> Array:
    """Geman-McClure of squared residuals (plain squares when ``scale`` is 0)."""
    c2 = scale ** 2
    return r2 * c2 / (r2 + c2) if scale > 0 else r2


def _rows_times_exp(rows: tuple[Array, ...], d: tuple[Array, Array, Array]
                    ) -> tuple[Array, ...]:
    """The first two rows of R exp([d]x), per component."""
    e = elementwise_axis_angle_to_matrix(jnp.stack(d, -1))                 # (..., 3, 3)
    out = []
    for row in (rows[:3], rows[3:]):
        out += [row[0] * e[..., 0, j] + row[1] * e[..., 1, j] + row[2] * e[..., 2, j]
                for j in range(3)]
    return tuple(out)


def torso_fits(uv: Array, w: Array, sk: Any, rots: Array, opts: Any, steps: int
               ) -> tuple[Array, Array]:
    """Every orientation hypothesis of every frame refined on the rigid torso.

    uv: (N, K, 2) normalized crop coordinates; w: (N, K) confidences (0 = unseen); sk: the
    lift's ``Skeleton`` (rest keypoints, torso template weights and indices); rots: (H, 3, 3)
    starting orientations for every frame, or (N, H, 3, 3) per frame; steps: Gauss-Newton
    iterations. Returns rots (N, H, 3, 3) and cost (N, H): the robust 2D residual per unit
    weight in ``sigma_2d`` units.
    """
    idx = sk.torso_idx
    p = sk.rest_kp[idx]                                                    # (Kt, 3)
    wt = jnp.take(w, idx, axis=-1) * sk.torso_w[idx]                       # (N, Kt)
    wt = jnp.where(jnp.sum(wt > 0, -1, keepdims=True) >= 3, wt, jnp.take(w, idx, axis=-1))
    # Point quantities are (Kt, N, 1) (broadcast against (N, H) per-hypothesis ones).
    u = jnp.take(uv[..., 0], idx, axis=-1).T[:, :, None]
    v = jnp.take(uv[..., 1], idx, axis=-1).T[:, :, None]
    wk0 = wt.T[:, :, None]
    wsum = jnp.maximum(jnp.sum(wk0, 0), 1e-12)                             # (N, 1)
    uc = u - jnp.sum(wk0 * u, 0) / wsum
    vc = v - jnp.sum(wk0 * v, 0) / wsum
    px, py, pz = (p[:, i][:, None, None] for i in range(3))
    c2 = opts.robust_scale_2d ** 2
    rots = jnp.broadcast_to(rots, (uv.shape[0],) + rots.shape[-3:])
    rows0 = tuple(rots[:, :, a, b] for a in range(2) for b in range(3))

    def residuals(rows: tuple[Array, ...]) -> tuple[Array, Array, Array]:
        """Camera scale (N, H) in closed form and the residuals (Kt, N, H) of x and y."""
        a0, a1, a2, b0, b1, b2 = rows
        x = a0 * px + a1 * py + a2 * pz
        y = b0 * px + b1 * py + b2 * pz
        xc = x - jnp.sum(wk0 * x, 0) / wsum
        yc = y - jnp.sum(wk0 * y, 0) / wsum
        s = jnp.sum(wk0 * (xc * uc + yc * vc), 0) / jnp.maximum(
            jnp.sum(wk0 * (xc * xc + yc * yc), 0), 1e-12)
        s = jnp.maximum(s, 1e-2)  # as cameras.weak_perspective_fit's min_scale
        return s, s * xc - uc, s * yc - vc

    def step(rows: tuple[Array, ...], _: Any) -> tuple[tuple[Array, ...], None]:
        a0, a1, a2, b0, b1, b2 = rows
        s, rx, ry = residuals(rows)
        r2 = rx * rx + ry * ry
        wk = wk0 * ((c2 / (r2 + c2)) ** 2 if opts.robust_scale_2d > 0 else 1.0)
        # Jacobian rows (over s): -(R_x cross P_i) and -(R_y cross P_i).
        jx = (a2 * py - a1 * pz, a0 * pz - a2 * px, a1 * px - a0 * py)
        jy = (b2 * py - b1 * pz, b0 * pz - b2 * px, b1 * px - b0 * py)
        s2 = s * s
        m = {(i, j): s2 * jnp.sum(wk * (jx[i] * jx[j] + jy[i] * jy[j]), 0)
             for i in range(3) for j in range(i, 3)}
        g = [s * jnp.sum(wk * (jx[i] * rx + jy[i] * ry), 0) for i in range(3)]
        damp = opts.torso_damping * ((m[0, 0] + m[1, 1] + m[2, 2]) / 3.0 + 1e-9)
        m00, m11, m22 = m[0, 0] + damp, m[1, 1] + damp, m[2, 2] + damp
        m01, m02, m12 = m[0, 1], m[0, 2], m[1, 2]
        # The damped normal equations by the adjugate of the symmetric 3x3 matrix.
        c00, c01, c02 = m11 * m22 - m12 * m12, m02 * m12 - m01 * m22, m01 * m12 - m02 * m11
        c11, c12, c22 = m00 * m22 - m02 * m02, m01 * m02 - m00 * m12, m00 * m11 - m01 * m01
        det = m00 * c00 + m01 * c01 + m02 * c02
        det = jnp.where(jnp.abs(det) > 1e-20, det, 1e-20)
        d = [-(c00 * g[0] + c01 * g[1] + c02 * g[2]) / det,
             -(c01 * g[0] + c11 * g[1] + c12 * g[2]) / det,
             -(c02 * g[0] + c12 * g[1] + c22 * g[2]) / det]
        # Steps are capped at 0.5 rad: a hypothesis moves, it does not jump to another.
        cap = jnp.minimum(1.0, 0.5 / jnp.maximum(jnp.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2),
                                                  1e-9))
        return _rows_times_exp(rows, (d[0] * cap, d[1] * cap, d[2] * cap)), None

    rows, _ = jax.lax.scan(step, rows0, None, length=steps)
    _, rx, ry = residuals(rows)
    rho = robust_sq(rx * rx + ry * ry, opts.robust_scale_2d)
    cost = jnp.sum(wk0 * rho, 0) / wsum / opts.sigma_2d ** 2
    # Re-orthonormalize (the updates drift by float32 rounding) and complete the third row.
    ra = jnp.stack(rows[:3], -1)
    ra = ra / jnp.linalg.norm(ra, axis=-1, keepdims=True)
    rb = jnp.stack(rows[3:], -1)
    rb = rb - jnp.sum(rb * ra, -1, keepdims=True) * ra
    rb = rb / jnp.linalg.norm(rb, axis=-1, keepdims=True)
    return jnp.stack([ra, rb, jnp.cross(ra, rb)], -2), cost


def distinct_candidates(rots: Array, cost: Array, count: int, min_angle: float
                        ) -> tuple[Array, Array]:
    """The best orientations per frame, none within ``min_angle`` radians of a better one
    (greedy non-maximum suppression; NumPy or JAX arrays). rots (N, H, 3, 3), cost (N, H) ->
    indices (N, count) into H and found (N, count) bool: slots beyond the distinct ones repeat
    the best index with found False."""
    xp = array_module(rots, cost)
    trace = xp.einsum("nhij,ngij->nhg", rots, rots)
    close = trace > 1.0 + 2.0 * np.cos(min_angle)              # angle < min_angle
    left = xp.where(xp.isfinite(cost), cost, xp.inf)
    rows = xp.arange(cost.shape[0])
    picks, found = [], []
    for _ in range(count):
        best = xp.argmin(left, axis=1)
        ok = xp.isfinite(left[rows, best])
        picks.append(xp.where(ok, best, picks[0] if picks else best))
        found.append(ok)
        left = xp.where(close[rows, best], xp.inf, left)
    return xp.stack(picks, 1), xp.stack(found, 1)
