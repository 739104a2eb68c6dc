"""Config section of the body layer: ``body_config()`` and ``model_from_config``.

Which body model the job uses, at what precision, and which keypoint set it regresses.
Library functions (``load_model``, ``synthetic_model``, ``keypoint_model``) take these as
explicit arguments; ``model_from_config`` maps the section onto them.
"""
from __future__ import annotations

import ml_collections
import numpy as np

from sfv_jax.body.kinematics import keypoint_model
from sfv_jax.body.model import BodyModel, load_model
from sfv_jax.body.synthetic import synthetic_model

__all__ = ["body_config", "model_from_config"]


def body_config() -> ml_collections.ConfigDict:
    """Defaults of the body section (``config.body``)."""
    c = ml_collections.ConfigDict()
    # SMPL-format model file (.pkl with or without chumpy, smplx-style .npz, or the
    # project's .npz from save_model). "" = the built-in synthetic SMPL-sized body.
    c.model_path = ""
    # Seed of the synthetic body (used only when model_path is "").
    c.synthetic_seed = 0
    # Vertex count of the synthetic body (SMPL's 6890; fewer only to make tests quick).
    c.synthetic_num_vertices = 6890
    # Shape components kept (SMPL and HMR use 10); a file with fewer is an error.
    c.num_betas = 10
    # Floating dtype of the model arrays: "float32" or "float64" (float64 needs
    # jax_enable_x64 to stay float64 inside JAX).
    c.dtype = "float32"
    # Keypoint set the model regresses: "auto" (HMR's cocoplus-19 from the file's
    # cocoplus_regressor, else built from joints + surface vertex ids, else the 24
    # joints), "cocoplus", "body25", "coco18", "coco17" or "smpl24".
    c.keypoints = "auto"
    # Regressor weights with |w| <= this are dropped by the keypoint-only model
    # (unitless; 0 keeps its keypoints equal to the full forward's up to rounding).
    c.keypoint_tol = 0.0
    return c


def model_from_config(cfg: ml_collections.ConfigDict, restrict_to_keypoints: bool = False
                      ) -> BodyModel:
    """The ``BodyModel`` the section describes; optionally its keypoint-only restriction."""
    dtype = np.dtype(cfg.dtype)
    if cfg.model_path:
        model = load_model(cfg.model_path, num_betas=cfg.num_betas, dtype=dtype,
                           keypoints=cfg.keypoints)
    else:
        model = synthetic_model(seed=cfg.synthetic_seed, num_betas=cfg.num_betas, dtype=dtype,
                                keypoints=cfg.keypoints,
                                num_vertices=cfg.get("synthetic_num_vertices", 6890))
    if not restrict_to_keypoints:
        return model
    return keypoint_model(model, tol=cfg.keypoint_tol)
