"""The job's recipes: one ``get_config()`` per module, importable from the package.

``configs/<name>.py`` are thin files that re-export these (what ``--config=configs/x.py``
loads); launch scripts and tests import the recipes directly: ``recipes.get("fast")``.

  paper     the SFV paper's objective and Adam-300 (``configs/sfv_paper.py``)
  fast      the paper's objective with the preconditioned L-BFGS (``configs/fast.py``)
  accurate  an objective tuned on motion capture (``configs/accurate.py``)
  demo      the embedded default sample (``configs/demo.py``)
  video     raw videos through the built-in detector (``configs/video.py``)
  world     world-grounded: perspective camera, ground plane, contacts (``configs/world.py``)
"""
from __future__ import annotations

import importlib
import os

import ml_collections

NAMES = ("paper", "fast", "accurate", "demo", "video", "world")
# configs/ file names that differ from their recipe's module name.
_ALIASES = {"sfv_paper": "paper"}


def recipe_name(name_or_path: str) -> str:
    """The recipe named by ``name_or_path``: a recipe name ("fast") or a project config file
    path ("configs/fast.py", "configs/sfv_paper.py")."""
    base = os.path.splitext(os.path.basename(name_or_path))[0]
    base = _ALIASES.get(base, base)
    try:
        importlib.import_module(f"sfv_jax.recipes.{base}")
    except ModuleNotFoundError:
        known = ", ".join(sorted(set(NAMES) | set(_ALIASES)))
        raise ValueError(f"{name_or_path}: not a project recipe (known: {known}); run your own "
                         f"config files with `python -m sfv_jax.main --config=FILE`") from None
    return base


def get(name_or_path: str) -> ml_collections.ConfigDict:
    """A fresh job config of the recipe ``name_or_path`` (see ``recipe_name``)."""
    module = importlib.import_module(f"sfv_jax.recipes.{recipe_name(name_or_path)}")
    return module.get_config()
