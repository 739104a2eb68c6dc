"""Motion helpers of the mocap truth: resampling, DeepMimic's mirrored-half seam, angular speed.

NumPy at the benchmark's data edge (scipy rotations, float64).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.spatial.transform import Rotation, Slerp


def resample_local(times: np.ndarray, root_pos: np.ndarray, local_rots: np.ndarray,
                   new_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Resamples a motion: root position linearly, local rotations by slerp.

    Args:
      times: (T,) increasing sample times, seconds.
      root_pos: (T, 3). local_rots: (T, J, 3, 3).
      new_times: (N,) times inside [times[0], times[-1]].
    Returns:
      root_pos (N, 3), local_rots (N, J, 3, 3).
    """
    pos = np.stack([np.interp(new_times, times, root_pos[:, i]) for i in range(3)], -1)
    rots = []
    for j in range(local_rots.shape[1]):
        slerp = Slerp(times, Rotation.from_matrix(local_rots[:, j]))
        rots.append(slerp(new_times).as_matrix())
    return pos, np.stack(rots, 1)


_SAGITTAL_MIRROR = np.diag([1.0, 1.0, -1.0])  # humanoid frame: right side on +Z


def mirrored_half_offset(local_rots: np.ndarray, names: Sequence[str], tol: float = 1e-4,
                         min_frames: int = 3) -> int:
    """Frame h where a clip restarts as the left/right mirror of its own beginning, else 0.

    DeepMimic builds its cyclic gaits (walk, run) from half a cycle: frames h.. are frames 0..
    with left and right swapped and mirrored about the sagittal plane. The two halves do not meet
    smoothly: the step from frame h-1 to frame h jumps (run: ~100 mm/frame^2 on every joint),
    a joint-space seam no captured motion has.

    Args:
      local_rots: (T, J, 3, 3) local rotations (joint 0 the root). names: the J joint names.
    Returns:
      the smallest h >= min_frames with local_rots[h + k] == mirror(local_rots[k]) for every
      k < h with h + k < T - 1 (at least ``min_frames`` of them), else 0.
    """
    names = list(names)
    partner = [names.index("left_" + n[6:]) if n.startswith("right_") else
               names.index("right_" + n[5:]) if n.startswith("left_") else j
               for j, n in enumerate(names)]
    m = _SAGITTAL_MIRROR
    mirrored = m @ local_rots[:, partner] @ m
    t = local_rots.shape[0]
    for h in range(min_frames, t - min_frames):
        n = min(h, t - 1 - h)  # the last frame may be a loop's closing frame; leave it out
        if np.max(np.abs(local_rots[h:h + n] - mirrored[:n])) < tol:
            return h
    return 0


def repair_seam(root_pos: np.ndarray, local_rots: np.ndarray, seam: int,
                width: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Spreads a jump between frames seam-1 and seam over ``width`` frames on each side.

    The jump's excess (the seam step minus the mean of the steps just before and after it, per
    joint: a rotation vector in the parent's frame, and a displacement for the root) is taken out
    of the seam step and paid back by a smooth (sine) ramp: frame k is corrected by
    (s_k - [k >= seam]) * excess, s rising from 0 at seam-1-width to 1 at seam+width. Frames
    outside the window and every step but those inside it are unchanged.

    Args:
      root_pos: (T, 3). local_rots: (T, J, 3, 3). seam: first frame after the jump.
    Returns:
      root_pos (T, 3), local_rots (T, J, 3, 3), corrected copies (unchanged when the seam lies
      within two frames of either end).
    """
    root_pos, local_rots = root_pos.copy(), local_rots.copy()
    t = root_pos.shape[0]
    if seam < 2 or seam > t - 2:
        return root_pos, local_rots
    k = np.arange(t)
    u = np.clip((k - (seam - 0.5)) / (width + 0.5), -1.0, 1.0)
    r = 0.5 + 0.5 * np.sin(0.5 * np.pi * u) - (k >= seam)  # (T,)
    d = np.diff(root_pos, axis=0)
    excess = d[seam - 1] - 0.5 * (d[seam - 2] + d[seam])
    root_pos += r[:, None] * excess
    step = lambda a, b: Rotation.from_matrix(local_rots[b] @ np.swapaxes(  # noqa: E731
        local_rots[a], -1, -2)).as_rotvec()  # (J, 3) rotation a -> b in the parent's frame
    excess = step(seam - 1, seam) - 0.5 * (step(seam - 2, seam - 1) + step(seam, seam + 1))
    corr = Rotation.from_rotvec((r[:, None, None] * excess[None]).reshape(-1, 3)).as_matrix()
    local_rots[:] = corr.reshape(local_rots.shape) @ local_rots
    return root_pos, local_rots


def angular_speed(rotations: np.ndarray, fps: float) -> np.ndarray:
    """(T-1, J) angular speed (degrees/s) of (T, J, 3, 3) global rotations between frames.

    The angle of ``R[t+1] R[t]^T``: the world-frame rotation from one frame to the next, so a
    constant offset between two descriptions of one segment's axes does not change it.
    """
    r = np.asarray(rotations, np.float64)
    step = r[1:] @ np.swapaxes(r[:-1], -1, -2)
    ang = Rotation.from_matrix(step.reshape(-1, 3, 3)).magnitude().reshape(step.shape[:-2])
    return np.degrees(ang) * float(fps)
