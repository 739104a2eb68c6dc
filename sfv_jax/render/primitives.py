"""Closed test meshes for the renderer (benchmarks and pixel tests share them)."""
from __future__ import annotations

import numpy as np


def uv_sphere(n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit sphere, (2 + (n_lat - 1) n_lon) vertices, faces counter-clockwise seen from outside."""
    th = np.linspace(0.0, np.pi, n_lat + 1)[1:-1]
    ph = np.linspace(0.0, 2.0 * np.pi, n_lon, endpoint=False)
    t, p = np.meshgrid(th, ph, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    v = np.concatenate([[[0.0, 1.0, 0.0]], ring, [[0.0, -1.0, 0.0]]])
    j = np.arange(n_lon)
    jn = (j + 1) % n_lon
    faces = [np.stack([np.zeros(n_lon, int), 1 + jn, 1 + j], 1)]
    for i in range(n_lat - 2):
        a, b = 1 + i * n_lon + j, 1 + i * n_lon + jn
        c, d = a + n_lon, b + n_lon
        faces += [np.stack([a, b, d], 1), np.stack([a, d, c], 1)]
    last = len(v) - 1
    base = 1 + (n_lat - 2) * n_lon
    faces.append(np.stack([np.full(n_lon, last), base + j, base + jn], 1))
    return v, np.concatenate(faces).astype(np.int64)
