"""Overlays, screen cameras and comparison videos (sfv_jax.render)."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from sfv_jax import skeletons
from sfv_jax.render import cameras, config, overlay, video


def _cfg(**kw):
    cfg = config.render_config()
    cfg.progress = False
    for k, v in kw.items():
        setattr(cfg, k, v)
    return config.RenderSettings.from_config(cfg)


def box_mesh(size=(0.4, 1.0, 0.3)) -> tuple[np.ndarray, np.ndarray]:
    """Closed box centred at the origin, faces counter-clockwise seen from outside."""
    sx, sy, sz = np.asarray(size) / 2
    v = np.array([[x, y, z] for x in (-sx, sx) for y in (-sy, sy) for z in (-sz, sz)])
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = np.array([[a, b, c] for a, b, c, d in quads] + [[a, c, d] for a, b, c, d in quads])
    return v, faces


def test_box_mesh_is_outward():
    v, f = box_mesh()
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert ((n * tri.mean(axis=1)).sum(axis=1) > 0).all()


# ------------------------------------------------------------------------ cameras
def test_weak_and_perspective_projection_formulas():
    pts = np.array([[0.1, -0.2, 0.3], [0.0, 0.0, 0.0]])
    w = cameras.project(pts, "weak", np.array([200.0, 1.0, 0.5]))
    np.testing.assert_allclose(w, [[220.0, 60.0, 60.0], [200.0, 100.0, 0.0]])
    p = cameras.project(pts, "perspective", np.array([500.0, 320.0, 240.0, 0.0, 0.0, 5.0]))
    np.testing.assert_allclose(p[0], [500 * 0.1 / 5.3 + 320, 500 * -0.2 / 5.3 + 240, 5.3])
    behind = cameras.project(pts, "perspective", np.array([500.0, 0, 0, 0, 0, -1.0]))
    assert np.isnan(behind[:, :2]).all()


def test_projection_agrees_with_geometry_cameras():
    geo = pytest.importorskip("sfv_jax.geometry.cameras")
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(5, 3)) * 0.3
    cam = np.array([180.0, 0.7, 0.9])
    np.testing.assert_allclose(cameras.project(pts, "weak", cam)[:, :2],
                               np.asarray(geo.project_full(pts, cam)), rtol=1e-5, atol=1e-3)
    transl = np.array([0.1, 0.2, 4.0])
    np.testing.assert_allclose(
        cameras.project(pts, "perspective", np.r_[600.0, 300.0, 200.0, transl])[:, :2],
        np.asarray(geo.project_perspective(pts, transl, 600.0, np.array([300.0, 200.0]))),
        rtol=1e-5, atol=1e-3)


def test_screen_camera_validation_and_helpers():
    with pytest.raises(ValueError, match=r"\(T, 3\)"):
        cameras.ScreenCamera("weak", np.zeros((4, 6)))
    with pytest.raises(ValueError, match="frames \\[2\\]"):
        cameras.ScreenCamera("weak", np.array([[1.0, 0, 0]] * 2 + [[np.nan, 0, 0]]))
    with pytest.raises(ValueError, match="kind"):
        cameras.ScreenCamera("ortho", np.zeros((1, 3)))
    # Resizing keeps pixel centres: the centre of pixel 0 at half size is at -0.25 + ...
    np.testing.assert_allclose(cameras.resize_screen(np.array([[0.0, 1.0, 7.0, 0.9]]), 0.5),
                               [[-0.25, 0.25, 7.0, 0.9]])
    r = cameras.rotate_about_vertical(np.array([[0.0, 0.0, 1.0]]), 90.0, center=np.zeros(3))
    np.testing.assert_allclose(r, [[1.0, 0.0, 0.0]], atol=1e-12)
    pts = np.random.default_rng(1).normal(size=(3, 50, 3))
    cam = cameras.fit_orthographic(pts, 100, 80, margin=0.1)
    s = cameras.project(pts, "weak", cam)
    # Pixel centres 0..79 x 0..99, 10% margins: x in [7.5, 71.5], y in [9.5, 89.5], centred,
    # and the tighter axis fills its range.
    lo, hi = s[..., :2].reshape(-1, 2).min(0), s[..., :2].reshape(-1, 2).max(0)
    assert (lo >= [7.5 - 1e-9, 9.5 - 1e-9]).all() and (hi <= [71.5 + 1e-9, 89.5 + 1e-9]).all()
    np.testing.assert_allclose((lo + hi) / 2, [39.5, 49.5], atol=1e-9)
    assert np.isclose(lo[0], 7.5) or np.isclose(lo[1], 9.5)


# ------------------------------------------------------------------------ overlays
def test_keypoints_drawn_with_threshold_and_side_colours():
    cfg = _cfg(keypoint_radius=3, limb_thickness=2)
    names = skeletons.keypoint_names("body25")
    kp = np.zeros((25, 3))
    li, ri = names.index("left_wrist"), names.index("right_wrist")
    kp[li] = [20, 20, 0.9]
    kp[ri] = [60, 20, 0.9]
    kp[names.index("nose")] = [40, 50, 0.05]       # below threshold: not drawn
    img = np.zeros((80, 80, 3), np.uint8)
    out = overlay.draw_keypoints(img, kp, "body25", cfg)
    np.testing.assert_array_equal(out[20, 20], cfg.color_left)
    np.testing.assert_array_equal(out[20, 60], cfg.color_right)
    assert not out[45:56, 35:46].any()
    assert not img.any()                           # input untouched
    out2 = overlay.draw_keypoints(img, kp, "body25", cfg, threshold=0.0)
    assert out2[45:56, 35:46].any()                # zero-confidence points drawn at thr 0
    # A limb between two confident points is drawn between them.
    kp[names.index("left_elbow")] = [20, 60, 0.9]
    out3 = overlay.draw_keypoints(img, kp, "body25", cfg)
    np.testing.assert_array_equal(out3[40, 20], cfg.color_left)
    with pytest.raises(ValueError, match=r"body25 keypoints must be \(25"):
        overlay.draw_keypoints(img, kp[:10], "body25", cfg)


def test_points_and_labels():
    cfg = _cfg()
    img = np.full((60, 200, 3), 128, np.uint8)
    out = overlay.draw_points(img, np.array([[30.0, 30.0], [np.nan, 1.0]]), (0, 255, 0), 4)
    np.testing.assert_array_equal(out[30, 30], [0, 255, 0])
    lab = overlay.put_label(img, "reconstruction", cfg)
    assert (lab[:25, :150] != 128).any() and (lab[40:, :] == 128).all()
    assert (overlay.put_label(img, "", cfg) == img).all()


# ------------------------------------------------------------------------ videos
T, H, W = 6, 72, 96


@pytest.fixture(scope="module")
def track():
    v, f = box_mesh()
    t = np.arange(T)[:, None, None]
    vi = np.broadcast_to(v, (T,) + v.shape) + 0.02 * np.sin(t) * np.array([1, 0, 0])
    vi = cameras.rotate_about_vertical(vi, 20.0, center=np.zeros(3))
    vf = cameras.rotate_about_vertical(np.broadcast_to(v, (T,) + v.shape), 20.0, np.zeros(3))
    cam = np.tile([50.0, 0.96, 0.72], (T, 1))     # body centre at pixel (48, 36)
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(10, 60, (T, 25, 2)), np.full((T, 25, 1), 0.9)], -1)
    frames = np.stack([np.full((H, W, 3), 30 * i, np.uint8) for i in range(T)])
    return dict(faces=f, vi=vi, vf=vf, cam=cam, kp=kp, frames=frames)


def _frames(track, cfg, **kw):
    return list(video.comparison_frames(
        track["frames"], track["faces"], track["vi"], cameras.ScreenCamera("weak", track["cam"]),
        track["vf"], cameras.ScreenCamera("weak", track["cam"]), track["kp"], "body25", cfg, **kw))


def test_comparison_frames_panels(track):
    cfg = _cfg(max_panel_height=0, max_panel_width=0)
    imgs = _frames(track, cfg)
    assert len(imgs) == T and imgs[0].shape == (H, 4 * W, 3)
    img = imgs[3]
    inp, ini, fin, side = (img[:, k * W:(k + 1) * W] for k in range(4))
    # The mesh sits around the body centre in the mesh panels, not in the input panel.
    assert (ini[36, 48] != 90).any() and (fin[36, 48] != 90).any()
    np.testing.assert_array_equal(inp[70, 2], [90, 90, 90])
    # The initial and final bodies have their own colours.
    assert np.argmax(ini[36, 48]) == np.argmax(cfg.color_initial)
    assert np.argmax(fin[36, 48]) == np.argmax(cfg.color_final)
    # Side view: plain background in the corner, body in the middle.
    np.testing.assert_array_equal(side[H - 2, W - 2], cfg.side_view_background)
    assert (side[H // 2, W // 2] != cfg.side_view_background).any()
    # Projected model keypoints: a cross at the projected body centre, in both mesh panels.
    mk = np.zeros((T, 1, 3))
    mk[:, 0, 1] = 0.2                              # 10 px below the centre
    img = _frames(track, cfg, model_keypoints_initial=mk, model_keypoints_final=mk)[3]
    np.testing.assert_array_equal(img[46, W + 48], cfg.color_model_keypoints)
    np.testing.assert_array_equal(img[46, 2 * W + 48], cfg.color_model_keypoints)
    assert (img[46, 48] != cfg.color_model_keypoints).any()
    # Drawn as a skeleton in one colour when their format is given.
    mk25 = np.zeros((T, 25, 3))
    mk25[:, :, 0] = np.linspace(-0.3, 0.3, 25)
    img = _frames(track, cfg, model_keypoints_final=mk25, model_keypoint_format="body25")[3]
    np.testing.assert_array_equal(img[36, 2 * W + 48 - 12], cfg.color_model_keypoints)
    # Grid layout and no side view.
    assert _frames(track, _cfg(max_panel_height=0, layout="grid"))[0].shape == (2 * H, 2 * W, 3)
    assert _frames(track, _cfg(side_view=False, max_panel_height=0))[0].shape == (H, 3 * W, 3)


def test_panel_cap_scales_down(track):
    cfg = _cfg(max_panel_height=36, max_panel_width=0)
    img = _frames(track, cfg)[0]
    assert img.shape == (36, 4 * 48, 3)
    ini = img[:, 48:96]
    assert (ini[26, 24] != 0).any()                # body still at the (scaled) centre
    assert not ini[26, 2].any() and not ini[26, 45].any()


def test_frame_sources_and_errors(track):
    cfg = _cfg(max_panel_height=0)
    a = _frames(track, cfg)[2]
    seen = []

    def getter(i):
        seen.append(i)
        return track["frames"][i - 100]
    b = list(video.comparison_frames(
        getter, track["faces"], track["vi"], cameras.ScreenCamera("weak", track["cam"]),
        track["vf"], cameras.ScreenCamera("weak", track["cam"]), track["kp"], "body25", cfg,
        frame_ids=range(100, 100 + T), labels={"input": ""}))[2]
    assert seen == list(range(100, 100 + T))
    np.testing.assert_array_equal(a[:, W:], b[:, W:])   # only the input label differs
    c = list(video.comparison_frames(
        iter(track["frames"]), track["faces"], track["vi"],
        cameras.ScreenCamera("weak", track["cam"]), track["vf"],
        cameras.ScreenCamera("weak", track["cam"]), track["kp"], "body25", cfg))[2]
    np.testing.assert_array_equal(a, c)
    d = list(video.comparison_frames(track["frames"], track["faces"], track["vi"], track["cam"],
                                     track["vf"], track["cam"], track["kp"], "body25", cfg))[2]
    np.testing.assert_array_equal(a, d)            # plain (T, 3) params = weak cameras
    with pytest.raises(ValueError, match=r"vertices_final must be \(T=6"):
        _frames(dict(track, vf=track["vf"][:4]), cfg)
    bad = track["frames"].copy().astype(np.float32)
    with pytest.raises(ValueError, match="video frame 0 .* uint8"):
        _frames(dict(track, frames=bad), cfg)
    with pytest.raises(ValueError, match="ran out at track frame 3"):
        list(video.comparison_frames(
            iter(track["frames"][:3]), track["faces"], track["vi"],
            cameras.ScreenCamera("weak", track["cam"]), track["vf"],
            cameras.ScreenCamera("weak", track["cam"]), track["kp"], "body25", cfg))


def test_comparison_video_written_atomically_and_reads_back(track, tmp_path):
    cfg = _cfg(max_panel_height=0)
    path = tmp_path / "track_0.mp4"
    n = video.render_comparison_video(
        path, track["frames"], track["faces"], track["vi"],
        cameras.ScreenCamera("weak", track["cam"]), track["vf"],
        cameras.ScreenCamera("weak", track["cam"]), track["kp"], "body25", 10.0, cfg,
        model_keypoints_initial=track["vi"][:, :4], model_keypoints_final=track["vf"][:, :4])
    assert n == T
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, fr = cap.read()
        if not ok:
            break
        frames.append(fr)
    cap.release()
    assert len(frames) == T and frames[0].shape == (H, 4 * W, 3)
    assert sorted(os.listdir(tmp_path)) == ["track_0.mp4"]    # no temporary left behind
    # A failing render leaves the existing file alone and no temporary.
    before = path.read_bytes()
    with pytest.raises(ValueError, match="keypoints_2d"):
        video.render_comparison_video(
            path, track["frames"], track["faces"], track["vi"],
            cameras.ScreenCamera("weak", track["cam"]), track["vf"],
            cameras.ScreenCamera("weak", track["cam"]), track["kp"][:2], "body25", 10.0, cfg)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["track_0.mp4"]
    with pytest.raises(ValueError, match="fps must be positive"):
        video.write_video(tmp_path / "x.mp4", iter([track["frames"][0]]), 0, cfg)
    with pytest.raises(ValueError, match="no frames"):
        video.write_video(tmp_path / "x.mp4", iter([]), 10, cfg)
    assert sorted(os.listdir(tmp_path)) == ["track_0.mp4"]


def test_perspective_camera_far_away_matches_weak(track):
    cfg = _cfg(max_panel_height=0, side_view=False, alpha=1.0)
    s, tx, ty = track["cam"][0]
    tz = 200.0                                     # far: perspective ~ weak perspective
    persp = np.tile([s * tz, 0.0, 0.0, tx, ty, tz], (T, 1))
    a = _frames(track, cfg)[1]
    b = list(video.comparison_frames(track["frames"], track["faces"], track["vi"], persp,
                                     track["vf"], persp, track["kp"], "body25", cfg))[1]
    bg = track["frames"][1][0, 0]
    ma, mb = (a[:, W:] != bg).any(-1), (b[:, W:] != bg).any(-1)
    assert ma.sum() > 1000 and (ma ^ mb).sum() <= 0.03 * ma.sum()
    with pytest.raises(ValueError, match=r"\(T, 3\) weak .* or \(T, 6\) perspective"):
        cameras.as_screen_camera(np.zeros((T, 4)))


def test_side_view_turns_about_the_floor_normal(track, monkeypatch):
    # A box standing on the floor, filmed by a camera pitched 20 degrees down: in the side
    # view the floor (edge-on, turned about its own normal) is one level line under the box.
    cfg = _cfg(max_panel_height=0, max_panel_width=0)
    p = np.deg2rad(20.0)
    world_to_cam = np.array([[1.0, 0.0, 0.0],
                             [0.0, np.cos(p), np.sin(p)],
                             [0.0, -np.sin(p), np.cos(p)]])   # y down, pitched down by p
    v = np.asarray(track["vf"][0]) @ world_to_cam.T
    verts = np.broadcast_to(v, (T,) + v.shape)
    transl = np.array([0.0, 0.0, 4.0])
    cam = np.tile(np.r_[60.0, W / 2, H / 2, transl], (T, 1))
    n = world_to_cam @ np.array([0.0, -1.0, 0.0])              # up, in the camera frame
    foot = world_to_cam @ np.array([0.0, 0.5, 0.0]) + transl     # under the box (y down)
    floor = np.r_[n, -n @ foot]

    def side(**kw):
        img = list(video.comparison_frames(track["frames"], track["faces"], verts, cam, verts,
                                           cam, track["kp"], "body25", cfg, **kw))[2]
        return img[:, 3 * W:].astype(int)

    img, bg = side(floor=floor), np.asarray(cfg.side_view_background)

    def grid(im):  # grey at about 0.6 x the background, below the panel's label
        rows = np.argwhere((np.ptp(im, -1) == 0) & (im[..., 0] < bg[0])
                           & (im[..., 0] >= 0.5 * bg[0]))
        return rows[rows[:, 0] >= 20]

    lines = grid(img)
    assert len(lines) > W // 2                                 # the floor is drawn ...
    assert np.ptp(lines[:, 0]) <= 2                            # ... as one level line
    body_rows = np.argwhere(np.abs(img - bg).sum(-1) > 30)[:, 0]
    body_rows = body_rows[body_rows < lines[:, 0].min()]
    assert lines[:, 0].min() - body_rows.max() <= 2            # the box stands on it
    # Turned about the camera's y axis instead (the view before it followed the floor), the
    # floor seen from 20 degrees above spreads over many rows.
    monkeypatch.setattr(video.planes, "level_rotation", lambda plane: np.eye(3))
    assert np.ptp(grid(side(floor=floor))[:, 0]) > 10
