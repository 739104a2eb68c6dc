"""Tuned objective for accuracy on the motion-capture benchmark (``launch/bench_accuracy.py``).

The recipe lives in the package: sfv_jax/recipes/accurate.py (its docstring says what it is).
"""
from sfv_jax.recipes.accurate import get_config  # noqa: F401

__all__ = ["get_config"]
