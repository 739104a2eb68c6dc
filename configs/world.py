"""World-grounded reconstruction: perspective camera, ground plane, foot contacts, smooth root.

The recipe lives in the package: sfv_jax/recipes/world.py (its docstring says what it is).
"""
from sfv_jax.recipes.world import get_config  # noqa: F401

__all__ = ["get_config"]
