#!/usr/bin/env bash
# Every benchmark that needs a GPU, in one go, then one table (docs/benchmarks.md):
# ViT-B/16 at batch 256 in bf16, training step vs open_clip (throughput, memory,
# FLOP/s as a share of the measured matmul peak), embedding throughput vs
# open_clip, and the TPC-CMA step overhead. About 3 minutes on one modern GPU;
# each piece has its own time limit, 5 minutes in all.
#   bash benchmarks/gpu_suite.sh            # needs CUDA
#   bash benchmarks/gpu_suite.sh --smoke    # every piece on the CPU at a tiny size
# PYTHON (default: python) runs the benchmarks; RESULTS_DIR keeps their JSON rows.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
RESULTS_DIR=${RESULTS_DIR:-$(mktemp -d)}
mkdir -p "$RESULTS_DIR"

if [[ "${1:-}" == "--smoke" ]]; then
    COMMON=(--arch tiny --batch 8 --rounds 1 --warmup 1 --amp --peak-size 256)
    CURRICULUM=(--arch tiny --batch 8 --rounds 1 --interval 2 --device cpu)
elif [[ -n "${1:-}" ]]; then
    echo "gpu_suite.sh: unknown argument '$1' (the only option is --smoke)" >&2
    exit 2
else
    if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
        echo "gpu_suite.sh: no CUDA device (torch.cuda.is_available() is False): run it on a" \
             "GPU machine, or pass --smoke to check its pieces on the CPU at a tiny size." >&2
        exit 2
    fi
    COMMON=(--arch vit-b16 --batch 256 --rounds 10 --warmup 3 --amp)
    CURRICULUM=(--arch vit-b16 --batch 256 --rounds 3 --interval 10 --device cuda)
fi

timeout 150 "$PYTHON" -m benchmarks.bench_train_step_vs_open_clip "${COMMON[@]}" \
    --json "$RESULTS_DIR/1_train_step.json"
timeout 60 "$PYTHON" -m benchmarks.bench_embed_vs_open_clip "${COMMON[@]}" \
    --json "$RESULTS_DIR/2_embed.json"
timeout 90 "$PYTHON" -m benchmarks.bench_curriculum_overhead "${CURRICULUM[@]}" \
    --json "$RESULTS_DIR/3_curriculum.json"
echo
"$PYTHON" -m benchmarks.suite_table "$RESULTS_DIR"
