"""The job's recipes: one ``get_config()`` per module, importable from the package.

``configs/<name>.py`` are thin files that re-export these (what ``--config=configs/x.py``
loads); launch scripts and tests import the recipes directly: ``recipes.get("fast")``, and a
launch script's ``--config configs/fast.py`` names the same recipe (no file is loaded).

  paper     the SFV paper's objective and Adam-300 (``configs/sfv_paper.py``)
  fast      the paper's objective with the preconditioned L-BFGS (``configs/fast.py``)
  accurate  an objective tuned on motion capture (``configs/accurate.py``)
  demo      the embedded default sample (``configs/demo.py``)
  video     raw videos through the built-in detector (``configs/video.py``)
  world     world-grounded: perspective camera, ground plane, contacts (``configs/world.py``)
"""
from __future__ import annotations

import ast
import importlib
import os
from typing import Sequence

import ml_collections

NAMES = ("paper", "fast", "accurate", "demo", "video", "world")
# configs/ file names that differ from their recipe's module name.
_ALIASES = {"sfv_paper": "paper"}


def recipe_name(name_or_path: str) -> str:
    """The recipe named by ``name_or_path``: a recipe name ("fast", "sfv_paper") or the path of
    one of the project's config files ("configs/fast.py", "/repo/configs/sfv_paper.py").

    Raises ValueError for anything else (another file is not loaded: run your own config files
    with ``python -m sfv_jax.main --config=FILE``).
    """
    text = os.path.normpath(name_or_path)
    stem, ext = os.path.splitext(os.path.basename(text))
    is_path = ext == ".py" or os.sep in text
    in_configs = os.path.basename(os.path.dirname(text)) == "configs" and ext == ".py"
    name = _ALIASES.get(stem, stem)
    if name not in NAMES or (is_path and not in_configs):
        known = ", ".join(sorted(set(NAMES) | set(_ALIASES)))
        raise ValueError(f"{name_or_path}: not a project recipe (a name: {known}; or one of "
                         f"configs/<name>.py); run your own config files with "
                         f"`python -m sfv_jax.main --config=FILE`")
    return name


def get(name_or_path: str) -> ml_collections.ConfigDict:
    """A fresh job config of the recipe ``name_or_path`` (see ``recipe_name``)."""
    module = importlib.import_module(f"sfv_jax.recipes.{recipe_name(name_or_path)}")
    return module.get_config()


def override(cfg: ml_collections.ConfigDict, items: Sequence[str]
             ) -> ml_collections.ConfigDict:
    """Applies ``key.path=value`` overrides to ``cfg`` in place and returns it.

    A value is read as a Python literal (``20``, ``(32, 64)``, ``'adam'``), else kept as text.
    Raises ValueError naming the item when it has no ``=`` or its key is not in ``cfg``.
    """
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r}: expected KEY.PATH=VALUE")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        node = cfg
        *parents, leaf = key.split(".")
        try:
            for p in parents:
                node = node[p]
            if leaf not in node:
                raise KeyError(leaf)
        except (KeyError, TypeError, AttributeError):
            raise ValueError(f"override {item!r}: no key {key!r} in the config") from None
        node[leaf] = value
    return cfg
