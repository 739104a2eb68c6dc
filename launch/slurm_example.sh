#!/bin/bash
# Example Slurm job: one sfv_jax process per node (or per GPU), videos shared out between them.
# jax.distributed.initialize() reads Slurm's variables (SLURM_NTASKS, SLURM_PROCID, the node
# list) itself, so no coordinator needs to be given. Submit with: sbatch launch/slurm_example.sh
#SBATCH --job-name=sfv_jax
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-task=1
#SBATCH --cpus-per-task=8
#SBATCH --time=04:00:00
#SBATCH --output=sfv_jax_%j_%t.log

set -euo pipefail
INPUTS=${INPUTS:-/data/videos}
WORKDIR=${WORKDIR:-/scratch/$USER/sfv_jax_$SLURM_JOB_ID}

# Every task runs the same command; each one takes videos[process_index::process_count] and
# process 0 writes WORKDIR/summary.json once all are done. Reruns resume finished tracks.
srun python -m sfv_jax.main --config=configs/sfv_paper.py --workdir="$WORKDIR" \
  --config.inputs.dir="$INPUTS"
