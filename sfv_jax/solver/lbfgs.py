"""The fast solver: optax's L-BFGS in diagonally scaled variables on a smoothed L1.

Why not plain ``optax.lbfgs`` on the paper's objective: its keypoint term is an L1 (kinks at
every zero residual, where its optimum sits) and its variables have very different curvature
(the root rotation moves every keypoint, a wrist angle none of them; the crop camera's scale
moves them ~30x more per unit than a joint angle), so L-BFGS's curvature pairs are poor and it
stalls far above Adam-300's objective. The two changes that fix it sit around optax's parts
(each a ``solver.lbfgs`` key):

* Variable scaling (``precondition``): ``optax.scale_by_lbfgs`` runs in ``y = x / D``
  (``in_scaled_variables``) with ``D`` per clip and per parameter (85 numbers: 72 pose,
  10 betas, 3 camera, shared by all frames), ``D_i = 1 / sqrt(diag_i + damping * mean(diag))``,
  ``diag`` the Gauss-Newton diagonal of the confidence-weighted 2D reprojection plus
  ``precondition_3d_weight`` times that of the 3D keypoints, from the Jacobian of a few frames
  of the initial estimate (``jacfwd``, 85 directions on ``precondition_frames`` frames: a few
  ms). ``D`` is fixed for the solve and lives in the optimizer state.
* L1 smoothing (``l1_smoothing``): the minimized function uses ``sqrt(r^2 + eps^2) - eps``
  for the keypoint term (``objective.smoothed_clip_objective``); the history, the final value
  and everything reported are the true objective.

The step length is ``optax.scale_by_backtracking_linesearch`` (Armijo, from the unit step,
halving, ``store_grad=True``: the accepted trial's value and gradient are the next iteration's,
so an iteration whose unit step is accepted costs one value-and-gradient, like one Adam step).
As in optax, a search that ends without an Armijo step takes its last finite trial (all trials
non-finite: no step, and the clip is flagged by the solver's non-finite guard), and the memory
keeps every pair with ``s.y != 0``.
Everything is per clip (``vmap`` it): each clip has its own scaling, memory and line search,
so clips never couple.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from sfv_jax.geometry import cameras
from sfv_jax.solver.config import SolverSettings
from sfv_jax.body.keypoint_pairs import PairModel, pair_forward
from sfv_jax.solver.objective import ClipData, local_rotations

Array = jnp.ndarray
Params = dict  # pose (T, 72), betas (T, 10), cam (T, 3) (world mode: root (T, 3), no cam)

_ARMIJO_C1 = 1e-4      # sufficient-decrease constant of the line search
_SHRINK = 0.5          # step multiplier after a rejected trial
_KEYS = ("pose", "betas", "cam")


def diagonal_scaling(model: PairModel, params0: Params, data: ClipData,
                     settings: SolverSettings) -> Params:
    """The per-parameter scaling D of one clip (see the module docstring), mean 1."""
    frames = precondition_frames(params0["pose"].shape[0], settings)
    x = jnp.concatenate([params0[k] for k in _KEYS], -1)[frames]          # (F, 85)

    def frame_points(xf):
        pose, betas, cam = xf[None, :72], xf[None, 72:82], xf[None, 82:]
        kp = pair_forward(model, local_rotations(pose), betas).keypoints
        return cameras.project_crop(kp, cam).reshape(-1), kp.reshape(-1)

    j2, j3 = jax.vmap(jax.jacfwd(frame_points))(x)                      # (F, 2K, 85), (F, 3K, 85)
    d = scaling_from_jacobians(j2, j3, data.conf[frames], data.frame_mask[frames], settings)
    return {"pose": d[:72], "betas": d[72:82], "cam": d[82:]}


def precondition_frames(t: int, settings: SolverSettings) -> np.ndarray:
    """Static indices of the evenly spaced frames whose Jacobian gives D."""
    return np.unique(np.linspace(0, t - 1, min(t, settings.lbfgs.precondition_frames))
                     .round().astype(int))


def scaling_from_jacobians(j2: Array, j3: Array, conf: Array, frame_mask: Array,
                           settings: SolverSettings) -> Array:
    """D (P,) from per-frame Jacobians of the 2D reprojection j2 (F, 2K, P) and of the 3D
    keypoints j3 (F, 3K, P); conf (F, K), frame_mask (F,) of those frames (mean 1)."""
    w2 = jnp.repeat(conf, 2, axis=-1)[..., None]                        # (F, 2K, 1)
    w3 = frame_mask[:, None, None]
    diag = (jnp.sum(w2 * j2 ** 2, (0, 1)) / jnp.maximum(jnp.sum(w2), 1.0)
            + settings.lbfgs.precondition_3d_weight * jnp.sum(w3 * j3 ** 2, (0, 1))
            / jnp.maximum(jnp.sum(w3) * j3.shape[1], 1.0))
    mean = jnp.mean(diag)
    d = 1.0 / jnp.sqrt(diag + settings.lbfgs.precondition_damping * mean
                       + jnp.finfo(diag.dtype).tiny)
    d = jnp.where(mean > 0, d / jnp.mean(d), 1.0)   # an all-masked (padding) clip: D = 1
    return jnp.where(jnp.isfinite(d), d, 1.0)


class ScaledState(NamedTuple):
    """``in_scaled_variables``' state: scale D {key: (P_key,)} (broadcast over the frames)
    and the inner transformation's state (in y = x / D coordinates)."""
    scale: Params
    inner: Any


def in_scaled_variables(inner: optax.GradientTransformation, scale: Optional[Params] = None
                        ) -> optax.GradientTransformationExtraArgs:
    """``inner`` run in ``y = x / D``: it sees ``params / D`` and the y-gradient ``D * g``, and
    its y-update ``u`` comes back as the x-update ``D * u``.

    ``scale``: D per key, shape (P_key,) (the last axis of each parameter), or None for 1;
    ``init`` stores it in the state, ``update`` reads it from there (so the transformation
    made without ``scale`` updates a state made with one).
    """
    def init(params):
        d = scale if scale is not None else {
            k: jnp.ones(v.shape[-1:], v.dtype) for k, v in params.items()}
        return ScaledState(d, inner.init(jax.tree.map(jnp.divide, params, d)))

    def update(updates, state, params=None, **extra_args):
        del extra_args   # inner is a plain transformation (its step length comes later)
        d = state.scale
        y = None if params is None else jax.tree.map(jnp.divide, params, d)
        u, inner_state = inner.update(jax.tree.map(jnp.multiply, updates, d), state.inner, y)
        return jax.tree.map(jnp.multiply, u, d), ScaledState(d, inner_state)

    return optax.GradientTransformationExtraArgs(init, update)


def lbfgs_optimizer(settings: SolverSettings, scale: Optional[Params] = None
                    ) -> optax.GradientTransformationExtraArgs:
    """The 'lbfgs' option as optax parts: ``scale_by_lbfgs`` in scaled variables, then the
    backtracking line search (Armijo from the unit step, halving, at most
    ``lbfgs.max_linesearch_steps`` trials, each a value and gradient).

    ``update`` needs the extra arguments ``value``, ``grad`` and ``value_fn`` (the minimized
    scalar objective) of ``optax.scale_by_backtracking_linesearch``.
    """
    trials = settings.lbfgs.max_linesearch_steps
    return optax.chain(
        in_scaled_variables(optax.scale_by_lbfgs(memory_size=settings.lbfgs.memory_size),
                            scale),
        optax.scale(-1.0),
        optax.scale_by_backtracking_linesearch(
            max_backtracking_steps=trials - 1, slope_rtol=_ARMIJO_C1, decrease_factor=_SHRINK,
            # every search starts from the unit step (any accepted step times this >= 1)
            increase_factor=_SHRINK ** -trials, max_learning_rate=1.0, store_grad=True))


def stored_value_and_grad(opt_state: Any) -> Optional[tuple[Array, Params]]:
    """The value and gradient at the current parameters that the state carries (the line
    search's accepted trial), or None for an optimizer that carries none (Adam)."""
    value, grad = optax.tree.get(opt_state, "value"), optax.tree.get(opt_state, "grad")
    return None if value is None or grad is None else (value, grad)


def with_value_and_grad(opt_state: Any, value: Array, grad: Params) -> Any:
    """``opt_state`` carrying ``value`` and ``grad`` (at init, or after the objective changed,
    e.g. the world mode's new plane); unchanged for an optimizer that carries none."""
    if stored_value_and_grad(opt_state) is None:
        return opt_state
    old_value, old_grad = stored_value_and_grad(opt_state)
    return optax.tree.set(opt_state, value=jnp.asarray(value, old_value.dtype),
                          grad=jax.tree.map(lambda a, b: jnp.asarray(a, b.dtype), grad,
                                            old_grad))
