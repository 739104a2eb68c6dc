"""Plays DeepMimic motion files on pybullet's DeepMimic humanoid and prints what a character feels.

    python launch/check_deepmimic.py FILE [FILE ...]        (needs pip install '.[physics]')

The figures and the conventions: ``sfv_jax/evaluation/deepmimic_check.py``. The last line is
JSON: {"files": {path: {...}}, "failed": {path: error}}.
"""
import sys

from sfv_jax.evaluation.deepmimic_check import main

if __name__ == "__main__":
    sys.exit(main())
