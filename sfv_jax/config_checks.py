"""The whole job config checked before any input is read.

Settings used late (the solver's inside the solve, the plots at the end) were checked late or
not at all: a NaN learning rate ran, ``adam.iterations=0`` failed every track at its loss plot
after hours of reading and initializing. ``check_config`` looks at every key at once and
returns the typed config the job then runs with:

  - every key must be one ``job_config()`` defines (every misspelt key of a config file is
    named at once);
  - every float anywhere must be finite (NaN / inf refused, naming the key);
  - ``JobConfig.from_config``: each section's strict bridge (types) and its ``__post_init__``
    (value ranges: rates > 0, weights >= 0, probabilities in 0..1, fps in 1..1000, ...), and
    ``JobConfig``'s own cross-section rule (a loss plot needs at least one iteration).

Errors are ``ConfigError`` (a ValueError) whose message starts with ``config:`` and names the key.
"""
from __future__ import annotations

import math
from typing import Any, Iterator

import ml_collections

from sfv_jax.job_config import JobConfig, job_config

__all__ = ["ConfigError", "check_config"]


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


def _unknown_keys(cfg: Any, ref: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    out = []
    for k, v in cfg.items():
        if k not in ref:
            out.append(f"{prefix}{k}")
        elif isinstance(v, (ml_collections.ConfigDict, dict)) and \
                isinstance(ref[k], ml_collections.ConfigDict):
            out.extend(_unknown_keys(v, ref[k], f"{prefix}{k}."))
    return out


def check_config(cfg: ml_collections.ConfigDict | JobConfig) -> JobConfig:
    """Checks the whole job config (see the module doc); returns it typed.

    Raises ``ConfigError``; a ``JobConfig`` (already checked when it was built) is returned as
    it is.
    """
    if isinstance(cfg, JobConfig):
        return cfg
    unknown = _unknown_keys(cfg, job_config())
    if unknown:
        raise ConfigError(f"config: unknown key(s) {unknown}; every key is listed in "
                          f"sfv_jax/job_config.py and the section files it names")
    for key, value in _leaves(cfg):
        for x in _numbers(value):
            if not math.isfinite(x):
                raise ConfigError(f"config: {key} = {value!r} is not finite")
    try:
        return JobConfig.from_config(cfg)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ConfigError(f"config: {e}") from None
