#!/usr/bin/env bash
# Train on a Slurm cluster, one task per GPU (OpenMMLab style).
# Usage: [GPUS=16] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] [PYTHON=python] \
#        bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# e.g.   GPUS=16 bash tools/slurm_train.sh gpu tpc-b16 configs/cma_clip_b16.py work_dirs/b16 --amp
# srun starts every task; train.py's `--launcher slurm` lets mmengine read SLURM_PROCID,
# SLURM_NTASKS and the node list and set up the process group (MASTER_PORT defaults to 29500).
set -euo pipefail
if [ $# -lt 4 ]; then
    sed -n '2,7p' "$0"; exit 1
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
# PYTHON may hold options, e.g. PYTHON="python -X faulthandler": split it into words.
read -r -a PYTHON_CMD <<< "$PYTHON"

PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "${PYTHON_CMD[@]}" -u "$(dirname "$0")/train.py" "${CONFIG}" --work-dir="${WORK_DIR}" \
    --launcher slurm "${@:5}"
