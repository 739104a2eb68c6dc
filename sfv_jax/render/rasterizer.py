"""Z-buffer triangle rasterization and Lambert shading in vectorized NumPy (no GPU, no GL).

Screen space, shared by every function here: a vertex is ``(x px, y px, depth)``; x grows to
the right, y grows downwards, and depth grows away from the viewer (smaller depth is nearer).
Pixel ``(row r, col c)`` has its centre at ``(x, y) = (c, r)`` - OpenCV's drawing convention,
the same as full-image keypoints - and is covered by a triangle when its centre is inside.
The frame ``(x, y, depth)`` is right-handed, like OpenCV's camera frame (x right, y down,
z forward): any projection that scales the camera frame positively keeps a mesh's winding,
so faces wound counter-clockwise seen from outside (SMPL's convention) are front-facing
exactly when their screen-space signed area ``(b-a) x (c-a)`` is negative.

Coverage is exact: vertices are snapped to ``2**subpixel_bits`` steps per pixel and the
edge functions are evaluated in integers with the top-left fill rule, so two triangles that
share an edge never both cover, nor both miss, a pixel on it. Depth is interpolated linearly
in screen space (exact for weak perspective, a close approximation for small triangles
under perspective).

Two implementations of the same rules (``backend``): 'numba' (``raster_kernels``: one
compiled loop per face's pixel box, the default when Numba is installed; ~20x faster on
meshes of small triangles) and 'numpy', where triangles whose clipped pixel boxes round up
to the same (2^i x 2^j) grid are tested together as one (F, 2^j, 2^i) broadcast, so the
cost is proportional to the covered area, not to the image size times the face count. They
cover the same pixels with the same barycentrics and depth; on a depth tie (equal to
within 2^-30 of the image's depth range for 'numpy') they may keep different faces.
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Sequence

import numpy as np

from sfv_jax.render import raster_kernels
from sfv_jax.render.config import RenderSettings

_CULL_MODES = ("back", "front", "none")
_BACKENDS = ("auto", "numba", "numpy")
_buffers = threading.local()      # per thread: reusable per-pixel buffers of the kernels


def _backend(name: str) -> str:
    if name not in _BACKENDS:
        raise ValueError(f"rasterizer backend must be one of {_BACKENDS}, got {name!r}")
    if name == "numba" and not raster_kernels.AVAILABLE:
        raise ValueError("rasterizer backend 'numba' needs the numba package")
    if name == "auto":
        return "numba" if raster_kernels.AVAILABLE else "numpy"
    return name


def _pixel_buffers(height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(zbuf +inf, face -1, bary) for an image size, reused between calls of one thread;
    the kernels' callers reset what they touched."""
    key = (height, width)
    cache = getattr(_buffers, "cache", None)
    if cache is None or cache[0] != key:
        n = height * width
        cache = (key, np.full(n, np.inf), np.full(n, -1, np.int64),
                 np.zeros((n, 3), np.float32))
        _buffers.cache = cache
    return cache[1], cache[2], cache[3]


def _snap(v: np.ndarray, subpixel_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(V, 2) int64 fixed-point x, y and (V,) finiteness, as ``rasterize`` snaps them."""
    one = 1 << subpixel_bits
    finite = np.isfinite(v).all(axis=1)
    # Clamp far-away coordinates so integer products cannot overflow (anything beyond
    # 2**20 px is off-screen anyway).
    lim = float(1 << 20)
    xy = np.round(np.clip(np.nan_to_num(v[:, :2]), -lim, lim) * one).astype(np.int64)
    return xy, finite


def _raster_compiled(v: np.ndarray, f: np.ndarray, height: int, width: int, cull: str,
                     subpixel_bits: int):
    """Runs the compiled kernel; returns (box, zbuf, fbuf, bary) with the buffers filled."""
    n = v.shape[0]
    xy, z, finite = np.empty((n, 2), np.int64), np.empty(n), np.empty(n, np.bool_)
    raster_kernels.snap_kernel(np.ascontiguousarray(v), 1 << subpixel_bits, xy, z, finite)
    zbuf, fbuf, bary = _pixel_buffers(height, width)
    box = raster_kernels.raster_kernel(
        xy, z, finite, np.ascontiguousarray(f), height, width, 1 << subpixel_bits,
        raster_kernels.CULL_CODES[cull], zbuf, fbuf, bary)
    return box, zbuf, fbuf, bary


def _reset(box, width: int, zbuf: np.ndarray, fbuf: np.ndarray) -> None:
    r0, r1, c0, c1 = box
    if r1 >= r0:
        z2, f2 = zbuf.reshape(-1, width), fbuf.reshape(-1, width)
        z2[r0:r1 + 1, c0:c1 + 1] = np.inf
        f2[r0:r1 + 1, c0:c1 + 1] = -1


def _fragments_compiled(v, f, height, width, cull, subpixel_bits) -> Fragments:
    box, zbuf, fbuf, bary = _raster_compiled(v, f, height, width, cull, subpixel_bits)
    pix = np.flatnonzero(fbuf >= 0)
    frags = Fragments(height, width, pix, fbuf[pix].copy(), bary[pix].copy(),
                      zbuf[pix].astype(np.float32))
    _reset(box, width, zbuf, fbuf)
    return frags


@dataclasses.dataclass(frozen=True)
class Fragments:
    """The visible surface, one entry per covered pixel (M pixels).

    Attributes:
      height, width: image size in px.
      pixel: (M,) int64 flat pixel index ``row * width + col``, unique and increasing.
      face: (M,) int64 index of the visible face.
      bary: (M, 3) float32 screen-space barycentric weights of the face's three vertices.
      depth: (M,) float32 interpolated depth of the visible surface.
    """
    height: int
    width: int
    pixel: np.ndarray
    face: np.ndarray
    bary: np.ndarray
    depth: np.ndarray

    def mask(self) -> np.ndarray:
        """(H, W) bool: pixels covered by the mesh."""
        m = np.zeros(self.height * self.width, dtype=bool)
        m[self.pixel] = True
        return m.reshape(self.height, self.width)

    def depth_image(self) -> np.ndarray:
        """(H, W) float32 depth of the visible surface; +inf where nothing is drawn."""
        d = np.full(self.height * self.width, np.inf, dtype=np.float32)
        d[self.pixel] = self.depth
        return d.reshape(self.height, self.width)

    def face_image(self) -> np.ndarray:
        """(H, W) int64 visible face index; -1 where nothing is drawn."""
        f = np.full(self.height * self.width, -1, dtype=np.int64)
        f[self.pixel] = self.face
        return f.reshape(self.height, self.width)


def _check_mesh(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"screen vertices must be (V, 3) (x px, y px, depth), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"faces must be (F, 3) integer vertex indices, got {f.shape} {f.dtype}")
    if f.size and (f.min() < 0 or f.max() >= v.shape[0]):
        raise ValueError(f"faces index vertices 0..{v.shape[0] - 1}, got range "
                         f"{f.min()}..{f.max()}")
    return v, f.astype(np.int64, copy=False)


def _empty(height: int, width: int) -> Fragments:
    return Fragments(height, width, np.zeros(0, np.int64), np.zeros(0, np.int64),
                     np.zeros((0, 3), np.float32), np.zeros(0, np.float32))


def rasterize(vertices: np.ndarray, faces: np.ndarray, height: int, width: int,
              cull: str = "back", subpixel_bits: int = 4, backend: str = "auto") -> Fragments:
    """Z-buffer rasterization of a triangle mesh given in screen space.

    Args:
      vertices: (V, 3) screen-space vertices (x px, y px, depth); see the module docstring.
        Faces with a non-finite vertex are skipped.
      faces: (F, 3) integer vertex indices.
      height, width: image size in px.
      cull: 'back' drops faces with non-negative signed screen area (turned away from the
        viewer for counter-clockwise-outside winding), 'front' the opposite, 'none' keeps all.
      subpixel_bits: vertices are snapped to 2**subpixel_bits steps per px (<= 8).
      backend: 'auto' (Numba when installed), 'numba' or 'numpy' (module docstring).

    Returns:
      ``Fragments``: for every covered pixel the nearest face, its barycentrics and depth.
      Ties in depth go to the lower face index.
    """
    if cull not in _CULL_MODES:
        raise ValueError(f"cull must be one of {_CULL_MODES}, got {cull!r}")
    if not 0 <= subpixel_bits <= 8:
        raise ValueError(f"subpixel_bits must be in 0..8, got {subpixel_bits}")
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    v, f = _check_mesh(vertices, faces)
    if f.shape[0] == 0:
        return _empty(height, width)
    if _backend(backend) == "numba":
        return _fragments_compiled(v, f, height, width, cull, subpixel_bits)

    one = 1 << subpixel_bits
    xy, finite = _snap(v, subpixel_bits)
    tri = xy[f]                                                   # (F, 3, 2) fixed point
    ok = finite[f].all(axis=1)

    ax, ay = tri[:, 0, 0], tri[:, 0, 1]
    bx, by = tri[:, 1, 0], tri[:, 1, 1]
    cx, cy = tri[:, 2, 0], tri[:, 2, 1]
    area2 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)        # twice the signed area
    if cull == "back":
        ok &= area2 < 0
    elif cull == "front":
        ok &= area2 > 0
    else:
        ok &= area2 != 0

    # Clipped pixel bounding boxes (pixel centres at integer coordinates).
    xmin = np.maximum(-((-np.minimum(np.minimum(ax, bx), cx)) // one), 0)
    xmax = np.minimum(np.maximum(np.maximum(ax, bx), cx) // one, width - 1)
    ymin = np.maximum(-((-np.minimum(np.minimum(ay, by), cy)) // one), 0)
    ymax = np.minimum(np.maximum(np.maximum(ay, by), cy) // one, height - 1)
    ok &= (xmax >= xmin) & (ymax >= ymin)
    keep = np.nonzero(ok)[0]
    if keep.size == 0:
        return _empty(height, width)

    # Orient every kept triangle so its interior has positive edge functions.
    tri = tri[keep]
    flip = area2[keep] < 0
    tri[flip, 1], tri[flip, 2] = tri[flip, 2].copy(), tri[flip, 1].copy()
    fk = f[keep].copy()
    fk[flip, 1], fk[flip, 2] = f[keep][flip, 2], f[keep][flip, 1]
    area = np.abs(area2[keep])
    xmin, xmax, ymin, ymax = xmin[keep], xmax[keep], ymin[keep], ymax[keep]

    # Edge k is opposite vertex k: E_k(p) = A_k (px - s_x) + B_k (py - s_y), s the edge
    # start; its gradient (A_k, B_k) points into the triangle.
    starts = tri[:, [1, 2, 0]]                                    # (F, 3, 2)
    ends = tri[:, [2, 0, 1]]
    A = starts[..., 1] - ends[..., 1]                             # (F, 3)
    B = ends[..., 0] - starts[..., 0]
    # Top-left rule: a pixel exactly on an edge belongs to the triangle only for left edges
    # (interior to the right, A > 0) and top edges (horizontal, interior below).
    threshold = np.where((A > 0) | ((A == 0) & (B > 0)), 0, 1)   # inside iff E >= threshold
    # Edge values at the box's top-left pixel centre.
    E0 = A * (xmin[:, None] * one - starts[..., 0]) + B * (ymin[:, None] * one - starts[..., 1])

    bw = xmax - xmin + 1
    bh = ymax - ymin + 1
    # Round box sizes up to powers of two and test each size class as one broadcast.
    lw = np.ceil(np.log2(bw)).astype(np.int64)
    lh = np.ceil(np.log2(bh)).astype(np.int64)
    cls = lw * 64 + lh
    order = np.argsort(cls, kind="stable")
    cls_sorted = cls[order]
    bounds = np.flatnonzero(np.diff(cls_sorted)) + 1
    groups = np.split(order, bounds)

    cand_face, cand_pix, cand_e = [], [], []
    for g in groups:
        gw, gh = 1 << int(lw[g[0]]), 1 << int(lh[g[0]])
        dx = np.arange(gw, dtype=np.int64) * one
        dy = np.arange(gh, dtype=np.int64) * one
        Ag, Bg, Eg, Tg = A[g], B[g], E0[g], threshold[g]
        inside = (dx[None, None, :] < (bw[g] * one)[:, None, None]) & \
                 (dy[None, :, None] < (bh[g] * one)[:, None, None])
        es = []
        for k in range(3):
            e = (Eg[:, k, None, None] + Ag[:, k, None, None] * dx[None, None, :]
                 + Bg[:, k, None, None] * dy[None, :, None])
            inside &= e >= Tg[:, k, None, None]
            es.append(e)
        fi, yi, xi = np.nonzero(inside)
        if fi.size == 0:
            continue
        gf = g[fi]
        cand_face.append(gf)
        cand_pix.append((ymin[gf] + yi) * width + (xmin[gf] + xi))
        cand_e.append(np.stack([e[fi, yi, xi] for e in es], axis=1))
    if not cand_face:
        return _empty(height, width)
    cface = np.concatenate(cand_face)                             # index into kept faces
    cpix = np.concatenate(cand_pix)
    bary = np.concatenate(cand_e).astype(np.float64) / area[cface, None]
    z = v[fk[cface], 2]                                           # (N, 3)
    depth = (bary * z).sum(axis=1)

    # Z-test: one np.minimum.at over keys (quantized depth << 32 | candidate index).
    n = cface.size
    if n >= 1 << 31:
        raise ValueError(f"too many candidate pixels ({n}) in one image")
    dmin, dmax = depth.min(), depth.max()
    scale = ((1 << 30) - 1) / (dmax - dmin) if dmax > dmin else 0.0
    key = (np.round((depth - dmin) * scale).astype(np.int64) << 32) | np.arange(n, dtype=np.int64)
    sentinel = np.iinfo(np.int64).max
    zbuf = np.full(height * width, sentinel, dtype=np.int64)
    np.minimum.at(zbuf, cpix, key)
    pix = np.flatnonzero(zbuf != sentinel)
    win = zbuf[pix] & 0xFFFFFFFF
    return Fragments(height, width, pix, keep[cface[win]],
                     _reorder_bary(bary[win], flip[cface[win]]).astype(np.float32),
                     depth[win].astype(np.float32))


def _reorder_bary(bary: np.ndarray, flipped: np.ndarray) -> np.ndarray:
    """Undoes the vertex swap of flipped triangles so weights follow ``faces`` order."""
    out = bary.copy()
    out[flipped, 1], out[flipped, 2] = bary[flipped, 2], bary[flipped, 1]
    return out


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) unit normals ``(b - a) x (c - a)`` of (V, 3) vertices; zero for degenerate faces."""
    v = np.asarray(vertices, dtype=np.float64)
    tri = v[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit vertex normals: area-weighted sums of the adjacent faces' normals."""
    v = np.asarray(vertices, dtype=np.float64)
    if raster_kernels.AVAILABLE:
        return raster_kernels.vertex_normal_kernel(
            np.ascontiguousarray(v), np.ascontiguousarray(faces, dtype=np.int64))
    tri = v[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])   # length = 2 x area
    idx = np.asarray(faces).reshape(-1)
    acc = np.stack([np.bincount(idx, weights=np.repeat(n[:, k], 3), minlength=v.shape[0])
                    for k in range(3)], axis=1)
    norm = np.linalg.norm(acc, axis=1, keepdims=True)
    return np.divide(acc, norm, out=np.zeros_like(acc), where=norm > 0)


def shade(frags: Fragments, faces: np.ndarray, shading_vertices: np.ndarray,
          color: Sequence[float], light_dir: Sequence[float] = (-0.5, -0.6, -0.7),
          ambient: float = 0.3, diffuse: float = 0.7, smooth: bool = True,
          two_sided: bool = False) -> np.ndarray:
    """Lambert colour of every fragment.

    Args:
      frags: output of ``rasterize``.
      faces: (F, 3) the faces that were rasterized.
      shading_vertices: (V, 3) vertices in a frame where angles are true (a camera frame:
        x right, y down, z away from the viewer); screen vertices work for weak perspective.
      color: (3,) body colour, 0..255 (BGR for OpenCV images).
      light_dir: (3,) direction towards the light in the same frame.
      ambient, diffuse: weights of the ambient and the Lambert term.
      smooth: interpolate per-vertex intensities (Gouraud) instead of per-face ones.
      two_sided: light back faces like front faces (for meshes drawn without culling).

    Returns:
      (M, 3) float32 colours, 0..255.
    """
    lam = _lambert(shading_vertices, faces, light_dir, smooth, two_sided)
    if smooth:
        inten = ambient + diffuse * (frags.bary * lam[faces[frags.face]]).sum(axis=1)
    else:
        inten = ambient + diffuse * lam[frags.face]
    col = np.asarray(color, dtype=np.float32)
    return np.clip(inten.astype(np.float32)[:, None] * col[None, :], 0.0, 255.0)


def _lambert(shading_vertices: np.ndarray, faces: np.ndarray, light_dir: Sequence[float],
             smooth: bool, two_sided: bool) -> np.ndarray:
    """Clamped (or two-sided) cosines: (V,) per vertex when ``smooth``, else (F,) per face."""
    light = np.asarray(light_dir, dtype=np.float64)
    light = light / max(np.linalg.norm(light), 1e-12)
    normals = vertex_normals if smooth else face_normals
    lam = normals(shading_vertices, faces) @ light
    return np.abs(lam) if two_sided else np.maximum(lam, 0.0)


def composite(image: np.ndarray, frags: Fragments, colors: np.ndarray,
              alpha: float = 1.0) -> np.ndarray:
    """Alpha-blends fragment colours over an (H, W, 3) uint8 image; returns a new image."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {img.shape} {img.dtype}")
    if img.shape[:2] != (frags.height, frags.width):
        raise ValueError(f"image is {img.shape[:2]}, fragments are for "
                         f"{(frags.height, frags.width)}")
    out = img.copy()
    flat = out.reshape(-1, 3)
    if alpha >= 1.0:
        flat[frags.pixel] = np.round(colors).astype(np.uint8)
    else:
        under = flat[frags.pixel].astype(np.float32)
        flat[frags.pixel] = np.round(alpha * colors + (1.0 - alpha) * under).astype(np.uint8)
    return out


def draw_mesh(image: np.ndarray, vertices: np.ndarray, faces: np.ndarray, cfg: RenderSettings,
              color: Sequence[float], shading_vertices: np.ndarray | None = None,
              return_fragments: bool = False, out: np.ndarray | None = None):
    """Renders a shaded mesh over an image with the ``RenderSettings``.

    Args:
      image: (H, W, 3) uint8 BGR frame (left untouched unless it is ``out``).
      vertices: (V, 3) screen-space vertices (x px, y px, depth).
      faces: (F, 3) integer vertex indices.
      cfg: the render settings (cull, subpixel_bits, smooth_shading, ambient,
        diffuse, light_dir, alpha).
      color: (3,) BGR body colour.
      shading_vertices: (V, 3) camera-frame vertices for normals; defaults to ``vertices``
        (right for weak perspective, where screen space is a scaled camera frame).
      return_fragments: also return the ``Fragments`` (mask, depth, face ids).
      out: optional (H, W, 3) uint8 array (a view into a larger canvas works) that receives
        the result instead of a new image; may be ``image`` itself (drawn in place).

    Returns:
      the (H, W, 3) uint8 image (``out`` when given), or ``(image, fragments)``.
    """
    h, w = image.shape[:2]
    backend = _backend(cfg.rasterizer)
    if backend == "numba" and not return_fragments:
        return _draw_mesh_compiled(image, vertices, faces, cfg, color, shading_vertices, out)
    frags = rasterize(vertices, faces, h, w, cull=cfg.cull, subpixel_bits=cfg.subpixel_bits,
                      backend=backend)
    sv = vertices if shading_vertices is None else shading_vertices
    faces = np.asarray(faces, dtype=np.int64)
    colors = shade(frags, faces, sv, color, light_dir=cfg.light_dir, ambient=cfg.ambient,
                   diffuse=cfg.diffuse, smooth=cfg.smooth_shading,
                   two_sided=cfg.cull == "none")
    img = composite(image, frags, colors, alpha=cfg.alpha)
    if out is not None:
        out[...] = img
        img = out
    return (img, frags) if return_fragments else img


def _draw_mesh_compiled(image: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                        cfg: RenderSettings, color: Sequence[float],
                        shading_vertices: np.ndarray | None, out: np.ndarray | None
                        ) -> np.ndarray:
    """``draw_mesh`` in one call of the compiled kernel (snap, raster, light, shade, blend)."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {img.shape} {img.dtype}")
    if cfg.cull not in _CULL_MODES:
        raise ValueError(f"cull must be one of {_CULL_MODES}, got {cfg.cull!r}")
    if not 0 <= cfg.subpixel_bits <= 8:
        raise ValueError(f"subpixel_bits must be in 0..8, got {cfg.subpixel_bits}")
    v, f = _check_mesh(vertices, faces)
    if out is None:
        out = np.array(img, order="C")
    else:
        if out.shape != img.shape or out.dtype != np.uint8:
            raise ValueError(f"out must be {img.shape} uint8, got {out.shape} {out.dtype}")
        if out is not img:
            out[...] = img
    if f.shape[0] == 0:
        return out
    h, w = img.shape[:2]
    zbuf, fbuf, bary = _pixel_buffers(h, w)
    sv = v if shading_vertices is None else np.asarray(shading_vertices, np.float64)
    light = np.asarray(cfg.light_dir, dtype=np.float64)
    light = light / max(np.linalg.norm(light), 1e-12)
    alpha = float(cfg.alpha)
    raster_kernels.draw_mesh_kernel(
        out, np.ascontiguousarray(v), np.ascontiguousarray(sv), np.ascontiguousarray(f),
        1 << cfg.subpixel_bits,
        raster_kernels.CULL_CODES[cfg.cull], light, bool(cfg.smooth_shading),
        cfg.cull == "none", float(cfg.ambient), float(cfg.diffuse),
        np.asarray(color, np.float32), np.float32(alpha), np.float32(1.0 - alpha), zbuf, fbuf,
        bary)
    return out
