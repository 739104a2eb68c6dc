"""SMPL-format body models: loading, keypoint sets and the forward pass."""
from sfv_jax.body.keypoints import SMPL_LANDMARK_VERTEX_IDS, KeypointSet, build_keypoint_set
from sfv_jax.body.keypoint_pairs import PairModel, pair_forward, pair_model
from sfv_jax.body.kinematics import (BodyOutput, forward, forward_from_rotations,
                                     keypoint_model, rest_joints)
from sfv_jax.body.model import (BodyModel, from_arrays, load_model, models_equal, save_model,
                                with_keypoints)
from sfv_jax.body.pickle_io import UnsafePickleError, safe_load, safe_loads
from sfv_jax.body.synthetic import synthetic_model, synthetic_smpl_arrays
from sfv_jax.body.config import BodySettings, body_config, model_from_config

__all__ = [
    "BodyModel", "BodyOutput", "KeypointSet", "PairModel", "SMPL_LANDMARK_VERTEX_IDS",
    "UnsafePickleError", "pair_forward", "pair_model", "BodySettings",
    "body_config", "build_keypoint_set", "forward", "forward_from_rotations", "from_arrays",
    "keypoint_model",
    "load_model", "model_from_config", "models_equal", "rest_joints", "safe_load",
    "safe_loads", "save_model", "synthetic_model", "synthetic_smpl_arrays", "with_keypoints",
]
