"""Every output of one solved track: archive, BVH, DeepMimic motion, comparison video, plots.

All written atomically, the archive last but one and ``done.json`` last, so a track is finished
exactly when ``done.json`` exists (``sfv_jax.resume``).
"""
from __future__ import annotations

import os
import time
from typing import Callable

import jax.numpy as jnp
import ml_collections
import numpy as np

from sfv_jax import atomic, body, render, skeletons, solver
from sfv_jax.export import archive, bvh, retarget
from sfv_jax.geometry import cameras
from sfv_jax.inputs import Track
from sfv_jax.resume import DONE_FILE


def _project(model: body.BodyModel, pose, betas, cam_full
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mesh vertices (T, V, 3), projected keypoints (T, K, 2) px and joints (T, 24, 3)."""
    out = body.forward(model, jnp.asarray(pose, jnp.float32), jnp.asarray(betas, jnp.float32))
    kp2 = cameras.project_full(out.keypoints, jnp.asarray(cam_full, jnp.float32))
    return np.asarray(out.vertices), np.asarray(kp2), np.asarray(out.joints)


def accel_2d(points: np.ndarray, valid: np.ndarray) -> float:
    """Mean norm of the second difference of 2D points over frames (px / frame^2)."""
    if len(points) < 3:
        return float("nan")
    acc = np.linalg.norm(points[2:] - 2 * points[1:-1] + points[:-2], axis=-1)
    ok = valid[2:] & valid[1:-1] & valid[:-2]
    return float(acc[ok].mean()) if ok.any() else float("nan")


def write_track_outputs(out_dir: str, track: Track, result: solver.ClipResult,
                        model: body.BodyModel, cfg: ml_collections.ConfigDict,
                        frames: Callable[[int], np.ndarray], config_json: str,
                        fingerprint: str = "") -> dict:
    """Writes every output of one track; returns its summary row (also saved in done.json).

    ``fingerprint`` (``config_fingerprint``) is recorded so a rerun with another config redoes
    the track instead of skipping it."""
    t0 = time.time()
    os.makedirs(out_dir, exist_ok=True)
    h, w = track.image_size
    focal = float(cfg.outputs.focal_length)
    center = jnp.asarray([w / 2.0, h / 2.0], jnp.float32)
    transl = np.asarray(cameras.perspective_from_full(jnp.asarray(result.cam_full), focal, center))
    cam_full_init = np.asarray(cameras.crop_to_full(
        jnp.asarray(track.cam, jnp.float32), jnp.asarray(track.crop_scale, jnp.float32),
        jnp.asarray(track.crop_start, jnp.float32), float(track.crop_size)))
    kp_fmt = model.keypoint_format
    kp_obs = skeletons.convert_keypoints(track.keypoints, "body25", kp_fmt)
    verts_init, kp2_init, joints_init = _project(model, track.pose, track.betas, cam_full_init)
    verts_final, kp2_final, _ = _project(model, result.pose, result.betas, result.cam_full)
    thr = float(cfg.solver.vis_threshold)
    err_before = render.keypoint_error_per_frame(kp2_init, kp_obs, thr)
    err_after = render.keypoint_error_per_frame(kp2_final, kp_obs, thr)
    valid = np.asarray(track.observed, bool)

    files = {}
    if cfg.outputs.bvh:
        files["bvh"] = os.path.join(out_dir, "motion.bvh")
        bvh.write_bvh(files["bvh"], result.pose, result.betas.mean(0), transl, model,
                      track.fps, cfg.export)
    if cfg.outputs.deepmimic:
        files["deepmimic"] = os.path.join(out_dir, "motion_deepmimic.txt")
        retarget.export_deepmimic(files["deepmimic"], result.pose, result.betas, transl, model,
                                  track.fps, cfg.export)
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
    if cfg.outputs.video:
        files["video"] = os.path.join(out_dir, "comparison.mp4")
        render.render_comparison_video(
            files["video"], frames, np.asarray(model.faces), verts_init, cam_full_init,
            verts_final, np.asarray(result.cam_full), track.keypoints, "body25", track.fps,
            cfg.render,
            model_keypoints_initial=np.concatenate([kp2_init, np.ones_like(kp2_init[..., :1])], -1),
            model_keypoints_final=np.concatenate([kp2_final, np.ones_like(kp2_final[..., :1])],
                                                 -1),
            frame_ids=track.frames, model_keypoint_format=kp_fmt)
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
                **{f"loss_{k}": v for k, v in result.history.items()}})
    archive.save_result(files["result"], res, compress=cfg.export.archive.compress)
    row = {
        "video": track.video, "track": int(track.track_id), "frames": int(track.num_frames),
        "first_frame": int(track.frames[0]), "status": "nonfinite" if result.nonfinite else "ok",
        "err2d_init_px": float(np.nanmean(err_before)), "err2d_px": float(np.nanmean(err_after)),
        "accel2d_init": accel_2d(kp2_init, valid), "accel2d": accel_2d(kp2_final, valid),
        "loss": float(result.final_loss.get("total", np.nan)),
        "outputs": {k: os.path.relpath(v, out_dir) for k, v in files.items()},
        "write_s": round(time.time() - t0, 2),
        "config": fingerprint,
    }
    atomic.write_json(os.path.join(out_dir, DONE_FILE), row)
    return row
