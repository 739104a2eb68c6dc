"""The built-in sample the demo runs on: two synthetic people crossing paths, as a user's inputs.

Everything is generated from the synthetic SMPL-format model, so the demo needs nothing but the
installed package. The sample folder looks exactly like a user's input entry (README "Inputs"):

  <out>/crossing/
    video.mp4            the rendered scene (two people walking past each other)
    info.json            image size and fps
    openpose/            OpenPose-style per-frame JSON (BODY_25), detector-like noise, drops,
                         left/right swaps and the farther person hidden where the nearer covers it
    estimates/person_N.npz  per-frame HMR-like estimates of each person (pose, shape, crop camera
                         with its crop), with independent per-frame errors like a per-frame regressor
    truth.npz            the true motion (for checking; the pipeline never reads it)

The people walk in HMR's camera frame (x right, y down, z forward); the video is rendered with
a perspective camera of focal ``focal`` pixels at the image centre.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
from scipy.spatial.transform import Rotation

from sfv_jax import atomic, body, skeletons
from sfv_jax.body import synthetic
from sfv_jax.evaluation import observations as obs
from sfv_jax.inputs import estimates as est_lib
from sfv_jax.inputs import openpose
from sfv_jax.render import rasterizer, video as video_lib


@dataclasses.dataclass(frozen=True)
class SampleSettings:
    """Size of the generated scene."""
    num_frames: int = 90          # frames (3 s at 30 fps)
    fps: float = 30.0
    width: int = 640              # image size, pixels
    height: int = 360
    focal: float = 600.0          # perspective focal length, pixels
    speed: float = 1.1            # walking speed, metres per second
    depths: tuple[float, float] = (5.0, 7.0)   # distance of each person from the camera, metres
    seed: int = 0


def walking_pose(num_frames: int, fps: float, phase: float, yaw: float) -> np.ndarray:
    """(T, 72) axis-angle walk cycle in HMR's camera frame (upright, facing ``yaw`` about -y).

    Hips and shoulders swing in opposition, knees flex in the swing phase, elbows stay bent.
    """
    t = np.arange(num_frames) / fps
    w = 2.0 * np.pi * 0.9 * t + phase                    # ~0.9 strides per second
    pose = np.zeros((num_frames, 24, 3))
    # SMPL is Y-up; HMR's camera is y-down: turn the body 180 degrees about x, then yaw.
    root = Rotation.from_euler("y", yaw) * Rotation.from_euler("x", np.pi)
    sway = Rotation.from_euler("z", 0.03 * np.sin(w)[:, None])    # small roll with each step
    pose[:, 0] = (root * sway).as_rotvec()
    pose[:, 1, 0] = 0.45 * np.sin(w)                     # left hip flexion
    pose[:, 2, 0] = -0.45 * np.sin(w)                    # right hip flexion
    pose[:, 4, 0] = 0.55 * np.clip(np.sin(w + 1.3), 0, None) + 0.1  # knees bend in swing
    pose[:, 5, 0] = 0.55 * np.clip(np.sin(w + 1.3 + np.pi), 0, None) + 0.1
    pose[:, 7, 0] = -0.15 * np.sin(w)                    # ankles
    pose[:, 8, 0] = 0.15 * np.sin(w)
    arm_l = Rotation.from_euler("z", -1.25) * Rotation.from_euler("y", 0.4 * np.sin(w)[:, None])
    arm_r = Rotation.from_euler("z", 1.25) * Rotation.from_euler("y", 0.4 * np.sin(w)[:, None])
    pose[:, 16] = arm_l.as_rotvec()
    pose[:, 17] = arm_r.as_rotvec()
    pose[:, 18, 1] = -0.5                                # elbows slightly bent
    pose[:, 19, 1] = 0.5
    pose[:, 3, 0] = 0.05                                 # a slight forward lean
    return pose.reshape(num_frames, 72)


def _perspective(points: np.ndarray, transl: np.ndarray, focal: float,
                 center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, N, 3) points + (T, 3) translations -> (T, N, 2) pixels and (T, N) depth."""
    p = points + transl[:, None, :]
    return focal * p[..., :2] / p[..., 2:3] + center, p[..., 2]


def generate(out_dir: str, settings: SampleSettings = SampleSettings(),
             model: body.BodyModel | None = None, render_cfg=None) -> str:
    """Writes the sample entry ``<out_dir>/crossing`` and returns its path.

    Args:
      out_dir: folder to create the entry in.
      settings: scene size; ``seed`` makes everything reproducible.
      model: the body model to animate (default: ``body.synthetic_model(0)``).
      render_cfg: the render config section (colours, shading) for the video.
    """
    from sfv_jax.render.config import render_config

    s = settings
    rcfg = render_cfg if render_cfg is not None else render_config()
    model = model if model is not None else synthetic.synthetic_model(0)
    entry = os.path.join(out_dir, "crossing")
    rng = np.random.default_rng(s.seed)
    t_n = s.num_frames
    center = np.array([s.width / 2.0, s.height / 2.0])
    model25 = body.with_keypoints(model, "body25")
    names25 = skeletons.keypoint_names("body25")

    people = []
    duration = t_n / s.fps
    for i, (depth, direction) in enumerate(zip(s.depths, (1.0, -1.0))):
        # After the 180-degree flip the body faces -z; a yaw of -pi/2 turns it to face +x.
        yaw = -direction * np.pi / 2
        pose = walking_pose(t_n, s.fps, phase=1.7 * i, yaw=yaw)
        betas = np.zeros(model.num_betas)
        betas[:2] = rng.normal(0.0, 0.8, 2)
        # Half the visible width in metres at this depth, so both cross the whole frame.
        x_span = min(0.8 * depth * s.width / (2 * s.focal), s.speed * duration / 2)
        x = direction * np.linspace(-x_span, x_span, t_n)
        transl = np.stack([x, np.full(t_n, 0.25), np.full(t_n, depth)], axis=-1)
        out = body.forward(model25, pose, np.broadcast_to(betas, (t_n, model.num_betas)))
        verts = np.asarray(out.vertices)
        kp3 = np.asarray(out.keypoints)
        kp2, kdepth = _perspective(kp3, transl, s.focal, center)
        people.append(dict(pose=pose, betas=betas, transl=transl, verts=verts, kp3=kp3,
                           kp2=kp2, kdepth=kdepth, depth=depth))

    # Detector-like keypoints; the farther person's points inside the nearer one's outline vanish.
    det_settings = obs.DetectorSettings(fps=s.fps)
    dets = []
    for i, p in enumerate(people):
        d, _ = obs.detect_keypoints(p["kp2"], p["kdepth"], names25, (s.width, s.height),
                                    det_settings, np.random.default_rng([s.seed, i, 1]))
        dets.append(d)
    near = int(np.argmin([p["depth"] for p in people]))
    far = 1 - near
    lo = people[near]["kp2"].min(axis=1) - 8.0
    hi = people[near]["kp2"].max(axis=1) + 8.0
    hidden = np.all((dets[far][..., :2] > lo[:, None]) & (dets[far][..., :2] < hi[:, None]), -1)
    dets[far][hidden] = 0.0

    # HMR-like per-frame estimates on SFV-style crops of each person's detections.
    reg = obs.RegressorSettings()
    for i, (p, d) in enumerate(zip(people, dets)):
        r = np.random.default_rng([s.seed, i, 2])
        # The regressor runs on the tracker's crops, which follow the person through
        # occlusions: crops from the whole projected body, not from the visible points.
        whole = np.concatenate([p["kp2"], np.ones(p["kp2"].shape[:2] + (1,))], axis=-1)
        crop_scale, crop_start = obs.crop_params(whole, reg)
        true_crop = obs.image_to_crop_normalized(p["kp2"], crop_scale, crop_start, reg.crop_size)
        cam = obs.weak_perspective_fit(p["kp3"], true_crop)
        p["estimate"] = est_lib.Estimates(
            cam=obs.perturb_cameras(cam, reg, r).astype(np.float32),
            pose=obs.perturb_pose(p["pose"], reg, r).astype(np.float32),
            betas=obs.perturb_betas(p["betas"], t_n, reg, r).astype(np.float32),
            frames=np.arange(t_n, dtype=np.int64),
            crop_scale=crop_scale.astype(np.float32), crop_start=crop_start.astype(np.float32),
            crop_size=reg.crop_size, source=f"person_{i}.npz", track_id=i)

    # Files: keypoints, estimates, info, truth, then the video.
    os.makedirs(entry, exist_ok=True)
    frames_people = {}
    for f in range(t_n):
        seen = [d[f] for d in dets if d[f, :, 2].sum() > 0]
        frames_people[f] = np.stack(seen) if seen else np.zeros((0, 25, 3))
    openpose.write_openpose_folder(os.path.join(entry, "openpose"), frames_people, "crossing")
    for i, p in enumerate(people):
        est_lib.save_estimates_npz(os.path.join(entry, "estimates", f"person_{i}.npz"),
                                   p["estimate"])
    atomic.write_json(os.path.join(entry, "info.json"),
                      {"image_size": [s.height, s.width], "fps": s.fps,
                       "generator": "sfv_jax.demo_sample", "seed": s.seed})
    atomic.save_npz(os.path.join(entry, "truth.npz"),
                    **{f"person_{i}_{k}": p[k] for i, p in enumerate(people)
                       for k in ("pose", "betas", "transl")})

    faces = np.asarray(model.faces, np.int64)
    nv = model.num_vertices
    all_faces = np.concatenate([faces + i * nv for i in range(len(people))])
    background = _background(s.height, s.width)
    colors = [(150, 120, 200), (120, 190, 140)]

    def frame(f: int) -> np.ndarray:
        screens, shading = [], []
        for p in people:
            xy, z = _perspective(p["verts"][f][None], p["transl"][f][None], s.focal, center)
            screens.append(np.concatenate([xy[0], z[0][:, None]], -1))
            shading.append(p["verts"][f] + p["transl"][f])
        img = background.copy()
        # One z-buffer for both people so the nearer one hides the farther one.
        frags = rasterizer.rasterize(np.concatenate(screens), all_faces, s.height, s.width,
                                     cull=rcfg.cull, subpixel_bits=rcfg.subpixel_bits)
        shade_v = np.concatenate(shading)
        owner = frags.face // len(faces)
        out = img
        for i in range(len(people)):
            sel = owner == i
            sub = dataclasses.replace(frags, **{k: getattr(frags, k)[sel] for k in
                                                ("pixel", "face", "bary", "depth")})
            cols = rasterizer.shade(sub, all_faces, shade_v, colors[i], light_dir=rcfg.light_dir,
                                    ambient=rcfg.ambient, diffuse=rcfg.diffuse,
                                    smooth=rcfg.smooth_shading)
            out = rasterizer.composite(out, sub, cols, 1.0)
        return out

    video_lib.write_video(os.path.join(entry, "video.mp4"), (frame(f) for f in range(t_n)),
                          s.fps, rcfg, total=t_n)
    return entry


def _background(height: int, width: int) -> np.ndarray:
    """A plain backdrop: a wall gradient above a floor with perspective lines (uint8 BGR)."""
    img = np.zeros((height, width, 3), np.uint8)
    horizon = int(height * 0.45)
    ramp = np.linspace(200, 150, horizon)[:, None, None]
    img[:horizon] = np.broadcast_to(ramp, (horizon, width, 1)).astype(np.uint8)
    img[horizon:] = (95, 105, 110)
    import cv2
    for x in np.linspace(-width, 2 * width, 13):
        cv2.line(img, (int(width / 2), horizon), (int(x), height), (80, 88, 92), 1, cv2.LINE_AA)
    return img
