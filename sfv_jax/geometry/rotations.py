"""Rotation conversions in JAX: axis-angle, matrix, quaternion (w, x, y, z), 6D, Euler.

All functions are pure, work on arbitrary leading batch dimensions (``...``), follow the
dtype of their input, and are safe under ``jit`` / ``vmap`` / ``grad``. Conversions that
pass through the identity (axis-angle <-> matrix <-> quaternion) have finite values *and*
finite gradients at the zero rotation: divisions by the angle are replaced by Taylor
series below a small threshold, and square roots never see a zero argument in the
branch that is selected (the "double where" trick), so no NaN leaks into gradients.

Conventions:
  - Matrices act on column vectors: ``x' = R @ x``.
  - Quaternions are ``(w, x, y, z)``, unit norm; converters to quaternions return
    ``w >= 0``.
  - Axis-angle is ``angle * unit_axis`` (SMPL's convention), angle in radians.
  - 6D is the first two columns of the matrix, ``(..., 6) = [R[:, 0], R[:, 1]]``
    (Zhou et al. 2019), mapped back by Gram-Schmidt.
  - Euler orders follow scipy: upper case (``"XYZ"``) is intrinsic (rotations about the
    moving axes, ``R = R_X(a) @ R_Y(b) @ R_Z(c)``), lower case (``"xyz"``) is extrinsic
    (about the fixed axes, ``R = R_z(c) @ R_y(b) @ R_x(a)``). All 12 sequences,
    Tait-Bryan (``"XYZ"``) and proper Euler (``"ZXZ"``). Angles in radians.
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from sfv_jax.geometry.crops import array_module

__all__ = [
    "axis_angle_to_matrix", "matrix_to_axis_angle", "torso_frame",
    "elementwise_axis_angle_to_matrix", "elementwise_matmul3",
    "axis_angle_to_quaternion", "quaternion_to_axis_angle",
    "quaternion_to_matrix", "matrix_to_quaternion",
    "quaternion_multiply", "quaternion_conjugate", "quaternion_normalize",
    "rot6d_to_matrix", "matrix_to_rot6d",
    "euler_to_matrix", "matrix_to_euler",
    "axis_rotation", "skew", "relative_angle",
]

# Below this squared angle the closed forms are replaced by their Taylor series. The
# series are accurate to ~eps for theta^2 < 1e-6 in float64 and exact to float32 eps.
_SMALL_SQ = 1e-6


def _float(x: Array) -> Array:
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def _safe_sqrt(x: Array, small: Array) -> Array:
    """sqrt(x) where ``~small``, 1 elsewhere; gradient-safe because sqrt never sees 0."""
    return jnp.sqrt(jnp.where(small, jnp.ones_like(x), x))


def elementwise_axis_angle_to_matrix(aa: Array) -> Array:
    """``axis_angle_to_matrix`` written element-wise: (..., 3) -> (..., 3, 3) with no batched
    3x3 dot (slow on XLA:CPU under vmap and in large batches); finite values and gradients at
    0 (Taylor series of the coefficients)."""
    t2 = jnp.sum(aa * aa, axis=-1)
    small = t2 < _SMALL_SQ
    t2s = jnp.where(small, 1.0, t2)
    t = jnp.sqrt(t2s)
    a = jnp.where(small, 1.0 - t2 / 6.0, jnp.sin(t) / t)
    b = jnp.where(small, 0.5 - t2 / 24.0, (1.0 - jnp.cos(t)) / t2s)
    x, y, z = aa[..., 0], aa[..., 1], aa[..., 2]
    rows = [[1.0 - b * (y * y + z * z), -a * z + b * x * y, a * y + b * x * z],
            [a * z + b * x * y, 1.0 - b * (x * x + z * z), -a * x + b * y * z],
            [-a * y + b * x * z, a * x + b * y * z, 1.0 - b * (x * x + y * y)]]
    return jnp.stack([jnp.stack(r, axis=-1) for r in rows], axis=-2)


def elementwise_matmul3(a: Array, b: Array) -> Array:
    """(..., 3, 3) @ (..., 3, 3) as broadcast multiply-adds (see
    ``elementwise_axis_angle_to_matrix``)."""
    return jnp.sum(a[..., :, :, None] * b[..., None, :, :], axis=-2)


def skew(v: Array) -> Array:
    """Cross-product matrix: v (..., 3) -> (..., 3, 3) with ``skew(v) @ u == cross(v, u)``."""
    v = _float(v)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    o = jnp.zeros_like(x)
    return jnp.stack([
        jnp.stack([o, -z, y], -1),
        jnp.stack([z, o, -x], -1),
        jnp.stack([-y, x, o], -1),
    ], -2)


def axis_angle_to_matrix(aa: Array) -> Array:
    """Rodrigues' formula: aa (..., 3) axis-angle -> (..., 3, 3) rotation matrix.

    ``R = I + a K + b K^2`` with ``K = skew(aa)``, ``a = sin(t)/t``, ``b = (1-cos t)/t^2``;
    ``a`` and ``b`` use Taylor series near ``t = 0`` so values and gradients stay finite.
    """
    aa = _float(aa)
    t2 = jnp.sum(aa * aa, axis=-1)
    small = t2 < _SMALL_SQ
    t = _safe_sqrt(t2, small)
    t2s = jnp.where(small, jnp.ones_like(t2), t2)
    a = jnp.where(small, 1.0 - t2 / 6.0 + t2 * t2 / 120.0, jnp.sin(t) / t)
    b = jnp.where(small, 0.5 - t2 / 24.0 + t2 * t2 / 720.0, (1.0 - jnp.cos(t)) / t2s)
    k = skew(aa)
    eye = jnp.eye(3, dtype=aa.dtype)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def axis_angle_to_quaternion(aa: Array) -> Array:
    """aa (..., 3) -> (..., 4) unit quaternion (w, x, y, z), ``w = cos(t/2) >= 0`` for t <= pi."""
    aa = _float(aa)
    t2 = jnp.sum(aa * aa, axis=-1)
    small = t2 < _SMALL_SQ
    t = _safe_sqrt(t2, small)
    # sin(t/2)/t, series 1/2 - t^2/48 + t^4/3840.
    s = jnp.where(small, 0.5 - t2 / 48.0 + t2 * t2 / 3840.0, jnp.sin(0.5 * t) / t)
    w = jnp.where(small, 1.0 - t2 / 8.0 + t2 * t2 / 384.0, jnp.cos(0.5 * t))
    return jnp.concatenate([w[..., None], aa * s[..., None]], axis=-1)


def quaternion_to_axis_angle(q: Array) -> Array:
    """q (..., 4) (w, x, y, z), any norm > 0 -> (..., 3) axis-angle with angle in [0, pi].

    ``q`` and ``-q`` give the same result (the sign is fixed to ``w >= 0``).
    """
    q = _float(q)
    q = quaternion_normalize(q)
    q = jnp.where(q[..., :1] < 0, -q, q)
    w, v = q[..., 0], q[..., 1:]
    s2 = jnp.sum(v * v, axis=-1)
    small = s2 < _SMALL_SQ
    s = _safe_sqrt(s2, small)
    # angle / sin(angle/2) with angle = 2 atan2(s, w); near s = 0 (w ~ 1) this is
    # 2/w * (1 - s^2/(3 w^2) + ...).
    ws = jnp.where(small, w, jnp.ones_like(w))
    factor = jnp.where(small, 2.0 / ws * (1.0 - s2 / (3.0 * ws * ws)),
                       2.0 * jnp.arctan2(s, w) / s)
    return v * factor[..., None]


def quaternion_normalize(q: Array) -> Array:
    """q (..., 4) -> unit quaternion (..., 4)."""
    q = _float(q)
    return q / jnp.linalg.norm(q, axis=-1, keepdims=True)


def quaternion_conjugate(q: Array) -> Array:
    """(w, x, y, z) -> (w, -x, -y, -z); the inverse of a unit quaternion."""
    q = _float(q)
    return q * jnp.asarray([1.0, -1.0, -1.0, -1.0], dtype=q.dtype)


def quaternion_multiply(a: Array, b: Array) -> Array:
    """Hamilton product a (..., 4) * b (..., 4) -> (..., 4); rotation ``a`` after ``b``."""
    a, b = _float(a), _float(b)
    aw, ax, ay, az = (a[..., i] for i in range(4))
    bw, bx, by, bz = (b[..., i] for i in range(4))
    return jnp.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def quaternion_to_matrix(q: Array) -> Array:
    """q (..., 4) (w, x, y, z), normalized first -> (..., 3, 3) rotation matrix."""
    q = quaternion_normalize(q)
    w, x, y, z = (q[..., i] for i in range(4))
    return jnp.stack([
        jnp.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        jnp.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        jnp.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_quaternion(m: Array) -> Array:
    """m (..., 3, 3) rotation -> (..., 4) unit quaternion (w, x, y, z) with w >= 0.

    Builds the four candidate quaternions (one per largest diagonal term) and picks the
    best-conditioned one; every square root argument is clamped positive so gradients
    of the unselected candidates stay finite.
    """
    m = _float(m)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # 4 q_i^2 for i = w, x, y, z.
    d = jnp.stack([
        1.0 + m00 + m11 + m22,
        1.0 + m00 - m11 - m22,
        1.0 - m00 + m11 - m22,
        1.0 - m00 - m11 + m22,
    ], axis=-1)
    # 2 |q_i|, clamped away from 0 (candidates with a tiny q_i are never selected).
    r = jnp.sqrt(jnp.maximum(d, 0.1))
    cands = jnp.stack([
        jnp.stack([r[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], -1),
        jnp.stack([m21 - m12, r[..., 1] ** 2, m10 + m01, m02 + m20], -1),
        jnp.stack([m02 - m20, m10 + m01, r[..., 2] ** 2, m12 + m21], -1),
        jnp.stack([m10 - m01, m02 + m20, m12 + m21, r[..., 3] ** 2], -1),
    ], axis=-2) / (2.0 * r[..., :, None])
    best = jnp.argmax(d, axis=-1)
    q = jnp.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = quaternion_normalize(q)
    return jnp.where(q[..., :1] < 0, -q, q)


def matrix_to_axis_angle(m: Array) -> Array:
    """m (..., 3, 3) rotation -> (..., 3) axis-angle, angle in [0, pi]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(m))


def rot6d_to_matrix(x: Array) -> Array:
    """x (..., 6) = two column vectors -> (..., 3, 3) by Gram-Schmidt (columns b1, b2, b1 x b2)."""
    x = _float(x)
    a1, a2 = x[..., 0:3], x[..., 3:6]
    b1 = a1 / jnp.linalg.norm(a1, axis=-1, keepdims=True)
    a2 = a2 - jnp.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = a2 / jnp.linalg.norm(a2, axis=-1, keepdims=True)
    b3 = jnp.cross(b1, b2)
    return jnp.stack([b1, b2, b3], axis=-1)


def matrix_to_rot6d(m: Array) -> Array:
    """m (..., 3, 3) -> (..., 6): first column then second column."""
    m = _float(m)
    return jnp.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


_AXES = {"x": 0, "y": 1, "z": 2}


def axis_rotation(axis: str, angle: Array) -> Array:
    """Rotation about one coordinate axis: axis in 'xyz' (any case), angle (...) -> (..., 3, 3)."""
    angle = _float(angle)
    c, s = jnp.cos(angle), jnp.sin(angle)
    o, l = jnp.zeros_like(angle), jnp.ones_like(angle)
    a = axis.lower()
    if a == "x":
        rows = [[l, o, o], [o, c, -s], [o, s, c]]
    elif a == "y":
        rows = [[c, o, s], [o, l, o], [-s, o, c]]
    elif a == "z":
        rows = [[c, -s, o], [s, c, o], [o, o, l]]
    else:
        raise ValueError(f"axis must be one of x, y, z; got {axis!r}")
    return jnp.stack([jnp.stack(r, -1) for r in rows], -2)


def _check_order(order: str) -> tuple[str, bool]:
    """Returns the intrinsic upper-case sequence and whether ``order`` was extrinsic."""
    if (len(order) != 3 or not (order.isupper() or order.islower())
            or any(c not in "xyz" for c in order.lower())
            or order[0].lower() == order[1].lower() or order[1].lower() == order[2].lower()):
        raise ValueError(
            f"Euler order must be 3 axes from 'xyz', all upper case (intrinsic) or all lower "
            f"case (extrinsic), no axis twice in a row; got {order!r}")
    if order.isupper():
        return order, False
    # Extrinsic abc == intrinsic CBA with the angles reversed.
    return order[::-1].upper(), True


def euler_to_matrix(angles: Array, order: str = "XYZ") -> Array:
    """angles (..., 3) radians, in the order the axes are named -> (..., 3, 3).

    ``order`` as in scipy: "XYZ" intrinsic ``R_X(a0) R_Y(a1) R_Z(a2)``; "xyz" extrinsic
    ``R_z(a2) R_y(a1) R_x(a0)``.
    """
    angles = _float(angles)
    seq, extrinsic = _check_order(order)
    if extrinsic:
        angles = angles[..., ::-1]
    r = axis_rotation(seq[0], angles[..., 0])
    r = r @ axis_rotation(seq[1], angles[..., 1])
    return r @ axis_rotation(seq[2], angles[..., 2])


def matrix_to_euler(m: Array, order: str = "XYZ") -> Array:
    """m (..., 3, 3) -> (..., 3) angles (radians) with ``euler_to_matrix(angles, order) == m``.

    Tait-Bryan sequences return the middle angle in [-pi/2, pi/2], proper Euler sequences in
    [0, pi]; the outer angles in (-pi, pi]. At gimbal lock (middle angle at its limit) the
    split between the outer angles is arbitrary but the matrix is still reproduced
    approximately; gradients there are unbounded (asin/acos at +-1).
    """
    m = _float(m)
    seq, extrinsic = _check_order(order)
    i, j = _AXES[seq[0].lower()], _AXES[seq[1].lower()]
    k3 = _AXES[seq[2].lower()]
    k = 3 - i - j  # the axis not named by the first two
    # +1 for cyclic (x->y->z) successions, -1 otherwise.
    s = 1.0 if (j - i) % 3 == 1 else -1.0
    one = jnp.ones((), m.dtype)
    if k3 != i:  # Tait-Bryan: R = R_i(a) R_j(b) R_k(c)
        b = jnp.arcsin(jnp.clip(s * m[..., i, k], -one, one))
        a = jnp.arctan2(-s * m[..., j, k], m[..., k, k])
        c = jnp.arctan2(-s * m[..., i, j], m[..., i, i])
    else:  # proper Euler: R = R_i(a) R_j(b) R_i(c)
        b = jnp.arccos(jnp.clip(m[..., i, i], -one, one))
        a = jnp.arctan2(m[..., j, i], -s * m[..., k, i])
        c = jnp.arctan2(m[..., i, j], s * m[..., i, k])
    out = jnp.stack([a, b, c], axis=-1)
    return out[..., ::-1] if extrinsic else out


def relative_angle(r1: Array, r2: Array) -> Array:
    """Geodesic angle (radians) between rotations r1, r2 (..., 3, 3) -> (...)."""
    r1, r2 = _float(r1), _float(r2)
    rel = jnp.swapaxes(r1, -1, -2) @ r2
    aa = matrix_to_axis_angle(rel)
    t2 = jnp.sum(aa * aa, axis=-1)
    small = t2 == 0  # |x| has no gradient at 0; use the zero subgradient there
    return jnp.where(small, jnp.zeros_like(t2), _safe_sqrt(t2, small))


def torso_frame(left_hip: Array, right_hip: Array, neck: Array) -> Array:
    """(..., 3, 3) rotation taking SMPL's rest axes (left +X, up +Y, facing +Z) onto a torso.

    Columns: x along right hip -> left hip; y from the hips' midpoint toward the neck, made
    orthogonal to x; z = x cross y (the way the torso faces). NumPy or JAX arrays (..., 3).
    """
    xp = array_module(left_hip, right_hip, neck)
    x = left_hip - right_hip
    x = x / xp.maximum(xp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    y = neck - 0.5 * (left_hip + right_hip)
    y = y - xp.sum(y * x, axis=-1, keepdims=True) * x
    y = y / xp.maximum(xp.linalg.norm(y, axis=-1, keepdims=True), 1e-12)
    return xp.stack([x, y, xp.cross(x, y)], axis=-1)
