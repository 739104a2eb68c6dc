"""Tracker: boxes, IoU/NMS arithmetic, identities through crossings and occlusion, gaps,
filters, smoothing and SFV's HMR crops."""
from __future__ import annotations

import numpy as np
import pytest

from sfv_jax import skeletons
from sfv_jax.geometry.crops import crop_to_image, hmr_crop, image_to_crop
from sfv_jax.inputs import (Detections, box_iou, boxes_from_keypoints, nms, track_people,
                            tracking_config, with_crops)
from sfv_jax.inputs.synthetic import keypoints_in_boxes
from sfv_jax.inputs.tracker import smooth_trajectory

IMAGE = (480, 640)


def test_box_iou_values_and_corner_arithmetic():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10],     # half overlap in x: 50 / 150
                  [0, 5, 10, 15],     # half overlap in y only (the original mixed x/y corners)
                  [20, 20, 30, 30],   # disjoint
                  [0, 0, 10, 10]])
    np.testing.assert_allclose(box_iou(a, b)[0], [1 / 3, 1 / 3, 0.0, 1.0])
    # A box far below shares no area even though its x range matches.
    assert box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 100, 10, 110]]))[0, 0] == 0.0


def test_nms_keeps_best_and_disjoint():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9]])
    scores = np.array([0.5, 0.9, 0.3, 0.4])
    keep = nms(boxes, scores, 0.5)
    assert keep.tolist() == [1, 2]


def test_boxes_from_keypoints_validity_and_padding():
    kp = keypoints_in_boxes(np.array([[100, 100, 140, 200], [0, 0, 10, 10]]), 0.9)
    kp[1, 4:, 2] = 0.0  # second person: only 4 visible points
    boxes, scores, valid = boxes_from_keypoints(kp, vis_thresh=0.1, min_visible=5, pad=0.1)
    assert valid.tolist() == [True, False]
    np.testing.assert_allclose(scores[0], 0.9)
    lo = kp[0, :, :2].min(0)
    hi = kp[0, :, :2].max(0)
    grow = 0.1 * (hi - lo).max()
    np.testing.assert_allclose(boxes[0], [*(lo - grow), *(hi + grow)])


def _crossing_scene(seed: int = 0, occlude=range(28, 38), T: int = 60, same_size: bool = False):
    """Person A walks right, B walks left; they cross around frame 33 while B is hidden.
    With ``same_size`` B looks exactly like A (only motion tells them apart)."""
    rng = np.random.default_rng(seed)
    people, truth = {}, {0: {}, 1: {}}
    for f in range(T):
        xa, xb = 100.0 + 6 * f, 500.0 - 6 * f
        boxes = [[xa, 200, xa + 40, 300]]
        truth[0][f] = boxes[0]
        if f not in occlude:
            boxes.append([xb, 200, xb + 40, 300] if same_size else [xb, 206, xb + 46, 318])
            truth[1][f] = boxes[1]
        kp = keypoints_in_boxes(np.array(boxes), 0.8, jitter_px=1.5, seed=seed * 1000 + f)
        people[f] = kp[rng.permutation(len(boxes))]  # detector order means nothing
    return people, truth


# Seeds 19 and 34 of the look-alike scene put A exactly where B's prediction is during the
# occlusion: without the tracker's gap penalty the unseen track steals A's detection.
@pytest.mark.parametrize("seed,same_size", [(0, False), (1, False), (2, False), (19, True),
                                            (34, True)])
def test_crossing_with_occlusion_keeps_identities(seed, same_size):
    people, truth = _crossing_scene(seed, same_size=same_size)
    tracks = track_people(people, IMAGE, tracking_config(), fps=30.0, source="synthetic")
    assert len(tracks) == 2
    for t in tracks:
        centers = 0.5 * (t.keypoints[:, 11, :2] + t.keypoints[:, 14, :2])  # ankles
        # Which true person is this track? Decide on the first frame, then check every frame.
        owner = min(truth, key=lambda p: abs(np.mean(truth[p][t.frames[0]][::2]) - centers[0, 0]))
        for i, f in enumerate(t.frames):
            if t.observed[i]:
                true_x = np.mean(truth[owner][f][::2])
                assert abs(centers[i, 0] - true_x) < 8, (seed, owner, f)
        expected = sorted(truth[owner])
        assert t.frames[0] == expected[0] and t.frames[-1] == expected[-1]
        assert int(t.observed.sum()) == len(expected)
    b = next(t for t in tracks if not t.observed.all())
    gap = ~b.observed
    assert gap.sum() == 10
    # Gap frames: keypoints have zero confidence, the box follows B's true path.
    assert np.all(b.keypoints[gap] == 0)
    true_cx = 500.0 - 6 * b.frames[gap] + (20 if same_size else 23)
    np.testing.assert_allclose(0.5 * (b.boxes[gap, 0] + b.boxes[gap, 2]), true_cx, atol=6)


def test_gap_longer_than_max_gap_splits_track():
    people, _ = _crossing_scene(occlude=range(20, 45))
    cfg = tracking_config()
    cfg.max_gap = 10
    tracks = track_people(people, IMAGE, cfg)
    assert len(tracks) == 3
    cfg.max_gap = 30
    assert len(track_people(people, IMAGE, cfg)) == 2


def test_filters_drop_short_and_unconfident_tracks():
    people, _ = _crossing_scene(occlude=())
    # A spurious 3-frame person and a faint person present all the time.
    for f in range(60):
        extra = [keypoints_in_boxes(np.array([[300, 20, 330, 80]]), 0.15)[0]]
        if 10 <= f < 13:
            extra.append(keypoints_in_boxes(np.array([[20, 380, 50, 460]]), 0.9)[0])
        people[f] = np.concatenate([people[f], np.stack(extra)])
    cfg = tracking_config()
    tracks = track_people(people, IMAGE, cfg)
    assert len(tracks) == 2
    cfg.min_track_score = 0.1
    cfg.min_track_frames = 3
    cfg.min_track_fraction = 0.0
    assert len(track_people(people, IMAGE, cfg)) == 4


def test_nms_merges_duplicate_detections():
    people, _ = _crossing_scene(occlude=())
    dup = {f: np.concatenate([kp, kp[:1] + np.array([1.0, 1.0, -0.1])]) for f, kp in people.items()}
    assert len(track_people(dup, IMAGE, tracking_config())) == 2


def test_smoothing_constant_is_exact_and_jitter_shrinks():
    const = np.tile([[100.0, 200.0, 40.0, 100.0, 1.2]], (30, 1))
    np.testing.assert_allclose(smooth_trajectory(const, 11, 3.0), const)  # no edge bias
    rng = np.random.default_rng(0)
    t = np.arange(80.0)
    noisy = np.stack([3.0 * t + rng.normal(0, 3, t.size), 50 + rng.normal(0, 3, t.size)], 1)
    sm = smooth_trajectory(noisy, 11, 3.0)
    assert np.abs(np.diff(sm, 2, axis=0)).mean() < 0.2 * np.abs(np.diff(noisy, 2, axis=0)).mean()
    assert smooth_trajectory(noisy[:4], 11, 3.0).shape == (4, 2)  # kernel shrinks to fit


def test_hmr_crop_matches_sfv_preprocessing():
    H, W = 576, 768
    center = np.array([[300.3, 250.7], [10.0, 500.0]])
    diag = np.array([90.0, 200.0])
    scale = 150.0 / diag
    crop_scale, crop_start = hmr_crop(center, scale, 224, image_size=(H, W))
    for i in range(2):
        # SFV: resize with floored sizes, factors per axis, round the scaled center, 112 margin.
        nh, nw = np.floor(H * scale[i]), np.floor(W * scale[i])
        fx, fy = nw / W, nh / H
        start = np.round(center[i] * [fx, fy]) - 112
        np.testing.assert_allclose(crop_start[i], start)
        np.testing.assert_allclose(crop_scale[i], 0.5 * (fx + fy))
    # The person's center lands at the crop center (to the rounding), and maps back.
    c_crop = image_to_crop(center[:, None], crop_scale, crop_start)[:, 0]
    np.testing.assert_allclose(c_crop, 112.0, atol=1.0)
    np.testing.assert_allclose(crop_to_image(c_crop[:, None], crop_scale, crop_start)[:, 0], center)
    with pytest.raises(ValueError, match="finite and > 0"):
        hmr_crop(center, np.array([1.0, np.inf]), image_size=(H, W))


def test_track_crops_put_person_at_150px():
    people, _ = _crossing_scene(occlude=())
    t = track_people(people, IMAGE, tracking_config())[0]
    vis = t.keypoints[..., 2] > 0.1
    for i in range(0, t.num_frames, 10):
        crop = image_to_crop(t.keypoints[i:i + 1, vis[i], :2], t.crop_scale[i:i + 1],
                             t.crop_start[i:i + 1])[0]
        diag = np.linalg.norm(crop.max(0) - crop.min(0))
        assert 140 < diag < 160
        assert np.all(np.abs(crop.mean(0) - 112) < 25)


def test_source_ids_are_used_when_present():
    people, _ = _crossing_scene(occlude=())
    # Give swapped ids at frame 15 (the two are 220 px apart): the tracker must follow the
    # source, not its own matching.
    ids = {}
    for f, kp in people.items():
        x = kp[:, :, 0].mean(axis=1)
        xa, xb = 120.0 + 6 * f, 523.0 - 6 * f  # the true box centres of A and B
        a_first = abs(x[0] - xa) + abs(x[1] - xb) < abs(x[0] - xb) + abs(x[1] - xa)
        is_a = np.array([a_first, not a_first])
        ids[f] = np.where(is_a, 7, 9) if f < 15 else np.where(is_a, 9, 7)
    dets = Detections(people=people, ids=ids, source="poseflow.json")
    tracks = track_people(dets, IMAGE, tracking_config())
    assert len(tracks) == 2
    for t in tracks:
        x = t.keypoints[:, 0, 0]
        jump = np.abs(np.diff(x)).max()
        assert jump > 100  # the swap is kept, as the source said
    cfg = tracking_config()
    cfg.use_source_ids = False
    for t in track_people(dets, IMAGE, cfg):
        x = t.keypoints[t.observed, 0, 0]  # NMS may drop one of two fully overlapping people
        assert np.abs(np.diff(x)).max() < 30


def test_other_formats_and_empty_input():
    people, _ = _crossing_scene(occlude=())
    coco = {f: skeletons.convert_keypoints(kp, "body25", "coco18") for f, kp in people.items()}
    tracks = track_people(coco, IMAGE, tracking_config(), keypoint_format="coco18")
    assert len(tracks) == 2 and tracks[0].keypoints.shape[1:] == (25, 3)
    empty = {f: np.zeros((0, 25, 3)) for f in range(5)}
    with pytest.warns(UserWarning, match="no tracks"):
        assert track_people(empty, IMAGE, tracking_config(), source="clip.json") == []


def test_nan_keypoints_in_a_mapping_are_missing_with_warning():
    people, _ = _crossing_scene(occlude=())
    people[5] = people[5].copy()
    people[5][1, 7, 0] = np.nan
    with pytest.warns(UserWarning, match=r"cam1.json: frames with NaN/inf keypoints: frame 5 "
                                          r"person 1: keypoints \[7\] are NaN"):
        tracks = track_people(people, IMAGE, tracking_config(), source="cam1.json")
    assert len(tracks) == 2 and all(np.isfinite(t.keypoints).all() for t in tracks)
    with pytest.raises(ValueError, match=r"cam1.json: frame 0: keypoints must be \(P, K, 3\)"):
        track_people({0: np.zeros((2, 25, 2))}, IMAGE, tracking_config(), source="cam1.json")


def test_with_crops_rebuilds_the_trackers_crops():
    people, _ = _crossing_scene()
    cfg = tracking_config()
    for t in track_people(people, IMAGE, cfg):
        bare = t.replace(crop_scale=None, crop_start=None, boxes=np.zeros_like(t.boxes))
        again = with_crops(bare, cfg)
        np.testing.assert_allclose(again.crop_scale, t.crop_scale)
        np.testing.assert_allclose(again.crop_start, t.crop_start)
        np.testing.assert_allclose(again.boxes, t.boxes)
    blind = t.replace(keypoints=np.zeros_like(t.keypoints), source="user.npz")
    with pytest.raises(ValueError, match="user.npz \\(track 1\\): no frame has 5 keypoints"):
        with_crops(blind, cfg)
