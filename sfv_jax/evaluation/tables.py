"""Human-readable tables of the accuracy benchmark's summary (``benchmark.summarize``)."""
from __future__ import annotations

from sfv_jax.evaluation.world_scoring import WORLD_KEYS

# The camera-frame metrics (the first table); the world metrics are WORLD_KEYS.
CAMERA_KEYS = ("mpjpe", "pa_mpjpe", "accel", "err_2d", "fit_2d")


def format_table(summary: dict) -> str:
    """Human-readable table: one row per clip and the mean, before -> after.

    With ``motion_reference`` figures, two more columns: the truth's own mean acceleration and
    the acceleration error of the truth blurred by one frame ("|a| true", "blur1").
    """
    refs = "accel_truth" in summary["mean"]
    head = (f"{'clip':<12}{'frames':>7}{'views':>6}{'fit mm':>8}  "
            f"{'MPJPE mm':>15}  {'PA-MPJPE mm':>15}  {'accel mm/f^2':>15}  {'2D px':>15}"
            f"  {'2D vs det px':>15}"
            + (f"  {'|a| true':>8}{'blur1':>7}" if refs else ""))
    lines = [head, "-" * len(head)]

    def row(name: str, r: dict, extra: str) -> str:
        cells = [f"{r[k + '_init']:7.1f}->{r[k]:6.1f}" for k in CAMERA_KEYS]
        tail = f"  {r['accel_truth']:8.1f}{r['accel_blur']:7.1f}" if refs else ""
        return f"{name:<12}{extra}  " + "  ".join(f"{c:>15}" for c in cells) + tail

    for name, r in summary["clips"].items():
        lines.append(row(name, r, f"{r['frames']:>7}{r['views']:>6}{r['truth_fit_mm']:>8.1f}"))
    lines.append("-" * len(head))
    lines.append(row("mean", summary["mean"], " " * 21))
    if "w_mpjpe" in summary["mean"]:
        lines += ["", format_world_table(summary)]
    return "\n".join(lines)


def format_world_table(summary: dict) -> str:
    """The world-frame table (``world_scoring``): before -> after, and the truth's own figures
    (root_accel, foot_skate, foot_float, ground_penetration) where they exist."""
    truth = "root_accel_truth" in summary["mean"]
    names = {"w_mpjpe": "W-MPJPE mm", "wa_mpjpe": "WA-MPJPE mm", "root_accel": "root acc mm/f2",
             "foot_skate": "skate mm/f", "foot_float": "float mm",
             "ground_penetration": "penetr. mm"}
    head = f"{'clip':<12}" + "".join(
        f"{names[k]:>16}" + (f"{'truth':>7}" if truth and k + "_truth" in summary["mean"] else "")
        for k in WORLD_KEYS)
    lines = [head, "-" * len(head)]

    def row(name: str, r: dict) -> str:
        out = f"{name:<12}"
        for k in WORLD_KEYS:
            cell = f"{r[k + '_init']:7.1f}->{r[k]:6.1f}"
            out += f"{cell:>16}"
            if truth and k + "_truth" in r:
                out += f"{r[k + '_truth']:7.1f}"
        return out

    for name, r in summary["clips"].items():
        lines.append(row(name, r))
    lines.append("-" * len(head))
    lines.append(row("mean", summary["mean"]))
    return "\n".join(lines)
