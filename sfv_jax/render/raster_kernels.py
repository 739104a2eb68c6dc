"""Compiled (Numba) kernels of the rasterizer: the same rules as ``rasterizer.rasterize``, one loop.

The NumPy rasterizer vectorizes over triangles, which costs tens of array passes per face;
the body's faces cover only a pixel or two each at video resolution, so that overhead, not
the covered area, dominates. These kernels walk each face's pixel box once: integer edge
functions with the top-left fill rule on ``2**subpixel_bits`` snapped vertices (the same
coverage as ``rasterizer.rasterize``, pixel for pixel), the same float64 barycentrics and
depth, nearest depth wins and an exact tie goes to the lower face index (the NumPy path
breaks ties below its 30-bit depth quantization by candidate order instead). Shading and
blending follow ``rasterizer.shade`` / ``composite`` in the same precision.

``AVAILABLE`` is False when Numba is not installed; ``rasterizer`` then uses NumPy.
"""
from __future__ import annotations

import numpy as np

try:
    import numba
    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised only without numba
    numba = None
    AVAILABLE = False

CULL_CODES = {"back": 0, "front": 1, "none": 2}


def _jit(fn):
    if not AVAILABLE:
        return fn
    return numba.njit(cache=True, nogil=True)(fn)


@_jit
def raster_kernel(xy, z, finite, faces, height, width, one, cull, zbuf, fbuf, bary):
    """Fills the per-pixel buffers; returns the covered box (r0, r1, c0, c1), r1 < r0 if none.

    xy: (V, 2) int64 snapped screen x, y; z: (V,) float64 depth; finite: (V,) bool;
    faces: (F, 3) int64; zbuf: (H*W,) float64 +inf; fbuf: (H*W,) int64 -1;
    bary: (H*W, 3) float32 (weights in ``faces`` order).
    """
    r0, r1, c0, c1 = height, -1, width, -1
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        if not (finite[i0] and finite[i1] and finite[i2]):
            continue
        ax, ay = xy[i0, 0], xy[i0, 1]
        bx, by = xy[i1, 0], xy[i1, 1]
        cx, cy = xy[i2, 0], xy[i2, 1]
        area2 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if cull == 0:
            if area2 >= 0:
                continue
        elif cull == 1:
            if area2 <= 0:
                continue
        elif area2 == 0:
            continue
        xmin = max(-((-min(ax, bx, cx)) // one), 0)
        xmax = min(max(ax, bx, cx) // one, width - 1)
        ymin = max(-((-min(ay, by, cy)) // one), 0)
        ymax = min(max(ay, by, cy) // one, height - 1)
        if xmax < xmin or ymax < ymin:
            continue
        flip = area2 < 0
        j1, j2 = i1, i2
        if flip:                      # orient so the interior has positive edge functions
            bx, by, cx, cy = cx, cy, bx, by
            j1, j2 = i2, i1
        area = float(abs(area2))
        # Edge k is opposite vertex k, from start s to end e: (1 -> 2), (2 -> 0), (0 -> 1).
        sx0, sy0, ex0, ey0 = bx, by, cx, cy
        sx1, sy1, ex1, ey1 = cx, cy, ax, ay
        sx2, sy2, ex2, ey2 = ax, ay, bx, by
        A0, B0 = sy0 - ey0, ex0 - sx0
        A1, B1 = sy1 - ey1, ex1 - sx1
        A2, B2 = sy2 - ey2, ex2 - sx2
        t0 = 0 if (A0 > 0 or (A0 == 0 and B0 > 0)) else 1
        t1 = 0 if (A1 > 0 or (A1 == 0 and B1 > 0)) else 1
        t2 = 0 if (A2 > 0 or (A2 == 0 and B2 > 0)) else 1
        za, zb, zc = z[i0], z[j1], z[j2]
        for r in range(ymin, ymax + 1):
            py = r * one
            for c in range(xmin, xmax + 1):
                px = c * one
                e0 = A0 * (px - sx0) + B0 * (py - sy0)
                if e0 < t0:
                    continue
                e1 = A1 * (px - sx1) + B1 * (py - sy1)
                if e1 < t1:
                    continue
                e2 = A2 * (px - sx2) + B2 * (py - sy2)
                if e2 < t2:
                    continue
                w0, w1, w2 = e0 / area, e1 / area, e2 / area
                d = w0 * za + w1 * zb + w2 * zc
                p = r * width + c
                if d < zbuf[p] or (d == zbuf[p] and f < fbuf[p]):
                    zbuf[p] = d
                    fbuf[p] = f
                    bary[p, 0] = w0
                    if flip:
                        bary[p, 1], bary[p, 2] = w2, w1
                    else:
                        bary[p, 1], bary[p, 2] = w1, w2
                    r0, r1 = min(r0, r), max(r1, r)
                    c0, c1 = min(c0, c), max(c1, c)
    return r0, r1, c0, c1


@_jit
def _face_cross(v, faces, f):
    """(b - a) x (c - a) of face f (length: twice its area)."""
    a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
    ux, uy, uz = v[b, 0] - v[a, 0], v[b, 1] - v[a, 1], v[b, 2] - v[a, 2]
    wx, wy, wz = v[c, 0] - v[a, 0], v[c, 1] - v[a, 1], v[c, 2] - v[a, 2]
    return uy * wz - uz * wy, uz * wx - ux * wz, ux * wy - uy * wx


@_jit
def vertex_normal_kernel(v, faces):
    """(V, 3) float64 unit area-weighted vertex normals (zero where undefined)."""
    acc = np.zeros((v.shape[0], 3))
    for f in range(faces.shape[0]):
        nx, ny, nz = _face_cross(v, faces, f)
        for k in range(3):
            i = faces[f, k]
            acc[i, 0] += nx
            acc[i, 1] += ny
            acc[i, 2] += nz
    for i in range(v.shape[0]):
        n = np.sqrt(acc[i, 0] * acc[i, 0] + acc[i, 1] * acc[i, 1] + acc[i, 2] * acc[i, 2])
        if n > 0:
            acc[i, 0] /= n
            acc[i, 1] /= n
            acc[i, 2] /= n
        else:
            acc[i, 0] = acc[i, 1] = acc[i, 2] = 0.0
    return acc


@_jit
def _finite_or_clamped(x):
    """``np.nan_to_num`` of one float: NaN -> 0, +-inf -> the largest float64."""
    big = np.finfo(np.float64).max
    if np.isnan(x):
        return 0.0
    return min(max(x, -big), big)


@_jit
def snap_kernel(v, one, xy, z, finite):
    """Fills xy (V, 2) int64 fixed-point x, y, z (V,) depth and finite (V,) from (V, 3)
    screen vertices, as ``rasterizer._snap`` does (NaN -> 0, +-inf -> the clamp, which
    keeps integer products from overflowing: beyond 2**20 px is off-screen anyway)."""
    lim = float(1 << 20)
    for i in range(v.shape[0]):
        finite[i] = np.isfinite(v[i, 0]) and np.isfinite(v[i, 1]) and np.isfinite(v[i, 2])
        for k in range(2):
            x = min(max(_finite_or_clamped(v[i, k]), -lim), lim)
            xy[i, k] = np.int64(np.rint(x * one))
        z[i] = _finite_or_clamped(v[i, 2])


@_jit
def lambert_kernel(sv, faces, light, smooth, two_sided):
    """Clamped (or two-sided) Lambert cosines: (V,) per vertex when ``smooth`` (area-weighted
    vertex normals), else (F,) per face; ``light`` (3,) unit, in ``sv``'s frame."""
    if smooth:
        n = vertex_normal_kernel(sv, faces)
    else:
        n = np.zeros((faces.shape[0], 3))
        for f in range(faces.shape[0]):
            nx, ny, nz = _face_cross(sv, faces, f)
            norm = np.sqrt(nx * nx + ny * ny + nz * nz)
            if norm > 0:
                n[f, 0], n[f, 1], n[f, 2] = nx / norm, ny / norm, nz / norm
    lam = n @ light
    for i in range(lam.shape[0]):
        lam[i] = abs(lam[i]) if two_sided else max(lam[i], 0.0)
    return lam


@_jit
def draw_mesh_kernel(image, v, sv, faces, one, cull, light, smooth, two_sided, ambient,
                     diffuse, color, alpha, one_minus, zbuf, fbuf, bary):
    """Rasterizes, shades and blends a mesh into ``image`` (H, W, 3) uint8, in place (any
    strides: a panel of a larger canvas works), in one call.

    v: (V, 3) screen vertices; sv: (V, 3) shading vertices; light: (3,) unit direction;
    color: (3,) float32; alpha: float32 opacity (>= 1: opaque); one_minus: float32(1 - alpha)
    rounded from float64, as NumPy does; zbuf / fbuf / bary: per-pixel buffers of
    ``raster_kernel`` for (H, W) (+inf, -1), left reset. Same coverage, weights and colours
    as ``rasterizer.rasterize`` + ``shade`` + ``composite``.
    """
    height, width = image.shape[0], image.shape[1]
    nv = v.shape[0]
    xy = np.empty((nv, 2), np.int64)
    z = np.empty(nv)
    finite = np.empty(nv, np.bool_)
    snap_kernel(v, one, xy, z, finite)
    r0, r1, c0, c1 = raster_kernel(xy, z, finite, faces, height, width, one, cull, zbuf,
                                   fbuf, bary)
    if r1 < r0:
        return
    lam = lambert_kernel(sv, faces, light, smooth, two_sided)
    for r in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            p = r * width + c
            f = fbuf[p]
            if f < 0:
                continue
            if smooth:
                s = (bary[p, 0] * lam[faces[f, 0]] + bary[p, 1] * lam[faces[f, 1]]
                     + bary[p, 2] * lam[faces[f, 2]])
            else:
                s = lam[f]
            inten = np.float32(ambient + diffuse * s)
            for k in range(3):
                col = min(max(inten * color[k], np.float32(0.0)), np.float32(255.0))
                if alpha >= 1.0:
                    image[r, c, k] = np.uint8(np.rint(col))
                else:
                    image[r, c, k] = np.uint8(np.rint(alpha * col
                                                      + one_minus * np.float32(image[r, c, k])))
            zbuf[p] = np.inf
            fbuf[p] = -1
