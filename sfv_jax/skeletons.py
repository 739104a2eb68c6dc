"""Static skeleton facts: SMPL's kinematic tree and the 2D keypoint formats of the field.

Bottom layer: plain Python and NumPy, no JAX. Everything here is static metadata (tuples
of names and indices) so that it can live in pytree aux data without causing retraces.

Keypoint formats:
  - ``cocoplus``  (19): HMR's order, LSP-14 then 5 face points; what SFV fits.
  - ``body25``    (25): OpenPose BODY_25.
  - ``coco18``    (18): OpenPose COCO-18 (the older OpenPose model).
  - ``coco17``    (17): MS-COCO / AlphaPose order.
  - ``mediapipe33`` (33): MediaPipe Pose landmarks.

All formats are expressed over one vocabulary of canonical point names (``CANONICAL``),
so a conversion is an index map: points the source lacks get zero confidence, except
``neck`` and ``mid_hip`` which are synthesized as shoulder / hip midpoints when the
source has both sides (their confidence is the smaller of the two).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

# --------------------------------------------------------------------------------------
# SMPL
# --------------------------------------------------------------------------------------
SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
# Parent of each SMPL joint (-1 for the root); SMPL's kintree_table[0].
SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)
NUM_SMPL_JOINTS = 24
NUM_BETAS = 10
NUM_POSE_BLEND = 207  # 23 joints x 9 entries of (R - I)

# --------------------------------------------------------------------------------------
# Keypoint formats over one canonical vocabulary
# --------------------------------------------------------------------------------------
CANONICAL: tuple[str, ...] = (
    "nose", "neck", "head_top",
    "right_eye", "left_eye", "right_ear", "left_ear",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip", "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
    # MediaPipe-only points
    "left_eye_inner", "left_eye_outer", "right_eye_inner", "right_eye_outer",
    "mouth_left", "mouth_right",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_foot_index", "right_foot_index",
)

FORMATS: dict[str, tuple[str, ...]] = {
    # HMR's cocoplus-19: LSP 14 + nose, eyes, ears.
    "cocoplus": (
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
        "left_wrist", "neck", "head_top", "nose", "left_eye", "right_eye", "left_ear",
        "right_ear",
    ),
    "body25": (
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
        "left_elbow", "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle",
        "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear",
        "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
        "right_small_toe", "right_heel",
    ),
    "coco18": (
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
        "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
        "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    "coco17": (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    "mediapipe33": (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner",
        "right_eye", "right_eye_outer", "left_ear", "right_ear", "mouth_left",
        "mouth_right", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index",
        "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee",
        "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
        "left_foot_index", "right_foot_index",
    ),
}

# Points that can be synthesized as the midpoint of two others.
_MIDPOINTS: dict[str, tuple[str, str]] = {
    "neck": ("left_shoulder", "right_shoulder"),
    "mid_hip": ("left_hip", "right_hip"),
}


def keypoint_names(fmt: str) -> tuple[str, ...]:
    """Names of the points of format ``fmt`` in its order."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown keypoint format {fmt!r}; known: {sorted(FORMATS)}")
    return FORMATS[fmt]


def num_keypoints(fmt: str) -> int:
    return len(keypoint_names(fmt))


def flip_permutation(fmt: str) -> np.ndarray:
    """Index map that swaps left and right points of ``fmt`` (for mirrored images)."""
    names = keypoint_names(fmt)
    idx = {n: i for i, n in enumerate(names)}
    perm = []
    for n in names:
        if n.startswith("left_"):
            m = "right_" + n[len("left_"):]
        elif n.startswith("right_"):
            m = "left_" + n[len("right_"):]
        else:
            m = n
        perm.append(idx.get(m, idx[n]))
    return np.asarray(perm, dtype=np.int64)


def convert_keypoints(kp: np.ndarray, src: str, dst: str,
                      synthesize_midpoints: bool = True) -> np.ndarray:
    """Reorders keypoints from format ``src`` to format ``dst``.

    Args:
      kp: (..., K_src, 3) array of x, y, confidence (or (..., K_src, C) with the last
        channel a confidence; every channel is carried over).
      src, dst: format names from ``FORMATS``.
      synthesize_midpoints: fill ``neck`` / ``mid_hip`` from shoulders / hips when the
        source lacks them; confidence is the smaller of the two sides.

    Returns:
      (..., K_dst, C) array; points ``src`` lacks are zero (confidence 0).
    """
    src_names, dst_names = keypoint_names(src), keypoint_names(dst)
    kp = np.asarray(kp)
    if kp.shape[-2] != len(src_names):
        raise ValueError(f"expected {len(src_names)} {src} keypoints, got shape {kp.shape}")
    src_idx = {n: i for i, n in enumerate(src_names)}
    out = np.zeros(kp.shape[:-2] + (len(dst_names), kp.shape[-1]), dtype=kp.dtype)
    for j, name in enumerate(dst_names):
        if name in src_idx:
            out[..., j, :] = kp[..., src_idx[name], :]
        elif synthesize_midpoints and name in _MIDPOINTS:
            a, b = _MIDPOINTS[name]
            if a in src_idx and b in src_idx:
                pa, pb = kp[..., src_idx[a], :], kp[..., src_idx[b], :]
                out[..., j, :-1] = 0.5 * (pa[..., :-1] + pb[..., :-1])
                out[..., j, -1] = np.minimum(pa[..., -1], pb[..., -1])
    return out


def conversion_matrix(src: str, dst: str) -> np.ndarray:
    """(K_dst, K_src) linear map of positions from ``src`` to ``dst`` (midpoints included).

    Rows of points ``src`` lacks are zero. Usable on model keypoints inside JAX code.
    """
    src_names, dst_names = keypoint_names(src), keypoint_names(dst)
    src_idx = {n: i for i, n in enumerate(src_names)}
    m = np.zeros((len(dst_names), len(src_names)))
    for j, name in enumerate(dst_names):
        if name in src_idx:
            m[j, src_idx[name]] = 1.0
        elif name in _MIDPOINTS and all(s in src_idx for s in _MIDPOINTS[name]):
            for s in _MIDPOINTS[name]:
                m[j, src_idx[s]] = 0.5
    return m


def limb_pairs(fmt: str) -> tuple[tuple[int, int], ...]:
    """Pairs of point indices to draw as bones for format ``fmt``."""
    bones = (
        ("neck", "nose"), ("nose", "right_eye"), ("nose", "left_eye"),
        ("right_eye", "right_ear"), ("left_eye", "left_ear"), ("neck", "head_top"),
        ("neck", "right_shoulder"), ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"), ("neck", "left_shoulder"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("neck", "mid_hip"), ("mid_hip", "right_hip"), ("mid_hip", "left_hip"),
        ("right_shoulder", "right_hip"), ("left_shoulder", "left_hip"),
        ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("right_ankle", "right_heel"), ("right_ankle", "right_big_toe"),
        ("right_big_toe", "right_small_toe"), ("left_ankle", "left_heel"),
        ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"),
        ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
        ("right_ankle", "right_foot_index"), ("left_ankle", "left_foot_index"),
    )
    idx = {n: i for i, n in enumerate(keypoint_names(fmt))}
    out = []
    for a, b in bones:
        if a in idx and b in idx:
            # Skip torso diagonals when a proper neck/mid-hip chain exists.
            if {a, b} in ({"right_shoulder", "right_hip"}, {"left_shoulder", "left_hip"}) \
                    and "neck" in idx and "mid_hip" in idx:
                continue
            out.append((idx[a], idx[b]))
    return tuple(out)


def is_left(names: Sequence[str]) -> np.ndarray:
    """Boolean mask of points on the body's left side (for drawing colours)."""
    return np.asarray([n.startswith("left_") for n in names])
