"""Sharding the clip axis over 4 (forced host) devices gives the same result as 1 device."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np

_SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    sys.path.insert(0, {tests!r})
    from solver_case import MODEL, clips, config
    from sfv_jax.solver import solve
    assert len(jax.local_devices()) == 4, jax.local_devices()
    cs = clips([20, 30, 25], seed=90)
    cfg = config(progress_every=0, **{{"adam.iterations": 20}})
    many = solve(MODEL, cs, cfg, progress=False)
    one = solve(MODEL, cs, cfg, progress=False, devices=jax.local_devices()[:1])
    print(json.dumps({{
        "pose": max(float(np.abs(a.pose - b.pose).max()) for a, b in zip(many, one)),
        "cam": max(float(np.abs(a.cam - b.cam).max()) for a, b in zip(many, one)),
        "total": max(abs(a.final_loss["total"] - b.final_loss["total"])
                     for a, b in zip(many, one)),
        "moved": float(np.abs(many[0].pose - cs[0].pose).max()),
    }}))
""")


def test_four_devices_match_one():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu", PYTHONPATH=root + os.pathsep + os.environ.get(
                   "PYTHONPATH", ""))
    script = _SCRIPT.format(tests=os.path.join(root, "tests"))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    diff = json.loads(out.stdout.strip().splitlines()[-1])
    assert diff["moved"] > 1e-3          # the solve did something
    assert diff["pose"] < 1e-5 and diff["cam"] < 1e-5, diff
    assert diff["total"] < 1e-5 * 10, diff
