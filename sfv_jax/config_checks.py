"""The whole job config checked before any input is read.

Settings used late (the solver's inside the solve, the plots at the end) were checked late or
not at all: a NaN learning rate ran, ``adam.iterations=0`` failed every track at its loss plot
after hours of reading and initializing. ``check_config`` looks at every key at once:

  - every key must be one ``job_config()`` defines (a misspelt key in a config file is named);
  - every float anywhere must be finite (NaN / inf refused, naming the key);
  - the ranges in ``RULES`` (rates > 0, weights >= 0, probabilities in 0..1, fps in 1..1000);
  - the solver's own validation (``solver.SolverSettings.from_config``), and at least one
    iteration of the chosen optimizer when plots are written (a loss curve needs one point).

Errors are ``ConfigError`` (a ValueError) whose message starts with ``config:`` and the key.
"""
from __future__ import annotations

import math
from typing import Any, Iterator

import ml_collections

# key -> (low, high, low inclusive, high inclusive); None = unbounded. A key absent from the
# config is skipped (sections differ between versions); "*" matches every key of a section.
RULES: dict[str, tuple[float | None, float | None, bool, bool]] = {
    "inputs.default_fps": (1.0, 1000.0, True, True),
    "solver.adam.learning_rate": (0.0, None, False, True),
    "solver.adam.b1": (0.0, 1.0, True, False),
    "solver.adam.b2": (0.0, 1.0, True, False),
    "solver.adam.eps": (0.0, None, False, True),
    "solver.weights.*": (0.0, None, True, True),
    "solver.gmof_sigma": (0.0, None, False, True),
    "solver.vis_threshold": (0.0, 1.0, True, False),
    "solver.pose_smooth_root_weight": (0.0, None, True, True),
    "fitting.learning_rate": (0.0, None, False, True),
    "fitting.crop_size": (1.0, None, True, True),
    "fitting.person_height_px": (0.0, None, False, True),
    "outputs.focal_length": (0.0, None, True, True),  # 0 = from the input / image size
    "reading.min_confidence": (0.0, 1.0, True, True),
    "reading.crop_size": (1.0, None, True, True),
    "reading.vibe_bbox_scale": (0.0, None, False, True),
    "reading.max_frames": (1.0, None, True, True),
    "reading.max_decompressed_mb": (0.0, None, False, True),
    "reading.confidence_tolerance": (0.0, None, True, True),
    "reading.max_image_side": (1.0, None, True, True),
    "reading.max_outside_image": (0.0, None, True, True),
    "tracking.vis_thresh": (0.0, 1.0, True, True),
    "tracking.min_similarity": (0.0, 1.0, True, True),
    "tracking.nms_iou": (0.0, 1.0, True, True),
    "tracking.max_gap": (0.0, None, True, True),
    "tracking.min_track_frames": (1.0, None, True, True),
    "tracking.person_px": (0.0, None, False, True),
    "tracking.crop_size": (1.0, None, True, True),
    "render.alpha": (0.0, 1.0, True, True),
    "render.max_panel_height": (16.0, 8192.0, True, True),
    "render.max_panel_width": (16.0, 8192.0, True, True),
    "render.keypoint_threshold": (0.0, 1.0, True, True),
    "model.num_betas": (1.0, 300.0, True, True),
    "export.bvh.decimals": (0.0, 17.0, True, True),
    "export.deepmimic.decimals": (0.0, 17.0, True, True),
    "distributed.barrier_timeout_s": (0.0, None, False, True),
    "workdir_lock_wait_s": (0.0, None, True, True),
}


class ConfigError(ValueError):
    """A config value is missing, unknown or out of range (the message names the key)."""


def _leaves(cfg: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    items = cfg.items() if isinstance(cfg, (ml_collections.ConfigDict, dict)) else ()
    for k, v in items:
        key = f"{prefix}{k}"
        if isinstance(v, (ml_collections.ConfigDict, dict)):
            yield from _leaves(v, key + ".")
        else:
            yield key, v


def _numbers(v: Any) -> list[float]:
    if isinstance(v, bool):
        return []
    if isinstance(v, (int, float)):
        return [float(v)]
    if isinstance(v, (list, tuple)):
        return [x for item in v for x in _numbers(item)]
    return []


def _in_range(x: float, rule: tuple[float | None, float | None, bool, bool]) -> bool:
    lo, hi, lo_inc, hi_inc = rule
    if lo is not None and (x < lo or (x == lo and not lo_inc)):
        return False
    if hi is not None and (x > hi or (x == hi and not hi_inc)):
        return False
    return True


def _describe(rule: tuple[float | None, float | None, bool, bool]) -> str:
    lo, hi, lo_inc, hi_inc = rule
    parts = []
    if lo is not None:
        parts.append(f"{'>=' if lo_inc else '>'} {lo:g}")
    if hi is not None:
        parts.append(f"{'<=' if hi_inc else '<'} {hi:g}")
    return " and ".join(parts)


def _unknown_keys(cfg: ml_collections.ConfigDict, ref: ml_collections.ConfigDict,
                  prefix: str = "") -> list[str]:
    out = []
    for k, v in cfg.items():
        if k not in ref:
            out.append(f"{prefix}{k}")
        elif isinstance(v, ml_collections.ConfigDict) and \
                isinstance(ref[k], ml_collections.ConfigDict):
            out.extend(_unknown_keys(v, ref[k], f"{prefix}{k}."))
    return out


def check_config(cfg: ml_collections.ConfigDict) -> None:
    """Checks the whole job config (see the module doc); raises ``ConfigError``."""
    from sfv_jax.job_config import job_config
    from sfv_jax.solver.config import SolverSettings

    unknown = _unknown_keys(cfg, job_config())
    if unknown:
        raise ConfigError(f"config: unknown key(s) {unknown}; every key is listed in "
                          f"sfv_jax/job_config.py and the section files it names")
    for key, value in _leaves(cfg):
        for x in _numbers(value):
            if not math.isfinite(x):
                raise ConfigError(f"config: {key} = {value!r} is not finite")
        rule = RULES.get(key) or RULES.get(key.rsplit(".", 1)[0] + ".*")
        if rule is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not _in_range(float(value), rule):
                raise ConfigError(f"config: {key} = {value!r} is out of range (must be "
                                  f"{_describe(rule)})")
    try:
        settings = SolverSettings.from_config(cfg.solver)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ConfigError(f"config: {e}") from None
    plots = bool(cfg.get("outputs", {}).get("plots", False))
    if plots and settings.iterations < 1:
        key = "adam" if settings.optimizer == "adam" else "lbfgs"
        raise ConfigError(f"config: solver.{key}.iterations = {settings.iterations}: the "
                          f"loss plots need at least 1 iteration (set it >= 1 or "
                          f"outputs.plots=False)")
