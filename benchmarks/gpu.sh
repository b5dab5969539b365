#!/usr/bin/env bash
# The GPU run in one script: about 6 minutes on one H100-class GPU, at most 8 (each stage has its own time limit,
# and every stage leaves its results on disk before the next starts). Run from anywhere in the repository:
#
#     bash benchmarks/gpu.sh            # first GPU (cuda:0)
#     bash benchmarks/gpu.sh cuda:1     # another one
#
# Results: benchmarks/results/cuda-<gpu-name>/ (complexity, speed, matmul, roofline, training, accuracy, e2e CSVs,
# meta.json, report.md, report.html with plotly.min.js beside it, gpu_summary.md). Nothing is downloaded: the
# ONNX Runtime rows need onnxruntime-gpu installed beforehand, and say so when it is not.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE="${1:-cuda:0}"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: torch sees no CUDA GPU here (nvidia-smi, driver, a CUDA build of torch?)" >&2
    exit 2
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv || true
OUT="$("$PY" -c "from benchmarks.gpu import default_out; print(default_out('$DEVICE'))")"
mkdir -p "$OUT"
start=$(date +%s)
# main: complexity, matmul peak, speed matrix, memory, training throughput (compiled variants within 150 s)
timeout --signal=INT --kill-after=20 330 "$PY" -m benchmarks gpu --device "$DEVICE" --out "$OUT" --stage main \
    || echo "warning: the main stage stopped early (status $?); what it wrote is kept" >&2
# end to end: the 200-frame clip and the 10 s 720p video through the Predictor
timeout --signal=INT --kill-after=10 110 "$PY" -m benchmarks gpu --device "$DEVICE" --out "$OUT" --stage e2e \
    || echo "warning: the end-to-end stage stopped early (status $?)" >&2
"$PY" -m benchmarks gpu --device "$DEVICE" --out "$OUT" --stage summary
echo "GPU run took $(( $(date +%s) - start )) s; results in $OUT (start with gpu_summary.md and report.html)"
