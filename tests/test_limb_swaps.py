"""Left/right limb swaps of a detector, found and undone along a track (inputs.limb_swaps),
on a procedural walker whose legs and arms swing past each other (the case where a careless
repair would relabel correct frames), seen from the side and from the front."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from sfv_jax import skeletons
from sfv_jax.inputs import TrackingSettings, limb_swaps, track_people, tracking_config

NAMES = skeletons.keypoint_names("body25")
IX = {n: i for i, n in enumerate(NAMES)}
SETTINGS = dict(min_confidence=0.1, motion_scale=0.05, swap_cost=2.0, cap=4.0)


def walker(frames: int = 120, view: str = "side", seed: int = 0, noise_px: float = 1.5,
           fps: float = 30.0) -> np.ndarray:
    """(T, 25, 3) BODY_25 px of a person walking across the image (~400 px tall): legs and arms
    swing in opposite phase at 1 stride/s, so the two legs cross every half stride."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    phase = 2 * np.pi * 1.0 * t
    kp = np.zeros((frames, 25, 3))
    # Side view: left and right nearly coincide (a little depth offset); front: apart.
    half = {"side": 6.0, "front": 40.0}[view]
    cx = 150 + 60 * t * (1 if view == "side" else 0.2)
    hip_y, sh_y = 300.0, 150.0

    def put(name: str, x: np.ndarray, y: np.ndarray) -> None:
        kp[:, IX[name], 0], kp[:, IX[name], 1], kp[:, IX[name], 2] = x, y, 0.9

    put("neck", cx, np.full(frames, sh_y - 5))
    put("nose", cx + (12 if view == "side" else 0), np.full(frames, sh_y - 45))
    put("mid_hip", cx, np.full(frames, hip_y))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        swing = 0.45 * np.sin(phase) * sign            # thigh angle from vertical, radians
        knee_bend = 0.35 * (1 + np.sin(phase + np.pi / 2) * sign)
        dx = sign * half if view == "front" else sign * half * 0.3
        hip = (cx + dx, np.full(frames, hip_y))
        knee = (hip[0] + 95 * np.sin(swing), hip[1] + 95 * np.cos(swing))
        shin = swing - knee_bend
        ankle = (knee[0] + 90 * np.sin(shin), knee[1] + 90 * np.cos(shin))
        put(f"{side}_hip", *hip)
        put(f"{side}_knee", *knee)
        put(f"{side}_ankle", *ankle)
        put(f"{side}_heel", ankle[0] - 8, ankle[1] + 6)
        put(f"{side}_big_toe", ankle[0] + 22, ankle[1] + 10)
        put(f"{side}_small_toe", ankle[0] + 18, ankle[1] + 10)
        arm = -0.4 * np.sin(phase) * sign
        sh = (cx + dx * 1.2, np.full(frames, sh_y))
        el = (sh[0] + 70 * np.sin(arm), sh[1] + 70 * np.cos(arm))
        wr = (el[0] + 65 * np.sin(arm + 0.3), el[1] + 65 * np.cos(arm + 0.3))
        put(f"{side}_shoulder", *sh)
        put(f"{side}_elbow", *el)
        put(f"{side}_wrist", *wr)
        put(f"{side}_eye", cx + dx * 0.2 + (10 if view == "side" else 0),
            np.full(frames, sh_y - 50))
        put(f"{side}_ear", cx + dx * 0.3, np.full(frames, sh_y - 45))
    kp[..., :2] += noise_px * rng.standard_normal(kp[..., :2].shape)
    return kp


def swap(kp: np.ndarray, frame: int, parts: tuple[str, ...]) -> None:
    for p in parts:
        a, b = IX["left_" + p], IX["right_" + p]
        kp[frame, [a, b]] = kp[frame, [b, a]]


LEGS = ("hip", "knee", "ankle", "heel", "big_toe", "small_toe")
LOWER_LEGS = LEGS[1:]
ARMS = ("shoulder", "elbow", "wrist")


@pytest.mark.parametrize("view", ["side", "front"])
def test_a_clean_walk_is_left_as_detected(view):
    """Legs and arms cross each other every half stride: no frame may be relabelled."""
    kp = walker(240, view)
    labels = limb_swaps.find_swaps(kp, NAMES, **SETTINGS)
    assert set(labels) == {"arms", "legs"}
    assert all(not v.any() for v in labels.values())


@pytest.mark.parametrize("view", ["side", "front"])
def test_swaps_of_every_kind_are_found_and_undone(view):
    clean = walker(150, view, seed=1)
    kp = clean.copy()
    events = {"legs": {10: 1, 47: 2, 48: 2, 49: 2, 90: 1}, "arms": {20: 1, 70: 1, 71: 1}}
    for t in events["legs"]:
        swap(kp, t, LEGS if events["legs"][t] == 1 else LOWER_LEGS)
    for t in events["arms"]:
        swap(kp, t, ARMS)
    labels = limb_swaps.find_swaps(kp, NAMES, **SETTINGS)
    for group, ev in events.items():
        expect = np.zeros(len(kp), np.int64)
        expect[list(ev)] = list(ev.values())
        # In a side view left and right hips / shoulders almost coincide, so a whole-group
        # swap and a distal-only one both undo it; either is right there.
        got = labels[group]
        if view == "side":
            assert np.array_equal(got > 0, expect > 0), (group, np.flatnonzero(got))
        else:
            assert np.array_equal(got, expect), (group, np.flatnonzero(got), got[got > 0])
    fixed = limb_swaps.undo_swaps(kp, NAMES, labels)
    err = np.abs(fixed[..., :2] - clean[..., :2]).max()
    assert err < (20.0 if view == "side" else 1e-9)


def test_an_unseen_point_costs_nothing_and_confidences_move_with_points():
    kp = walker(60, "front", seed=2)
    kp[30, IX["left_elbow"], 2] = 0.0          # a dropped point inside the swap
    swap(kp, 30, ARMS)
    labels = limb_swaps.find_swaps(kp, NAMES, **SETTINGS)
    assert np.flatnonzero(labels["arms"]).tolist() == [30]
    fixed = limb_swaps.undo_swaps(kp, NAMES, labels)
    # The dropped point is the left elbow again (the detector had put it on the right).
    assert fixed[30, IX["left_elbow"], 2] == 0.0 and fixed[30, IX["right_elbow"], 2] == 0.9


def test_off_and_degenerate_inputs_change_nothing():
    kp = walker(40, "front")
    swap(kp, 20, LEGS)
    off = dataclasses.replace(TrackingSettings.from_config(tracking_config()), swap_cost=0.0)
    fixed, labels = limb_swaps.repair_swaps(kp, NAMES, off)
    assert np.array_equal(fixed, kp) and not any(v.any() for v in labels.values())
    one = limb_swaps.find_swaps(kp[:1], NAMES, **SETTINGS)
    assert all(v.tolist() == [0] for v in one.values())
    empty = np.zeros((10, 25, 3))
    assert all(not v.any() for v in limb_swaps.find_swaps(empty, NAMES, **SETTINGS).values())
    # Formats without both sides of a limb have no group for it (cocoplus has arms and legs).
    assert set(limb_swaps.group_pairs(skeletons.keypoint_names("cocoplus"))) == {"arms", "legs"}


def test_the_tracker_undoes_swaps_and_says_so():
    kp = walker(60, "front", seed=3)
    clean = kp.copy()
    swap(kp, 25, LOWER_LEGS)
    frames = {t: kp[t][None] for t in range(len(kp))}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracks = track_people(frames, (480, 640), tracking_config(), fps=30.0,
                              keypoint_format="body25", source="walk.json")
    assert len(tracks) == 1
    np.testing.assert_allclose(tracks[0].keypoints[25], clean[25], atol=1e-9)
    msgs = [str(w.message) for w in caught if "swapped back" in str(w.message)]
    assert msgs == ["walk.json: the detector's left and right legs swapped back: track 0 frame 25"]
    cfg = tracking_config()
    cfg.swap_cost = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept = track_people(frames, (480, 640), cfg, fps=30.0, keypoint_format="body25")
    np.testing.assert_allclose(kept[0].keypoints[25], kp[25], atol=1e-9)
