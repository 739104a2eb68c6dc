"""Long tracks in overlapping windows: one long clip -> equal-length clips -> one result.

A track longer than ``window_frames`` is cut into windows of exactly ``window_frames`` frames
(one compiled shape however long the track), consecutive windows overlapping by at least
``overlap`` frames, spread evenly so the last one ends on the track's last frame. Each window
is solved as a clip of its own (the windows of a long track fill a batch like short tracks),
and the results are blended back: in every overlap the later window's weight ramps linearly
from 0 to 1, rotations are blended as unit quaternions (normalized lerp on the shorter arc),
everything else linearly. Every objective term is local in time (per frame, or differences
of neighbouring frames) except shape consistency, so a window sees the same objective as the
whole track apart from its ends, and the ramps hide those ends. Time and memory per frame of
the solve then do not grow with the track's length.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from sfv_jax.solver.clips import Clip, ClipResult


@dataclasses.dataclass(frozen=True)
class Window:
    """Frames ``start:stop`` of a track (``stop - start`` = the window length)."""
    start: int
    stop: int


def plan_windows(num_frames: int, window_frames: int, overlap: int) -> list[Window]:
    """The windows of a ``num_frames`` track; one window (the whole track) when it fits.

    Raises:
      ValueError: ``overlap`` is not in ``0 .. window_frames // 2``.
    """
    if window_frames <= 0 or num_frames <= window_frames:
        return [Window(0, num_frames)]
    if not 0 <= overlap <= window_frames // 2:
        raise ValueError(f"windows: overlap must be in 0..{window_frames // 2} frames "
                         f"(half the window), got {overlap}")
    count = -(-(num_frames - overlap) // (window_frames - overlap))
    starts = np.round(np.linspace(0, num_frames - window_frames, count)).astype(int)
    return [Window(int(s), int(s) + window_frames) for s in starts]


def split_clip(clip: Clip, windows: Sequence[Window]) -> list[Clip]:
    """One clip per window (frames sliced, names suffixed ``@start``)."""
    if len(windows) == 1 and windows[0] == Window(0, clip.num_frames):
        return [clip]
    out = []
    for w in windows:
        sl = slice(w.start, w.stop)
        out.append(dataclasses.replace(
            clip, keypoints=clip.keypoints[sl], pose=clip.pose[sl], betas=clip.betas[sl],
            cam=clip.cam[sl], crop_scale=clip.crop_scale[sl], crop_start=clip.crop_start[sl],
            name=f"{clip.name}@{w.start}"))
    return out


def _ramp(n: int) -> np.ndarray:
    """(n,) weights of the later window over an n-frame overlap, strictly inside (0, 1)."""
    return np.arange(1, n + 1, dtype=np.float64) / (n + 1)


def _blend_linear(a: np.ndarray, b: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    al = alpha.reshape((-1,) + (1,) * (a.ndim - 1))
    return ((1.0 - al) * a + al * b).astype(a.dtype)


def _blend_axis_angle(a: np.ndarray, b: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(n, 72) axis-angle poses blended joint by joint as quaternions (nlerp, shorter arc)."""
    n = a.shape[0]
    qa = Rotation.from_rotvec(a.reshape(-1, 3).astype(np.float64)).as_quat().reshape(n, -1, 4)
    qb = Rotation.from_rotvec(b.reshape(-1, 3).astype(np.float64)).as_quat().reshape(n, -1, 4)
    qb = np.where((qa * qb).sum(-1, keepdims=True) < 0, -qb, qb)
    q = (1.0 - alpha[:, None, None]) * qa + alpha[:, None, None] * qb
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return Rotation.from_quat(q.reshape(-1, 4)).as_rotvec().reshape(a.shape).astype(a.dtype)


_PER_FRAME = ("betas", "cam", "cam_full", "keypoints_2d", "keypoints_3d", "joints_3d",
              "vertices", "transl", "contacts", "foot_points")


def merge_results(results: Sequence[ClipResult], windows: Sequence[Window],
                  name: str) -> ClipResult:
    """One track's ``ClipResult`` from its windows' results (in window order).

    Per-frame fields are blended over the overlaps (pose as rotations); the loss history and
    final terms are the frame-weighted means over the windows; ``nonfinite`` if any window
    was; per-video fields (focal, center, plane) are the first window's.
    """
    if len(results) != len(windows) or not results:
        raise ValueError(f"{name}: {len(results)} window results for {len(windows)} windows")
    if len(results) == 1:
        return dataclasses.replace(results[0], name=name)
    total = windows[-1].stop
    fields = {"pose": np.empty((total,) + results[0].pose.shape[1:], results[0].pose.dtype)}
    for key in _PER_FRAME:
        v = getattr(results[0], key)
        if v is not None:
            fields[key] = np.empty((total,) + np.shape(v)[1:], np.asarray(v).dtype)
    end = 0
    for w, r in zip(windows, results):
        ov = max(0, end - w.start)
        for key, out in fields.items():
            v = np.asarray(getattr(r, key))
            if ov:
                alpha = _ramp(ov)
                blend = _blend_axis_angle if key == "pose" else _blend_linear
                out[w.start:end] = blend(out[w.start:end], v[:ov], alpha)
            out[end:w.stop] = v[ov:]
        end = w.stop
    frames = np.asarray([w.stop - w.start for w in windows], np.float64)
    wts = frames / frames.sum()
    history = {k: sum(wt * np.asarray(r.history[k], np.float64) for wt, r in zip(wts, results))
               for k in results[0].history}
    final = {k: float(sum(wt * r.final_loss[k] for wt, r in zip(wts, results)))
             for k in results[0].final_loss}
    first = results[0]
    return dataclasses.replace(
        first, name=name, history=history, final_loss=final,
        nonfinite=any(r.nonfinite for r in results), **fields)
