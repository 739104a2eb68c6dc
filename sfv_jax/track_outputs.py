"""Every output of one solved track: archive, BVH, DeepMimic motion, comparison video, plots.

All written atomically, the archive last but one and ``done.json`` last, so a track is finished
exactly when ``done.json`` exists (``sfv_jax.resume``).
"""
from __future__ import annotations

import functools
import os
import time
from typing import Callable, Iterator

import jax
import numpy as np

from sfv_jax import body, chunking, render, schema, skeletons, solver
from sfv_jax.export import archive, bvh, retarget, world_motion
from sfv_jax.geometry import cameras
from sfv_jax.inputs import Track
from sfv_jax.job_config import JobConfig
from sfv_jax.render.config import RenderSettings
from sfv_jax.resume import write_done


@functools.partial(jax.jit, static_argnames=("vertices",))
def _geometry(model: body.BodyModel, pose, betas, cam_full, vertices: bool):
    """One chunk's mesh (C, V, 3) or None, projected keypoints (C, K, 2) px, joints."""
    out = body.forward(model, pose, betas)
    kp2 = cameras.project_full(out.keypoints, cam_full)
    return (out.vertices if vertices else None), kp2, out.joints


_crop_to_full = jax.jit(cameras.crop_to_full)

_DEVICE_MODELS: dict[int, tuple[body.BodyModel, body.BodyModel, body.BodyModel]] = {}


def _device_model(model: body.BodyModel, vertices: bool) -> body.BodyModel:
    """The model on the device, full or keypoint-only, kept between tracks (a worker writes
    many tracks with one model; re-sending its blend shapes per call costs more than the
    forward)."""
    key = id(model)
    if key not in _DEVICE_MODELS:
        _DEVICE_MODELS.clear()
        _DEVICE_MODELS[key] = (model, jax.device_put(model),
                               jax.device_put(body.keypoint_model(model)))
    return _DEVICE_MODELS[key][1 if vertices else 2]


def project_chunks(model: body.BodyModel, pose, betas, cam_full, vertices: bool,
                   chunk_frames: int) -> Iterator[tuple[int, int, np.ndarray | None,
                                                        np.ndarray, np.ndarray]]:
    """Yields (start, stop, vertices (n, V, 3) or None, keypoints (n, K, 2) px, joints
    (n, 24, 3)) for consecutive chunks of the track's frames (``chunking.map_chunks``)."""
    dev = _device_model(model, vertices)
    fn = lambda p, b, c: _geometry(dev, p, b, c, vertices=vertices)  # noqa: E731
    arrays = [np.asarray(x, np.float32) for x in (pose, betas, cam_full)]
    for start, stop, (v, k, j) in chunking.map_chunks(fn, arrays, chunk_frames):
        yield start, stop, v, k, j


def _project(model: body.BodyModel, pose, betas, cam_full, vertices: bool, chunk_frames: int,
             subset_step: int = 0) -> dict:
    """The whole track's projected keypoints (T, K, 2) px and joints (T, 24, 3); its mesh
    (T, V, 3) when ``vertices`` and the track fits one chunk (else None: the video then
    recomputes it chunk by chunk), and with ``subset_step`` the vertex subset
    ``[:, ::subset_step]`` of every frame (the side view's bounds)."""
    parts = list(project_chunks(model, pose, betas, cam_full, vertices, chunk_frames))
    out = {"keypoints": np.concatenate([p[3] for p in parts]),
           "joints": np.concatenate([p[4] for p in parts]),
           "vertices": parts[0][2] if vertices and len(parts) == 1 else None,
           "subset": None}
    if vertices and subset_step:
        out["subset"] = np.concatenate([p[2][:, ::subset_step] for p in parts])
    return out


def _comparison_video(path: str, frames, model: body.BodyModel, track: Track,
                      result: solver.ClipResult, cam_full_init: np.ndarray,
                      kp2_init: np.ndarray, kp2_final: np.ndarray, init: dict, final: dict,
                      settings: RenderSettings, chunk_frames: int) -> None:
    """The comparison video; a track longer than one chunk is rendered chunk by chunk (its
    meshes computed again per chunk, so memory does not grow with the track)."""
    faces = np.asarray(model.faces)
    ones = lambda k: np.concatenate([k, np.ones_like(k[..., :1])], -1)  # noqa: E731
    kw = dict(model_keypoint_format=model.keypoint_format, model_keypoints_space="pixels")
    cam_final = np.asarray(result.cam_full)
    if getattr(result, "plane", None) is not None:
        # World mode: the solved perspective camera, and the floor in the side view.
        t = len(cam_final)
        cam_final = np.concatenate([np.full((t, 1), float(result.focal)),
                                    np.tile(np.asarray(result.center), (t, 1)),
                                    np.asarray(result.transl)], 1)
        kw["floor"] = np.asarray(result.plane)
    if init["vertices"] is not None and final["vertices"] is not None:
        render.render_comparison_video(
            path, frames, faces, init["vertices"], cam_full_init, final["vertices"],
            cam_final, track.keypoints, "body25", track.fps, settings,
            model_keypoints_initial=ones(kp2_init), model_keypoints_final=ones(kp2_final),
            frame_ids=track.frames, **kw)
        return
    h, w = track.image_size
    ph, pw, _ = render.panel_size(h, w, settings)
    side = render.side_view_camera(final["subset"], cam_final, ph, pw, settings,
                                   kw.get("floor")) if settings.side_view else None

    def images():
        chunks = zip(project_chunks(model, track.pose, track.betas, cam_full_init, True,
                                    chunk_frames),
                     project_chunks(model, result.pose, result.betas, result.cam_full, True,
                                    chunk_frames))
        for (a, b, vi, _, _), (_, _, vf, _, _) in chunks:
            yield from render.comparison_frames(
                frames, faces, vi, cam_full_init[a:b], vf, cam_final[a:b],
                track.keypoints[a:b], "body25", settings,
                model_keypoints_initial=ones(kp2_init[a:b]),
                model_keypoints_final=ones(kp2_final[a:b]), frame_ids=track.frames[a:b],
                side_camera=side, reuse_buffers=render.RING_FOR_WRITER, **kw)
    render.write_video(path, images(), track.fps, settings, total=track.num_frames)


def accel_2d(points: np.ndarray, valid: np.ndarray) -> float:
    """Mean norm of the second difference of 2D points over frames (px / frame^2)."""
    if len(points) < 3:
        return float("nan")
    acc = np.linalg.norm(points[2:] - 2 * points[1:-1] + points[:-2], axis=-1)
    ok = valid[2:] & valid[1:-1] & valid[:-2]
    return float(acc[ok].mean()) if ok.any() else float("nan")


def write_track_outputs(out_dir: str, track: Track, result: solver.ClipResult,
                        model: body.BodyModel, cfg: JobConfig,
                        frames: Callable[[int], np.ndarray], config_json: str,
                        fingerprint: str = "", inputs_fingerprint: str = "",
                        input_focal: float | None = None, video: bool = True) -> dict:
    """Writes every output of one track; returns its summary row (also saved in done.json).

    ``fingerprint`` (``config_fingerprint``) and ``inputs_fingerprint`` (``resume.
    inputs_fingerprint``) are recorded, with every output's size and hash
    (``resume.write_done``), so a rerun with another config or changed inputs redoes
    the track instead of skipping it. ``input_focal``: the input's focal length (px,
    ``inputs.discovery.input_focal``), used when ``outputs.focal_length`` is 0; the row says
    which focal was used ("focal_length", "focal_source"). ``video``: False skips the
    comparison video of this track (``outputs.video_every``).

    One forward per mesh (initial, reconstruction), in chunks of ``job.mesh_chunk_frames``
    frames; the full mesh only when the video is drawn (keypoint-only otherwise). ``cfg``:
    the typed job config (its outputs, export, render, job and solver sections)."""
    t0 = time.time()
    os.makedirs(out_dir, exist_ok=True)
    # The focal length: the config's when set, else the input's (its info.json),
    # else the image diagonal; the world-frame motion every export shares (world_motion).
    focal, focal_source = world_motion.resolve_focal(
        cfg.outputs.focal_length, input_focal, track.image_size)
    wm = world_motion.world_motion(result, model, track.image_size, focal, cfg.export)
    transl = wm.camera_transl  # camera-frame root translation (the exports lift it themselves)
    # The BVH always takes the world-frame motion as it is (Y up, the floor at y = 0: the
    # solved plane in world mode, else the ground lift of ``export.ground`` already applied),
    # so it needs no mesh pass of its own. DeepMimic takes it too when the solve found the
    # floor, with ONE constant lift per clip ("clip" mode): the humanoid's feet are boxes
    # below its ankles, not SMPL's soles (unlifted they sank 6 cm into the solved floor on the
    # demo); the solved trajectory keeps its shape. In the paper mode it lifts the humanoid's
    # own lowest point as ``export.ground`` says.
    def in_world(ground_mode: str):
        return schema.replace(cfg.export, input_frame="y_up",
                              ground=schema.replace(cfg.export.ground, mode=ground_mode))

    world_frame = in_world("none")
    export, pose_out, transl_out = cfg.export, result.pose, transl
    if wm.plane is not None:
        export, pose_out, transl_out = in_world("clip"), wm.pose, wm.transl
    size = np.float32(track.crop_size)
    cam_full_init = chunking.apply_chunked(
        lambda c, s, o: _crop_to_full(c, s, o, size), np.asarray(track.cam, np.float32),
        np.asarray(track.crop_scale, np.float32), np.asarray(track.crop_start, np.float32))
    kp_fmt = model.keypoint_format
    kp_obs = skeletons.convert_keypoints(track.keypoints, "body25", kp_fmt)
    video_on = cfg.outputs.video and video
    chunk = cfg.job.mesh_chunk_frames
    step = render.side_view_vertex_step(model.num_vertices) if cfg.render.side_view else 0
    # A track longer than one chunk has its video's meshes recomputed chunk by chunk: its
    # initial estimate needs only keypoints here (the reconstruction's mesh also bounds the
    # side view).
    one_chunk = track.num_frames <= chunking.chunk_length(track.num_frames, chunk)
    init = _project(model, track.pose, track.betas, cam_full_init, video_on and one_chunk,
                    chunk)
    final = _project(model, result.pose, result.betas, result.cam_full, video_on, chunk,
                     subset_step=step)
    kp2_init, joints_init, kp2_final = init["keypoints"], init["joints"], final["keypoints"]
    thr = cfg.solver.vis_threshold
    err_before = render.keypoint_error_per_frame(kp2_init, kp_obs, thr)
    err_after = render.keypoint_error_per_frame(kp2_final, kp_obs, thr)
    valid = np.asarray(track.observed, bool)

    files = {}
    if cfg.outputs.bvh:
        files["bvh"] = os.path.join(out_dir, "motion.bvh")
        bvh.write_bvh(files["bvh"], wm.pose, wm.betas, wm.transl, model, track.fps,
                      world_frame)
    if cfg.outputs.deepmimic:
        files["deepmimic"] = os.path.join(out_dir, "motion_deepmimic.txt")
        retarget.export_deepmimic(files["deepmimic"], pose_out, result.betas, transl_out,
                                  model, track.fps, export)
    if cfg.outputs.plots:
        files["loss_plot"] = render.plot_loss_curves(os.path.join(out_dir, "loss_curves.png"),
                                                     result.history)
        joint = skeletons.SMPL_JOINT_NAMES.index("right_wrist")
        rel = lambda j: j[:, joint] - j[:, 0]  # noqa: E731 - root-relative, jitter visible
        files["trajectory_plot"] = render.plot_joint_trajectory(
            os.path.join(out_dir, "trajectory_right_wrist.png"), rel(joints_init),
            rel(result.joints_3d), "right wrist (root-relative, m)", fps=track.fps)
        files["error_plot"] = render.plot_error_per_frame(
            os.path.join(out_dir, "error_2d.png"), err_before, err_after, fps=track.fps)
    if video_on:
        files["video"] = os.path.join(out_dir, "comparison.mp4")
        _comparison_video(files["video"], frames, model, track, result, cam_full_init,
                          kp2_init, kp2_final, init, final, cfg.render, chunk)
    files["result"] = os.path.join(out_dir, "result.npz")
    res = archive.MotionResult(
        pose=result.pose, betas=result.betas, camera=result.cam, transl=transl.astype(np.float32),
        keypoints_2d=result.keypoints_2d, keypoints_3d=result.keypoints_3d, fps=float(track.fps),
        source=track.source or track.video, config=config_json,
        extras={"frames": track.frames, "cam_full": result.cam_full,
                "joints_3d": result.joints_3d, "keypoints_observed": kp_obs,
                "init_pose": np.asarray(track.pose), "init_betas": np.asarray(track.betas),
                "init_cam": np.asarray(track.cam), "crop_scale": np.asarray(track.crop_scale),
                "crop_start": np.asarray(track.crop_start),
                "focal_length": np.float32(focal), "world_pose": wm.pose.astype(np.float32),
                "world_transl": wm.transl.astype(np.float32),
                # World mode: the solved floor (camera frame [n, d]) and foot contacts.
                **({} if wm.plane is None else {
                    "plane": np.asarray(wm.plane, np.float32),
                    "world_rotation": wm.rotation.astype(np.float32),
                    "world_offset": wm.offset.astype(np.float32),
                    "contacts": np.asarray(result.contacts, np.float32),
                    "foot_points": np.asarray(result.foot_points, np.float32)}),
                **{f"loss_{k}": v for k, v in result.history.items()}})
    archive.save_result(files["result"], res, compress=cfg.export.archive.compress)
    row = {
        "video": track.video, "track": int(track.track_id), "frames": int(track.num_frames),
        "first_frame": int(track.frames[0]), "status": "nonfinite" if result.nonfinite else "ok",
        "err2d_init_px": float(np.nanmean(err_before)), "err2d_px": float(np.nanmean(err_after)),
        "accel2d_init": accel_2d(kp2_init, valid), "accel2d": accel_2d(kp2_final, valid),
        "loss": float(result.final_loss.get("total", np.nan)),
        "focal_length": round(focal, 2), "focal_source": focal_source,
        "outputs": {k: os.path.relpath(v, out_dir) for k, v in files.items()},
        "write_s": round(time.time() - t0, 2),
        "config": fingerprint,
        "inputs": inputs_fingerprint,
    }
    write_done(out_dir, row)
    return row
