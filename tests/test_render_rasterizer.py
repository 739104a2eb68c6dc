"""Pixel tests of the NumPy z-buffer rasterizer (sfv_jax.render.rasterizer)."""
from __future__ import annotations


import cv2
import numpy as np
import pytest

from sfv_jax import schema
from sfv_jax.render import cameras, config, rasterizer

from sfv_jax.render.primitives import uv_sphere  # the render benchmark's test sphere


def test_sphere_winding_is_outward():
    v, f = uv_sphere(12, 16)
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert ((n * tri.mean(axis=1)).sum(axis=1) > 0).all()


def _analytic_inside(tri: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(strictly inside, exactly on an edge) masks by float barycentrics at pixel centres."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    a, b, c = tri[:, :2]

    def edge(p, q):
        return (q[0] - p[0]) * (yy - p[1]) - (q[1] - p[1]) * (xx - p[0])
    e = np.stack([edge(b, c), edge(c, a), edge(a, b)])
    e *= np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))
    return (e > 0).all(axis=0), ((e >= 0).all(axis=0) & (e == 0).any(axis=0))


@pytest.mark.parametrize("flip", [False, True])
def test_known_triangle_covers_exactly_the_analytic_pixels(flip):
    # Coordinates on the 1/16 px grid, so snapping does not move them.
    tri = np.array([[2.25, 1.125, 5.0], [17.8125, 4.5625, 5.0], [6.1875, 15.25, 5.0]])
    faces = np.array([[0, 2, 1]] if flip else [[0, 1, 2]])
    frags = rasterizer.rasterize(tri, faces, 20, 24, cull="none")
    inside, on_edge = _analytic_inside(tri, 20, 24)
    assert not on_edge.any()                       # no pixel centre on an edge here
    np.testing.assert_array_equal(frags.mask(), inside)
    assert inside.sum() > 80                       # sanity: a real triangle, not a sliver
    # Known pixels: the centroid's pixel is in, the image corners are out.
    m = frags.mask()
    assert m[7, 9] and not m[0, 0] and not m[19, 23] and not m[15, 17]


def test_culling_follows_signed_area_convention():
    # Counter-clockwise on the page with y down is negative area: front-facing.
    tri = np.array([[2.0, 2.0, 0.0], [2.0, 12.0, 0.0], [12.0, 2.0, 0.0]])
    front, back = np.array([[0, 1, 2]]), np.array([[0, 2, 1]])
    assert rasterizer.rasterize(tri, front, 16, 16, cull="back").pixel.size > 0
    assert rasterizer.rasterize(tri, back, 16, 16, cull="back").pixel.size == 0
    assert rasterizer.rasterize(tri, back, 16, 16, cull="front").pixel.size > 0
    with pytest.raises(ValueError, match="cull"):
        rasterizer.rasterize(tri, front, 16, 16, cull="both")


def test_top_left_rule_shared_edges_no_cracks_no_overlaps():
    # A jittered grid triangulated into many triangles with integer and half-integer
    # vertices: lots of pixel centres lie exactly on shared edges.
    rng = np.random.default_rng(3)
    n = 7
    gx, gy = np.meshgrid(np.arange(n) * 6.0, np.arange(n) * 5.0)
    pts = np.stack([gx, gy], -1).reshape(-1, 2)
    interior = ((gx > 0) & (gx < gx.max()) & (gy > 0) & (gy < gy.max())).reshape(-1)
    pts[interior] += rng.integers(-4, 5, size=(interior.sum(), 2)) * 0.5
    v = np.concatenate([pts + 3.0, np.zeros((len(pts), 1))], axis=1)
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = i * n + j, i * n + j + 1, (i + 1) * n + j, (i + 1) * n + j + 1
            faces += [[a, b, d], [a, d, c]] if (i + j) % 2 else [[a, b, c], [b, d, c]]
    faces = np.array(faces)
    h, w = 40, 44
    count = np.zeros((h, w), int)
    for k in range(len(faces)):
        count += rasterizer.rasterize(v, faces[k:k + 1], h, w, cull="none").mask()
    assert count.max() == 1                      # no pixel drawn twice
    # The outer boundary is the rectangle [3, 39] x [3, 33]: top/left edges are in, the
    # bottom/right edges out, so exactly columns 3..38 and rows 3..32 are covered.
    expected = np.zeros((h, w), bool)
    expected[3:33, 3:39] = True
    np.testing.assert_array_equal(count == 1, expected)
    # The whole mesh at once gives the same coverage.
    np.testing.assert_array_equal(rasterizer.rasterize(v, faces, h, w, cull="none").mask(),
                                  expected)


def test_nearer_of_two_overlapping_quads_wins():
    def quad(x0, y0, x1, y1, z):
        return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], float)
    v = np.concatenate([quad(2, 2, 20, 14, 3.0), quad(10, 6, 28, 20, 1.0)])
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    for swap in (False, True):
        vv = v.copy()
        if swap:
            vv[:4, 2], vv[4:, 2] = 1.0, 3.0
        fi = rasterizer.rasterize(vv, faces, 24, 32, cull="none").face_image()
        overlap = fi[6:14, 10:20]
        near_is_second = not swap
        assert ((overlap >= 2) == near_is_second).all()
        # Outside the overlap each quad shows itself.
        assert (fi[2:6, 2:10] < 2).all() and (fi[14:20, 20:28] >= 2).all()
        assert (fi[0:2, :] == -1).all()


def test_interpenetrating_planes_take_the_pointwise_minimum_depth():
    # Two large triangles crossing each other along a line: depth must be min of the planes.
    h, w = 30, 40
    big = np.array([[-5.0, -5.0], [60.0, -5.0], [-5.0, 60.0]])
    za = lambda x, y: 2.0 + 0.05 * x         # noqa: E731
    zb = lambda x, y: 3.0 - 0.04 * x + 0.01 * y  # noqa: E731
    v = np.concatenate([np.c_[big, za(big[:, 0], big[:, 1])],
                        np.c_[big, zb(big[:, 0], big[:, 1])]])
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    frags = rasterizer.rasterize(v, faces, h, w, cull="none")
    yy, xx = np.mgrid[0:h, 0:w]
    want = np.minimum(za(xx, yy), zb(xx, yy))
    d = frags.depth_image()
    inside = xx + yy < 54                    # the triangles' hypotenuse x + y = 55
    np.testing.assert_allclose(d[inside], want[inside], atol=2e-3)
    fi = frags.face_image()
    assert (fi[inside & (za(xx, yy) < zb(xx, yy) - 0.01)] == 0).all()
    assert (fi[inside & (zb(xx, yy) < za(xx, yy) - 0.01)] == 1).all()


def test_barycentrics_reproduce_pixel_centres_and_depth_plane():
    rng = np.random.default_rng(0)
    v = np.c_[rng.uniform(0, 60, (30, 2)), rng.uniform(1, 2, 30)]
    faces = rng.integers(0, 30, (20, 3))
    distinct = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & \
        (faces[:, 0] != faces[:, 2])
    faces = faces[distinct]
    frags = rasterizer.rasterize(v, faces, 64, 64, cull="none")
    assert frags.pixel.size > 100
    np.testing.assert_allclose(frags.bary.sum(axis=1), 1.0, atol=1e-5)
    assert (frags.bary >= -1e-6).all()
    xy = (frags.bary[:, :, None] * v[faces[frags.face]][:, :, :2]).sum(axis=1)
    pix = np.stack([frags.pixel % 64, frags.pixel // 64], axis=1)
    np.testing.assert_allclose(xy, pix, atol=0.1)       # 1/16 px vertex snapping
    np.testing.assert_allclose(frags.depth,
                               (frags.bary * v[faces[frags.face]][:, :, 2]).sum(1), rtol=1e-5)


def _fillpoly_union(screen: np.ndarray, faces: np.ndarray, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    pts = np.round(screen[faces][:, :, :2] * 16).astype(np.int32)
    for p in pts:
        cv2.fillPoly(m, [p], 1, lineType=cv2.LINE_8, shift=4)
    return m.astype(bool)


@pytest.mark.parametrize("angle", [0.0, 37.0])
def test_mesh_silhouette_matches_filled_projected_triangles(angle):
    v, f = uv_sphere(30, 40)
    v = v * np.array([0.3, 0.9, 0.2])
    v = cameras.rotate_about_vertical(cameras.rotate_about_vertical(v, angle) [:, [1, 0, 2]],
                                      25.0)[:, [1, 0, 2]]
    screen = cameras.project(v, "weak", np.array([100.0, 1.0, 1.2]))
    h, w = 240, 200
    frags = rasterizer.rasterize(screen, f, h, w, cull="back")
    ours = frags.mask()
    ref = _fillpoly_union(screen, f, h, w)
    # cv2.fillPoly also fills pixels its outline touches, so it covers a superset; beyond
    # that the two may differ only by a one-pixel ring on the outline.
    k = np.ones((3, 3), np.uint8)
    assert not (ours & ~ref).any()
    assert not (ref & ~cv2.dilate(ours.astype(np.uint8), k).astype(bool)).any()
    assert ours.sum() > 0.9 * ref.sum() > 1000
    # Back-face culling does not change a closed mesh's silhouette or visible depth.
    allf = rasterizer.rasterize(screen, f, h, w, cull="none")
    np.testing.assert_array_equal(allf.mask(), ours)
    np.testing.assert_allclose(allf.depth_image()[ours], frags.depth_image()[ours], atol=1e-4)
    # What back-face culling keeps is the near surface: the far (front-culled) one is deeper.
    far = rasterizer.rasterize(screen, f, h, w, cull="front").depth_image()
    assert (far[ours] > frags.depth_image()[ours] - 1e-3).all()
    assert np.median(far[ours] - frags.depth_image()[ours]) > 5.0


def test_offscreen_nonfinite_and_huge_triangles():
    v = np.array([[-50.0, -50.0, 1.0], [-10.0, -50.0, 1.0], [-10.0, -10.0, 1.0],
                  [np.nan, 3.0, 1.0], [5.0, 5.0, 1.0], [9.0, 2.0, 1.0],
                  [-1e7, -1e7, 2.0], [1e7, -1e7, 2.0], [0.0, 1e7, 2.0]])
    faces = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    frags = rasterizer.rasterize(v, faces, 12, 16, cull="none")
    assert frags.mask().all()                      # the huge one covers everything
    assert (frags.face == 2).all()
    assert rasterizer.rasterize(v, faces[:2], 12, 16, cull="none").pixel.size == 0


def test_bad_input_errors():
    v = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"\(V, 3\)"):
        rasterizer.rasterize(np.zeros((3, 2)), np.array([[0, 1, 2]]), 4, 4)
    with pytest.raises(ValueError, match="faces index"):
        rasterizer.rasterize(v, np.array([[0, 1, 3]]), 4, 4)
    with pytest.raises(ValueError, match="integer"):
        rasterizer.rasterize(v, np.array([[0.0, 1.0, 2.0]]), 4, 4)
    frags = rasterizer.rasterize(v, np.zeros((0, 3), int), 4, 4)
    with pytest.raises(ValueError, match="fragments are for"):
        rasterizer.composite(np.zeros((5, 4, 3), np.uint8), frags, np.zeros((0, 3)))


def test_lambert_shading_and_alpha_blend():
    cfg = config.RenderSettings(ambient=0.2, diffuse=0.6, alpha=0.5, smooth_shading=False,
                                light_dir=(0.0, 0.0, -1.0))  # lit from the viewer
    # A quad facing the viewer (front-facing: negative signed area) and one tilted 60 deg.
    quad = np.array([[0, 0, 0], [0, 10, 0], [10, 10, 0], [10, 0, 0]], float)
    c60, s60 = np.cos(np.pi / 3), np.sin(np.pi / 3)
    tilt = np.array([[20, 0, 0], [20, 10, 0], [20 + 10 * c60, 10, 10 * s60],
                     [20 + 10 * c60, 0, 10 * s60]], float)
    v = np.concatenate([quad, tilt])
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    bg = np.full((12, 30, 3), 100, np.uint8)
    color = (200, 100, 50)
    out, frags = rasterizer.draw_mesh(bg, v, faces, cfg, color, return_fragments=True)
    full = np.array(color) * (0.2 + 0.6)
    np.testing.assert_allclose(out[5, 5], np.round(0.5 * full + 50), atol=1)
    half = np.array(color) * (0.2 + 0.6 * 0.5)     # cos 60 = 0.5
    np.testing.assert_allclose(out[5, 22], np.round(0.5 * half + 50), atol=1)
    np.testing.assert_array_equal(out[11, 29], [100, 100, 100])
    assert bg[5, 5, 0] == 100                      # input untouched
    # Smooth shading of a flat quad equals flat shading.
    cfg = schema.replace(cfg, smooth_shading=True)
    np.testing.assert_allclose(rasterizer.draw_mesh(bg, v[:4], faces[:2], cfg, color)[5, 5],
                               out[5, 5], atol=1)


@pytest.mark.skipif(not rasterizer.raster_kernels.AVAILABLE, reason="numba not installed")
@pytest.mark.parametrize("cull", ["back", "none"])
def test_compiled_and_numpy_backends_agree(cull):
    """The Numba kernels cover the same pixels with the same barycentrics and depth as the
    NumPy rasterizer (faces may differ only on exact depth ties), and draw the same image."""
    v, f = uv_sphere(40, 48)
    v = v * np.array([0.3, 0.9, 0.2])
    h, w = 120, 160
    cfg = config.RenderSettings(cull=cull)
    numpy_cfg = schema.replace(cfg, rasterizer="numpy")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    for k, scale in enumerate((8.0, 50.0, 140.0)):
        pts = cameras.rotate_about_vertical(v, 23.0 * k, center=np.zeros(3))
        screen = cameras.project(pts, "weak", np.array([scale, 80 / scale, 60 / scale]))
        screen[::97, 0] += 0.37                    # off-grid vertices, irregular triangles
        a = rasterizer.rasterize(screen, f, h, w, cull=cull, backend="numpy")
        b = rasterizer.rasterize(screen, f, h, w, cull=cull, backend="numba")
        np.testing.assert_array_equal(a.pixel, b.pixel)
        same = a.face == b.face
        assert same.mean() > 0.995
        np.testing.assert_array_equal(a.bary[same], b.bary[same])
        np.testing.assert_array_equal(a.depth[same], b.depth[same])
        np.testing.assert_allclose(a.depth, b.depth, atol=1e-6 * float(np.ptp(screen[:, 2])))
        img_np = rasterizer.draw_mesh(image, screen, f, numpy_cfg, (200, 150, 90))
        img_nb = rasterizer.draw_mesh(image, screen, f, cfg, (200, 150, 90))
        assert np.abs(img_np.astype(int) - img_nb).max() <= 1
        assert (img_np != img_nb).any(axis=2).mean() < 0.002
    with pytest.raises(ValueError, match="backend"):
        rasterizer.rasterize(screen, f, h, w, backend="gl")
