#!/usr/bin/env bash
# The ETTh1 cells run on CPU in the first session (paper settings; baselines first, then Informer and Informer‡).
set -u
cd "$(dirname "$0")/.."
OUT=benchmarks/results/paper
for table_h in "multivariate 24" "multivariate 48" "univariate 24"; do
  set -- $table_h
  for models in "dlinear,repeat_last" "informer" "full"; do
    .venv/bin/sparsecast reproduce --table "$1" --data ETTh1 --horizons "$2" --models "$models" \
      --out "$OUT" --no-progress || echo "FAILED: $table_h $models"
  done
done
