"""BVH export: files parse with `bvh` and `bvhio`, and forward kinematics of the parsed
channels (written here, independent of the writer) reproduces the body model's joints within
1 mm in every frame of a 300-frame clip, for both hierarchies."""
from __future__ import annotations

import functools
import os

import jax.numpy as jnp
import numpy as np
import pytest

from sfv_jax import body, skeletons
from sfv_jax.export import bvh as bvh_export
from sfv_jax.export import config as export_cfg

bvh = pytest.importorskip("bvh")
bvhio = pytest.importorskip("bvhio")

T = 300
FPS = 25.0


@functools.lru_cache(maxsize=None)
def _model():
    from sfv_jax.body.synthetic import synthetic_model
    return synthetic_model(0, num_vertices=1200)


def _clip(t: int = T, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth clip in HMR's camera frame (y down): upright body turning about the
    vertical, limbs swinging with large angles, walking in x and z at ~5 m depth."""
    rng = np.random.default_rng(seed)
    s = np.arange(t)[:, None] / FPS
    amp = rng.uniform(0.2, 0.9, size=(1, 72))
    freq = rng.uniform(0.3, 1.5, size=(1, 72))
    phase = rng.uniform(0, 2 * np.pi, size=(1, 72))
    pose = amp * np.sin(2 * np.pi * freq * s + phase)
    # Root: 180 deg about x (camera frame) times a yaw sweeping through +-170 deg, so Euler
    # angles wrap and pass near gimbal configurations.
    yaw = np.radians(170.0) * np.sin(2 * np.pi * 0.1 * s[:, 0])
    from scipy.spatial.transform import Rotation
    root = Rotation.from_rotvec([np.pi, 0, 0]) * Rotation.from_euler("y", yaw[:, None])
    pose[:, :3] = root.as_rotvec()
    transl = np.stack([np.sin(s[:, 0]), 0.1 * np.cos(3 * s[:, 0]), 5.0 + 0.5 * s[:, 0]], 1)
    betas = rng.normal(size=10)
    return pose, betas, transl


def _cfg(ground_mode="none", clearance=0.0, **bvh_kw):
    c = export_cfg.export_config()
    c.ground.mode = ground_mode
    c.ground.clearance = clearance
    for k, v in bvh_kw.items():
        c.bvh[k] = v
    return export_cfg.ExportSettings.from_config(c)


_AXIS = {"X": 0, "Y": 1, "Z": 2}


def _axis_rot(axis: str, deg: np.ndarray) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    r = np.zeros(a.shape + (3, 3))
    i = _AXIS[axis]
    j, k = (i + 1) % 3, (i + 2) % 3
    r[..., i, i] = 1.0
    r[..., j, j] = c
    r[..., k, k] = c
    r[..., k, j] = s
    r[..., j, k] = -s
    return r


def _fk_bvh_package(text: str) -> tuple[list[str], np.ndarray]:
    """Joint names and world positions (T, J, 3) in file units, from the `bvh` parser's
    offsets/channels: R_joint = prod of the channel rotations in listed order."""
    m = bvh.Bvh(text)
    names = m.get_joints_names()
    frames = np.asarray(m.frames, np.float64)
    nt = frames.shape[0]
    pos, rot = {}, {}
    col = 0
    for name in names:
        chans = m.joint_channels(name)
        vals = frames[:, col:col + len(chans)]
        col += len(chans)
        off = np.asarray(m.joint_offset(name), np.float64)
        r = np.broadcast_to(np.eye(3), (nt, 3, 3))
        p = np.zeros((nt, 3))
        for c, ch in enumerate(chans):
            if ch.endswith("rotation"):
                r = r @ _axis_rot(ch[0], vals[:, c])
            else:
                p[:, _AXIS[ch[0]]] = vals[:, c]
        parent = m.joint_parent(name)
        if parent is None:
            pos[name] = off + p
            rot[name] = r
        else:
            pn = parent.name
            pos[name] = pos[pn] + np.einsum("tij,j->ti", rot[pn], off)
            rot[name] = rot[pn] @ r
    return names, np.stack([pos[n] for n in names], 1)


@functools.lru_cache(maxsize=None)
def _written(hierarchy: str, tmpdir: str) -> tuple[str, str]:
    pose, betas, transl = _clip()
    path = os.path.join(tmpdir, f"{hierarchy}.bvh")
    bvh_export.write_bvh(path, pose, betas, transl, _model(), FPS, _cfg(hierarchy=hierarchy))
    with open(path) as f:
        return path, f.read()


@functools.lru_cache(maxsize=None)
def _truth() -> np.ndarray:
    """Body model joints (T, 24, 3) in metres, turned from the camera frame to Y-up."""
    pose, betas, transl = _clip()
    out = body.forward(_model(), jnp.asarray(pose, jnp.float32),
                       jnp.broadcast_to(jnp.asarray(betas, jnp.float32), (T, 10)),
                       jnp.asarray(transl, jnp.float32))
    return np.asarray(out.joints, np.float64) * np.array([1.0, -1.0, -1.0])


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("bvh"))


@pytest.mark.parametrize("hierarchy", ["smpl24", "smpl22"])
def test_fk_of_parsed_file_matches_body_model(outdir, hierarchy):
    path, text = _written(hierarchy, outdir)
    names, pos = _fk_bvh_package(text)
    truth = _truth()
    skel = bvh_export.bvh_skeleton(hierarchy)
    if hierarchy == "smpl24":
        assert names == [skeletons.SMPL_JOINT_NAMES[i] for i in skel.dfs_order()]
        assert len(names) == 24
    else:
        assert len(names) == 17 and len(skel.end_sites) == 5  # 22 = 17 joints + 5 end sites
    smpl_idx = [skel.smpl_index[skel.names.index(n)] for n in names]
    err = np.linalg.norm(pos / 100.0 - truth[:, smpl_idx], axis=-1)  # cm -> m
    assert pos.shape[0] == T
    assert err.max() < 1e-3, f"max joint error {err.max() * 1000:.3f} mm"


def test_smpl22_end_sites_reproduce_leaf_joints(outdir):
    """The 22-joint file keeps SMPL's toes and wrists as end sites; FK of the parsed end
    sites lands on the body model's foot and wrist joints in every frame."""
    _, text = _written("smpl22", outdir)
    m = bvh.Bvh(text)
    names, pos = _fk_bvh_package(text)
    # End site offsets from the raw text (the `bvh` package does not expose them by name).
    lines = [ln.strip() for ln in text.splitlines()]
    ends = {}
    stack = []
    for i, ln in enumerate(lines):
        if ln.startswith(("ROOT", "JOINT")):
            stack.append(ln.split()[1])
        elif ln == "End Site":
            ends[stack[-1]] = np.asarray(lines[i + 2].split()[1:], np.float64)
            stack.append("<end>")
        elif ln == "}":
            stack.pop()
        elif ln == "MOTION":
            break
    truth = _truth()
    frames = np.asarray(m.frames, np.float64)
    assert frames.shape == (T, 6 + 3 * 16)  # root 6 channels + 16 joints x 3
    for joint, smpl in (("LeftFoot", 10), ("RightFoot", 11), ("LeftElbow", 20),
                        ("RightElbow", 21)):
        # World rotation of `joint` from the parsed channels, recomputed along its chain.
        chain = []
        j = m.get_joint(joint)
        while j is not None and j.name in names:
            chain.append(j.name)
            j = m.joint_parent(j.name)
        r = np.broadcast_to(np.eye(3), (T, 3, 3))
        for name in reversed(chain):
            idx = m.get_joint_channels_index(name)
            chans = m.joint_channels(name)
            for c, ch in enumerate(chans):
                if ch.endswith("rotation"):
                    r = r @ _axis_rot(ch[0], frames[:, idx + c])
        end = pos[:, names.index(joint)] + np.einsum("tij,j->ti", r, ends[joint])
        err = np.linalg.norm(end / 100.0 - truth[:, smpl], axis=-1)
        assert err.max() < 1e-3, (joint, err.max())
    # Head top end site: above the neck by roughly a head length in the rest pose.
    assert 5.0 < ends["Neck"][1] < 40.0


@pytest.mark.parametrize("hierarchy", ["smpl24", "smpl22"])
def test_bvhio_parses_and_agrees(outdir, hierarchy):
    path, _ = _written(hierarchy, outdir)
    root = bvhio.readAsHierarchy(path)
    layout = root.layout()
    joints = {j.Name: j for j, _, _ in layout}
    skel = bvh_export.bvh_skeleton(hierarchy)
    for n in skel.names:
        assert n in joints
    truth = _truth()
    for f in (0, 77, 150, T - 1):
        root.loadPose(f)
        for n, si in zip(skel.names, skel.smpl_index):
            p = np.asarray(joints[n].PositionWorld, np.float64) / 100.0
            assert np.linalg.norm(p - truth[f, si]) < 1e-3, (hierarchy, f, n)


@pytest.mark.parametrize("order", bvh_export.EULER_ORDERS)
def test_every_euler_order_and_metres(tmp_path, order):
    pose, betas, transl = _clip(t=12, seed=3)
    path = tmp_path / f"{order}.bvh"
    bvh_export.write_bvh(path, pose, betas, transl, _model(), 30.0,
                         _cfg(euler_order=order, units="m"))
    text = path.read_text()
    chans = " ".join(f"{a.upper()}rotation" for a in order)
    assert f"CHANNELS 3 {chans}" in text and "Frame Time: 0.03333333" in text
    names, pos = _fk_bvh_package(text)
    out = body.forward(_model(), jnp.asarray(pose, jnp.float32),
                       jnp.asarray(np.broadcast_to(betas, (12, 10)), jnp.float32),
                       jnp.asarray(transl, jnp.float32))
    truth = np.asarray(out.joints) * np.array([1.0, -1.0, -1.0])
    idx = [skeletons.SMPL_JOINT_NAMES.index(n) for n in names]
    assert np.abs(pos - truth[:, idx]).max() < 1e-3


def test_offsets_follow_shape(tmp_path):
    """Offsets are the rest bones of the clip's shape: taller betas, longer legs."""
    pose, _, transl = _clip(t=3)
    texts = []
    for b0 in (-2.0, 2.0):
        betas = np.zeros(10)
        betas[0] = b0
        p = tmp_path / f"b{b0}.bvh"
        bvh_export.write_bvh(p, pose, betas, transl, _model(), 30.0, _cfg())
        texts.append(bvh.Bvh(p.read_text()))
    knee = [np.linalg.norm(m.joint_offset("left_knee")) for m in texts]
    assert knee[1] > knee[0] * 1.1
    rest = body.rest_joints(_model(), jnp.zeros((1, 10)))[0]
    short = np.zeros(10)
    short[0] = -2.0
    rest_s = np.asarray(body.rest_joints(_model(), jnp.asarray(short)[None])[0])
    np.testing.assert_allclose(knee[0], 100 * np.linalg.norm(rest_s[4] - rest_s[1]), rtol=1e-5)
    assert np.asarray(rest).shape == (24, 3)


def test_ground_option_lifts_mesh_above_floor(tmp_path):
    pose, betas, transl = _clip(t=40, seed=5)
    transl[:, 1] += 3.0  # camera frame: y down, i.e. the body sinks 3 m below the origin
    out = body.forward(_model(), jnp.asarray(pose, jnp.float32),
                       jnp.asarray(np.broadcast_to(betas, (40, 10)), jnp.float32),
                       jnp.asarray(transl, jnp.float32))
    low = np.min(-np.asarray(out.vertices)[..., 1], axis=1)  # world y = -camera y
    for mode in ("clip", "frame"):
        c = _cfg(ground_mode=mode, clearance=0.01)
        p = tmp_path / f"{mode}.bvh"
        bvh_export.write_bvh(p, pose, betas, transl, _model(), 30.0, c)
        m = bvh.Bvh(p.read_text())
        root_y = np.asarray(m.frames, np.float64)[:, 1] / 100.0
        pelvis_y = -np.asarray(out.joints)[:, 0, 1]
        lift = root_y - pelvis_y
        lowest = low + lift
        assert lowest.min() == pytest.approx(0.01, abs=1e-4)
        if mode == "clip":
            assert np.ptp(lift) < 1e-5
            assert np.ptp(lowest) > 0.01  # vertical motion kept
        else:
            np.testing.assert_allclose(lowest, 0.01, atol=1e-4)


def test_bad_inputs_name_the_file(tmp_path):
    pose, betas, transl = _clip(t=4)
    p = tmp_path / "x.bvh"
    with pytest.raises(ValueError, match=r"x\.bvh: pose must be \(T, 72\)"):
        bvh_export.write_bvh(p, pose[:, :69], betas, transl, _model(), 30.0, _cfg())
    with pytest.raises(ValueError, match=r"x\.bvh: transl must be"):
        bvh_export.write_bvh(p, pose, betas, transl[:2], _model(), 30.0, _cfg())
    with pytest.raises(ValueError, match=r"x\.bvh: export\.bvh\.euler_order"):
        bvh_export.write_bvh(p, pose, betas, transl, _model(), 30.0, _cfg(euler_order="xyx"))
    with pytest.raises(ValueError, match=r"x\.bvh: fps"):
        bvh_export.write_bvh(p, pose, betas, transl, _model(), 0.0, _cfg())
    bad = pose.copy()
    bad[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"x\.bvh: pose holds non-finite"):
        bvh_export.write_bvh(p, bad, betas, transl, _model(), 30.0, _cfg())
    assert not p.exists() and os.listdir(tmp_path) == []
