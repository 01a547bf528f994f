#!/usr/bin/env bash
# The embed stage on a SLURM cluster: Lightning's multi-node DDP, one task per GPU (docs/team.md).
#
#   sbatch --nodes=2 --gpus-per-node=4 scripts/slurm_embed.sh [EMBED_ARGS...]
#
# Every rank renders and encodes its own shards into data/embeddings/<dataset>/<encoder>/.partial
# (the checkout must be on a file system all nodes share); rank 0 assembles the store and records
# the MLflow run. Resubmitting after a node died reuses every finished shard.
# The encoder config must match the allocation: in lightning_configs/embed.<encoder>.yaml (or a
# copy under a folder named by embed.config_dir) set
#   trainer: {accelerator: gpu, devices: <gpus per node>, num_nodes: <nodes>, strategy: ddp}
# Lightning reads the ranks from SLURM's environment (SLURMEnvironment); SLURM starts the tasks.
#SBATCH --job-name=emofx-embed
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-task=1
#SBATCH --cpus-per-task=8
#SBATCH --time=12:00:00
#SBATCH --output=logs/emofx-embed-%j.out
set -euo pipefail

cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
source .venv/bin/activate
# MLFLOW_TRACKING_URI / _USERNAME / _PASSWORD: the team server (docs/team.md), else the local store
export MASTER_PORT="${MASTER_PORT:-$((20000 + ${SLURM_JOB_ID:-0} % 20000))}"
srun emofx embed "$@"
