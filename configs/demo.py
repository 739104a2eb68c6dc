"""The embedded default: the whole pipeline on a sample it generates, in about a minute.

The recipe lives in the package: sfv_jax/recipes/demo.py (its docstring says what it is).
"""
from sfv_jax.recipes.demo import get_config  # noqa: F401

__all__ = ["get_config"]
