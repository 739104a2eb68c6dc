"""Diagnostic plots as PNG files (matplotlib Figure objects drawn with Agg, no pyplot; atomic writes).

- ``plot_loss_curves``: objective terms over solver iterations, log scale.
- ``plot_joint_trajectory``: one joint's coordinates over time, before vs after (jitter).
- ``plot_error_per_frame``: 2D keypoint error per frame, before vs after.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
# Figure objects without pyplot: no global backend switch, no figure registry to leak into;
# a bare Figure draws with Agg.
from matplotlib.figure import Figure

from sfv_jax.atomic import atomic_path


def _save(fig, path: str | os.PathLike) -> str:
    path = os.fspath(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path


def _series(name: str, values, path: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{path}: {name} must be a non-empty 1-D series, got shape {a.shape}")
    return a


def plot_loss_curves(path: str | os.PathLike, history: Mapping[str, Sequence[float]],
                     title: str = "objective terms") -> str:
    """Plots each term's history (name -> (iters,)) on a log y axis; writes a PNG.

    Non-positive or non-finite values are left out of the log plot (a term that is exactly
    zero has nothing to show). Returns ``path``.
    """
    path = os.fspath(path)
    if not history:
        raise ValueError(f"{path}: empty loss history")
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for name, values in history.items():
        y = _series(f"loss term {name!r}", values, path)
        it = np.arange(y.size)
        ok = np.isfinite(y) & (y > 0)
        ax.plot(it[ok], y[ok], label=f"{name} ({y[-1]:.3g})", lw=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_joint_trajectory(path: str | os.PathLike, before: np.ndarray, after: np.ndarray,
                          joint_name: str = "joint", fps: float | None = None,
                          axis_names: Sequence[str] | None = None,
                          labels: tuple[str, str] = ("initial", "reconstruction")) -> str:
    """One subplot per coordinate: a joint's track over time before and after; writes a PNG.

    Args:
      before, after: (T, D) positions (D = 3: x, y, z metres; D = 2: u, v pixels).
      joint_name: shown in the title.
      fps: frames per second for a time axis in seconds; frame index when None.
      axis_names: names of the D coordinates (default x, y, z or u, v).
    """
    path = os.fspath(path)
    b, a = np.asarray(before, np.float64), np.asarray(after, np.float64)
    if b.ndim != 2 or b.shape != a.shape or b.shape[1] not in (2, 3) or b.shape[0] == 0:
        raise ValueError(f"{path}: before/after must be the same (T, 2 or 3) shape, got "
                         f"{b.shape} and {a.shape}")
    d = b.shape[1]
    names = list(axis_names) if axis_names else (["x", "y", "z"] if d == 3 else ["u", "v"])
    t = np.arange(b.shape[0]) / fps if fps else np.arange(b.shape[0])
    fig = Figure(figsize=(8, 2.2 * d))
    axes = fig.subplots(d, 1, sharex=True)
    for k, ax in enumerate(np.atleast_1d(axes)):
        ax.plot(t, b[:, k], color="tab:orange", lw=1.0, label=labels[0])
        ax.plot(t, a[:, k], color="tab:blue", lw=1.6, label=labels[1])
        ax.set_ylabel(names[k])
        ax.grid(True, alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="upper right")
    np.atleast_1d(axes)[-1].set_xlabel("time (s)" if fps else "frame")
    fig.suptitle(f"{joint_name} trajectory")
    fig.tight_layout()
    return _save(fig, path)


def keypoint_error_per_frame(predicted: np.ndarray, observed: np.ndarray,
                             threshold: float = 0.1) -> np.ndarray:
    """Mean 2D distance (px) per frame over the observed points with confidence >= threshold.

    Args:
      predicted: (T, K, 2+) projected model keypoints (px).
      observed: (T, K, 3) input keypoints (x px, y px, confidence), same format.

    Returns:
      (T,) float64; NaN for frames with no confident point.
    """
    p, o = np.asarray(predicted, np.float64), np.asarray(observed, np.float64)
    if p.ndim != 3 or o.ndim != 3 or p.shape[:2] != o.shape[:2] or o.shape[2] < 3 or p.shape[2] < 2:
        raise ValueError(f"predicted must be (T, K, 2+) and observed (T, K, 3) alike, got "
                         f"{p.shape} and {o.shape}")
    dist = np.linalg.norm(p[..., :2] - o[..., :2], axis=-1)
    w = (o[..., 2] >= threshold) & np.isfinite(dist)
    n = w.sum(axis=1)
    total = np.where(w, dist, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def plot_error_per_frame(path: str | os.PathLike, before: np.ndarray, after: np.ndarray,
                         fps: float | None = None, unit: str = "px",
                         labels: tuple[str, str] = ("initial", "reconstruction")) -> str:
    """2D error per frame (T,) before and after, with the means in the legend; writes a PNG."""
    path = os.fspath(path)
    b = _series("error before", before, path)
    a = _series("error after", after, path)
    if a.shape != b.shape:
        raise ValueError(f"{path}: before has {b.size} frames, after {a.size}")
    t = np.arange(b.size) / fps if fps else np.arange(b.size)
    fig = Figure(figsize=(8, 3.5))
    ax = fig.subplots()
    for y, col, lw, lab in ((b, "tab:orange", 1.0, labels[0]), (a, "tab:blue", 1.6, labels[1])):
        ax.plot(t, y, color=col, lw=lw, label=f"{lab} (mean {np.nanmean(y):.2f} {unit})")
    ax.set_xlabel("time (s)" if fps else "frame")
    ax.set_ylabel(f"2D error ({unit})")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
