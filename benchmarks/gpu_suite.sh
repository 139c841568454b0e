#!/usr/bin/env bash
# Every benchmark that needs a GPU, in one go, then one markdown table (docs/benchmarks.md):
# ViT-B/16 at batch 256 in bf16, training step vs open_clip (throughput, memory,
# FLOP/s as a share of the measured matmul peak), embedding throughput vs
# open_clip, the TPC-CMA step overhead, a 50-iteration TPC-CMA training with
# validation on fabricated COCO-format data, the compiled TPC-CMA step, and a
# validation embedding each image once vs once per caption. Each piece has its
# own time limit, 9.5 minutes in all (one 10-minute call on one GPU).
#   bash benchmarks/gpu_suite.sh            # needs CUDA
#   bash benchmarks/gpu_suite.sh --smoke    # every piece on the CPU at a tiny size
# PYTHON (default: python) runs the benchmarks; RESULTS_DIR (default: $OUT, else a new
# temporary folder) keeps their JSON rows and the table, table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
RESULTS_DIR=${RESULTS_DIR:-${OUT:-$(mktemp -d)}}
mkdir -p "$RESULTS_DIR"

if [[ "${1:-}" == "--smoke" ]]; then
    COMMON=(--arch tiny --batch 8 --rounds 1 --warmup 1 --amp --peak-size 256)
    CURRICULUM=(--arch tiny --batch 8 --rounds 1 --interval 2 --device cpu)
    TRAIN_VAL=(--arch tiny --iters 4 --batch 8 --val-images 4 --amp)
    COMPILED=(--arch tiny --batch 8 --rounds 1 --warmup 1 --amp --backend aot_eager)
    EVAL_ONCE=(--arch tiny --images 4 --batch 8 --rounds 1 --warmup 0)
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
    TRAIN_VAL=(--arch vit-b16 --iters 50 --batch 128 --val-images 200 --workers 8 --amp)
    COMPILED=(--arch vit-b16 --batch 256 --rounds 5 --warmup 2 --amp)
    EVAL_ONCE=(--arch vit-b16 --images 200 --batch 250 --rounds 2 --warmup 1 --amp)
fi

timeout 120 "$PYTHON" -m benchmarks.bench_train_step_vs_open_clip "${COMMON[@]}" \
    --json "$RESULTS_DIR/1_train_step.json"
timeout 45 "$PYTHON" -m benchmarks.bench_embed_vs_open_clip "${COMMON[@]}" \
    --json "$RESULTS_DIR/2_embed.json"
timeout 60 "$PYTHON" -m benchmarks.bench_curriculum_overhead "${CURRICULUM[@]}" \
    --json "$RESULTS_DIR/3_curriculum.json"
timeout 120 "$PYTHON" -m benchmarks.bench_train_validate "${TRAIN_VAL[@]}" \
    --json "$RESULTS_DIR/4_train_validate.json"
timeout 150 "$PYTHON" -m benchmarks.bench_compiled_step "${COMPILED[@]}" \
    --json "$RESULTS_DIR/5_compiled_step.json"
timeout 75 "$PYTHON" -m benchmarks.bench_eval_each_image_once "${EVAL_ONCE[@]}" \
    --json "$RESULTS_DIR/6_eval_each_image_once.json"
echo
"$PYTHON" -m benchmarks.suite_table "$RESULTS_DIR" | tee "$RESULTS_DIR/table.md"
