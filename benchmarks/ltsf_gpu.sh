#!/usr/bin/env bash
# The LTSF table's cells that a 2-core CPU cannot afford, on one GPU within a time budget: our PatchTST-style model
# (its large setting: hours per cell on one CPU thread) on ETTm1, ETTm2 and weather, the paper's Informer with and
# without RevIN on ETTh1, and the seeds still missing. Several `sparsecast benchmark ltsf` processes share the GPU
# at once, one (data, models, seed) slice each, in priority order. Finished cells are skipped and a cell stopped by
# the budget continues from its checkpoint on the next call, so calling it again goes on where it stopped.
#   benchmarks/ltsf_gpu.sh [BUDGET_MINUTES] [PARALLEL]     (defaults: 40 minutes, 6 processes)
# Environment: PY (default .venv/bin/python; on a machine where sparsecast is not installed, PY=python3
# PYTHONPATH=src), ROOT (data folder, default ../shared/data), OUT (default benchmarks/results/ltsf), DEVICE (default
# cuda; cpu runs the same slices on the CPU, for trying the script).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ROOT=${ROOT:-../shared/data}
OUT=${OUT:-benchmarks/results/ltsf}
DEVICE=${DEVICE:-cuda}
BUDGET=${1:-40}
PARALLEL=${2:-6}
mkdir -p "$OUT"
if [ "$DEVICE" = cuda ]; then
  gpu=$("$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU: this script is for a GPU machine'; \
print('GPU:', torch.cuda.get_device_name(), '| torch', torch.__version__)") || exit 1
  echo "$gpu" | tee "$OUT/gpu.txt"
fi
SLICES=(  # data models seed: each line one process
  "ETTm1 patchtst 0" "ETTm2 patchtst 0" "weather patchtst 0"
  "ETTh1 informer,informer:revin=true 0"
  "ETTm1 patchtst 1" "ETTm2 patchtst 1" "weather patchtst 1"
  "ETTm1 patchtst 2" "ETTm2 patchtst 2" "weather patchtst 2"
  "ETTh1 patchtst 1" "ETTh2 patchtst 1" "ETTh1 patchtst 2" "ETTh2 patchtst 2"
  "weather dlinear 1" "ETTm1 dlinear 1" "weather dlinear 2" "ETTm1 dlinear 2"
  "ETTh1 informer,informer:revin=true 1" "ETTh1 informer,informer:revin=true 2"
)
launch() {  # seconds left, "data models seed"
  local data models seed
  read -r data models seed <<< "$2"
  echo "== $(date -u) $data $models seed $seed (${1}s left)" >> "$OUT/${data}_gpu.log"
  # checkpoints every 2 minutes: a cell stopped by the budget loses at most that much
  timeout --signal=INT "$1" "$PY" -m sparsecast benchmark ltsf --data "$data" --root-path "$ROOT" \
      --models "$models" --seeds "$seed" --out "$OUT" --device "$DEVICE" --threads 2 --checkpoint-minutes 2 \
      --no-progress >> "$OUT/${data}_gpu.log" 2>&1 &
}
source benchmarks/budget.sh
run_budgeted "$BUDGET" "$PARALLEL" launch "${SLICES[@]}"
echo "== $(date -u) done; tables in $OUT/*_ltsf.md"
