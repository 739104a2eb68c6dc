"""The ``.npz`` result archive of a reconstructed clip: ``save_result`` / ``load_result``.

Stored arrays keep their dtypes and shapes exactly; strings (source, config JSON) are
stored as NumPy unicode scalars, so the file loads without pickle. Keys:

  pose (T, 72) axis-angle, betas (T, B) or (B,), camera (T, 3) HMR [s, tx, ty],
  transl (T, 3) metres, keypoints_2d (T, K, 3) full-image pixels + confidence,
  keypoints_3d (T, K', 3) metres, fps (float), source (str: video path or id),
  config (str: the run's config as JSON), format_version (int), plus any ``extras``
  (name -> array) stored under "extra/<name>". The pipeline's extras include focal_length
  (px), world_pose / world_transl (the exported world frame) and, from the solver's world
  mode, plane (4,) the solved floor [n, d] in camera coordinates (n . p + d = 0, unit n up),
  world_rotation (3, 3) / world_offset (T, 3) (world = R p_cam + offset), contacts (T, 4) soft
  heel / toe contact weights (left heel, left toe, right heel, right toe) and foot_points
  (T, 4, 3) those points in camera coordinates.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Mapping

import numpy as np

from sfv_jax import atomic

FORMAT_VERSION = 1
_ARRAYS = ("pose", "betas", "camera", "transl", "keypoints_2d", "keypoints_3d")
_EXTRA = "extra/"


@dataclasses.dataclass
class MotionResult:
    """A reconstructed clip as archived. Shapes in the module docstring."""
    pose: np.ndarray
    betas: np.ndarray
    camera: np.ndarray
    transl: np.ndarray
    keypoints_2d: np.ndarray
    keypoints_3d: np.ndarray
    fps: float
    source: str
    config: str = "{}"
    extras: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(np.shape(self.pose)[0])

    def config_dict(self) -> dict[str, Any]:
        """The config JSON parsed back to a dict."""
        return json.loads(self.config)


def config_to_json(config: Any) -> str:
    """A config (ConfigDict, Mapping or JSON string) -> canonical JSON text."""
    if isinstance(config, str):
        json.loads(config)  # must be valid JSON
        return config
    if hasattr(config, "to_dict"):  # ml_collections.ConfigDict / FrozenConfigDict
        config = config.to_dict()
    return json.dumps(config, sort_keys=True, default=str)


def _validate(r: MotionResult, where: str) -> None:
    pose = np.asarray(r.pose)
    if pose.ndim != 2 or pose.shape[1] != 72:
        raise ValueError(f"{where}: pose must be (T, 72), got {pose.shape}")
    t = pose.shape[0]
    shapes = {"camera": (t, 3), "transl": (t, 3)}
    for k, s in shapes.items():
        if np.shape(getattr(r, k)) != s:
            raise ValueError(f"{where}: {k} must be {s}, got {np.shape(getattr(r, k))}")
    b = np.asarray(r.betas)
    if not (b.ndim == 1 or (b.ndim == 2 and b.shape[0] == t)):
        raise ValueError(f"{where}: betas must be (B,) or ({t}, B), got {b.shape}")
    for k in ("keypoints_2d", "keypoints_3d"):
        a = np.asarray(getattr(r, k))
        if a.ndim != 3 or a.shape[0] != t:
            raise ValueError(f"{where}: {k} must be ({t}, K, C), got {a.shape}")
    if not (isinstance(r.fps, (int, float, np.floating, np.integer)) and r.fps > 0):
        raise ValueError(f"{where}: fps must be a positive number, got {r.fps!r}")
    if not isinstance(r.source, str):
        raise ValueError(f"{where}: source must be a string, got {type(r.source).__name__}")
    for name, a in r.extras.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{where}: bad extra name {name!r}")
        if np.asarray(a).dtype == object:
            raise ValueError(f"{where}: extra {name!r} is an object array (not storable "
                             "without pickle)")


def save_result(path: str | os.PathLike, result: MotionResult, compress: bool = True) -> None:
    """Writes ``result`` to ``path`` (.npz) atomically."""
    where = os.fspath(path)
    _validate(result, where)
    arrays: dict[str, Any] = {k: np.asarray(getattr(result, k)) for k in _ARRAYS}
    arrays["fps"] = np.asarray(float(result.fps), np.float64)
    arrays["source"] = np.asarray(result.source, dtype=np.str_)
    arrays["config"] = np.asarray(config_to_json(result.config), dtype=np.str_)
    arrays["format_version"] = np.asarray(FORMAT_VERSION, np.int64)
    for name, a in result.extras.items():
        arrays[_EXTRA + name] = np.asarray(a)
    atomic.save_npz(where, compressed=compress, **arrays)


def load_result(path: str | os.PathLike) -> MotionResult:
    """Reads an archive written by ``save_result``; ValueError naming the file and field."""
    where = os.fspath(path)
    data = atomic.load_npz(where, "result archive")
    missing = [k for k in _ARRAYS + ("fps", "source", "config", "format_version")
               if k not in data]
    if missing:
        raise ValueError(f"{where}: result archive lacks field(s) {missing}")
    version = int(data["format_version"])
    if version != FORMAT_VERSION:
        raise ValueError(f"{where}: format_version {version} is not supported "
                         f"(expected {FORMAT_VERSION})")
    for k in ("source", "config"):
        if data[k].dtype.kind != "U" or data[k].ndim != 0:
            raise ValueError(f"{where}: field {k!r} must be a string, got {data[k].dtype}")
    r = MotionResult(
        **{k: data[k] for k in _ARRAYS}, fps=float(data["fps"]), source=str(data["source"]),
        config=str(data["config"]),
        extras={k[len(_EXTRA):]: v for k, v in data.items() if k.startswith(_EXTRA)})
    _validate(r, where)
    return r


def results_equal(a: MotionResult, b: MotionResult) -> bool:
    """Exact equality: same dtypes, shapes and values (NaN == NaN), same strings."""
    def same(x: Any, y: Any) -> bool:
        x, y = np.asarray(x), np.asarray(y)
        return x.dtype == y.dtype and x.shape == y.shape and np.array_equal(
            x, y, equal_nan=x.dtype.kind in "fc")
    if set(a.extras) != set(b.extras):
        return False
    return (all(same(getattr(a, k), getattr(b, k)) for k in _ARRAYS)
            and float(a.fps) == float(b.fps) and a.source == b.source
            and config_to_json(a.config) == config_to_json(b.config)
            and all(same(a.extras[k], b.extras[k]) for k in a.extras))


def result_from_mapping(m: Mapping[str, Any]) -> MotionResult:
    """Builds a ``MotionResult`` from a dict with the same keys (config may be a dict)."""
    keys = set(_ARRAYS) | {"fps", "source", "config", "extras"}
    unknown = set(m) - keys
    if unknown:
        raise ValueError(f"unknown result field(s) {sorted(unknown)}")
    kw = dict(m)
    if "config" in kw:
        kw["config"] = config_to_json(kw["config"])
    return MotionResult(**kw)
