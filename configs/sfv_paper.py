"""The SFV paper's reconstruction (Peng, Kanazawa et al. 2018).

The recipe lives in the package: sfv_jax/recipes/paper.py (its docstring says what it is).
"""
from sfv_jax.recipes.paper import get_config  # noqa: F401

__all__ = ["get_config"]
