"""Config section of the body layer: ``BodySettings`` (the schema), ``body_config()`` and
``model_from_config``.

Which body model the job uses, at what precision, and which keypoint set it regresses.
Library functions (``load_model``, ``synthetic_model``, ``keypoint_model``) take these as
explicit arguments; ``model_from_config`` maps the settings onto them. ``body_config()`` is the
section (``model`` in the job config) as a ConfigDict for ``main`` and ``launch/``;
``BodySettings.from_config`` the strict bridge back (``sfv_jax.schema``).
"""
from __future__ import annotations

import dataclasses

import ml_collections
import numpy as np

from sfv_jax import schema
from sfv_jax.body.kinematics import keypoint_model
from sfv_jax.body.model import BodyModel, load_model
from sfv_jax.body.synthetic import synthetic_model

__all__ = ["BodySettings", "body_config", "model_from_config"]


@dataclasses.dataclass(frozen=True)
class BodySettings(schema.Section, section="model"):
    """The ``model`` section (each field documented above it)."""

    # SMPL-format model file (.pkl with or without chumpy, smplx-style .npz, or the
    # project's .npz from save_model). "" = the built-in synthetic SMPL-sized body.
    model_path: str = ""
    # Seed of the synthetic body (used only when model_path is "").
    synthetic_seed: int = 0
    # Vertex count of the synthetic body (SMPL's 6890; fewer only to make tests quick).
    synthetic_num_vertices: int = 6890
    # Shape components kept (SMPL and HMR use 10; 1..300); a file with fewer is an error.
    num_betas: int = 10
    # Floating dtype of the model arrays: "float32" or "float64" (float64 needs
    # jax_enable_x64 to stay float64 inside JAX).
    dtype: str = "float32"
    # Keypoint set the model regresses: "auto" (HMR's cocoplus-19 from the file's
    # cocoplus_regressor, else built from joints + surface vertex ids, else the 24
    # joints), "cocoplus", "body25", "coco18", "coco17" or "smpl24".
    keypoints: str = "auto"
    # Regressor weights with |w| <= this are dropped by the keypoint-only model
    # (unitless; 0 keeps its keypoints equal to the full forward's up to rounding).
    keypoint_tol: float = 0.0

    def __post_init__(self) -> None:
        s = "model"
        schema.require_range(1 <= self.num_betas <= 300, s, "num_betas", self.num_betas,
                             ">= 1 and <= 300")
        schema.require(self.dtype in ("float32", "float64"), s,
                       f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        schema.require(self.synthetic_num_vertices >= 1 and self.keypoint_tol >= 0, s,
                       "synthetic_num_vertices must be >= 1 and keypoint_tol >= 0")


def body_config() -> ml_collections.ConfigDict:
    """The ``model`` section with its defaults, as a ConfigDict (the edge: main, launch)."""
    return schema.to_config(BodySettings())


def model_from_config(settings: BodySettings, restrict_to_keypoints: bool = False
                      ) -> BodyModel:
    """The ``BodyModel`` the settings describe; optionally its keypoint-only restriction."""
    dtype = np.dtype(settings.dtype)
    if settings.model_path:
        model = load_model(settings.model_path, num_betas=settings.num_betas, dtype=dtype,
                           keypoints=settings.keypoints)
    else:
        model = synthetic_model(seed=settings.synthetic_seed, num_betas=settings.num_betas,
                                dtype=dtype, keypoints=settings.keypoints,
                                num_vertices=settings.synthetic_num_vertices)
    if not restrict_to_keypoints:
        return model
    return keypoint_model(model, tol=settings.keypoint_tol)
