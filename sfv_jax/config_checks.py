"""The whole job config checked before any input is read.

Settings used late (the solver's inside the solve, the plots at the end) were checked late or
not at all: a NaN learning rate ran, ``adam.iterations=0`` failed every track at its loss plot
after hours of reading and initializing. ``check_config`` looks at every key at once and
returns the typed config the job then runs with, all through ``JobConfig.from_config``
(``sfv_jax.schema``):

  - every key must be one ``job_config()`` defines (every misspelt key of a config file is
    named at once, ``schema.unknown_keys``);
  - each section's strict bridge: types, and every float finite (NaN / inf refused, naming the
    key);
  - each section's ``__post_init__`` (value ranges: rates > 0, weights >= 0, probabilities in
    0..1, fps in 1..1000, ...), and ``JobConfig``'s own cross-section rule (a loss plot needs
    at least one iteration).

Errors are ``ConfigError`` (a ValueError) whose message starts with ``config:`` and names the key.
"""
from __future__ import annotations

import ml_collections

from sfv_jax.job_config import JobConfig

__all__ = ["ConfigError", "check_config"]


class ConfigError(ValueError):
    """A config value is missing, unknown or out of range (the message names the key)."""


def check_config(cfg: ml_collections.ConfigDict | JobConfig) -> JobConfig:
    """Checks the whole job config (see the module doc); returns it typed.

    Raises ``ConfigError``; a ``JobConfig`` (already checked when it was built) is returned as
    it is.
    """
    try:
        return JobConfig.from_config(cfg)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ConfigError(f"config: {e}") from None
