"""Readers: round trips on files written in the real formats (OpenPose JSON, AlphaPose /
PoseFlow JSON, SFV deepdish .h5, flat .h5 / .npz, HMMR pickle, VIBE joblib pickle, the
project's track .npz), and clear errors or warnings on bad input."""
from __future__ import annotations

import io
import json
import os
import pickle
import zlib

import h5py
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sfv_jax import skeletons
from sfv_jax.inputs import (Estimates, InputError, Track, attach_estimates, load_tracks,
                            read_alphapose, read_estimates, read_estimates_npz, read_hmmr_pkl,
                            read_hmr_h5, read_openpose_folder, read_vibe_pkl, reading_config,
                            save_estimates_npz, save_hmr_h5, save_tracks, track_people,
                            tracking_config, write_alphapose, write_openpose_folder)
from sfv_jax.inputs.synthetic import keypoints_in_boxes

RNG = np.random.default_rng(0)


def _people(n_frames=6, n_people=2, fmt="body25"):
    out = {}
    for f in range(n_frames):
        boxes = np.array([[50 + 40 * p + 3 * f, 60, 90 + 40 * p + 3 * f, 200] for p in range(n_people)])
        kp = keypoints_in_boxes(boxes, RNG.uniform(0.3, 1.0, n_people))
        out[f] = skeletons.convert_keypoints(kp, "body25", fmt) if fmt != "body25" else kp
    return out


def _theta(T):
    return np.concatenate([RNG.normal(size=(T, 3)), RNG.normal(scale=0.3, size=(T, 72)),
                           RNG.normal(size=(T, 10))], axis=1)


# --------------------------------------------------------------------------------------
# OpenPose
# --------------------------------------------------------------------------------------
def test_openpose_body25_round_trip(tmp_path):
    people = _people()
    people[3] = people[3][:0]  # a frame where nobody was found
    write_openpose_folder(str(tmp_path), people, video="clip")
    assert sorted(os.listdir(tmp_path))[0] == "clip_000000000000_keypoints.json"
    dets = read_openpose_folder(str(tmp_path), reading_config())
    assert dets.video == "clip" and dets.source_format == "body25"
    assert sorted(dets.people) == list(range(6))
    for f in people:
        np.testing.assert_allclose(dets.people[f], people[f])


def test_openpose_coco18_legacy_field_and_frame_numbers(tmp_path):
    people = _people(fmt="coco18")
    for f, kp in people.items():  # written by hand as OpenPose 1.0 did, with gaps in numbering
        doc = {"version": 1.0, "people": [{"pose_keypoints": k.reshape(-1).tolist(),
                                           "face_keypoints": []} for k in kp]}
        (tmp_path / f"walk_{10 * f:012d}_keypoints.json").write_text(json.dumps(doc))
    dets = read_openpose_folder(str(tmp_path), reading_config())
    assert sorted(dets.people) == [0, 10, 20, 30, 40, 50]
    assert dets.source_format == "coco18"
    got = dets.people[20]
    np.testing.assert_allclose(got, skeletons.convert_keypoints(people[2], "coco18", "body25"))
    names = skeletons.keypoint_names("body25")
    assert np.all(got[:, names.index("mid_hip"), 2] > 0)      # synthesized from the hips
    assert np.all(got[:, names.index("left_heel"), 2] == 0)   # COCO-18 has no feet


def test_openpose_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        read_openpose_folder(str(tmp_path / "missing_dir"), reading_config())
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(InputError, match="no .json files"):
        read_openpose_folder(str(empty_dir), reading_config())

    write_openpose_folder(str(tmp_path / "op"), _people(), video="v")
    bad = tmp_path / "op" / "v_000000000002_keypoints.json"
    bad.write_text('{"version": 1.3, "people": [{"pose_keypoints_2d": [1, 2,')
    empty = tmp_path / "op" / "v_000000000004_keypoints.json"
    empty.write_text("")
    cfg = reading_config()
    with pytest.warns(UserWarning) as rec:
        dets = read_openpose_folder(str(tmp_path / "op"), cfg)
    msgs = [str(w.message) for w in rec]
    # One counted warning for both unreadable files, naming the folder and the first file.
    skipped = [m for m in msgs if "unreadable frame files skipped" in m]
    assert len(skipped) == 1 and "2 times" in skipped[0] and str(tmp_path / "op") in skipped[0]
    assert bad.name in skipped[0] and "malformed JSON" in skipped[0]
    assert sorted(dets.people) == [0, 1, 3, 5]
    cfg.bad_frame = "error"
    with pytest.raises(InputError, match="v_000000000002_keypoints.json: malformed JSON"):
        read_openpose_folder(str(tmp_path / "op"), cfg)

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "v_000000000000_keypoints.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 60}]}))
    with pytest.raises(InputError, match=r"v_000000000000_keypoints.json: person 0: 60 keypoint"):
        read_openpose_folder(str(wrong), cfg)


def test_openpose_nan_keypoints_become_missing_with_warning(tmp_path):
    kp = _people(1, 1)[0]
    flat = kp.reshape(-1).tolist()
    flat[3 * 4] = float("nan")  # right wrist x
    path = tmp_path / "v_000000000007_keypoints.json"
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": flat}]}))  # writes NaN literal
    with pytest.warns(UserWarning, match=r"v_000000000007_keypoints.json person 0: keypoints \[4\] "
                                         r"are NaN/inf; treated as missing"):
        dets = read_openpose_folder(str(tmp_path), reading_config())
    got = dets.people[7][0]
    assert np.all(got[4] == 0) and np.all(np.isfinite(got))
    cfg = reading_config()
    cfg.nan_keypoints = "error"
    with pytest.raises(InputError, match="person 0: keypoints \\[4\\] are NaN"):
        read_openpose_folder(str(tmp_path), cfg)


# --------------------------------------------------------------------------------------
# AlphaPose / PoseFlow
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["alphapose", "poseflow"])
def test_alphapose_round_trip_with_track_ids(tmp_path, layout):
    people = _people(fmt="coco17")
    ids = {f: np.array([4, 11]) for f in people}
    path = str(tmp_path / "alphapose-results.json")
    write_alphapose(path, people, ids=ids, layout=layout)
    dets = read_alphapose(path, reading_config())
    assert sorted(dets.people) == sorted(people)
    for f in people:
        np.testing.assert_allclose(dets.people[f], skeletons.convert_keypoints(people[f], "coco17", "body25"))
        assert dets.ids[f].tolist() == [4, 11]
    tracks = track_people(dets, (480, 640), _short_cfg())
    assert len(tracks) == 2


def test_alphapose_without_ids_and_halpe26(tmp_path):
    kp26 = np.concatenate([skeletons.convert_keypoints(_people(1, 1)[0], "body25", "coco17"),
                           np.tile([[70.0, 180.0, 0.7]], (1, 9, 1))], axis=1)
    entries = [{"image_id": "frame_0005.jpg", "category_id": 1, "keypoints": kp26[0].reshape(-1).tolist(),
                "score": 2.5, "box": [0, 0, 10, 10]}]
    path = tmp_path / "res.json"
    path.write_text(json.dumps(entries))
    dets = read_alphapose(str(path), reading_config())
    # One image named frame_0005: not a 0-based index, so it is the first frame.
    assert dets.ids is None and list(dets.people) == [0]
    assert dets.frame_numbering == "sorted position"
    names = skeletons.keypoint_names("body25")
    np.testing.assert_allclose(dets.people[0][0, names.index("right_heel")], [70.0, 180.0, 0.7])


def test_alphapose_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.json"):
        read_alphapose(str(tmp_path / "nothere.json"), reading_config())
    p = tmp_path / "bad.json"
    p.write_text("[{]")
    with pytest.raises(InputError, match="bad.json: malformed JSON"):
        read_alphapose(str(p), reading_config())
    p.write_text(json.dumps([{"image_id": "3.jpg", "keypoints": [1.0] * 50}]))
    with pytest.raises(InputError, match=r"bad.json image '3.jpg' entry 0: 50 keypoint numbers"):
        read_alphapose(str(p), reading_config())


# --------------------------------------------------------------------------------------
# HMR estimates: .npz, flat .h5, SFV deepdish .h5
# --------------------------------------------------------------------------------------
def test_estimates_npz_and_flat_h5_round_trip(tmp_path):
    T = 7
    th = _theta(T)
    est = Estimates(cam=th[:, :3], pose=th[:, 3:75], betas=th[:, 75:], frames=np.arange(10, 17),
                    crop_scale=RNG.uniform(0.5, 2, T), crop_start=RNG.normal(size=(T, 2)) * 50)
    save_estimates_npz(str(tmp_path / "e.npz"), est)
    save_hmr_h5(str(tmp_path / "e.h5"), est)
    for got in (read_estimates_npz(str(tmp_path / "e.npz")), read_hmr_h5(str(tmp_path / "e.h5"))):
        for k in ("cam", "pose", "betas", "frames", "crop_scale", "crop_start"):
            np.testing.assert_allclose(getattr(got, k), getattr(est, k))
    # A user's plain npz: cams / poses as rotation matrices / shapes, no frames.
    rot = Rotation.from_rotvec(th[:, 3:75].reshape(-1, 3)).as_matrix().reshape(T, 24, 3, 3)
    np.savez(tmp_path / "user.npz", cams=th[:, :3], poses=rot, shapes=th[:, 75:])
    got = read_estimates(str(tmp_path / "user.npz"), reading_config())[0]
    np.testing.assert_allclose(got.pose, th[:, 3:75], atol=1e-9)
    assert got.frames is None and got.crop_scale is None


def _dd_save(group, name, value, compress_big=False):
    """What deepdish.io.save writes through PyTables, written with h5py (attrs as PyTables)."""
    def mkgroup(title):
        g = group.create_group(name)
        g.attrs.update(CLASS=np.bytes_(b"GROUP"), TITLE=np.bytes_(title.encode()), VERSION=np.bytes_(b"1.0"))
        return g
    if isinstance(value, dict):
        g = mkgroup(f"dict:{len(value)}")
        for k, v in value.items():
            if isinstance(k, str):
                _dd_save(g, k, v, compress_big)
            else:  # older deepdish: non-string keys as key/value pair groups
                pg = g.create_group(f"__pair_{hash(k)}")
                pg.attrs.update(CLASS=np.bytes_(b"GROUP"), TITLE=np.bytes_(b"keyvalue_pair"))
                pg.attrs["key"] = np.int64(k)
                _dd_save(pg, "value", v, compress_big)
    elif isinstance(value, (list, tuple)):
        g = mkgroup(f"{'list' if isinstance(value, list) else 'tuple'}:{len(value)}")
        for i, v in enumerate(value):
            _dd_save(g, f"i{i}", v, compress_big)
    elif isinstance(value, np.ndarray):
        kw = dict(compression="gzip", compression_opts=9, shuffle=True) if compress_big and value.size > 300 else {}
        ds = group.create_dataset(name, data=value, **kw)
        ds.attrs.update(CLASS=np.bytes_(b"CARRAY" if kw else b"ARRAY"), FLAVOR=np.bytes_(b"numpy"),
                        TITLE=np.bytes_(b""), VERSION=np.bytes_(b"2.4"))
    elif value is None:
        mkgroup("nonetype:")
    else:
        group.attrs[name] = value


def _sfv_result_dict(T):
    th = _theta(T).astype(np.float32)
    res = {}
    for i in range(T):
        res[i] = [{"theta": th[i:i + 1], "cams": th[i, :3], "joints": RNG.normal(size=(1, 19, 2)),
                   "joints3d": RNG.normal(size=(19, 3)), "verts": RNG.normal(size=(6890, 3)).astype(np.float32),
                   "op_kp": RNG.uniform(size=(25, 3)),
                   "proc_param": {"scale": [0.8 + 0.01 * i, 0.81 + 0.01 * i],
                                  "start_pt": np.array([100 + i, 50 - i]), "target_size": 224,
                                  "bbox": RNG.uniform(size=7), "op_kp": RNG.uniform(size=(25, 3))}}]
    return th, res


def test_sfv_deepdish_h5_pair_groups(tmp_path):
    T = 5
    th, res = _sfv_result_dict(T)
    path = str(tmp_path / "video.h5")
    with h5py.File(path, "w") as f:
        f.attrs["DEEPDISH_IO_VERSION"] = np.int64(8)
        f.attrs.update(CLASS=np.bytes_(b"GROUP"), TITLE=np.bytes_(b""), PYTABLES_FORMAT_VERSION=np.bytes_(b"2.1"))
        for k, v in res.items():  # top-level int keys as pair groups
            pg = f.create_group(f"__pair_{k}")
            pg.attrs.update(CLASS=np.bytes_(b"GROUP"), TITLE=np.bytes_(b"keyvalue_pair"))
            pg.attrs["key"] = np.int64(k)
            _dd_save(pg, "value", v, compress_big=True)
    est = read_hmr_h5(path)
    np.testing.assert_allclose(est.cam, th[:, :3], rtol=1e-6)
    np.testing.assert_allclose(est.pose, th[:, 3:75], rtol=1e-6)
    np.testing.assert_allclose(est.betas, th[:, 75:], rtol=1e-6)
    assert est.frames is None and est.crop_size == 224
    np.testing.assert_allclose(est.crop_scale, [0.805 + 0.01 * i for i in range(T)])
    np.testing.assert_allclose(est.crop_start, [[100 + i, 50 - i] for i in range(T)])


def test_sfv_deepdish_h5_pickled_top_level(tmp_path):
    T = 4
    th, res = _sfv_result_dict(T)
    for v in res.values():
        del v[0]["verts"]
    path = str(tmp_path / "video.h5")
    with h5py.File(path, "w") as f:  # newer deepdish: a non-native dict is pickled in a VLArray
        f.attrs["DEEPDISH_IO_DEEPDISH_IO_UNPACK"] = True
        ds = f.create_dataset("data", shape=(1,), dtype=h5py.vlen_dtype(np.uint8))
        ds[0] = np.frombuffer(pickle.dumps(res, protocol=2), dtype=np.uint8)
        ds.attrs.update(CLASS=np.bytes_(b"VLARRAY"), PSEUDOATOM=np.bytes_(b"object"))
    est = read_hmr_h5(path)
    np.testing.assert_allclose(est.pose, th[:, 3:75], rtol=1e-6)
    np.testing.assert_allclose(est.crop_start[2], [102, 48])


# --------------------------------------------------------------------------------------
# HMMR and VIBE pickles
# --------------------------------------------------------------------------------------
def test_hmmr_pickle(tmp_path):
    T = 6
    th = _theta(T).astype(np.float32)
    rot = Rotation.from_rotvec(th[:, 3:75].reshape(-1, 3)).as_matrix().reshape(T, 24, 3, 3)
    preds = {"cams": th[:, :3], "joints": RNG.normal(size=(T, 25, 3)), "kps": RNG.normal(size=(T, 25, 2)),
             "poses": rot.astype(np.float32), "shapes": th[:, 75:], "verts": np.zeros((T, 10, 3)),
             "omegas": th, "cams_delta": np.zeros((T, 2, 3))}
    path = tmp_path / "hmmr_output.pkl"
    path.write_bytes(pickle.dumps(preds))
    est = read_hmmr_pkl(str(path), frames=np.arange(3, 3 + T))
    np.testing.assert_allclose(est.pose, th[:, 3:75], rtol=1e-6)
    assert est.frames.tolist() == list(range(3, 9))
    assert read_estimates(str(path), reading_config())[0].num_frames == T
    del preds["omegas"]  # falls back to cams + rotation matrices + shapes
    path.write_bytes(pickle.dumps(preds))
    np.testing.assert_allclose(read_hmmr_pkl(str(path)).pose, th[:, 3:75], atol=1e-4)


class _JoblibLikePickler(pickle._Pickler):
    """joblib.numpy_pickle.NumpyPickler's file format: wrapper, BUILD, padding, raw bytes."""

    def __init__(self, f, protocol=4):
        super().__init__(f, protocol=protocol)
        self.fh = f

    def save(self, obj, save_persistent_id=True):
        if type(obj) is not np.ndarray:
            return super().save(obj, save_persistent_id)
        order = "F" if obj.flags.f_contiguous and not obj.flags.c_contiguous else "C"
        self.write(pickle.GLOBAL + b"joblib.numpy_pickle\nNumpyArrayWrapper\n" + pickle.EMPTY_TUPLE + pickle.NEWOBJ)
        super().save({"subclass": np.ndarray, "shape": obj.shape, "order": order, "dtype": obj.dtype,
                      "allow_mmap": True, "numpy_array_alignment_bytes": 16})
        self.write(pickle.BUILD)
        self.framer.commit_frame(force=True)
        pad = 16 - (self.fh.tell() + 1) % 16
        self.fh.write(bytes([pad]) + b"\xff" * pad)
        self.fh.write(obj.tobytes(order="F" if order == "F" else "C"))


def _vibe_results(n_people=2):
    out, truth = {}, {}
    for pid, (start, T) in zip((1, 3), ((0, 8), (5, 6))):
        th = _theta(T).astype(np.float32)
        bb = np.column_stack([RNG.uniform(200, 400, T), RNG.uniform(200, 300, T),
                              np.full(T, 120.0), np.full(T, 120.0)])
        out[pid] = {"pred_cam": th[:, :3], "orig_cam": RNG.normal(size=(T, 4)),
                    "verts": RNG.normal(size=(T, 50, 3)).astype(np.float32), "pose": th[:, 3:75],
                    "betas": np.asfortranarray(th[:, 75:]), "joints3d": RNG.normal(size=(T, 49, 3)),
                    "joints2d": None, "bboxes": bb, "frame_ids": np.arange(start, start + T)}
        truth[pid] = th
    return out, truth


@pytest.mark.parametrize("compress", [False, True])
def test_vibe_joblib_pickle(tmp_path, compress):
    res, truth = _vibe_results()
    buf = io.BytesIO()
    _JoblibLikePickler(buf).dump(res)
    data = zlib.compress(buf.getvalue()) if compress else buf.getvalue()
    path = tmp_path / "vibe_output.pkl"
    path.write_bytes(data)
    ests = read_vibe_pkl(str(path), reading_config())
    assert [e.track_id for e in ests] == [1, 3]
    for e in ests:
        th = truth[e.track_id]
        np.testing.assert_allclose(e.cam, th[:, :3], rtol=1e-6)
        np.testing.assert_allclose(e.betas, th[:, 75:], rtol=1e-6)
        bb = res[e.track_id]["bboxes"]
        # The box center maps to the crop center, the box side to 224 / 1.1.
        c = bb[:, :2] * e.crop_scale[:, None] - e.crop_start
        np.testing.assert_allclose(c, 112.0)
        np.testing.assert_allclose(bb[:, 2] * e.crop_scale, 224 / 1.1)
    assert ests[1].frames.tolist() == list(range(5, 11))
    other = tmp_path / "person_results.pkl"  # any name: read_estimates looks at the content
    other.write_bytes(data)
    assert [e.track_id for e in read_estimates(str(other), reading_config())] == [1, 3]


def test_vibe_with_real_joblib(tmp_path):
    joblib = pytest.importorskip("joblib")
    res, truth = _vibe_results()
    joblib.dump(res, tmp_path / "vibe_output.pkl")
    ests = read_vibe_pkl(str(tmp_path / "vibe_output.pkl"), reading_config())
    np.testing.assert_allclose(ests[0].pose, truth[1][:, 3:75], rtol=1e-6)


def test_malicious_pickles_are_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for name, reader in (("vibe_output.pkl", lambda p: read_vibe_pkl(p, reading_config())),
                         ("hmmr_output.pkl", read_hmmr_pkl)):
        p = tmp_path / name
        p.write_bytes(pickle.dumps({"x": Evil()}))
        with pytest.raises(pickle.UnpicklingError, match=f"{name}: refusing to load global"):
            reader(str(p))
        assert not marker.exists()


# --------------------------------------------------------------------------------------
# Tracks, estimates attached, own .npz
# --------------------------------------------------------------------------------------
def _short_cfg():
    cfg = tracking_config()
    cfg.min_track_frames = 3
    cfg.min_track_score = 0.2
    return cfg


def test_attach_estimates_and_track_npz_round_trip(tmp_path):
    people = _people(12, 2)
    tracks = track_people(people, (480, 640), _short_cfg(), fps=25.0, source="clip_json", video="clip")
    assert len(tracks) == 2
    th = _theta(12)
    est = Estimates(cam=th[:, :3], pose=th[:, 3:75], betas=th[:, 75:], source="hmr.npz")
    t0 = attach_estimates(tracks[0], est)
    assert t0.has_estimates
    np.testing.assert_allclose(t0.crop_scale, tracks[0].crop_scale)  # kept the track's crops
    est_f = Estimates(cam=th[:, :3], pose=th[:, 3:75], betas=th[:, 75:], frames=np.arange(12),
                      crop_scale=np.full(12, 0.7), crop_start=np.zeros((12, 2)), source="vibe")
    t1 = attach_estimates(tracks[1].slice(2, 9), est_f)
    np.testing.assert_allclose(t1.pose, th[2:9, 3:75])
    np.testing.assert_allclose(t1.crop_scale, 0.7)
    path = str(tmp_path / "tracks.npz")
    save_tracks(path, [t0, t1])
    back = load_tracks(path)
    assert [b.track_id for b in back] == [t0.track_id, t1.track_id]
    for a, b in zip((t0, t1), back):
        for k in ("frames", "keypoints", "boxes", "observed", "pose", "betas", "cam", "crop_scale",
                  "crop_start"):
            np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
        assert (a.image_size, a.fps, a.video, a.crop_size) == (b.image_size, b.fps, b.video, b.crop_size)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_frame_count_mismatch_and_missing_frames_are_named(tmp_path):
    t = track_people(_people(12, 1), (480, 640), _short_cfg(), source="op_json/clip")[0]
    th = _theta(10)
    est = Estimates(cam=th[:, :3], pose=th[:, 3:75], betas=th[:, 75:], source="clip_hmr.h5")
    with pytest.raises(InputError, match=r"clip_hmr.h5: 10 estimates, but the track 0 from "
                                         r"op_json/clip has 12 frames \(0..11\)"):
        attach_estimates(t, est)
    est = Estimates(cam=th[:, :3], pose=th[:, 3:75], betas=th[:, 75:], frames=np.arange(10),
                    crop_scale=np.ones(10), crop_start=np.zeros((10, 2)), source="vibe_output.pkl person 1")
    with pytest.raises(InputError, match=r"vibe_output.pkl person 1: no estimate for frame 10 of track 0"):
        attach_estimates(t, est)


def test_nan_values_are_named_by_frame():
    kp = keypoints_in_boxes(np.tile([[0, 0, 50, 100]], (4, 1)))
    kp[2, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"clip.json: keypoints has NaN/inf at frame 12"):
        Track(frames=np.arange(10, 14), keypoints=kp, boxes=np.tile([[0, 0, 50, 100]], (4, 1)),
              image_size=(480, 640), source="clip.json")
    th = _theta(3)
    th[1, 10] = np.inf
    with pytest.raises(InputError, match=r"h.npz: pose has NaN/inf at row 1 \(frame 8\)"):
        Estimates(cam=th[:, :3], pose=th[:, 3:75], betas=th[:, 75:], frames=[7, 8, 9], source="h.npz")
    with pytest.raises(ValueError, match="strictly increasing; frame 3 follows 5"):
        Track(frames=[1, 5, 3, 6], keypoints=kp, boxes=np.tile([[0, 0, 50, 100]], (4, 1)), image_size=(4, 4))
