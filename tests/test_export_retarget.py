"""SMPL -> DeepMimic retargeting: bone directions kept through a written motion file and
humanoid forward kinematics, hinge limits, frame mapping, ground option."""
from __future__ import annotations

import functools
import os

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sfv_jax import body
from sfv_jax.export import config as export_cfg
from sfv_jax.export import deepmimic, retarget, world
from sfv_jax.export import humanoid as hmd

WALK = os.path.join(os.path.dirname(__file__), "fixtures", "deepmimic", "humanoid3d_walk.txt")
Q = world.SMPL_TO_DEEPMIMIC
H = hmd.DEEPMIMIC_HUMANOID


@functools.lru_cache(maxsize=None)
def _model():
    from sfv_jax.body.synthetic import synthetic_model
    return synthetic_model(0, num_vertices=1200)


def _smpl_from_deepmimic(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real mocap as an SMPL clip (test input): humanoid local rotations conjugated into
    SMPL's frame (spine1/2, collars, head identity); arms turned from the humanoid's hanging
    rest to SMPL's T-pose rest. Returns pose (T, 72) and transl (T, 3) in SMPL's Y-up frame."""
    root_pos, loc = hmd.frames_to_local(H, frames)
    loc = np.asarray(loc, np.float64)
    t = loc.shape[0]

    def conj(m):
        return Q.T @ m @ Q

    rots = np.broadcast_to(np.eye(3), (t, 24, 3, 3)).copy()
    rots[:, 0] = conj(loc[:, H.index("root")])
    rots[:, 9] = conj(loc[:, H.index("chest")])
    rots[:, 12] = conj(loc[:, H.index("neck")])
    for side, (hip, knee, ankle, sh, el) in {"right": (2, 5, 8, 17, 19),
                                             "left": (1, 4, 7, 16, 18)}.items():
        rots[:, hip] = conj(loc[:, H.index(f"{side}_hip")])
        rots[:, knee] = conj(loc[:, H.index(f"{side}_knee")])
        rots[:, ankle] = conj(loc[:, H.index(f"{side}_ankle")])
        b = Rotation.from_euler("z", -90 if side == "left" else 90, degrees=True).as_matrix()
        rots[:, sh] = conj(loc[:, H.index(f"{side}_shoulder")]) @ b
        rots[:, el] = b.T @ conj(loc[:, H.index(f"{side}_elbow")]) @ b
    pose = Rotation.from_matrix(rots.reshape(-1, 3, 3)).as_rotvec().reshape(t, 72)
    return pose, np.asarray(root_pos, np.float64) @ Q  # Q^T x per row


@functools.lru_cache(maxsize=None)
def _walk_smpl() -> tuple[np.ndarray, np.ndarray]:
    return _smpl_from_deepmimic(deepmimic.read_motion(WALK).frames)


def _cfg(**kw):
    c = export_cfg.export_config()
    c.input_frame = "y_up"
    for k, v in kw.items():
        sec, key = k.split("__")
        c[sec][key] = v
    return export_cfg.ExportSettings.from_config(c)


def _forward(pose, transl, betas=None):
    t = pose.shape[0]
    b = np.zeros(10) if betas is None else betas
    out = body.forward(_model(), jnp.asarray(pose, jnp.float32),
                       jnp.asarray(np.broadcast_to(b, (t, 10)), jnp.float32),
                       jnp.asarray(transl, jnp.float32))
    rest = body.rest_joints(_model(), jnp.asarray(b, jnp.float32)[None])[0]
    return out, rest


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The walk as a camera-frame reconstruction, exported to a file and read back."""
    pose, transl = _walk_smpl()
    pose = pose.copy()
    cam = world.CAMERA_TO_WORLD  # its own inverse
    pose[:, :3] = Rotation.from_matrix(cam @ Rotation.from_rotvec(pose[:, :3]).as_matrix()
                                       ).as_rotvec()
    transl_cam = transl @ cam.T + np.array([0.3, -0.2, 4.0])
    betas = np.linspace(-1.0, 1.0, 10)
    cfg = export_cfg.ExportSettings()  # input_frame "camera", ground "clip"
    path = str(tmp_path_factory.mktemp("dm") / "walk_smpl.txt")
    ret = retarget.export_deepmimic(path, pose, betas, transl_cam, _model(), 30.0, cfg)
    return path, ret, cfg


def test_file_fk_keeps_bone_directions(exported):
    path, ret, _ = exported
    motion = deepmimic.read_motion(path)
    assert motion.frames.shape == (ret.root_pos.shape[0], 44)
    assert motion.loop == "none"
    np.testing.assert_allclose(motion.durations[:-1], 1 / 30.0, atol=1e-9)
    assert motion.durations[-1] == 0.0  # as DeepMimic's own files end
    pos, grot = hmd.frames_forward(H, motion.frames)
    # FK of the written file reproduces the retargeting's own FK (file precision).
    assert np.abs(np.asarray(pos) - np.asarray(ret.positions)).max() < 1e-5
    err, names = retarget.bone_direction_errors(ret._replace(positions=pos, global_rots=grot))
    mean_deg = float(np.degrees(err.mean()))
    print(f"\nmean bone-direction error {mean_deg:.3f} deg; per bone: "
          + ", ".join(f"{n} {np.degrees(e):.2f}" for n, e in zip(names, err.mean(0))))
    assert mean_deg < 1.0
    assert float(np.degrees(err.max())) < 10.0


def test_limb_limits_and_ground(exported):
    path, ret, cfg = exported
    motion = deepmimic.read_motion(path)
    cols = H.frame_columns()
    for n in ("right_knee", "left_knee"):
        a = motion.frames[:, cols[n][0]]
        assert np.all(a <= 1e-9) and np.all(a >= -3.14)
        assert a.min() < -0.5  # the walk bends its knees
    for n in ("right_elbow", "left_elbow"):
        a = motion.frames[:, cols[n][0]]
        assert np.all(a >= -1e-9) and np.all(a <= 3.14)
    pos, grot = hmd.frames_forward(H, motion.frames)
    low = np.asarray(hmd.lowest_point(H, pos, grot))
    assert low.min() == pytest.approx(0.0, abs=1e-5)  # "clip" mode: lowest point touches
    assert np.all(low >= -1e-5)
    q = motion.frames[:, 4:8]
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-6)
    assert np.all(np.sum(q[1:] * q[:-1], 1) > 0)  # continuous quaternion signs


def test_frame_mapping_smpl_faces_z_humanoid_faces_x():
    """Zero SMPL pose (Y up, facing +Z) -> humanoid facing +X: feet point +X, its right hip
    at +Z; identity root rotation up to SMPL's rest spine tilt."""
    pose = np.zeros((39, 72))  # 39 frames like the walk: one compiled shape for the file
    out, rest = _forward(pose, np.zeros((39, 3)))
    ret = retarget.retarget_smpl(out.joints, out.rotations, rest, _cfg(ground__mode="none"))
    pos = np.asarray(ret.positions[0])
    assert pos[H.index("right_hip"), 2] > pos[H.index("left_hip"), 2]
    foot = np.asarray(ret.global_rots[0, H.index("right_ankle")]) @ np.array([0.18, -0.09, 0])
    assert foot[0] > 0.15
    root = Rotation.from_matrix(np.asarray(ret.local_rots[0, 0], np.float64))
    assert np.degrees(root.magnitude()) < 10.0
    # SMPL's joints come in the same frame: SMPL's left (+X) maps to -Z.
    sj = np.asarray(ret.smpl_joints[0])
    assert sj[1, 2] < 0 < sj[2, 2]


def test_ground_per_frame_mode():
    pose, transl = _walk_smpl()
    transl = transl + np.array([0.0, 2.0, 0.0])  # floating 2 m up
    out, rest = _forward(pose, transl)
    ret = retarget.retarget_smpl(out.joints, out.rotations, rest,
                                 _cfg(ground__mode="frame", ground__clearance=0.02))
    low = np.asarray(hmd.lowest_point(H, ret.positions, ret.global_rots))
    np.testing.assert_allclose(low, 0.02, atol=1e-5)
    ret0 = retarget.retarget_smpl(out.joints, out.rotations, rest, _cfg(ground__mode="none"))
    assert float(hmd.lowest_point(H, ret0.positions, ret0.global_rots).min()) > 1.5
    # Rotations do not depend on the lift.
    np.testing.assert_allclose(np.asarray(ret.local_rots), np.asarray(ret0.local_rots))


def test_pelvis_anchor_and_knee_clipping():
    """A hyper-extended knee (bent forwards) is clipped to 0 instead of bending the wrong
    way; the pelvis anchor puts the root on SMPL's pelvis."""
    pose = np.zeros((39, 72))
    pose[:, 3 * 5] = -0.6  # right knee rotated about SMPL's x the wrong way
    out, rest = _forward(pose, np.zeros((39, 3)))
    ret = retarget.retarget_smpl(out.joints, out.rotations, rest,
                                 _cfg(ground__mode="none", deepmimic__root_anchor="pelvis",
                                      deepmimic__hinge_twist_blend=0.05))
    ang = np.asarray(ret.angles)[:, H.index("right_knee")]
    # The hip twists by 180 degrees and the knee bends the allowed way instead.
    assert np.all(ang <= 0.0)
    np.testing.assert_allclose(np.asarray(ret.root_pos), np.asarray(out.joints[:, 0]) @ Q.T,
                               atol=1e-6)
    with pytest.raises(ValueError, match="root_anchor"):
        retarget.retarget_smpl(out.joints, out.rotations, rest,
                               _cfg(deepmimic__root_anchor="feet"))


def test_bad_input_names_file(tmp_path):
    p = tmp_path / "x.txt"
    with pytest.raises(ValueError, match=r"x\.txt: pose must be"):
        retarget.export_deepmimic(str(p), np.zeros((3, 69)), np.zeros(10), None, _model(),
                                  30.0, export_cfg.ExportSettings())
    assert not p.exists()
