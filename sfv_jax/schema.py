"""One schema per config section: a frozen dataclass is the single source of its defaults.

Every config section of the job (``solver``, ``export``, ``render``, ...) is a frozen dataclass
whose fields carry the defaults, the types and (as comments above each field) the docs; nested
sub-sections are nested dataclasses. Library functions take these typed settings. The
ml-collections ConfigDicts that ``main`` and the ``launch/`` scripts edit are generated from the
dataclasses (``to_config``) and turned back by one strict bridge (``from_config``):

    cfg = to_config(SolverSettings())          # ConfigDict with the defaults (the edge)
    cfg.adam.iterations = 30                   # a user's override
    settings = SolverSettings.from_config(cfg)  # typed, validated, hashable

A section's dataclass derives from ``Section`` and names its section once, in its class line
(``class SolverSettings(schema.Section, section="solver")``); ``Section.from_config`` is
``from_config(cls, cfg, cls.section)``. ``from_config`` refuses unknown keys (a typo is an
error naming ``section.key``; ``unknown_keys`` lists every one of a whole config at once),
converts values to the field's declared type (``int`` from 3.0 but not from 3.5, ``bool`` only
from a bool or 0 / 1, a float only when finite, tuples element by element) and leaves absent
keys at their defaults; each dataclass's ``__post_init__`` checks value ranges. Hashable
settings are static arguments of compiled functions, so nothing retraces when the same
settings come back.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import ml_collections

T = TypeVar("T")

__all__ = ["Section", "from_config", "to_config", "unknown_keys", "require", "require_range",
           "replace"]


class Section:
    """Base of a config section's dataclass: the section's name is declared once, as a class
    keyword (``class BodySettings(schema.Section, section="model")``), and ``from_config`` is
    the strict bridge under that name."""

    section: ClassVar[str] = ""

    def __init_subclass__(cls, section: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if section is not None:
            cls.section = section

    @classmethod
    def from_config(cls: type[T], cfg: Any) -> T:
        """The section from a ConfigDict (strict: unknown keys and wrong types are errors)."""
        return from_config(cls, cfg, cls.section)


def to_config(settings: Any) -> ml_collections.ConfigDict:
    """ConfigDict of a settings dataclass instance (nested dataclasses become sub-sections)."""
    if not dataclasses.is_dataclass(settings) or isinstance(settings, type):
        raise TypeError(f"to_config needs a dataclass instance, got {type(settings).__name__}")
    c = ml_collections.ConfigDict()
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        c[f.name] = to_config(value) if dataclasses.is_dataclass(value) else value
    return c


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    """Declared types of the init fields of dataclass ``cls`` (ClassVars left out)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def unknown_keys(cls: type, cfg: Any, prefix: str = "") -> list[str]:
    """Every key of ``cfg`` that dataclass ``cls`` does not define, sub-sections included, as
    dotted names after ``prefix`` (in ``cfg``'s order): all misspelt keys of a config at once.
    """
    if not isinstance(cfg, (Mapping, ml_collections.ConfigDict)):
        return []
    hints = _hints(cls)
    out = []
    for k in cfg.keys():
        if k not in hints:
            out.append(f"{prefix}{k}")
        elif dataclasses.is_dataclass(hints[k]):
            out.extend(unknown_keys(hints[k], cfg[k], f"{prefix}{k}."))
    return out


def from_config(cls: type[T], cfg: Any, section: str) -> T:
    """``cls`` from a ConfigDict / mapping ``cfg`` of section ``section`` (strict; see module doc).

    ``cfg`` may also be an instance of ``cls`` (returned unchanged) or None (the defaults).
    Raises ValueError naming ``section.key`` for an unknown key or a value of the wrong type
    (``section`` "": the whole config, keys named as they are).
    """
    if cfg is None:
        return cls()
    if isinstance(cfg, cls):
        return cfg
    if dataclasses.is_dataclass(cfg):
        raise ValueError(f"config section '{section}': expected {cls.__name__} or a "
                         f"ConfigDict, got {type(cfg).__name__}")
    if not isinstance(cfg, (Mapping, ml_collections.ConfigDict)):
        raise ValueError(f"config section '{section}': expected a ConfigDict, got "
                         f"{type(cfg).__name__}")
    fields = _hints(cls)
    keys = list(cfg.keys())
    where = f"{section}." if section else ""
    unknown = sorted(set(keys) - set(fields))
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, list(fields), n=1)
            hints.append(where + k + (f" (did you mean {close[0]}?)" if close else ""))
        raise ValueError(f"config section '{section}': unknown {section.rsplit('.', 1)[-1]} "
                         f"key(s) {', '.join(hints)}; "
                         f"known: {', '.join(sorted(fields))}")
    return cls(**{name: _coerce(fields[name], cfg[name], where + name) for name in keys})


def replace(settings: T, **changes: Any) -> T:
    """``dataclasses.replace`` with the same coercion as ``from_config`` (keyword overrides)."""
    hints = _hints(type(settings))
    name = type(settings).__name__
    for key in changes:
        if key not in hints:
            raise ValueError(f"{name}: unknown field {key!r}")
    return dataclasses.replace(
        settings, **{k: _coerce(hints[k], v, f"{name}.{k}") for k, v in changes.items()})


def require(condition: bool, section: str, message: str) -> None:
    """ValueError ``config section 'section': message`` unless ``condition`` (range checks)."""
    if not condition:
        raise ValueError(f"config section '{section}': {message}")


def require_range(ok: bool, section: str, key: str, value: Any, must: str) -> None:
    """``require`` in the wording of every range rule: ``section.key = value is out of range
    (must be <must>)``, e.g. ``must=">= 0 and <= 17"``."""
    require(ok, section, f"{section}.{key} = {value!r} is out of range (must be {must})")


def _coerce(typ: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(typ)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0] if errors else f"{where}: unexpected value {value!r}")
    if dataclasses.is_dataclass(typ):
        return from_config(typ, value, where)
    if typ is Any:
        return value
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError(f"{where}: expected true/false, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{where}: expected an integer, got {value!r}")
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:  # numpy scalars
                import numpy as np
                if isinstance(value, np.generic) and np.issubdtype(type(value), np.number):
                    return float(value)
            except ImportError:  # pragma: no cover
                pass
            raise ValueError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):  # a NaN rate would run, and fail hours later
            raise ValueError(f"{where} = {value!r} is not finite")
        return float(value)
    if typ is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    if origin is tuple:
        args = typing.get_args(typ)
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise ValueError(f"{where}: expected a sequence, got {value!r}")
        items = list(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(items))
        if args and len(items) != len(args):
            raise ValueError(f"{where}: expected {len(args)} values, got {len(items)}")
        if not args:
            return tuple(items)
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, items)))
    return value
