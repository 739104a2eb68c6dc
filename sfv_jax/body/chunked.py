"""The forward pass over a whole track from NumPy, in padded chunks (``sfv_jax.chunking``).

For callers at the edge (exports, renderers, summaries) that hold NumPy arrays of any length:
one compiled forward per chunk shape, instead of hundreds of op-by-op dispatches per call or
a compilation per track length.
"""
from __future__ import annotations

import functools
from typing import Iterator, Optional

import jax
import numpy as np

from sfv_jax import chunking
from sfv_jax.body.kinematics import forward, keypoint_model, rest_joints
from sfv_jax.body.model import BodyModel


@functools.partial(jax.jit, static_argnames=("fields",))
def _forward_fields(model: BodyModel, pose, betas, transl, fields: tuple[str, ...]):
    out = forward(model, pose, betas, transl)
    return {f: getattr(out, f) for f in fields}


@jax.jit
def _rest(model: BodyModel, betas):
    return rest_joints(model, betas)


def rest_joints_np(model: BodyModel, betas: np.ndarray) -> np.ndarray:
    """``rest_joints`` of (B,) betas as a (J, 3) float64 NumPy array (one compiled call)."""
    b = np.asarray(betas, np.float32).reshape(1, -1)
    return np.asarray(_rest(model, b)[0], np.float64)


def rest_vertices_np(model: BodyModel, betas: np.ndarray) -> np.ndarray:
    """(V, 3) float64 rest-pose (zero pose) vertices of (B,) betas: the template plus the
    shape blend shapes (the pose blend shapes vanish at zero pose)."""
    b = np.asarray(betas, np.float64).reshape(-1)
    dirs = np.asarray(model.shapedirs, np.float64)[..., :b.shape[0]]
    return np.asarray(model.v_template, np.float64) + dirs @ b


def forward_chunks(model: BodyModel, pose: np.ndarray, betas: np.ndarray,
                   transl: Optional[np.ndarray] = None,
                   fields: tuple[str, ...] = ("joints", "rotations"),
                   max_chunk: int = 256) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
    """Yields (start, stop, {field: (stop - start, ...) float32}) chunk by chunk.

    Args:
      model: a full or keypoint-restricted ``BodyModel`` (give ``keypoint_model(model)``
        when no vertices are asked for: the mesh is then never built).
      pose: (T, 72) axis-angle; betas: (B,) one shape or (T, B) per frame; transl: (T, 3)
        or None.
      fields: ``BodyOutput`` fields ("vertices", "joints", "keypoints", "rotations").
      max_chunk: the largest chunk (a chunk's vertices are max_chunk x V x 3 floats).
    """
    pose = np.asarray(pose, np.float32)
    if pose.ndim != 2 or pose.shape[0] == 0:
        raise ValueError(f"pose must be (T, 3J) with T >= 1, got {pose.shape}")
    t = pose.shape[0]
    b = np.asarray(betas, np.float32)
    b = np.broadcast_to(b, (t, b.shape[-1])) if b.ndim == 1 else b
    tr = np.zeros((t, 3), np.float32) if transl is None else np.asarray(transl, np.float32)
    fn = lambda p, bb, tt: _forward_fields(model, p, bb, tt, fields=tuple(fields))  # noqa
    yield from chunking.map_chunks(fn, (pose, b, tr), max_chunk)


def forward_np(model: BodyModel, pose: np.ndarray, betas: np.ndarray,
               transl: Optional[np.ndarray] = None,
               fields: tuple[str, ...] = ("joints", "rotations"),
               max_chunk: int = 256) -> dict[str, np.ndarray]:
    """The whole track's ``fields`` as (T, ...) float32 NumPy (``forward_chunks`` joined);
    without "vertices" among them the keypoint-restricted model does the work."""
    m = model if "vertices" in fields else keypoint_model(model)
    parts = [p[2] for p in forward_chunks(m, pose, betas, transl, fields, max_chunk)]
    return {k: np.concatenate([p[k] for p in parts]) for k in fields}
