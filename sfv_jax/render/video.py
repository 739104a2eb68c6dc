"""Before/after comparison videos of one track (OpenCV mp4, written atomically).

Panels, left to right (``layout='row'``) or in two columns (``'grid'``):
  input frame + its 2D keypoints | initial estimate mesh | reconstruction mesh | side view
The side view turns the reconstruction about the vertical axis (``side_view_angle_deg``) and
draws it on a plain background with one orthographic camera for the whole track, so motion
in depth (invisible from the front) shows up as sideways motion.
"""
from __future__ import annotations

import os
import queue
import threading
from typing import Callable, Iterator, Mapping, Sequence, Union

import cv2
import numpy as np
import tqdm

from sfv_jax.atomic import atomic_path
from sfv_jax.geometry import planes
from sfv_jax.render import cameras as cams_lib
from sfv_jax.render import overlay, rasterizer
from sfv_jax.render.config import RenderSettings

CameraLike = Union[cams_lib.ScreenCamera, np.ndarray]
FrameSource = Union[Callable[[int], np.ndarray], Sequence[np.ndarray], np.ndarray,
                    Iterator[np.ndarray]]


# ``comparison_frames(reuse_buffers=...)`` for a consumer that is ``write_video`` (its encoder
# holds at most 6 images at a time).
RING_FOR_WRITER = 8


def _frame_getter(frames: FrameSource) -> Callable[[int, int], np.ndarray]:
    """(track index t, video frame id) -> frame, for callables, sequences and iterators."""
    if callable(frames):
        return lambda t, fid: frames(fid)
    if hasattr(frames, "__getitem__") and hasattr(frames, "__len__"):
        return lambda t, fid: frames[t]
    it = iter(frames)

    def nxt(t: int, fid: int) -> np.ndarray:
        try:
            return next(it)
        except StopIteration:
            raise ValueError(f"frame source ran out at track frame {t} "
                             f"(video frame {fid})") from None
    return nxt


def panel_size(height: int, width: int, cfg: RenderSettings) -> tuple[int, int, float]:
    """(panel height, panel width, scale factor) for a frame of ``height`` x ``width``."""
    f = 1.0
    if cfg.max_panel_height and height > cfg.max_panel_height:
        f = min(f, cfg.max_panel_height / height)
    if cfg.max_panel_width and width > cfg.max_panel_width:
        f = min(f, cfg.max_panel_width / width)
    return max(1, int(round(height * f))), max(1, int(round(width * f))), f


def compose_panels(panels: Sequence[np.ndarray], layout: str) -> np.ndarray:
    """Tiles equally sized (h, w, 3) panels: 'row' -> (h, n w, 3); 'grid' -> 2 columns (an
    odd count leaves the last cell black). The arrangement of ``_panel_views``."""
    panels = list(panels)
    ph, pw = panels[0].shape[:2]
    canvas = _next_canvas([], 0, ph, pw, len(panels), layout)
    for view, p in zip(_panel_views(canvas, len(panels), ph, pw, layout), panels):
        view[...] = p
    return canvas


def _check_track(n: int, name: str, arr: np.ndarray | None, shape_tail: tuple) -> np.ndarray | None:
    if arr is None:
        return None
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim != 1 + len(shape_tail) or a.shape[0] != n or any(
            s is not None and a.shape[1 + i] != s for i, s in enumerate(shape_tail)):
        dims = ["T=%d" % n] + ["*" if s is None else str(s) for s in shape_tail]
        want = "(" + ", ".join(dims) + ")"
        raise ValueError(f"{name} must be {want}, got {a.shape}")
    return a


def comparison_frames(frames: FrameSource, faces: np.ndarray,
                      vertices_initial: np.ndarray, camera_initial: CameraLike,
                      vertices_final: np.ndarray, camera_final: CameraLike,
                      keypoints_2d: np.ndarray, keypoint_format: str, cfg: RenderSettings,
                      model_keypoints_initial: np.ndarray | None = None,
                      model_keypoints_final: np.ndarray | None = None,
                      frame_ids: Sequence[int] | None = None,
                      labels: Mapping[str, str] | None = None,
                      model_keypoint_format: str | None = None,
                      model_keypoints_space: str = "model",
                      side_camera: tuple[np.ndarray, np.ndarray] | None = None,
                      floor: np.ndarray | None = None,
                      reuse_buffers: int = 0) -> Iterator[np.ndarray]:
    """Yields the composed comparison image of every track frame.

    Args:
      frames: video frames, (H, W, 3) uint8 BGR each: a callable ``frame_id -> image``, a
        sequence / (T, H, W, 3) array indexed by track frame, or an iterator in track order.
      faces: (F, 3) mesh faces.
      vertices_initial, vertices_final: (T, V, 3) model vertices (metres) of the initial
        estimate and of the reconstruction; projected with their own cameras.
      camera_initial, camera_final: per-frame ``ScreenCamera`` (T cameras each), or plain
        params: (T, 3) weak ``[s, tx, ty]`` / (T, 6) perspective ``[f, cx, cy, Tx, Ty, Tz]``.
      keypoints_2d: (T, K, 3) input keypoints (x px, y px, confidence) in ``keypoint_format``.
      cfg: the render settings.
      model_keypoints_initial, model_keypoints_final: optional (T, J, 3) model keypoints,
        drawn on the mesh panels when ``cfg.draw_model_keypoints``: as a skeleton if
        ``model_keypoint_format`` names their format, else as crosses.
      side_camera: the side view's (pivot (3,), orthographic camera (3,)) from
        ``side_view_camera``; computed from this call's frames when None (a track rendered
        in parts passes the whole track's, so the view does not jump between parts).
      floor: optional (4,) ground plane ``[n, d]`` (``n . p + d = 0``, unit n up) in the
        frame of ``camera_final.camera_frame`` (the solver's world mode: a perspective
        camera): the side view is then turned about the floor's normal (the solved world's
        vertical, ``planes.level_rotation``) rather than the camera's y axis, and the floor is
        drawn in it as a level grid.
      model_keypoints_space: "model": the keypoints are model points (metres), projected
        with each panel's camera like the mesh; "pixels": they are already projected to
        full-image pixels ``x, y, 1`` (as ``solver.ClipResult.keypoints_2d``), so only resized.
      frame_ids: (T,) video frame index of each track frame (default 0..T-1); shown in the
        label and passed to a callable ``frames``.
      labels: overrides of the panel labels, keys 'input', 'initial', 'final', 'side'.
      reuse_buffers: 0 yields a new image per frame; N > 0 draws into a ring of N images
        (no per-frame allocation), so an image is overwritten N frames later: for a consumer
        such as ``write_video`` that is done with fewer than N images at a time.

    Panels are drawn straight into the composed image; each frame's meshes are projected in
    blocks of frames at once.

    Yields:
      (H_out, W_out, 3) uint8 BGR images, all the same size.
    """
    vi = np.asarray(vertices_initial, dtype=np.float64)
    if vi.ndim != 3 or vi.shape[2] != 3:
        raise ValueError(f"vertices_initial must be (T, V, 3), got {vi.shape}")
    n, nv = vi.shape[:2]
    vf = _check_track(n, "vertices_final", vertices_final, (nv, 3))
    kp2d = _check_track(n, "keypoints_2d", keypoints_2d, (None, 3))
    mki = _check_track(n, "model_keypoints_initial", model_keypoints_initial, (None, 3))
    mkf = _check_track(n, "model_keypoints_final", model_keypoints_final, (None, 3))
    if model_keypoints_space not in ("model", "pixels"):
        raise ValueError(f"model_keypoints_space must be 'model' or 'pixels', got "
                         f"{model_keypoints_space!r}")
    camera_initial = cams_lib.as_screen_camera(camera_initial)
    camera_final = cams_lib.as_screen_camera(camera_final)
    for name, cam in (("camera_initial", camera_initial), ("camera_final", camera_final)):
        if len(cam) != n:
            raise ValueError(f"{name} has {len(cam)} frames, the track has {n}")
    faces = np.asarray(faces, dtype=np.int64)
    ids = list(range(n)) if frame_ids is None else [int(i) for i in frame_ids]
    if len(ids) != n:
        raise ValueError(f"frame_ids has {len(ids)} entries, the track has {n} frames")
    lab = {"input": cfg.label_input, "initial": cfg.label_initial, "final": cfg.label_final,
           "side": cfg.label_side}
    lab.update(labels or {})
    get = _frame_getter(frames)
    num_panels = 4 if cfg.side_view else 3
    ring: list[np.ndarray] = []
    block = 16                      # frames projected at once (memory: 16 x V x 3 x 8 B each)

    size = None
    side_cam = side_center = side_bg = None
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        proj: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key, verts, cam in (("initial", vi, camera_initial), ("final", vf, camera_final)):
            # Screen vertices (resized below, once the panel scale is known) and shading ones.
            proj[key] = (cam.project_frames(verts[b0:b1], b0),
                         cam.camera_frame_frames(verts[b0:b1], b0))
        side_screen = None
        for t in range(b0, b1):
            frame = np.asarray(get(t, ids[t]))
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(f"video frame {ids[t]} (track frame {t}) must be (H, W, 3) "
                                 f"uint8 BGR, got {frame.shape} {frame.dtype}")
            if size is None:
                size = frame.shape[:2]
                ph, pw, scale = panel_size(size[0], size[1], cfg)
                if cfg.side_view:
                    side_center, side_cam = side_camera if side_camera is not None else \
                        side_view_camera(vf, camera_final, ph, pw, cfg, floor)
                    side_bg = np.empty((ph, pw, 3), np.uint8)
                    side_bg[:] = np.asarray(cfg.side_view_background, np.uint8)
                    if floor is not None:
                        _draw_floor(side_bg, _level_plane(floor), side_center, side_cam, cfg)
            elif frame.shape[:2] != size:
                raise ValueError(f"video frame {ids[t]} is {frame.shape[:2]}, "
                                 f"earlier frames are {size}")
            if cfg.side_view and side_screen is None:
                pts = cams_lib.rotate_about_vertical(_level(proj["final"][1], floor),
                                                     cfg.side_view_angle_deg, side_center)
                side_screen = cams_lib.project(pts, "weak", side_cam)
            base = frame if scale == 1.0 else cv2.resize(frame, (pw, ph),
                                                         interpolation=cv2.INTER_AREA)
            canvas = _next_canvas(ring, reuse_buffers, ph, pw, num_panels, cfg.layout)
            views = _panel_views(canvas, num_panels, ph, pw, cfg.layout)
            k = t - b0

            p_in = views[0]
            p_in[...] = base
            overlay.draw_keypoints(p_in, cams_lib.resize_screen(kp2d[t], scale),
                                   keypoint_format, cfg, inplace=True)
            overlay.put_label(p_in, f"{lab['input']}  #{ids[t]}".strip(), cfg, inplace=True)
            for key, mk, col, p in (("initial", mki, cfg.color_initial, views[1]),
                                    ("final", mkf, cfg.color_final, views[2])):
                screen, shading = proj[key]
                rasterizer.draw_mesh(base, cams_lib.resize_screen(screen[k], scale), faces, cfg,
                                     col, shading_vertices=shading[k], out=p)
                if mk is not None and cfg.draw_model_keypoints:
                    # Only x, y: the third screen channel is depth, not a confidence. Pixel
                    # keypoints are projected already; projecting them again sends them far
                    # off the panel.
                    cam = camera_initial if key == "initial" else camera_final
                    screen_mk = mk[t] if model_keypoints_space == "pixels" else \
                        cam.project(mk[t], t)
                    pk = cams_lib.resize_screen(screen_mk, scale)[:, :2]
                    if model_keypoint_format is None:
                        overlay.draw_points(p, pk, cfg.color_model_keypoints,
                                            radius=cfg.keypoint_radius, inplace=True)
                    else:
                        overlay.draw_keypoints(p, pk, model_keypoint_format, cfg,
                                               color=cfg.color_model_keypoints, inplace=True)
                overlay.put_label(p, lab[key], cfg, inplace=True)
            if cfg.side_view:
                rasterizer.draw_mesh(side_bg, side_screen[k], faces, cfg, cfg.color_final,
                                     out=views[3])
                overlay.put_label(views[3], lab["side"], cfg, inplace=True)
            yield canvas


def _next_canvas(ring: list, reuse: int, ph: int, pw: int, num_panels: int,
                 layout: str) -> np.ndarray:
    """The composed image to draw the next frame into: new, or the ring's next (``reuse``)."""
    if layout not in ("row", "grid"):
        raise ValueError(f"layout must be 'row' or 'grid', got {layout!r}")
    shape = (ph, num_panels * pw, 3) if layout == "row" else \
        (ph * ((num_panels + 1) // 2), 2 * pw, 3)
    if reuse <= 0:
        return np.zeros(shape, np.uint8) if layout == "grid" else np.empty(shape, np.uint8)
    if len(ring) < reuse:
        ring.append(np.zeros(shape, np.uint8))   # a grid's empty cell stays black
        return ring[-1]
    ring.append(ring.pop(0))
    return ring[-1]


def _panel_views(canvas: np.ndarray, num_panels: int, ph: int, pw: int,
                 layout: str) -> list[np.ndarray]:
    """The panels' (ph, pw, 3) views into ``canvas``, in ``compose_panels``' arrangement."""
    if layout == "row":
        return [canvas[:, i * pw:(i + 1) * pw] for i in range(num_panels)]
    return [canvas[(i // 2) * ph:(i // 2 + 1) * ph, (i % 2) * pw:(i % 2 + 1) * pw]
            for i in range(num_panels)]


def _draw_floor(image: np.ndarray, plane: np.ndarray, center: np.ndarray,
                side_cam: np.ndarray, cfg: RenderSettings, half_size: float = 4.0,
                cells: int = 16) -> None:
    """Draws a square grid of the plane (``half_size`` metres around the point under the side
    view's pivot) into the side view, in place."""
    n = plane[:3] / np.linalg.norm(plane[:3])
    foot = center - (center @ n + plane[3] / np.linalg.norm(plane[:3])) * n
    a = np.cross(n, [0.0, 0.0, 1.0])
    a = a / max(np.linalg.norm(a), 1e-9) if np.linalg.norm(a) > 1e-6 else np.array([1.0, 0, 0])
    b = np.cross(n, a)
    u = np.linspace(-half_size, half_size, cells + 1)
    color = tuple(int(c) for c in np.asarray(cfg.side_view_background, np.float64) * 0.6)
    for direction, across in ((a, b), (b, a)):
        for x in u:
            ends = foot + x * across + np.outer([-half_size, half_size], direction)
            pts = cams_lib.rotate_about_vertical(ends, cfg.side_view_angle_deg, center)
            xy = cams_lib.project(pts, "weak", side_cam)[:, :2]
            if np.isfinite(xy).all():
                cv2.line(image, tuple(int(round(v)) for v in xy[0]),
                         tuple(int(round(v)) for v in xy[1]), color, 1, cv2.LINE_AA)


def side_view_vertex_step(num_vertices: int) -> int:
    """Every this many vertices bound the side view (a subset is enough for the bounds)."""
    return max(1, num_vertices // 500)


def _level(points: np.ndarray, floor: np.ndarray | None) -> np.ndarray:
    """(..., 3) camera-frame points in a level camera's axes (``planes.level_rotation``: the
    floor's normal up the image), unchanged without a floor."""
    if floor is None:
        return points
    return points @ planes.level_rotation(np.asarray(floor, np.float64)).T.astype(points.dtype)


def _level_plane(floor: np.ndarray) -> np.ndarray:
    """The floor plane (4,) in the level axes of ``_level`` (a rotation keeps its offset)."""
    floor = np.asarray(floor, np.float64)
    norm = np.linalg.norm(floor[:3])
    return np.concatenate([planes.level_rotation(floor) @ (floor[:3] / norm), [floor[3] / norm]])


def side_view_camera(vf: np.ndarray, camera: CameraLike, ph: int, pw: int,
                     cfg: RenderSettings, floor: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Pivot (3,) and one orthographic camera [s, tx, ty] fitting the turned track.

    vf: (T, V, 3) reconstruction vertices, or the subset ``[:, ::side_view_vertex_step(V)]``
    (the same result); camera: the reconstruction's T cameras; ph, pw: panel size px;
    floor: optional (4,) camera-frame ground plane: the view turns about its normal (the
    pivot is then in the level axes of ``comparison_frames``).
    """
    camera = cams_lib.as_screen_camera(camera)
    step = side_view_vertex_step(vf.shape[1])
    pts = _level(np.stack([camera.camera_frame(vf[t, ::step], t) for t in range(vf.shape[0])]),
                 floor)
    center = pts.reshape(-1, 3).mean(axis=0)
    turned = cams_lib.rotate_about_vertical(pts, cfg.side_view_angle_deg, center)
    return center, cams_lib.fit_orthographic(turned, ph, pw, cfg.side_view_margin)


def write_video(path: str | os.PathLike, images: Iterator[np.ndarray], fps: float,
                cfg: RenderSettings,
                total: int | None = None) -> int:
    """Writes BGR uint8 images to ``path`` (.mp4) atomically; returns the frame count.

    The video goes to a temporary file in the same folder, is read back with
    ``cv2.VideoCapture`` to check its frame count and size, and only then replaces ``path``.
    """
    path = os.fspath(path)
    if not fps or fps <= 0:
        raise ValueError(f"{path}: fps must be positive, got {fps}")
    if len(cfg.codec) != 4:
        raise ValueError(f"{path}: codec must be a 4-character FourCC, got {cfg.codec!r}")
    ext = os.path.splitext(path)[1] or ".mp4"
    with atomic_path(path, suffix=ext) as tmp:
        writer = encoder = None
        count = 0
        size = None
        try:
            bar = tqdm.tqdm(images, total=total, desc=os.path.basename(path), unit="frame",
                            disable=not cfg.progress)
            for img in bar:
                if size is None:
                    size = img.shape[:2]
                    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*cfg.codec), float(fps),
                                             (size[1], size[0]))
                    if not writer.isOpened():
                        raise RuntimeError(f"{path}: cv2.VideoWriter cannot open codec "
                                           f"{cfg.codec!r} for {size[1]}x{size[0]}")
                    encoder = _Encoder(writer)
                elif img.shape[:2] != size:
                    raise ValueError(f"{path}: image {count} is {img.shape[:2]}, "
                                     f"earlier ones {size}")
                encoder.put(img)
                count += 1
        finally:
            try:
                if encoder is not None:
                    encoder.close()
            finally:
                if writer is not None:
                    writer.release()
        if count == 0:
            raise ValueError(f"{path}: no frames to write")
        _verify_video(tmp, path, count, size)
    return count


class _Encoder:
    """Feeds a ``cv2.VideoWriter`` from a background thread (OpenCV releases the GIL while
    encoding), so the next frame is rendered while this one is encoded; frames stay in order."""

    def __init__(self, writer: cv2.VideoWriter, depth: int = 4):
        # depth + 2 images are held at most (queued, being written, being put): a producer
        # drawing into a ring of ``RING_FOR_WRITER`` images never overwrites one in use.
        self.writer, self.error = writer, None
        self.queue: queue.Queue = queue.Queue(depth)
        self.thread = threading.Thread(target=self._run, name="video-encoder", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            img = self.queue.get()
            if img is None:
                return
            if self.error is None:
                try:
                    self.writer.write(img)
                except BaseException as e:  # noqa: BLE001 - re-raised by put / close
                    self.error = e

    def put(self, img: np.ndarray) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(np.ascontiguousarray(img))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def _verify_video(tmp: str, path: str, count: int, size: tuple[int, int]) -> None:
    cap = cv2.VideoCapture(tmp)
    try:
        if not cap.isOpened():
            raise RuntimeError(f"{path}: the written video does not open with cv2.VideoCapture")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, first = cap.read()
        if not ok or first.shape[:2] != tuple(size):
            raise RuntimeError(f"{path}: the written video's first frame does not read back "
                               f"as {size[1]}x{size[0]}")
        if n != count:
            # Container metadata can be off; count by decoding before giving up.
            n = 1
            while cap.grab():
                n += 1
        if n != count:
            raise RuntimeError(f"{path}: wrote {count} frames, the file reads back {n}")
    finally:
        cap.release()


def render_comparison_video(path: str | os.PathLike, frames: FrameSource, faces: np.ndarray,
                            vertices_initial: np.ndarray, camera_initial: CameraLike,
                            vertices_final: np.ndarray, camera_final: CameraLike,
                            keypoints_2d: np.ndarray, keypoint_format: str, fps: float,
                            cfg: RenderSettings,
                            model_keypoints_initial: np.ndarray | None = None,
                            model_keypoints_final: np.ndarray | None = None,
                            frame_ids: Sequence[int] | None = None,
                            labels: Mapping[str, str] | None = None,
                            model_keypoint_format: str | None = None,
                            model_keypoints_space: str = "model",
                            side_camera: tuple[np.ndarray, np.ndarray] | None = None,
                            floor: np.ndarray | None = None) -> int:
    """Renders and writes the comparison video of one track; returns its frame count.

    Arguments as in ``comparison_frames`` plus ``path`` (.mp4) and ``fps`` (frames/s).
    """
    images = comparison_frames(frames, faces, vertices_initial, camera_initial, vertices_final,
                               camera_final, keypoints_2d, keypoint_format, cfg,
                               model_keypoints_initial, model_keypoints_final, frame_ids, labels,
                               model_keypoint_format, model_keypoints_space, side_camera,
                               floor, reuse_buffers=RING_FOR_WRITER)
    return write_video(path, images, fps, cfg, total=len(np.asarray(vertices_initial)))
