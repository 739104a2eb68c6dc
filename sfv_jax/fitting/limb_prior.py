"""A data-driven prior of limb directions: which depth order of a limb a person is likely in.

2D keypoints leave each bone's sign toward / away from the camera open; joint limits remove only
some of the four depth orders of a limb. This prior scores the rest by how often people hold
their limbs that way: per limb (shoulder-elbow-wrist, hip-knee-ankle) a Gaussian mixture over
x = (upper bone direction, lower bone direction), two unit vectors in the torso's frame
(``geometry.rotations.torso_frame``: x to the body's left, y up the spine, z the way it faces),

    -log p(x) = -log sum_k w_k N(x; mu_k, Sigma_k),

fitted by EM (``fit_gmm``) on motion capture by ``launch/build_limb_prior.py``; the shipped
``sfv_jax/data/limb_prior.npz`` holds the mixtures fitted on DeepMimic clips that the accuracy
benchmark does not use (see ``sfv_jax/data/ATTRIBUTION.md``), mirrored left <-> right.
"""
from __future__ import annotations

import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sfv_jax import atomic
from sfv_jax.geometry.crops import array_module
from sfv_jax.geometry.rotations import torso_frame

Array = jnp.ndarray

LIMB_CHAINS = (("left_shoulder", "left_elbow", "left_wrist"),
               ("right_shoulder", "right_elbow", "right_wrist"),
               ("left_hip", "left_knee", "left_ankle"),
               ("right_hip", "right_knee", "right_ankle"))
# Limb order after mirroring the body left <-> right (x -> -x).
MIRRORED = (1, 0, 3, 2)
DEFAULT_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "limb_prior.npz")


class LimbPrior(NamedTuple):
    """Mixtures per limb (a pytree of arrays): weights (4, C), means (4, C, 6), covariances
    (4, C, 6, 6)."""
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray


class PriorTerms(NamedTuple):
    """The prior prepared for ``neg_log_density`` (float32): each component's log density is
    linear in the quadratic features of x (``_features``: the 21 products x_i x_j, i <= j, the
    6 coordinates and 1), so the mixture is one matrix product. weights: (4, 28, C)."""
    weights: Array


def limb_directions(points: np.ndarray, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """(T, P, 3) points named ``names`` (any Y-up or camera frame) -> (T, 4, 6) unit bone
    directions of the four limbs in each frame's torso frame (``torso_frame``)."""
    names = list(names)
    g = lambda n: np.asarray(points[:, names.index(n)], np.float64)  # noqa: E731
    frame = torso_frame(g("left_hip"), g("right_hip"), g("neck"))
    out = []
    for chain in LIMB_CHAINS:
        bones = [np.einsum("tji,tj->ti", frame, g(chain[i + 1]) - g(chain[i])) for i in range(2)]
        bones = [b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12) for b in bones]
        out.append(np.concatenate(bones, -1))
    return np.stack(out, 1)


def mirror(directions: np.ndarray) -> np.ndarray:
    """(T, 4, 6) limb directions of the body mirrored left <-> right (x -> -x, limbs swapped)."""
    m = np.array(directions, np.float64)
    m[..., [0, 3]] *= -1.0
    return m[:, list(MIRRORED)]


def fit_gmm(x: np.ndarray, components: int, iterations: int = 200, reg: float = 2e-3,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """EM for a full-covariance Gaussian mixture (NumPy, deterministic for a seed).

    x: (N, D). ``reg`` is added to every covariance's diagonal (directions are unit vectors:
    0.002 is a ~0.045 spread). Returns weights (C,), means (C, D), covariances (C, D, D) and
    the final mean log-likelihood.
    """
    x = np.asarray(x, np.float64)
    n, d = x.shape
    if n < components:
        raise ValueError(f"fit_gmm: {n} samples for {components} components")
    rng = np.random.default_rng(seed)
    mu = x[rng.choice(n, components, replace=False)]
    cov = np.tile(np.cov(x.T) + reg * np.eye(d), (components, 1, 1))
    w = np.full(components, 1.0 / components)
    ll = -np.inf
    feats = _features(x)                                                   # (N, 28)
    for _ in range(iterations):
        logp = feats @ _feature_weights(w, mu, cov).T                      # (N, C)
        m = logp.max(1, keepdims=True)
        r = np.exp(logp - m)
        ll = float(np.mean(np.log(r.sum(1)) + m[:, 0]))
        r /= r.sum(1, keepdims=True)
        nk = r.sum(0) + 1e-9
        w = nk / n
        mu = (r.T @ x) / nk[:, None]
        diff = x[:, None] - mu[None]
        cov = np.einsum("nk,nki,nkj->kij", r, diff, diff) / nk[:, None, None] + reg * np.eye(d)
    return w, mu, cov, ll


def save(path: str, prior: LimbPrior, meta: dict[str, str]) -> None:
    """Writes ``prior`` (and string metadata: sources, settings) as an .npz, atomically."""
    arrays = {"weights": prior.weights, "means": prior.means,
              "covariances": prior.covariances}
    arrays.update({f"meta_{k}": np.asarray(v) for k, v in meta.items()})
    atomic.save_npz(path, **arrays)


def load(path: str = "") -> LimbPrior:
    """Reads a limb prior .npz (``""``: the shipped one; ValueError naming the file when it is
    malformed)."""
    path = path or DEFAULT_PATH
    keys = ("weights", "means", "covariances")
    arrays = atomic.load_npz(path, what="limb prior", keys=keys)
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise ValueError(f"{path}: limb prior lacks {missing}")
    prior = LimbPrior(*(np.asarray(arrays[k], np.float64) for k in keys))
    c = prior.weights.shape[-1] if prior.weights.ndim == 2 else -1
    if (prior.weights.shape != (4, c) or prior.means.shape != (4, c, 6)
            or prior.covariances.shape != (4, c, 6, 6) or c < 1
            or not all(np.isfinite(a).all() for a in prior)):
        raise ValueError(f"{path}: limb prior arrays have shapes {[a.shape for a in prior]}, "
                         "expected (4, C), (4, C, 6), (4, C, 6, 6), finite")
    try:
        np.linalg.cholesky(prior.covariances)
    except np.linalg.LinAlgError as e:
        raise ValueError(f"{path}: a covariance of the limb prior is not positive definite") from e
    return prior


def _feature_weights(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray
                     ) -> np.ndarray:
    """Mixture components (..., C), (..., C, D), (..., C, D, D) -> (..., C, F) weights on
    ``_features``: log(w_k N(x; mu_k, S_k)) = -x'Px/2 + mu'Px - mu'Pmu/2 + log w_k
    - log det(S_k)/2 - D log(2 pi)/2, with P = S_k^-1 (NumPy, float64)."""
    d = means.shape[-1]
    prec = np.linalg.inv(covariances)
    _, logdet = np.linalg.slogdet(covariances)
    quad = np.stack([-0.5 * prec[..., i, i] if i == j else -prec[..., i, j]
                     for i, j in _pairs(d)], -1)
    lin = np.einsum("...ij,...j->...i", prec, means)
    const = (-0.5 * np.sum(lin * means, -1) + np.log(np.maximum(weights, 1e-30))
             - 0.5 * logdet - 0.5 * d * np.log(2 * np.pi))
    return np.concatenate([quad, lin, const[..., None]], -1)


def _pairs(d: int) -> tuple[tuple[int, int], ...]:
    return tuple((i, j) for i in range(d) for j in range(i, d))


def _features(x: Array) -> Array:
    """(..., D) -> (..., D (D + 1) / 2 + D + 1): x_i x_j (i <= j), x, 1 (NumPy or JAX)."""
    xp = array_module(x)
    d = x.shape[-1]
    quad = [x[..., i] * x[..., j] for i, j in _pairs(d)]
    return xp.stack(quad + [x[..., i] for i in range(d)] + [xp.ones_like(x[..., 0])], -1)


def prepare(prior: LimbPrior) -> PriorTerms:
    """The mixtures as float32 weights on the quadratic features (``_feature_weights``)."""
    w = _feature_weights(prior.weights, prior.means, prior.covariances)   # (4, C, 28)
    return PriorTerms(jnp.asarray(np.swapaxes(w, 1, 2), jnp.float32))


def neg_log_density(terms: PriorTerms, directions: Array) -> Array:
    """-log p of limb directions (4, ..., 6) (limb first, unit bones in the torso frame) ->
    (4, ...)."""
    lead = directions.shape[1:-1]
    f = _features(directions.reshape((4, -1, 6)))                         # (4, M, 28)
    logp = jax.scipy.special.logsumexp(jnp.einsum("lmf,lfc->lmc", f, terms.weights), axis=-1)
    return (-logp).reshape((4,) + lead)
