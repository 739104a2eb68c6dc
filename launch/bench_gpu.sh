#!/usr/bin/env bash
# The GPU check, run as is on a machine with one accelerator (from the repository root):
#   bash launch/bench_gpu.sh
# 1. the solver alone: 1,000 clips x 300 frames, 30 Adam iterations (frame-iterations/s);
# 2. the whole job: bench_job.py --videos 200 (400 tracks, every output on), with the
#    default clips_per_device (GPU: 256) and the output writers in worker processes.
# Each step has a time limit so the script ends within ~8 minutes on one GPU; each prints its
# figures and a JSON line, and the script ends with one JSON line holding both.
# Environment: SFV_GPU_BENCH_DRY=1 runs the same steps at a CPU-sized scale (a syntax and
# plumbing check on a machine without an accelerator); SFV_BENCH_OUT=DIR keeps the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${SFV_BENCH_OUT:-$(mktemp -d)}"
mkdir -p "$out"
if [[ "${SFV_GPU_BENCH_DRY:-0}" == "1" ]]; then
  clips=8; frames=64; iters=5; videos=2; extra=(--set solver.adam.iterations=5)
else
  clips=1000; frames=300; iters=30; videos=200; extra=()
fi
python -c "import jax; print('devices:', jax.devices())" | tee "$out/devices.txt"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee -a "$out/devices.txt" || true

status=0
timeout 180 python launch/bench_solver.py --clips "$clips" --frames "$frames" --iters "$iters" \
  --repeats 1 2>&1 | tee "$out/solver.log" || status=$?
timeout 300 python launch/bench_job.py --videos "$videos" "${extra[@]}" 2>&1 \
  | tee "$out/job.log" || status=$?

python - "$out" "$status" <<'EOF'
import json, sys
out, status = sys.argv[1], int(sys.argv[2])
def last_json(name):
    try:
        lines = [l for l in open(f"{out}/{name}") if l.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except OSError:
        return None
print(json.dumps({"devices": open(f"{out}/devices.txt").read().strip().splitlines(),
                  "solver": last_json("solver.log"), "job": last_json("job.log"),
                  "status": status, "logs": out}))
EOF
exit "$status"
