"""Diagnostic plots as PNG files, drawn with OpenCV and NumPy (no matplotlib; atomic writes).

- ``plot_loss_curves``: objective terms over solver iterations, log10 y axis.
- ``plot_joint_trajectory``: one joint's coordinates over time, before vs after (jitter).
- ``plot_error_per_frame``: 2D keypoint error per frame, before vs after.

A job draws these for every track; matplotlib's text layout and log-tick formatting made each
cost ~0.1-0.2 s, drawing them here takes a few milliseconds: sub-pixel anti-aliased polylines,
1-2-5 linear ticks or decade ticks, a legend in the axes corner that hides the fewest points,
Hershey text. Same input, same bytes; no state is kept between calls (threads may draw at once).
"""
from __future__ import annotations

import math
import os
from typing import Mapping, NamedTuple, Sequence

import cv2
import numpy as np

from sfv_jax.atomic import atomic_path

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_TICK, _LABEL, _TITLE = 0.4, 0.45, 0.55           # text scales
_INK, _BOX, _GRID, _MINOR = (30, 30, 30), (90, 90, 90), (222, 222, 222), (241, 241, 241)
# matplotlib's tab10 colours, BGR.
_PALETTE = ((180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
            (75, 86, 140), (194, 119, 227), (127, 127, 127), (34, 189, 188), (207, 190, 23))
_BLUE, _ORANGE = _PALETTE[0], _PALETTE[1]
_SHIFT = 4                                          # sub-pixel bits of polyline vertices


class _Axes(NamedTuple):
    """A plot box in pixels (x0, y0 top left, x1, y1 bottom right) and its data limits."""
    x0: int
    y0: int
    x1: int
    y1: int
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def px(self, x, y) -> np.ndarray:
        """(N, 2) float pixel coordinates of data points (log10 values on a log axis)."""
        fx = (np.asarray(x, np.float64) - self.xlim[0]) / (self.xlim[1] - self.xlim[0])
        fy = (np.asarray(y, np.float64) - self.ylim[0]) / (self.ylim[1] - self.ylim[0])
        return np.stack([self.x0 + fx * (self.x1 - self.x0),
                         self.y1 - fy * (self.y1 - self.y0)], -1)


def _width(s: str, scale: float = _TICK) -> int:
    return cv2.getTextSize(s, _FONT, scale, 1)[0][0]


def _text(img, s: str, x: float, y: float, scale: float = _TICK, align: float = 0.0) -> None:
    """``s`` with its baseline at row y; x is its left end (align 0), centre (.5) or right (1)."""
    cv2.putText(img, s, (int(round(x - align * _width(s, scale))), int(round(y))), _FONT,
                scale, _INK, 1, cv2.LINE_AA)


def _vtext(img, s: str, x: int, cy: float, scale: float = _LABEL) -> None:
    """``s`` turned 90 degrees (reading upwards), left edge at column x, centred on row cy."""
    (w, h), base = cv2.getTextSize(s, _FONT, scale, 1)
    tile = np.full((h + base + 2, w + 2, 3), 255, np.uint8)
    cv2.putText(tile, s, (1, h + 1), _FONT, scale, _INK, 1, cv2.LINE_AA)
    tile = np.rot90(tile)
    r0 = max(int(round(cy - tile.shape[0] / 2)), 0)
    region = img[r0:r0 + tile.shape[0], x:x + tile.shape[1]]
    np.minimum(region, tile[:region.shape[0], :region.shape[1]], out=region)   # dark on white


def _limits(v: np.ndarray, margin: float, flat: float | None = None) -> tuple[float, float]:
    """[min, max] of the finite values widened by ``margin`` of the span each side; a constant
    series gets +-``flat`` (default 10% of its value, or 1 at zero); no values: [0, 1]."""
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if hi - lo > 1e-9 * max(abs(lo), abs(hi)):
        pad = margin * (hi - lo)
    else:
        pad = flat if flat is not None else (0.1 * abs(lo) or 1.0)
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float, n: int) -> tuple[np.ndarray, list[str], float]:
    """About ``n`` (at most n + 1) ticks inside [lo, hi] at a 1, 2 or 5 x 10^k step: values,
    labels (as many decimals as the step needs) and the step."""
    raw = (hi - lo) / max(n, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-9))
    vals = np.arange(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1) * step
    dec = max(0, -math.floor(math.log10(step) + 1e-9))
    if dec > 6 or max(abs(lo), abs(hi)) >= 1e6:
        return vals, [f"{v:.3g}" for v in vals], step
    return vals, [f"{v:.{dec}f}" for v in vals], step


def _xticks(lo: float, hi: float, length: int) -> tuple[np.ndarray, list[str]]:
    """Linear ticks for a horizontal axis ``length`` px long whose labels do not touch."""
    n = max(2, length // 75)
    while True:
        vals, labels, step = _ticks(lo, hi, n)
        if n <= 2 or max(map(_width, labels)) + 14 <= step / (hi - lo) * length:
            return vals, labels
        n -= 1


def _log_ticks(lo: float, hi: float, length: int) -> tuple[list, list[str], list]:
    """Ticks of a log10 axis over exponents [lo, hi], ``length`` px: positions (exponents),
    labels like 1e-3 and the minor grid positions (2..9 x each decade, where there is room)."""
    n = max(2, length // 28)                        # labels at most this many
    first, last = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    per_decade = length / (hi - lo)
    minor = [k + math.log10(m) for k in range(math.floor(lo), math.ceil(hi))
             for m in range(2, 10) if lo <= k + math.log10(m) <= hi] if per_decade >= 40 else []
    pos = [k + math.log10(m) for k in range(math.floor(lo), math.ceil(hi) + 1) for m in (1, 2, 5)
           if lo - 1e-9 <= k + math.log10(m) <= hi + 1e-9]
    if last - first >= 2 or len(pos) > n:           # three decades or more: label decades
        every = math.ceil((last - first + 1) / n)
        major = [k for k in range(first, last + 1) if k % every == 0]
        if every > 1:                               # the unlabelled decades as minor lines
            minor = [k for k in range(first, last + 1) if k % every]
        return major, [f"1e{k}" for k in major], minor
    if len(pos) >= 2:                               # less: 1, 2, 5 x 10^k, else linear values
        return pos, [f"{round(10 ** (p - math.floor(p + 1e-9)))}e{math.floor(p + 1e-9)}"
                     for p in pos], minor
    vals, _, _ = _ticks(10 ** lo, 10 ** hi, 4)
    vals = vals[vals > 0]
    return list(np.log10(vals)), [f"{v:.3g}" for v in vals], minor


def _left(ylabels: Sequence[str]) -> int:
    """Left edge of the axes: room for the turned axis label and the widest tick label."""
    (_, h), base = cv2.getTextSize("Ay", _FONT, _LABEL, 1)
    return 10 + h + base + 2 + 10 + max(map(_width, ylabels), default=0) + 8


def _draw_axes(img, ax: _Axes, xticks, yticks, ylabel: str, minor=(), xlabels=True) -> None:
    """Minor and major grid, box, tick marks, tick labels and the turned y label.
    ``xticks`` / ``yticks``: (values, labels) in data units (exponents on a log axis)."""
    h = cv2.getTextSize("0", _FONT, _TICK, 1)[0][1]
    rows = lambda v: np.round(ax.px(np.full(len(v), ax.xlim[0]), v)[:, 1]).astype(int)  # noqa
    for r in rows(minor):
        cv2.line(img, (ax.x0, r), (ax.x1, r), _MINOR, 1)
    cols = np.round(ax.px(xticks[0], np.full(len(xticks[0]), ax.ylim[0]))[:, 0]).astype(int)
    for c, s in zip(cols, xticks[1]):
        cv2.line(img, (c, ax.y0), (c, ax.y1), _GRID, 1)
        cv2.line(img, (c, ax.y1), (c, ax.y1 + 4), _BOX, 1)
        if xlabels:
            _text(img, s, c, ax.y1 + 8 + h, align=0.5)
    for r, s in zip(rows(yticks[0]), yticks[1]):
        cv2.line(img, (ax.x0, r), (ax.x1, r), _GRID, 1)
        cv2.line(img, (ax.x0 - 4, r), (ax.x0, r), _BOX, 1)
        _text(img, s, ax.x0 - 7, r + h // 2, align=1.0)
    cv2.rectangle(img, (ax.x0, ax.y0), (ax.x1, ax.y1), _BOX, 1)
    _vtext(img, ylabel, 10, (ax.y0 + ax.y1) / 2)


def _plot(img, ax: _Axes, x, y, color, thickness: int) -> np.ndarray:
    """Draws the finite points of y(x) inside the box, each unbroken run as one anti-aliased
    polyline (a lone point as a dot); returns their pixel coordinates."""
    p = ax.px(x, y)
    ok = np.isfinite(p).all(1)
    q = np.round((np.where(ok[:, None], p, 0.0) - (ax.x0 + 1, ax.y0 + 1))
                 * (1 << _SHIFT)).astype(np.int32)
    roi = img[ax.y0 + 1:ax.y1, ax.x0 + 1:ax.x1]      # drawing clips to the box
    edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(np.int8), 0]))
    for s, e in zip(edges[::2], edges[1::2]):
        if e - s > 1:
            cv2.polylines(roi, [q[s:e]], False, color, thickness, cv2.LINE_AA, _SHIFT)
        else:
            cv2.circle(roi, (int(q[s, 0]), int(q[s, 1])), (thickness + 1) << _SHIFT, color, -1,
                       cv2.LINE_AA, _SHIFT)
    return p[ok]


def _legend(img, ax: _Axes, entries: Sequence[tuple[str, tuple, int]], points) -> None:
    """A framed legend (label, colour, line thickness per entry) where it covers the fewest
    drawn points: the corners, the middles of the sides, the centre (upper right on a tie)."""
    row, pad = 17, 7
    rows = len(entries) if len(entries) <= 4 else -(-len(entries) // 2)   # > 4: two columns
    col = 26 + max(_width(s) for s, _, _ in entries) + 12
    w = pad + col * -(-len(entries) // rows) - 12 + pad
    h = pad + row * rows + 1
    xs = (ax.x1 - 8 - w, ax.x0 + 8, (ax.x0 + ax.x1 - w) // 2)
    ys = (ax.y0 + 8, ax.y1 - 8 - h, (ax.y0 + ax.y1 - h) // 2)
    corners = [(xs[i], ys[j]) for i, j in ((0, 0), (1, 0), (1, 1), (0, 1), (0, 2), (1, 2),
                                           (2, 1), (2, 0), (2, 2))]
    p = np.concatenate(points) if len(points) else np.zeros((0, 2))
    hidden = [np.count_nonzero((p[:, 0] > x - 6) & (p[:, 0] < x + w + 6) & (p[:, 1] > y - 6)
                               & (p[:, 1] < y + h + 6)) for x, y in corners]
    x, y = corners[int(np.argmin(hidden))]
    x, y = max(x, ax.x0 + 1), max(y, ax.y0 + 1)
    box = img[y:y + h, x:x + w]
    box[:] = 255 - (255 - box) // 6                 # the data shows faintly through
    cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), (200, 200, 200), 1)
    for i, (s, color, thickness) in enumerate(entries):
        lx, cy = x + pad + col * (i // rows), y + pad + row * (i % rows) + row // 2 - 2
        cv2.line(img, (lx, cy), (lx + 20, cy), color, thickness, cv2.LINE_AA)
        _text(img, s, lx + 26, cy + 4)


def _save(img: np.ndarray, path: str) -> str:
    ok, png = cv2.imencode(".png", img)
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    with atomic_path(path, suffix=".png") as tmp:
        with open(tmp, "wb") as f:
            f.write(png.tobytes())
    return path


def _series(name: str, values, path: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{path}: {name} must be a non-empty 1-D series, got shape {a.shape}")
    return a


def plot_loss_curves(path: str | os.PathLike, history: Mapping[str, Sequence[float]],
                     title: str = "objective terms") -> str:
    """Plots each term's history (name -> (iters,)) on a log10 y axis; writes a 700x450 PNG.

    Non-positive or non-finite values are left out (a term that is exactly zero has nothing
    to show; a gap splits its curve). The legend gives each term's final value. Returns ``path``.
    """
    path = os.fspath(path)
    if not history:
        raise ValueError(f"{path}: empty loss history")
    series = [(name, _series(f"loss term {name!r}", values, path))
              for name, values in history.items()]
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = [np.where(np.isfinite(y) & (y > 0), np.log10(y), np.nan) for _, y in series]
    img = np.full((450, 700, 3), 255, np.uint8)
    top, bottom, right = 34, 450 - 46, 700 - 16
    ylim = _limits(np.concatenate(logs), 0.05, flat=0.5)      # nothing positive: 1 to 10
    yt = _log_ticks(*ylim, bottom - top)
    ax0 = _left(yt[1])
    xlim = _limits(np.array([0.0, max(y.size for _, y in series) - 1.0]), 0.03)
    ax = _Axes(ax0, top, right, bottom, xlim, ylim)
    _draw_axes(img, ax, _xticks(*xlim, right - ax0), yt[:2], "loss", minor=yt[2])
    pts = [_plot(img, ax, np.arange(ly.size), ly, _PALETTE[i % 10], 1)
           for i, ly in enumerate(logs)]
    _legend(img, ax, [(f"{name} ({y[-1]:.3g})", _PALETTE[i % 10], 2)     # colours legible
                      for i, (name, y) in enumerate(series)], pts)
    _text(img, title, (ax0 + right) / 2, 22, _TITLE, 0.5)
    _text(img, "iteration", (ax0 + right) / 2, 450 - 8, _LABEL, 0.5)
    return _save(img, path)


def plot_joint_trajectory(path: str | os.PathLike, before: np.ndarray, after: np.ndarray,
                          joint_name: str = "joint", fps: float | None = None,
                          axis_names: Sequence[str] | None = None,
                          labels: tuple[str, str] = ("initial", "reconstruction")) -> str:
    """One subplot per coordinate (stacked, shared time axis): a joint's track over time
    before (thin orange) and after (blue); writes an 800 x 220*D PNG.

    Args:
      before, after: (T, D) positions (D = 3: x, y, z metres; D = 2: u, v pixels); non-finite
        values leave gaps.
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
    t = np.arange(b.shape[0]) / fps if fps else np.arange(b.shape[0], dtype=np.float64)
    height, right, top, gap = 220 * d, 800 - 16, 38, 14
    sub = (height - 46 - top - gap * (d - 1)) // d
    ylims = [_limits(np.r_[b[:, k], a[:, k]], 0.06) for k in range(d)]
    yts = [_ticks(*lim, max(3, sub // 30))[:2] for lim in ylims]
    ax0 = _left([s for _, ls in yts for s in ls])
    xlim = _limits(t, 0.02)
    xt = _xticks(*xlim, right - ax0)
    img = np.full((height, 800, 3), 255, np.uint8)
    for k in range(d):
        y0 = top + k * (sub + gap)
        ax = _Axes(ax0, y0, right, y0 + sub, xlim, ylims[k])
        _draw_axes(img, ax, xt, yts[k], names[k] if k < len(names) else "", xlabels=k == d - 1)
        pts = [_plot(img, ax, t, b[:, k], _ORANGE, 1), _plot(img, ax, t, a[:, k], _BLUE, 2)]
        if k == 0:
            _legend(img, ax, [(labels[0], _ORANGE, 1), (labels[1], _BLUE, 2)], pts)
    _text(img, f"{joint_name} trajectory", (ax0 + right) / 2, 24, _TITLE, 0.5)
    _text(img, "time (s)" if fps else "frame", (ax0 + right) / 2, height - 8, _LABEL, 0.5)
    return _save(img, path)


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
    """2D error per frame (T,) before and after (NaN frames leave gaps), the y axis from 0 and
    the means in the legend; writes an 800x350 PNG."""
    path = os.fspath(path)
    b = _series("error before", before, path)
    a = _series("error after", after, path)
    if a.shape != b.shape:
        raise ValueError(f"{path}: before has {b.size} frames, after {a.size}")
    t = np.arange(b.size) / fps if fps else np.arange(b.size, dtype=np.float64)
    top, bottom, right = 34, 350 - 46, 800 - 16
    both = np.r_[b, a]
    peak = float(np.max(both[np.isfinite(both)], initial=0.0))
    ylim = (0.0, 1.06 * peak if peak > 0 else 1.0)
    yt = _ticks(*ylim, max(3, (bottom - top) // 30))[:2]
    ax0 = _left(yt[1])
    xlim = _limits(t, 0.02)
    ax = _Axes(ax0, top, right, bottom, xlim, ylim)
    img = np.full((350, 800, 3), 255, np.uint8)
    _draw_axes(img, ax, _xticks(*xlim, right - ax0), yt, f"2D error ({unit})")
    pts = [_plot(img, ax, t, b, _ORANGE, 1), _plot(img, ax, t, a, _BLUE, 2)]
    means = [float(y[~np.isnan(y)].mean()) if (~np.isnan(y)).any() else math.nan
             for y in (b, a)]                       # np.nanmean, without its empty warning
    _legend(img, ax, [(f"{lab} (mean {m:.2f} {unit})", col, th) for lab, m, col, th
                      in zip(labels, means, (_ORANGE, _BLUE), (1, 2))], pts)
    _text(img, "2D keypoint error per frame", (ax0 + right) / 2, 22, _TITLE, 0.5)
    _text(img, "time (s)" if fps else "frame", (ax0 + right) / 2, 350 - 8, _LABEL, 0.5)
    return _save(img, path)
