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
def vertex_normal_kernel(v, faces):
    """(V, 3) float64 unit area-weighted vertex normals (zero where undefined)."""
    acc = np.zeros((v.shape[0], 3))
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        ux, uy, uz = v[b, 0] - v[a, 0], v[b, 1] - v[a, 1], v[b, 2] - v[a, 2]
        wx, wy, wz = v[c, 0] - v[a, 0], v[c, 1] - v[a, 1], v[c, 2] - v[a, 2]
        nx, ny, nz = uy * wz - uz * wy, uz * wx - ux * wz, ux * wy - uy * wx
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
def shade_composite_kernel(image, box, width, fbuf, bary, faces, lam, ambient, diffuse,
                           color, alpha, one_minus, smooth):
    """Shades the covered pixels of ``box`` and blends them into ``image`` (H*W, 3) uint8.

    lam: per-vertex (smooth) or per-face Lambert terms, already clamped / made two-sided.
    color: (3,) float32; alpha: float32 opacity (>= 1: opaque); one_minus: float32(1 - alpha)
    rounded from float64, as NumPy does.
    """
    r0, r1, c0, c1 = box
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
                    image[p, k] = np.uint8(np.rint(col))
                else:
                    image[p, k] = np.uint8(np.rint(alpha * col
                                                   + one_minus * np.float32(image[p, k])))
