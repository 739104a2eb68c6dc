"""Length buckets and padding: many clips of different lengths -> a few fixed array shapes.

Each bucket shape (clips C, frames T) is compiled once. Padded frames repeat the clip's last
real frame (so the forward pass stays finite) and carry ``frame_mask = 0``; padded clips repeat
the batch's first clip with an all-zero mask (every term is then 0, so is its gradient).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from sfv_jax import chunking
from sfv_jax.solver.clips import Clip, normalized_keypoints


def bucket_length(num_frames: int, buckets: Sequence[int]) -> int:
    """Smallest bucket >= ``num_frames``; past the largest, the next multiple of the largest."""
    for b in sorted(buckets):
        if num_frames <= b:
            return int(b)
    top = int(max(buckets))
    return -(-num_frames // top) * top


def padded_clip_count(num_clips: int, num_devices: int, max_clips: int) -> int:
    """Clip count of a batch: a power of two times the device count, capped at ``max_clips``
    rounded up to a multiple of the device count (few shapes, even shards)."""
    cap = -(-max(max_clips, 1) // num_devices) * num_devices
    per_device = -(-num_clips // num_devices)
    pow2 = 1 << (per_device - 1).bit_length()
    return min(pow2 * num_devices, cap)


@dataclasses.dataclass(frozen=True)
class BatchPlan:
    """Clips (indices into the caller's list) solved together at one padded shape."""
    length: int                 # padded frames T
    num_clips: int              # padded clip count C
    indices: tuple[int, ...]    # real clips, in batch order (the first len(indices) slots)


def plan_batches(lengths: Sequence[int], buckets: Sequence[int], num_devices: int,
                 max_clips: int, clips_per_device: int = 0) -> list[BatchPlan]:
    """Groups clips by bucket length and splits each group into batches.

    With ``clips_per_device`` > 0 every batch holds exactly ``clips_per_device * num_devices``
    clips (padded with masked copies): each device then always runs the same array shapes, so
    a clip's result is bitwise the same whichever clips share its batch - across process
    counts, device counts and resumed runs. With 0, batches hold at most ``max_clips`` clips,
    padded to a power of two per device (less padding, results equal only to rounding).
    """
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        groups.setdefault(bucket_length(int(n), buckets), []).append(i)
    if clips_per_device > 0:
        cap = clips_per_device * num_devices
    else:
        cap = -(-max(max_clips, 1) // num_devices) * num_devices
    plans = []
    for length in sorted(groups):
        idx = groups[length]
        for start in range(0, len(idx), cap):
            part = tuple(idx[start:start + cap])
            count = cap if clips_per_device > 0 else \
                padded_clip_count(len(part), num_devices, max_clips)
            plans.append(BatchPlan(length, count, part))
    return plans


def stack_batch(clips: Sequence[Clip], plan: BatchPlan, vis_threshold: float,
                dtype: np.dtype) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Builds one batch's initial parameters and data (NumPy, leading clip axis C).

    Returns:
      params: pose (C, T, 72), betas (C, T, 10), cam (C, T, 3).
      data: target (C, T, K, 2) normalized crop keypoints, conf (C, T, K), frame_mask (C, T),
        crop_scale (C, T), crop_start (C, T, 2), crop_size (C,).
    """
    t = plan.length
    params = {"pose": [], "betas": [], "cam": []}
    data = {"target": [], "conf": [], "frame_mask": [], "crop_scale": [], "crop_start": [],
            "crop_size": []}
    slots = list(plan.indices) + [plan.indices[0]] * (plan.num_clips - len(plan.indices))
    for slot, i in enumerate(slots):
        clip = clips[i]
        xy, conf = normalized_keypoints(clip, vis_threshold)
        for key in params:
            params[key].append(chunking.pad_to(getattr(clip, key), t))
        data["target"].append(chunking.pad_to(xy, t))
        data["conf"].append(chunking.pad_to(conf, t))
        mask = np.zeros(t)
        if slot < len(plan.indices):
            mask[:clip.num_frames] = 1.0
        data["frame_mask"].append(mask)
        data["crop_scale"].append(chunking.pad_to(clip.crop_scale, t))
        data["crop_start"].append(chunking.pad_to(clip.crop_start, t))
        data["crop_size"].append(float(clip.crop_size))
    as_arr = lambda d: {k: np.asarray(np.stack(v), dtype) for k, v in d.items()}  # noqa: E731
    return as_arr(params), as_arr(data)
