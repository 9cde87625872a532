#!/usr/bin/env bash
# The Informer paper's tables on one GPU, within a time budget: several `sparsecast reproduce` processes share the
# GPU at once, each one (data, table, seed) slice in priority order (ETTh1 with three seeds first, then one seed of
# ETTm1 / ETTh2 multivariate, WTH, and the univariate tables). Finished cells are skipped and a cell stopped by the
# budget continues from its checkpoint on the next call, so calling it again goes on where it stopped.
#   benchmarks/reproduce_gpu.sh [BUDGET_MINUTES] [PARALLEL]     (defaults: 40 minutes, 8 processes)
# Environment: PY (a python with torch and sparsecast's dependencies, default .venv/bin/python; on a machine where
# sparsecast is not installed, PY=python3 PYTHONPATH=src), ROOT (data folder, default ../shared/data), OUT (default
# benchmarks/results/paper), MODELS (default informer,full,dlinear,repeat_last,seasonal_naive).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ROOT=${ROOT:-../shared/data}
OUT=${OUT:-benchmarks/results/paper}
MODELS=${MODELS:-informer,full,dlinear,repeat_last,seasonal_naive}
BUDGET=${1:-40}
PARALLEL=${2:-8}
mkdir -p "$OUT"
gpu=$("$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU: this script is for a GPU machine'; \
print('GPU:', torch.cuda.get_device_name(), '| torch', torch.__version__)") || exit 1
echo "$gpu" | tee "$OUT/gpu.txt"
SLICES=(  # data table seeds: each line one process
  "ETTh1 multivariate 0" "ETTh1 univariate 0" "ETTh1 multivariate 1" "ETTh1 univariate 1"
  "ETTh1 multivariate 2" "ETTh1 univariate 2" "ETTm1 multivariate 0" "ETTh2 multivariate 0"
  "WTH multivariate 0" "ETTm1 univariate 0" "ETTh2 univariate 0" "WTH univariate 0"
)
launch() {  # seconds left, "data table seed"
  local data table seed
  read -r data table seed <<< "$2"
  echo "== $(date -u) $data $table seed $seed (${1}s left)" >> "$OUT/${data}_${table}_gpu.log"
  # the cells' checkpoints every 2 minutes: a slice stopped by the budget loses at most that much
  timeout --signal=INT "$1" "$PY" -m sparsecast reproduce --table "$table" --data "$data" --root-path "$ROOT" \
      --seeds "$seed" --models "$MODELS" --out "$OUT" --device cuda --threads 2 --checkpoint-minutes 2 \
      --no-progress >> "$OUT/${data}_${table}_gpu.log" 2>&1 &
}
source benchmarks/budget.sh
run_budgeted "$BUDGET" "$PARALLEL" launch "${SLICES[@]}"
echo "== $(date -u) done; tables in $OUT/*.md"
