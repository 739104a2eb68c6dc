"""DeepMimic motion files and the humanoid: reader/writer round trip on real clips, URDF facts,
forward kinematics against the clips' ground contact, error messages."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from sfv_jax.export import deepmimic, humanoid as hmd

HERE = os.path.dirname(__file__)
FIX = os.path.join(HERE, "fixtures", "deepmimic")
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data"))
SHARED_MOTIONS = os.path.join(SHARED, "motions")
SHARED_URDF = os.path.join(SHARED, "humanoid", "humanoid.urdf")
WALK = os.path.join(FIX, "humanoid3d_walk.txt")

needs_shared = pytest.mark.skipif(not os.path.isdir(SHARED_MOTIONS),
                                  reason="../shared/data not present")


def _raw_frames(path: str) -> tuple[np.ndarray, str]:
    with open(path) as f:
        d = json.load(f)
    return np.asarray(d["Frames"], np.float64), d["Loop"]


def test_round_trip_fixture(tmp_path):
    raw, loop = _raw_frames(WALK)
    m = deepmimic.read_motion(WALK)
    assert m.loop == loop == "wrap"
    assert m.frames.shape == raw.shape == (raw.shape[0], 44)
    np.testing.assert_array_equal(m.frames, raw)
    out = tmp_path / "walk.txt"
    deepmimic.write_motion(out, m)
    back_raw, back_loop = _raw_frames(str(out))  # plain JSON, not only our reader
    assert back_loop == "wrap"
    assert np.max(np.abs(back_raw - raw)) <= 1e-5
    assert np.max(np.abs(deepmimic.read_motion(out).frames - raw)) <= 1e-5
    assert [p.name for p in tmp_path.iterdir()] == ["walk.txt"]  # no temp file left


@needs_shared
@pytest.mark.parametrize("clip", ["run", "jump", "cartwheel", "dance_a"])
def test_round_trip_shared_clips(tmp_path, clip):
    path = os.path.join(SHARED_MOTIONS, f"humanoid3d_{clip}.txt")
    raw, loop = _raw_frames(path)
    m = deepmimic.read_motion(path)
    out = tmp_path / f"{clip}.txt"
    deepmimic.write_motion(out, m)
    back, back_loop = _raw_frames(str(out))
    assert back_loop == loop
    assert np.max(np.abs(back - raw)) <= 1e-5


def test_pack_unpack_inverse():
    m = deepmimic.read_motion(WALK)
    parts = deepmimic.unpack_frames(m.frames)
    np.testing.assert_array_equal(deepmimic.pack_frames(*parts), m.frames)
    assert deepmimic.SPHERICAL_JOINTS == ("chest", "neck", "right_hip", "right_ankle",
                                          "right_shoulder", "left_hip", "left_ankle",
                                          "left_shoulder")
    assert deepmimic.REVOLUTE_JOINTS == ("right_knee", "right_elbow", "left_knee",
                                         "left_elbow")
    # Column layout stated by the format: chest at 8..12, right knee at 20, left elbow last.
    cols = hmd.DEEPMIMIC_HUMANOID.frame_columns()
    assert cols["chest"] == (8, 12) and cols["right_knee"] == (20, 21)
    assert cols["left_elbow"] == (43, 44)


@pytest.mark.parametrize("content, message", [
    ("not json", "not a readable"),
    ('{"Loop": "wrap"}', "'Frames'"),
    ('{"Loop": "sometimes", "Frames": [[0]]}', "Loop"),
    ('{"Loop": "none", "Frames": [[0.1, 1, 2]]}', "frame 0 must hold 44"),
    ('{"Loop": "none", "Frames": [' + ",".join(["[0.1" + ", 0" * 43 + "]"] * 2)
     + ', [0.1, "x"' + ", 0" * 42 + "]]}", "frame 2"),
    ('{"Loop": "none", "Frames": [[-0.1' + ", 0" * 43 + "]]}", "negative duration"),
])
def test_reader_errors_name_file_and_frame(tmp_path, content, message):
    p = tmp_path / "bad.txt"
    p.write_text(content)
    with pytest.raises(ValueError) as e:
        deepmimic.read_motion(p)
    assert "bad.txt" in str(e.value) and message in str(e.value)


def test_writer_refuses_nan_and_keeps_old_file(tmp_path):
    m = deepmimic.read_motion(WALK)
    out = tmp_path / "clip.txt"
    deepmimic.write_motion(out, m)
    before = out.read_text()
    frames = m.frames.copy()
    frames[5, 10] = np.nan
    with pytest.raises(ValueError, match="frame 5"):
        deepmimic.write_motion(out, deepmimic.DeepMimicMotion(frames, "wrap"))
    assert out.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.txt"]


def _check_same_humanoid(h: hmd.Humanoid) -> None:
    d = hmd.DEEPMIMIC_HUMANOID
    for f in ("names", "parents", "kinds", "offsets", "axes", "lower", "upper"):
        assert getattr(h, f) == getattr(d, f), f
    assert len(h.shapes) == len(d.shapes)
    for a, b in zip(h.shapes, d.shapes):
        assert (a.link, a.kind) == (b.link, b.kind)
        np.testing.assert_allclose(a.center, b.center, atol=1e-9)
        np.testing.assert_allclose(a.axis, b.axis, atol=1e-6)
        np.testing.assert_allclose([a.radius, a.half_length], [b.radius, b.half_length])
        np.testing.assert_allclose(a.half_extents, b.half_extents)


def test_urdf_fixture_matches_shipped_constants():
    _check_same_humanoid(hmd.parse_urdf(os.path.join(FIX, "humanoid.urdf")))
    assert hmd.DEEPMIMIC_HUMANOID.frame_size == 44


@pytest.mark.skipif(not os.path.exists(SHARED_URDF), reason="../shared/data not present")
def test_urdf_shared_matches_shipped_constants():
    _check_same_humanoid(hmd.parse_urdf(SHARED_URDF))


def test_urdf_errors(tmp_path):
    p = tmp_path / "h.urdf"
    p.write_text('<robot><link name="root"/><link name="a"/><joint name="j" type="ball">'
                 '<parent link="root"/><child link="a"/></joint></robot>')
    with pytest.raises(ValueError, match=r"h\.urdf.*'j'.*unsupported type"):
        hmd.parse_urdf(p)
    p.write_text("<robot><link")
    with pytest.raises(ValueError, match=r"h\.urdf: cannot read URDF"):
        hmd.parse_urdf(p)


def test_fk_rest_pose_geometry():
    """Identity rotations: standing humanoid, hips on +-Z (right = +Z), feet on the ground
    when the root is at the leg length; scale 0.25 gives metres."""
    h = hmd.DEEPMIMIC_HUMANOID
    frames = np.zeros((1, 44))
    frames[0, 4] = 1.0
    for name in ("chest", "neck", "right_hip", "right_ankle", "right_shoulder", "left_hip",
                 "left_ankle", "left_shoulder"):
        frames[0, h.frame_columns()[name][0]] = 1.0
    pos, rot = hmd.frames_forward(h, frames)
    pos = np.asarray(pos[0])
    assert pos[h.index("right_hip"), 2] == pytest.approx(0.339548 * 0.25, abs=1e-6)
    assert pos[h.index("left_hip"), 2] == pytest.approx(-0.339548 * 0.25, abs=1e-6)
    leg = (1.686184 + 1.639480) * 0.25
    assert pos[h.index("right_ankle"), 1] == pytest.approx(-leg, abs=1e-6)
    # Foot box bottom: ankle - (0.09 + 0.11) * 0.25.
    low = float(hmd.lowest_point(h, pos[None], np.asarray(rot))[0])
    assert low == pytest.approx(-leg - 0.2 * 0.25, abs=1e-6)


@pytest.mark.parametrize("clip", ["walk", "run", "jump", "cartwheel", "dance_a"])
def test_fk_clips_touch_ground(clip):
    """With scale 0.25 the clips' root positions are metres: the humanoid's lowest body
    point hovers around y = 0 (median within 4 cm) and never sinks more than 8 cm."""
    path = WALK if clip == "walk" else os.path.join(SHARED_MOTIONS, f"humanoid3d_{clip}.txt")
    if not os.path.exists(path):
        pytest.skip("../shared/data not present")
    h = hmd.DEEPMIMIC_HUMANOID
    pos, rot = hmd.frames_forward_jit(h, deepmimic.read_motion(path).frames)
    low = np.asarray(hmd.lowest_point(h, pos, rot))
    assert abs(np.median(low)) < 0.04
    assert low.min() > -0.08
    # The wrong scale (1.0) would put the feet metres below the floor.
    pos1, rot1 = hmd.frames_forward(h.with_scale(1.0), deepmimic.read_motion(path).frames[:3])
    assert float(np.min(hmd.lowest_point(h.with_scale(1.0), pos1, rot1))) < -2.0


def _joint_jumps_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per joint (root orientation, 8 spherical, 4 revolute) rotation between two frames, deg."""
    _, _, qa, aa = deepmimic.unpack_frames(a[None])
    _, _, qb, ab = deepmimic.unpack_frames(b[None])
    dots = np.abs(np.sum(qa[0] * qb[0], -1)) / (np.linalg.norm(qa[0], axis=-1)
                                                * np.linalg.norm(qb[0], axis=-1))
    return np.degrees(np.concatenate([2 * np.arccos(np.clip(dots, 0, 1)),
                                      np.abs(aa[0] - ab[0])]))


def test_loop_seam_is_blended_away():
    frames = deepmimic.read_motion(WALK).frames.copy()
    frames = frames[:30]  # cut mid-cycle: the last frame is far from the first
    before = _joint_jumps_deg(frames[-1], frames[0])
    assert before.mean() > 10.0
    out = deepmimic.blend_loop_seam(frames, 8)
    # The last frame is the first frame's pose (root height and every rotation); the root's
    # horizontal position and every frame before the window are unchanged.
    assert _joint_jumps_deg(out[-1], out[0]).max() < 1e-4
    assert out[-1, 2] == pytest.approx(out[0, 2])
    np.testing.assert_array_equal(out[:, [0, 1, 3]], frames[:, [0, 1, 3]])
    np.testing.assert_array_equal(out[:-8], frames[:-8])
    # The jump is spread: no step inside the window is close to the old seam.
    steps = np.array([_joint_jumps_deg(out[i], out[i + 1]).mean() for i in range(21, 29)])
    assert steps.max() < 0.5 * before.mean()
    np.testing.assert_array_equal(deepmimic.blend_loop_seam(frames, 0), frames)


def test_clip_durations_end_with_zero():
    d = deepmimic.clip_durations(5, 30.0)
    np.testing.assert_allclose(d[:-1], 1 / 30.0)
    assert d[-1] == 0.0
