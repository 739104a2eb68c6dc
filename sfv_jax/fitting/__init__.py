"""Fitting the body model to keypoints: the HMR-free initializer and the mocap-to-SMPL truth.

``fit_3d`` (3D keypoints -> pose, shape, translation; ``core``), ``fit_2d`` / ``fit_detections``
(2D keypoints -> pose, shape, HMR crop camera; ``fit2d`` with its whole-rotation torso fits in
``torso``, the limb depth-order hypotheses in ``lift`` scored with the limb-direction prior of
``limb_prior``, the temporal pass in ``temporal``, the refinement in ``refine``), degenerate
fits as named track failures (``degenerate``), the ``fitting`` config section (``config``).
"""
from sfv_jax.fitting.config import FittingSettings, fitting_config
# _KNEES, _L_ELBOW, _R_ELBOW: the hinge offsets, used by the tests.
from sfv_jax.fitting.core import (_KNEES, _L_ELBOW, _R_ELBOW, TORSO_NAMES,  # noqa: F401
                                  Fit2D, Fit3D, FitOptions, fit_3d, hinge_penalty,
                                  neutral_body_pose, prior_loss, torso_mask)
from sfv_jax.fitting.degenerate import REASONS, DegenerateFit, frame_reasons, track_failure
from sfv_jax.fitting.fit2d import fit_2d, fit_detections, upright_rotations
from sfv_jax.fitting.lift import orientation_hypotheses
from sfv_jax.fitting.temporal import viterbi

__all__ = [
    "TORSO_NAMES", "Fit2D", "Fit3D", "FitOptions", "fit_3d", "fit_2d", "fit_detections",
    "hinge_penalty", "neutral_body_pose", "prior_loss", "torso_mask",
    "upright_rotations", "orientation_hypotheses", "viterbi", "REASONS", "DegenerateFit",
    "frame_reasons", "track_failure", "FittingSettings", "fitting_config",
]
