"""The fast solver: per-clip L-BFGS in diagonally scaled variables on a smoothed L1 (pure JAX).

Why not plain ``optax.lbfgs`` on the paper's objective: its keypoint term is an L1 (kinks at
every zero residual, where its optimum sits) and its variables have very different curvature
(the root rotation moves every keypoint, a wrist angle none of them; the crop camera's scale
moves them ~30x more per unit than a joint angle), so L-BFGS's curvature pairs are poor and it
stalls far above Adam-300's objective. Three changes, each a ``solver.lbfgs`` key:

* Variable scaling (``precondition``): L-BFGS runs in ``y = x / D`` with ``D`` per clip and
  per parameter (85 numbers: 72 pose, 10 betas, 3 camera, shared by all frames),
  ``D_i = 1 / sqrt(diag_i + damping * mean(diag))``, ``diag`` the Gauss-Newton diagonal of the
  confidence-weighted 2D reprojection plus ``precondition_3d_weight`` times that of the 3D
  keypoints, from the Jacobian of a few frames of the initial estimate (``jacfwd``, 85
  directions on ``precondition_frames`` frames: a few ms). ``D`` is fixed for the solve.
* L1 smoothing (``l1_smoothing``): the minimized function uses ``sqrt(r^2 + eps^2) - eps``
  for the keypoint term (``objective.smoothed_clip_objective``); the history, the final value
  and everything reported are the true objective, from the same forward pass.
* A backtracking (Armijo) line search whose trials evaluate value *and* gradient: the accepted
  trial's gradient is the next iteration's, so an iteration whose unit step is accepted (the
  usual case) costs one value-and-gradient, like one Adam step. Curvature pairs with
  ``s.y <= 0`` are skipped (the inverse Hessian stays positive definite); a failed line search
  keeps the point and clears the memory.

Everything here is per clip (``vmap`` it): each clip has its own scaling, memory and line
search, so clips never couple.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sfv_jax.geometry import cameras
from sfv_jax.solver.config import SolverSettings
from sfv_jax.body.keypoint_pairs import PairModel, pair_forward
from sfv_jax.solver.objective import ClipData, local_rotations

Array = jnp.ndarray
Params = dict  # pose (T, 72), betas (T, 10), cam (T, 3) (world mode: root (T, 3), no cam)

_ARMIJO_C1 = 1e-4      # sufficient-decrease constant of the line search
_SHRINK = 0.5          # step multiplier after a rejected trial
_KEYS = ("pose", "betas", "cam")
_ALL_KEYS = ("pose", "betas", "cam", "root")


def _keys(tree: Params) -> tuple[str, ...]:
    """The variables of ``tree`` in a fixed order (the paper's: pose, betas, cam)."""
    return tuple(k for k in _ALL_KEYS if k in tree)


class LbfgsState(NamedTuple):
    """One clip's L-BFGS carry (y = x / scale coordinates for the memory).

    scale: per-parameter D {"pose": (72,), "betas": (10,), "cam": (3,)}.
    s_mem, y_mem: (m, T, .) per key, steps and gradient changes in y coordinates.
    rho: (m,) 1 / (s.y) per slot (0: empty or skipped); gamma: () initial inverse-Hessian
    scale; count: () int, pairs stored so far (the next slot is count % m).
    value: () smoothed objective at the current parameters; grad: its x-gradient;
    row: (n_terms + 1,) true weighted terms then total at the current parameters.
    """
    scale: Params
    s_mem: Params
    y_mem: Params
    rho: Array
    gamma: Array
    count: Array
    value: Array
    grad: Params
    row: Array


def _vdot(a: Params, b: Params) -> Array:
    return sum(jnp.vdot(a[k], b[k]) for k in _keys(a))


def _axpy(alpha: Array, x: Params, y: Params) -> Params:
    return {k: alpha * x[k] + y[k] for k in _keys(x)}


def diagonal_scaling(model: PairModel, params0: Params, data: ClipData,
                     settings: SolverSettings) -> Params:
    """The per-parameter scaling D of one clip (see the module docstring), mean 1."""
    frames = precondition_frames(params0["pose"].shape[0], settings)
    x = jnp.concatenate([params0[k] for k in _KEYS], -1)[frames]          # (F, 85)

    def frame_points(xf):
        pose, betas, cam = xf[None, :72], xf[None, 72:82], xf[None, 82:]
        kp = pair_forward(model, pose, betas, local_rotations(pose)).keypoints
        return cameras.project_crop(kp, cam).reshape(-1), kp.reshape(-1)

    j2, j3 = jax.vmap(jax.jacfwd(frame_points))(x)                      # (F, 2K, 85), (F, 3K, 85)
    d = scaling_from_jacobians(j2, j3, data.conf[frames], data.frame_mask[frames], settings)
    return {"pose": d[:72], "betas": d[72:82], "cam": d[82:]}


def precondition_frames(t: int, settings: SolverSettings) -> np.ndarray:
    """Static indices of the evenly spaced frames whose Jacobian gives D."""
    return np.unique(np.linspace(0, t - 1, min(t, settings.lbfgs_precondition_frames))
                     .round().astype(int))


def scaling_from_jacobians(j2: Array, j3: Array, conf: Array, frame_mask: Array,
                           settings: SolverSettings) -> Array:
    """D (P,) from per-frame Jacobians of the 2D reprojection j2 (F, 2K, P) and of the 3D
    keypoints j3 (F, 3K, P); conf (F, K), frame_mask (F,) of those frames (mean 1)."""
    w2 = jnp.repeat(conf, 2, axis=-1)[..., None]                        # (F, 2K, 1)
    w3 = frame_mask[:, None, None]
    diag = (jnp.sum(w2 * j2 ** 2, (0, 1)) / jnp.maximum(jnp.sum(w2), 1.0)
            + settings.lbfgs_precondition_3d_weight * jnp.sum(w3 * j3 ** 2, (0, 1))
            / jnp.maximum(jnp.sum(w3) * j3.shape[1], 1.0))
    mean = jnp.mean(diag)
    d = 1.0 / jnp.sqrt(diag + settings.lbfgs_precondition_damping * mean
                       + jnp.finfo(diag.dtype).tiny)
    d = jnp.where(mean > 0, d / jnp.mean(d), 1.0)   # an all-masked (padding) clip: D = 1
    return jnp.where(jnp.isfinite(d), d, 1.0)


def init_state(params0: Params, scale: Params, memory_size: int,
               value_and_grad: Callable[[Params], tuple[Array, tuple[Array, Params]]]
               ) -> LbfgsState:
    """Empty memory and the value, gradient and terms row at ``params0``."""
    value, grad, row = value_and_grad(params0)
    mem = {k: jnp.zeros((memory_size,) + params0[k].shape, params0[k].dtype)
           for k in _keys(params0)}
    dtype = params0["pose"].dtype
    return LbfgsState(scale=scale, s_mem=mem, y_mem=mem,
                      rho=jnp.zeros((memory_size,), dtype), gamma=jnp.ones((), dtype),
                      count=jnp.zeros((), jnp.int32), value=value, grad=grad, row=row)


def _direction(state: LbfgsState) -> Params:
    """``-H g`` in x coordinates (two-loop recursion in y coordinates)."""
    m = state.rho.shape[0]
    d = state.scale
    keys = _keys(d)
    q = {k: d[k] * state.grad[k] for k in keys}                       # y-gradient
    newest = state.count - 1
    alphas = []
    for i in range(m):                                                   # newest to oldest
        j = (newest - i) % m
        s_j = {k: state.s_mem[k][j] for k in keys}
        y_j = {k: state.y_mem[k][j] for k in keys}
        a = state.rho[j] * _vdot(s_j, q)
        q = _axpy(-a, y_j, q)
        alphas.append((j, a, s_j, y_j))
    # No pairs yet (first iteration, or after a failed search): the Polyak step for a
    # minimum value of 0 (the objective is non-negative), value / |g|^2 in y coordinates;
    # the line search halves it when it overshoots.
    gg = _vdot(q, q)
    gamma = jnp.where(state.count > 0, state.gamma,
                      jnp.where(gg > 0, state.value / jnp.where(gg > 0, gg, 1.0), 1.0))
    r = {k: gamma * q[k] for k in keys}
    for j, a, s_j, y_j in reversed(alphas):                              # oldest to newest
        b = state.rho[j] * _vdot(y_j, r)
        r = _axpy(a - b, s_j, r)
    return {k: -d[k] * r[k] for k in keys}


def step(state: LbfgsState, params: Params, enabled: Array, max_trials: int,
         value_and_grad: Callable[[Params], tuple[Array, Params, Array]]
         ) -> tuple[Params, LbfgsState]:
    """One L-BFGS iteration of one clip: direction, backtracking line search, memory update.

    ``value_and_grad(params) -> (smoothed value, x-gradient, true terms row)``. Returns the
    new parameters and state. ``enabled`` False (a finished, flagged or non-finite clip):
    nothing is evaluated and both come back unchanged. When no trial passes the Armijo test
    (or every trial is non-finite) the parameters stay and the memory is cleared.
    """
    direction = _direction(state)
    keys = _keys(direction)
    slope = _vdot(state.grad, direction)
    search = enabled & (slope < 0)

    def cond(c):
        return search & ~c[5] & (c[6] < max_trials)

    def body(c):
        lr = c[0] * jnp.where(c[6] > 0, _SHRINK, 1.0)
        p = _axpy(lr, direction, params)
        v, g, row = value_and_grad(p)
        ok = (jnp.isfinite(v) & jnp.all(jnp.isfinite(row))
              & jnp.all(jnp.stack([jnp.all(jnp.isfinite(g[k])) for k in keys]))
              & (v <= state.value + _ARMIJO_C1 * lr * slope))
        return (lr, p, v, g, row, ok, c[6] + 1)

    dtype = state.value.dtype
    init = (jnp.ones((), dtype), params, state.value, state.grad, state.row,
            jnp.zeros((), bool), jnp.zeros((), jnp.int32))
    lr, new_params, value, grad, row, ok, _ = jax.lax.while_loop(cond, body, init)
    ok = ok & search

    # Memory update (y coordinates) from the accepted step; only the slot written changes.
    d = state.scale
    keys = _keys(d)
    s = {k: (lr * direction[k]) / d[k] for k in keys}
    y = {k: d[k] * (grad[k] - state.grad[k]) for k in keys}
    sy, yy = _vdot(s, y), _vdot(y, y)
    store = ok & (sy > 0) & (yy > 0) & jnp.isfinite(sy) & jnp.isfinite(yy)
    slot = state.count % state.rho.shape[0]
    put = lambda mem, new: {k: mem[k].at[slot].set(  # noqa: E731
        jnp.where(store, new[k], mem[k][slot])) for k in keys}
    rho = state.rho.at[slot].set(jnp.where(store, 1.0 / jnp.where(store, sy, 1.0),
                                           state.rho[slot]))
    # A failed search (enabled, but no accepted trial): same point, memory cleared, so the
    # next direction is the scaled gradient.
    failed = enabled & ~ok
    keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa
    new_state = LbfgsState(
        scale=d, s_mem=put(state.s_mem, s), y_mem=put(state.y_mem, y),
        rho=jnp.where(failed, 0.0, rho),
        gamma=jnp.where(store, sy / jnp.where(store, yy, 1.0), state.gamma),
        count=jnp.where(failed, 0, state.count + store.astype(jnp.int32)),
        value=keep(value, state.value), grad=keep(grad, state.grad), row=keep(row, state.row))
    return keep(new_params, params), new_state
