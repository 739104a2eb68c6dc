"""Shared test fixtures: the solver tests' case (a tiny body, a short config, synthetic clips),
hinge-respecting random poses (fitting tests) and the job runner (``python -m sfv_jax.main`` as a subprocess on small generated inputs).

Test data comes from the package (``sfv_jax.synthetic``); tests never import each other.
"""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Callable, Sequence

import numpy as np
import pytest

from sfv_jax import body

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------------------------------
# The solver tests' case
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tiny_model() -> body.BodyModel:
    """``sfv_jax.synthetic.tiny_body()``: 54 vertices, cocoplus keypoints."""
    from sfv_jax.synthetic import tiny_body
    return tiny_body()


@pytest.fixture(scope="session")
def solver_cfg() -> Callable:
    """Factory of the solver tests' config: 30 Adam iterations, buckets (32, 64), progress
    every 10; keyword overrides by key path, e.g. ``solver_cfg(**{"adam.iterations": 40})``."""
    from sfv_jax.solver import solver_config

    def make(**overrides):
        cfg = solver_config()
        cfg.adam.iterations = 30
        cfg.progress_every = 10
        cfg.bucket_lengths = (32, 64)
        for key, value in overrides.items():
            node, *rest = key.split(".")
            if rest:
                cfg[node][rest[0]] = value
            else:
                cfg[key] = value
        return cfg

    return make


@pytest.fixture(scope="session")
def solver_clips(tiny_model) -> Callable:
    """Factory: ``solver_clips([20, 30], seed=0)`` -> synthetic clips of those lengths on the
    tiny body (clip i with seed ``seed + i``)."""
    from sfv_jax.synthetic import make_synthetic_clip

    def make(lengths: Sequence[int], seed: int = 0) -> list:
        return [make_synthetic_clip(tiny_model, n, seed=seed + i)[0]
                for i, n in enumerate(lengths)]

    return make


@pytest.fixture(scope="session")
def random_poses() -> Callable:
    """``random_poses(rng, n, root_scale=pi)``: (n, 72) float32 poses near the neutral one that
    respect the knee / elbow hinges (as ``fitting`` expects them), any root orientation up to
    ``root_scale`` radians."""
    from sfv_jax import fitting

    def make(rng: np.random.Generator, n: int, root_scale: float = np.pi) -> np.ndarray:
        body_pose = (np.asarray(fitting.neutral_body_pose(1.1))
                     + 0.25 * rng.standard_normal((n, 69)))
        for k in fitting._KNEES:
            body_pose[:, k] = np.abs(body_pose[:, k]) + 0.1
            body_pose[:, k + 1:k + 3] = 0.0
        body_pose[:, fitting._L_ELBOW + 1] = -np.abs(body_pose[:, fitting._L_ELBOW + 1])
        body_pose[:, fitting._R_ELBOW + 1] = np.abs(body_pose[:, fitting._R_ELBOW + 1])
        axis = rng.standard_normal((n, 3))
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        root = axis * rng.uniform(0.0, root_scale, (n, 1))
        return np.concatenate([root, body_pose], axis=1).astype(np.float32)

    return make


# ------------------------------------------------------------------------------------------
# The job runner
# ------------------------------------------------------------------------------------------
class JobRunner:
    """Runs the job as a user does: ``python -m sfv_jax.main`` in the repository, a reduced
    synthetic body (``NUM_VERTICES``), 40 Adam iterations, no side view."""

    NUM_VERTICES = 1500
    overrides = (
        "--config=" + os.path.join(REPO, "configs", "sfv_paper.py"),
        f"--config.model.synthetic_num_vertices={NUM_VERTICES}",
        "--config.solver.adam.iterations=40",
        "--config.solver.progress_every=0",
        "--config.render.side_view=False",
    )
    repo = REPO

    def __init__(self) -> None:
        self._model = None

    def env(self, **extra: str) -> dict:
        """The subprocess environment: on the CPU, one device unless ``extra`` sets XLA_FLAGS."""
        env = dict(os.environ)
        env.pop("XLA_FLAGS", None)
        env.setdefault("JAX_PLATFORMS", "cpu")
        env.update(extra)
        return env

    def command(self, workdir: str, inputs_dir: str, *args: str) -> list[str]:
        return [sys.executable, "-m", "sfv_jax.main", *self.overrides, f"--workdir={workdir}",
                f"--config.inputs.dir={inputs_dir}", *args]

    def __call__(self, workdir: str, inputs_dir: str, *args: str, env: dict | None = None,
                 timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(workdir, inputs_dir, *args), env=env or self.env(),
                              capture_output=True, text=True, timeout=timeout, cwd=REPO)

    def sample(self, out_dir: str, seed: int) -> str:
        """A small demo-sample entry (28 frames, 320 x 180, focal 300, the job's body model)
        generated under ``out_dir``; returns its path."""
        from sfv_jax.body import synthetic
        from sfv_jax.synthetic import demo_sample
        if self._model is None:
            self._model = synthetic.synthetic_model(0, num_vertices=self.NUM_VERTICES)
        return demo_sample.generate(out_dir, demo_sample.SampleSettings(
            num_frames=28, width=320, height=180, focal=300.0, seed=seed), model=self._model)


@pytest.fixture(scope="session")
def run_job() -> JobRunner:
    """``run_job(workdir, inputs_dir, *args, env=None, timeout=900)``; also ``.env(**extra)``,
    ``.command(...)``, ``.overrides``, ``.sample(out_dir, seed)`` (see ``JobRunner``)."""
    return JobRunner()
