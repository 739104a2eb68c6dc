"""Chunked, padded calls of jitted functions over a track's frames (sfv_jax.chunking,
sfv_jax.body.chunked): the same numbers as one call on the whole track, a few compiled shapes."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sfv_jax import body, chunking
from sfv_jax.body import chunked


def test_chunk_lengths_are_few_and_waste_at_most_a_third():
    sizes = {chunking.chunk_length(n, 4096) for n in range(1, 3001)}
    assert sizes == {32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072}
    for n in range(33, 3001):
        c = chunking.chunk_length(n, 4096)
        assert n <= c and (c - n) / c < 1 / 3 + 1e-9, (n, c)
    assert chunking.chunk_length(3000, 512) == 512 and chunking.chunk_length(5, 16) == 16


def test_apply_chunked_equals_one_call_and_compiles_per_chunk_shape():
    traces = []

    @jax.jit
    def fn(a, b):
        traces.append(a.shape)
        return {"sum": a + b[:, :1], "norm": jnp.linalg.norm(a, axis=-1)}

    rng = np.random.default_rng(0)
    for n in (1, 31, 33, 90, 95, 300):
        a, b = rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 2)).astype(
            np.float32)
        out = chunking.apply_chunked(fn, a, b, max_chunk=128)
        np.testing.assert_allclose(out["sum"], a + b[:, :1], rtol=0, atol=0)
        np.testing.assert_allclose(out["norm"], np.linalg.norm(a, axis=-1), rtol=1e-6)
        assert out["sum"].shape == (n, 3) and isinstance(out["sum"], np.ndarray)
    # 1, 31 -> 32; 33 -> 48; 90, 95 -> 96; 300 -> 128 (three chunks): four shapes in all.
    assert sorted(s[0] for s in traces) == [32, 48, 96, 128]


def test_map_chunks_rejects_mismatched_frames():
    with pytest.raises(ValueError, match="leading frame axis"):
        list(chunking.map_chunks(jax.jit(lambda a, b: a), [np.zeros((4, 1)), np.zeros((5, 1))]))


def test_forward_np_matches_forward(tiny_model):
    rng = np.random.default_rng(1)
    t = 70
    pose = (0.3 * rng.normal(size=(t, 72))).astype(np.float32)
    betas = rng.normal(size=(t, tiny_model.num_betas)).astype(np.float32)
    transl = rng.normal(size=(t, 3)).astype(np.float32)
    ref = body.forward(tiny_model, pose, betas, transl)
    full = chunked.forward_np(tiny_model, pose, betas, transl,
                              fields=("vertices", "joints", "rotations"), max_chunk=32)
    lean = chunked.forward_np(tiny_model, pose, betas, transl, fields=("joints", "keypoints"))
    np.testing.assert_allclose(full["vertices"], ref.vertices, atol=2e-6)
    np.testing.assert_allclose(full["rotations"], ref.rotations, atol=2e-6)
    for out in (full, lean):
        np.testing.assert_allclose(out["joints"], ref.joints, atol=2e-6)
    np.testing.assert_allclose(lean["keypoints"], ref.keypoints, atol=2e-6)
    b = betas[0]
    np.testing.assert_allclose(chunked.rest_joints_np(tiny_model, b),
                               body.rest_joints(tiny_model, b[None])[0], atol=1e-6)
    rest = body.forward(tiny_model, np.zeros((1, 72), np.float32), b[None])
    np.testing.assert_allclose(chunked.rest_vertices_np(tiny_model, b), rest.vertices[0],
                               atol=2e-6)
