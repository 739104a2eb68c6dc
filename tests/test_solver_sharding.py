"""Sharding the clip axis over 4 (forced host) devices gives the same result as 1 device."""
import json
import os
import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent("""
    import json
    import jax, numpy as np
    from sfv_jax.solver import solve, solver_config
    from sfv_jax.synthetic import make_synthetic_clip, tiny_body
    assert len(jax.local_devices()) == 4, jax.local_devices()
    MODEL = tiny_body()
    cs = [make_synthetic_clip(MODEL, n, seed=90 + i)[0] for i, n in enumerate([20, 30, 25])]
    # The solver tests' config (tests/conftest.py solver_cfg) with 20 iterations, no progress.
    cfg = solver_config()
    cfg.adam.iterations, cfg.progress_every, cfg.bucket_lengths = 20, 0, (32, 64)
    many = solve(MODEL, cs, cfg, progress=False)
    one = solve(MODEL, cs, cfg, progress=False, devices=jax.local_devices()[:1])
    print(json.dumps({
        "pose": max(float(np.abs(a.pose - b.pose).max()) for a, b in zip(many, one)),
        "cam": max(float(np.abs(a.cam - b.cam).max()) for a, b in zip(many, one)),
        "total": max(abs(a.final_loss["total"] - b.final_loss["total"])
                     for a, b in zip(many, one)),
        "moved": float(np.abs(many[0].pose - cs[0].pose).max()),
    }))
""")


def test_four_devices_match_one():
    # The package is installed (pip -e): the subprocess imports it like any user script.
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    diff = json.loads(out.stdout.strip().splitlines()[-1])
    assert diff["moved"] > 1e-3          # the solve did something
    assert diff["pose"] < 1e-5 and diff["cam"] < 1e-5, diff
    assert diff["total"] < 1e-5 * 10, diff
