"""The paper's objective solved with the fast L-BFGS solver instead of 300 Adam steps.

The recipe lives in the package: sfv_jax/recipes/fast.py (its docstring says what it is).
"""
from sfv_jax.recipes.fast import get_config  # noqa: F401

__all__ = ["get_config"]
