"""The built-in sample the demo runs on: two people crossing paths, as a user's inputs.

Everything is generated from the installed package: the people perform DeepMimic's captured walk
(``sfv_jax/data/humanoid3d_walk.txt``), carried onto the body model (``evaluation.mocap``'s truth
fit) and looped with the clip's own step (feet planted as in the capture), filmed by a static
camera ``camera_height`` metres above the floor pitched down ``camera_pitch_deg``, with focal
``focal`` pixels at the image centre. The sample folder looks exactly like a user's input entry
(README "Inputs"):

  <out>/crossing/
    video.mp4            the rendered scene (two people walking past each other)
    info.json            image size, fps and the camera's "focal_length"
    openpose/            OpenPose-style per-frame JSON (BODY_25), detector-like noise, drops,
                         left/right swaps and the farther person hidden where the nearer covers it
    estimates/person_N.npz  per-frame HMR-like estimates of each person (pose, shape, crop camera
                         with its crop), with independent per-frame errors like a per-frame
                         regressor
    truth.npz            the true motion (for checking; the pipeline never reads it): per person
                         camera-frame pose / betas / transl and world-frame world_pose /
                         world_transl (Y up, the floor y = 0); the camera (camera_rotation world ->
                         camera, camera_center), focal, and the floor in camera coordinates
                         (floor_plane [n, d]: n . p + d = 0, n up)
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
from scipy.spatial.transform import Rotation

from sfv_jax import atomic, body, skeletons
from sfv_jax.body import synthetic
from sfv_jax.evaluation import observations as obs
from sfv_jax.geometry import cameras, crops
from sfv_jax.inputs import estimates as est_lib
from sfv_jax.inputs import openpose
from sfv_jax.render import rasterizer, video as video_lib
from sfv_jax.render.config import RenderSettings

# The DeepMimic walk shipped with the package (sfv_jax/data/, see its ATTRIBUTION.md).
WALK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                    "humanoid3d_walk.txt")


@dataclasses.dataclass(frozen=True)
class SampleSettings:
    """Size of the generated scene."""
    num_frames: int = 90          # frames (3 s at 30 fps)
    fps: float = 30.0
    width: int = 640              # image size, pixels
    height: int = 360
    focal: float = 600.0          # perspective focal length, pixels (written to info.json)
    depths: tuple[float, float] = (5.0, 7.0)   # distance of each person from the camera, metres
    camera_height: float = 1.4    # metres above the floor
    camera_pitch_deg: float = 6.0  # downward
    seed: int = 0


def _heading(rotvec: np.ndarray) -> np.ndarray:
    """(T,) heading (rad about +Y) of SMPL root orientations: where the body's +Z faces."""
    f = Rotation.from_rotvec(rotvec).apply([0.0, 0.0, 1.0])
    return np.arctan2(f[:, 0], f[:, 2])


def _planar(pose: np.ndarray, transl: np.ndarray, pelvis: np.ndarray, yaw: float,
            shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turns a world-frame SMPL motion by ``yaw`` about +Y (through the origin), then moves it by
    ``shift`` (3,): pose (T, 72), transl (T, 3); pelvis: (3,) rest pelvis of its shape."""
    r = Rotation.from_euler("y", yaw)
    out = pose.copy()
    out[:, :3] = (r * Rotation.from_rotvec(pose[:, :3])).as_rotvec()
    # pelvis + t' = R (pelvis + t) + shift
    return out, r.apply(pelvis + transl) + shift - pelvis


def looped_walk(pose: np.ndarray, transl: np.ndarray, pelvis: np.ndarray,
                num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """A cyclic clip (its last frame the next cycle's first, as DeepMimic's walk) repeated to
    ``num_frames``: each cycle continues from where the previous one ended (the planar turn and
    step from the first to the last frame applied once more per cycle).

    Args:
      pose: (T, 72), transl: (T, 3) world frame (Y up); pelvis: (3,) rest pelvis.
    Returns:
      pose (num_frames, 72), transl (num_frames, 3).
    """
    cycle = pose.shape[0] - 1
    yaw = float(_heading(pose[-1:, :3])[0] - _heading(pose[:1, :3])[0])
    start, end = pelvis + transl[0], pelvis + transl[-1]
    shift = end - Rotation.from_euler("y", yaw).apply(start)
    shift[1] = 0.0
    poses, transls = [pose[:cycle]], [transl[:cycle]]
    while sum(len(p) for p in poses) < num_frames:
        p, t = _planar(poses[-1], transls[-1], pelvis, yaw, shift)
        poses.append(p)
        transls.append(t)
    return np.concatenate(poses)[:num_frames], np.concatenate(transls)[:num_frames]


def mocap_walk(model: body.BodyModel, fps: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """DeepMimic's walk cycle on ``model``: world pose (T, 72), transl (T, 3), betas (B,) and
    the rest pelvis (3,) of that shape (its last frame is the next cycle's first)."""
    from sfv_jax.evaluation import mocap
    from sfv_jax.evaluation.config import evaluation_config

    clip = mocap.load_mocap(WALK, fps=fps)
    truth = mocap.fit_truth(model, [clip], evaluation_config())[0]
    pelvis = np.asarray(body.rest_joints(model, truth.betas[None].astype(np.float32))[0, 0],
                        np.float64)
    return truth.pose, truth.transl, truth.betas, pelvis


def camera(settings: SampleSettings) -> tuple[np.ndarray, np.ndarray]:
    """The sample's camera: world -> camera rotation (3, 3) (OpenCV axes) and centre (3,).

    It stands at x = z = 0 and looks along world +Z, pitched down ``camera_pitch_deg``.
    """
    p = np.deg2rad(settings.camera_pitch_deg)
    c = np.array([0.0, settings.camera_height, 0.0])
    return obs.look_at(c, c + np.array([0.0, -np.sin(p), np.cos(p)])), c


def to_camera(pose: np.ndarray, transl: np.ndarray, pelvis: np.ndarray, rot: np.ndarray,
              center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World-frame SMPL motion -> the camera's frame: pose (T, 72), transl (T, 3)."""
    out = obs.rotate_root(pose, rot)
    return out, (pelvis + transl - center) @ rot.T - pelvis


def _perspective(points: np.ndarray, transl: np.ndarray, focal: float,
                 center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, N, 3) points + (T, 3) translations -> (T, N, 2) pixels and (T, N) depth."""
    p = points + transl[:, None, :]
    return focal * p[..., :2] / p[..., 2:3] + center, p[..., 2]


def generate(out_dir: str, settings: SampleSettings = SampleSettings(),
             model: body.BodyModel | None = None,
             render_cfg: RenderSettings | None = None) -> str:
    """Writes the sample entry ``<out_dir>/crossing`` and returns its path.

    Args:
      out_dir: folder to create the entry in.
      settings: scene size; ``seed`` makes everything reproducible.
      model: the body model to animate (default: ``body.synthetic_model(0)``).
      render_cfg: the render settings (colours, shading) for the video; default
        ``RenderSettings()``.
    """
    s = settings
    rcfg = render_cfg if render_cfg is not None else RenderSettings()
    model = model if model is not None else synthetic.synthetic_model(0)
    entry = os.path.join(out_dir, "crossing")
    t_n = s.num_frames
    center = np.array([s.width / 2.0, s.height / 2.0])
    model25 = body.with_keypoints(model, "body25")
    names25 = skeletons.keypoint_names("body25")

    rot, cam_center = camera(s)
    walk_pose, walk_transl, betas, pelvis = mocap_walk(model, s.fps)
    travel = (walk_transl[-1] - walk_transl[0]) * np.array([1.0, 0.0, 1.0])
    people = []
    for i, (depth, direction) in enumerate(zip(s.depths, (1.0, -1.0))):
        # Turn the walk to go along world +X (person 0) or -X (person 1), its middle at x ~ 0 at
        # this depth in front of the camera; person 1 starts half a cycle later in its gait.
        offset = (len(walk_pose) - 1) // 2 * i
        wp, wt = looped_walk(walk_pose, walk_transl, pelvis, t_n + offset)
        wp, wt = wp[offset:], wt[offset:]
        yaw = np.arctan2(direction, 0.0) - np.arctan2(travel[0], travel[2])
        wp, wt = _planar(wp, wt, pelvis, yaw, np.zeros(3))
        mid = 0.5 * (wt[0] + wt[-1]) + pelvis
        wp, wt = _planar(wp, wt, pelvis, 0.0, np.array([-mid[0], 0.0, depth - mid[2]]))
        pose, transl = to_camera(wp, wt, pelvis, rot, cam_center)
        out = body.forward(model25, pose, np.broadcast_to(betas, (t_n, model.num_betas)))
        verts = np.asarray(out.vertices)
        kp3 = np.asarray(out.keypoints)
        kp2, kdepth = _perspective(kp3, transl, s.focal, center)
        people.append(dict(pose=pose, betas=betas, transl=transl, verts=verts, kp3=kp3,
                           kp2=kp2, kdepth=kdepth, depth=depth, world_pose=wp, world_transl=wt))

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
        true_crop = crops.image_to_crop_norm(np.asarray(p["kp2"], np.float64), crop_scale,
                                             crop_start, reg.crop_size)
        cam = cameras.weak_perspective_fit(np.asarray(p["kp3"], np.float64), true_crop)
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
                       "focal_length": s.focal, "generator": "sfv_jax.synthetic.demo_sample",
                       "seed": s.seed})
    up = rot @ np.array([0.0, 1.0, 0.0])  # floor normal in camera coordinates
    atomic.save_npz(os.path.join(entry, "truth.npz"),
                    camera_rotation=rot, camera_center=cam_center, focal=np.float64(s.focal),
                    floor_plane=np.concatenate([up, [cam_center[1]]]),
                    **{f"person_{i}_{k}": p[k] for i, p in enumerate(people)
                       for k in ("pose", "betas", "transl", "world_pose", "world_transl")})

    faces = np.asarray(model.faces, np.int64)
    nv = model.num_vertices
    all_faces = np.concatenate([faces + i * nv for i in range(len(people))])
    horizon = s.height / 2.0 - s.focal * np.tan(np.deg2rad(s.camera_pitch_deg))
    background = _background(s.height, s.width, horizon)
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


def _background(height: int, width: int, horizon_px: float) -> np.ndarray:
    """A plain backdrop: a wall gradient above a floor with perspective lines (uint8 BGR);
    the floor starts at the camera's horizon row ``horizon_px``."""
    img = np.zeros((height, width, 3), np.uint8)
    horizon = int(np.clip(horizon_px, 1, height - 1))
    ramp = np.linspace(200, 150, horizon)[:, None, None]
    img[:horizon] = np.broadcast_to(ramp, (horizon, width, 1)).astype(np.uint8)
    img[horizon:] = (95, 105, 110)
    import cv2
    for x in np.linspace(-width, 2 * width, 13):
        cv2.line(img, (int(width / 2), horizon), (int(x), height), (80, 88, 92), 1, cv2.LINE_AA)
    return img
