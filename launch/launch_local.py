"""Runs one job as N cooperating processes on this machine through jax.distributed.

  python launch/launch_local.py --num_processes=2 -- --config=configs/sfv_paper.py \
      --workdir=/tmp/run --config.inputs.dir=/data/videos

Each process is ``python -m sfv_jax.main`` with SFV_COORDINATOR / SFV_NUM_PROCESSES /
SFV_PROCESS_ID set; process 0 hosts the coordinator on a free localhost port. Each process
takes its share of the videos and solves on its own local devices (on a CPU-only machine, set
--devices_per_process to split the cores into virtual devices). The exit status is the worst
of the processes'. Across machines use the same variables (or Slurm: launch/slurm_example.sh).
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_processes", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="coordinator port (0: a free one)")
    parser.add_argument("--devices_per_process", type=int, default=0,
                        help="CPU only: virtual XLA host devices per process (0: leave as is)")
    parser.add_argument("job_args", nargs=argparse.REMAINDER,
                        help="arguments of sfv_jax.main, after --")
    args = parser.parse_args()
    job_args = [a for a in args.job_args if a != "--"]
    port = args.port or free_port()
    procs = []
    for i in range(args.num_processes):
        env = dict(os.environ, SFV_COORDINATOR=f"127.0.0.1:{port}",
                   SFV_NUM_PROCESSES=str(args.num_processes), SFV_PROCESS_ID=str(i))
        if args.devices_per_process > 0:
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_"
                                f"count={args.devices_per_process}").strip()
        procs.append(subprocess.Popen([sys.executable, "-m", "sfv_jax.main", *job_args],
                                      env=env))
    codes = [p.wait() for p in procs]
    for i, c in enumerate(codes):
        print(f"process {i}: exit status {c}")
    return max(codes, key=abs) if any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
