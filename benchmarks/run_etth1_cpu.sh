#!/usr/bin/env bash
# The ETTh1 cells run on CPU (paper settings): the quick baselines of every cell first, then Informer and
# Informer‡. Cells already in benchmarks/results/paper/*.json are skipped.
set -u
cd "$(dirname "$0")/.."
OUT=benchmarks/results/paper
run() { .venv/bin/sparsecast reproduce --table "$1" --data ETTh1 --horizons "$2" --models "$3" --out "$OUT" \
          --no-progress || echo "FAILED: $*"; }
run multivariate 24 dlinear,repeat_last
run multivariate 48 dlinear,repeat_last
run univariate 24 dlinear,repeat_last
run multivariate 24 informer
run multivariate 48 informer
run multivariate 24 full
run multivariate 48 full
# seq_len 720: about an hour per epoch on a 2-core CPU. A killed run continues from its last checkpoint (written
# after every epoch and every 10 minutes inside one) when the script runs again.
run univariate 24 informer
run univariate 24 full
