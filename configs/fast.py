"""The paper's objective solved with L-BFGS instead of 300 Adam steps (a fraction of the time).

Same terms and weights as configs/sfv_paper.py; only the optimizer changes (its settings
are under solver.lbfgs, documented in sfv_jax/solver/config.py).
"""
import ml_collections

from sfv_jax.job_config import job_config


def get_config() -> ml_collections.ConfigDict:
  c = job_config()
  c.model.keypoints = "cocoplus"
  c.solver.optimizer = "lbfgs"
  return c
