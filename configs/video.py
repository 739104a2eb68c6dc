"""Raw videos in: the built-in detector, the HMR-free initializer, then the paper's solve.

The recipe lives in the package: sfv_jax/recipes/video.py (its docstring says what it is).
"""
from sfv_jax.recipes.video import get_config  # noqa: F401

__all__ = ["get_config"]
