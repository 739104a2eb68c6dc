"""The 2D fit's limb-direction prior, the torso candidates and the batched Viterbi pass."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import jax.numpy as jnp

from sfv_jax.fitting import limb_prior, temporal, torso
from sfv_jax.geometry import rotations


def _unit_pairs(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(4, n, 6))
    x[..., :3] /= np.linalg.norm(x[..., :3], axis=-1, keepdims=True)
    x[..., 3:] /= np.linalg.norm(x[..., 3:], axis=-1, keepdims=True)
    return x


def test_shipped_prior_density_matches_the_mixture():
    prior = limb_prior.load()
    assert prior.weights.shape[0] == 4 and np.allclose(prior.weights.sum(-1), 1.0)
    x = _unit_pairs(np.random.default_rng(0), 40)
    ref = np.stack([-np.log(sum(prior.weights[i, k] * multivariate_normal(
        prior.means[i, k], prior.covariances[i, k]).pdf(x[i])
        for k in range(prior.weights.shape[1]))) for i in range(4)])
    got = np.asarray(limb_prior.neg_log_density(limb_prior.prepare(prior),
                                                jnp.asarray(x, jnp.float32)))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=2e-3)


def test_prior_prefers_how_people_hold_their_limbs():
    # Torso frame: x left, y up, z forward. A leg hanging down with the shin behind the knee
    # (knee bent the way knees bend) against the shin bent forward; an upper arm down against
    # one raised straight behind the back.
    terms = limb_prior.prepare(limb_prior.load())
    down = np.array([0.0, -1.0, 0.0])
    shin_back = np.array([0.0, -0.8, -0.6])
    shin_fwd = np.array([0.0, -0.8, 0.6])
    arm_behind = np.array([0.0, 0.3, -0.95]) / np.linalg.norm([0.0, 0.3, -0.95])
    x = np.zeros((4, 2, 6), np.float32)
    x[2, 0] = np.r_[down, shin_back]
    x[2, 1] = np.r_[down, shin_fwd]
    x[0, 0] = np.r_[down, down]
    x[0, 1] = np.r_[arm_behind, arm_behind]
    x[1] = x[0]
    x[3] = x[2]
    nll = np.asarray(limb_prior.neg_log_density(terms, jnp.asarray(x)))
    assert nll[2, 0] + 2.0 < nll[2, 1] and nll[3, 0] + 2.0 < nll[3, 1], nll
    assert nll[0, 0] + 2.0 < nll[0, 1] and nll[1, 0] + 2.0 < nll[1, 1], nll


def test_fit_gmm_recovers_two_clusters_and_mirror_swaps_limbs(tmp_path):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-1.0, 0.1, (300, 6)), rng.normal(1.0, 0.1, (100, 6))])
    w, mu, cov, _ = limb_prior.fit_gmm(x, 2, iterations=50, reg=1e-4)
    order = np.argsort(mu[:, 0])
    np.testing.assert_allclose(w[order], [0.75, 0.25], atol=0.02)
    np.testing.assert_allclose(mu[order, 0], [-1.0, 1.0], atol=0.05)
    d = _unit_pairs(rng, 5).transpose(1, 0, 2)                      # (T, 4, 6)
    m = limb_prior.mirror(d)
    np.testing.assert_allclose(m[:, 1, 1:3], d[:, 0, 1:3])
    np.testing.assert_allclose(m[:, 1, 0], -d[:, 0, 0])
    # A saved prior reads back; a malformed one is refused with the file named.
    prior = limb_prior.LimbPrior(np.full((4, 2), 0.5), np.zeros((4, 2, 6)),
                                 np.tile(np.eye(6), (4, 2, 1, 1)))
    path = str(tmp_path / "p.npz")
    limb_prior.save(path, prior, {"clips": "test"})
    np.testing.assert_allclose(limb_prior.load(path).covariances, prior.covariances)
    bad = str(tmp_path / "bad.npz")
    np.savez(bad, weights=np.ones((3, 2)), means=np.zeros((3, 2, 6)),
             covariances=np.zeros((3, 2, 6, 6)))
    with pytest.raises(ValueError, match="bad.npz"):
        limb_prior.load(bad)


def test_limb_directions_are_in_the_torso_frame():
    # A body turned 90 degrees about the vertical: its directions do not change.
    names = ["left_hip", "right_hip", "neck", "left_shoulder", "left_elbow", "left_wrist",
             "right_shoulder", "right_elbow", "right_wrist", "left_knee", "left_ankle",
             "right_knee", "right_ankle"]
    rng = np.random.default_rng(2)
    pts = rng.normal(size=(1, len(names), 3))
    pts[0, 0], pts[0, 1], pts[0, 2] = [0.1, 0.0, 0.0], [-0.1, 0.0, 0.0], [0.0, 0.5, 0.0]
    turn = np.asarray(rotations.axis_rotation("y", jnp.asarray(np.pi / 2)))
    a = limb_prior.limb_directions(pts, names)
    b = limb_prior.limb_directions(pts @ turn.T, names)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_batched_viterbi_equals_each_chain_alone():
    rng = np.random.default_rng(4)
    lengths = [7, 3, 12]
    chains = [(rng.random((t, 5)), rng.random((t - 1, 5, 5)) * 3.0) for t in lengths]
    t_max = max(lengths)
    unary = np.zeros((3, t_max, 5))
    pair = np.zeros((3, t_max - 1, 5, 5))
    for i, (u, p) in enumerate(chains):
        unary[i, :len(u)], pair[i, :len(p)] = u, p
    paths = temporal.viterbi_batch(unary, pair)
    for i, (u, p) in enumerate(chains):
        alone = temporal.viterbi(u, p)
        np.testing.assert_array_equal(paths[i, :len(u)], alone)
        # Brute force on the short chain: the path is the minimum.
        if len(u) == 3:
            best = min(((u[0, a] + u[1, b] + u[2, c] + p[0, a, b] + p[1, b, c]), (a, b, c))
                       for a in range(5) for b in range(5) for c in range(5))
            assert tuple(alone) == best[1]


def test_distinct_candidates_suppress_near_duplicates():
    rots = np.asarray(rotations.axis_rotation("y", jnp.asarray([0.0, 0.1, 1.0, 2.0, 2.05])))
    cost = np.array([[1.0, 0.5, 3.0, 2.0, 2.5]])
    idx, found = torso.distinct_candidates(jnp.asarray(rots[None]), jnp.asarray(cost), 4, 0.35)
    np.testing.assert_array_equal(np.asarray(idx)[0, :3], [1, 3, 2])
    np.testing.assert_array_equal(np.asarray(found)[0], [True, True, True, False])
