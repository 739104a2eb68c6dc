"""Diagnostic plots as PNG files (matplotlib Figure objects drawn with Agg, no pyplot; atomic writes).

- ``plot_loss_curves``: objective terms over solver iterations, log scale.
- ``plot_joint_trajectory``: one joint's coordinates over time, before vs after (jitter).
- ``plot_error_per_frame``: 2D keypoint error per frame, before vs after.

A job draws the same three plots for every track, so each figure is built once per process
(axes, ticks, fonts: most of matplotlib's cost) and reused: a call replaces its lines' data,
legend and limits and draws again. Margins are fixed (no per-call tight layout).
"""
from __future__ import annotations

import os
import threading
from typing import Callable, Mapping, Sequence

import numpy as np
# Figure objects without pyplot: no global backend switch, no figure registry to leak into;
# a bare Figure draws with Agg.
from matplotlib.figure import Figure

from sfv_jax.atomic import atomic_path


_FIGURES: dict[tuple, tuple] = {}
_LOCK = threading.Lock()       # one figure per key: calls from several threads take turns


def _figure(key: tuple, build: Callable[[], tuple]) -> tuple:
    """The (figure, axes...) for ``key``, built by ``build`` the first time."""
    if key not in _FIGURES:
        if len(_FIGURES) > 16:
            _FIGURES.clear()
        _FIGURES[key] = build()
    return _FIGURES[key]


def _rescale(ax) -> None:
    """Limits from the new data (an earlier call's fixed limits included)."""
    ax.relim()
    ax.set_autoscale_on(True)
    ax.autoscale_view()


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
    series = [(name, _series(f"loss term {name!r}", values, path))
              for name, values in history.items()]

    def build():
        fig = Figure(figsize=(7, 4.5))
        ax = fig.subplots()
        lines = [ax.plot([], [], lw=1.5)[0] for _ in series]
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.grid(True, which="both", alpha=0.3)
        fig.subplots_adjust(left=0.11, right=0.97, bottom=0.12, top=0.92)
        return fig, ax, lines

    with _LOCK:
        fig, ax, lines = _figure(("loss", len(series)), build)
        for line, (name, y) in zip(lines, series):
            it = np.arange(y.size)
            ok = np.isfinite(y) & (y > 0)
            line.set_data(it[ok], y[ok])
            line.set_label(f"{name} ({y[-1]:.3g})")
        ax.set_title(title)
        _rescale(ax)
        ax.legend(fontsize=8)
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

    def build():
        fig = Figure(figsize=(8, 2.2 * d))
        axes = list(np.atleast_1d(fig.subplots(d, 1, sharex=True)))
        lines = []
        for ax in axes:
            lines.append((ax.plot([], [], color="tab:orange", lw=1.0)[0],
                          ax.plot([], [], color="tab:blue", lw=1.6)[0]))
            ax.grid(True, alpha=0.3)
        fig.subplots_adjust(left=0.1, right=0.97, bottom=0.32 / d + 0.02, top=1 - 0.3 / d,
                            hspace=0.15)
        return fig, axes, lines

    with _LOCK:
        fig, axes, lines = _figure(("trajectory", d), build)
        for k, (ax, (lb, la)) in enumerate(zip(axes, lines)):
            lb.set_data(t, b[:, k])
            la.set_data(t, a[:, k])
            lb.set_label(labels[0])
            la.set_label(labels[1])
            ax.set_ylabel(names[k])
            _rescale(ax)
        axes[0].legend(fontsize=8, loc="upper right")
        axes[-1].set_xlabel("time (s)" if fps else "frame")
        fig.suptitle(f"{joint_name} trajectory")
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

    def build():
        fig = Figure(figsize=(8, 3.5))
        ax = fig.subplots()
        lines = [ax.plot([], [], color=col, lw=lw)[0]
                 for col, lw in (("tab:orange", 1.0), ("tab:blue", 1.6))]
        ax.grid(True, alpha=0.3)
        fig.subplots_adjust(left=0.09, right=0.97, bottom=0.15, top=0.95)
        return fig, ax, lines

    with _LOCK:
        fig, ax, lines = _figure(("error",), build)
        for line, y, lab in zip(lines, (b, a), labels):
            line.set_data(t, y)
            line.set_label(f"{lab} (mean {np.nanmean(y):.2f} {unit})")
        ax.set_xlabel("time (s)" if fps else "frame")
        ax.set_ylabel(f"2D error ({unit})")
        _rescale(ax)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
        return _save(fig, path)
