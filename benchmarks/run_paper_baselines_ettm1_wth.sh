#!/usr/bin/env bash
# The paper-protocol baselines of ETTm1 and WTH (issue 20), one thread each: DLinear and repeat-last with three seeds,
# then seasonal naive (no weights: one seed). Log: benchmarks/results/paper/ettm1_wth_baselines.log.
cd "$(dirname "$0")/.."
R=".venv/bin/sparsecast reproduce --root-path ../shared/data --threads 1 --no-progress --out benchmarks/results/paper"
for d in ETTm1 WTH; do for t in multivariate univariate; do
  echo "== $(date -u +%FT%TZ) $d $t"
  $R --data "$d" --table "$t" --models dlinear,repeat_last --seeds 0,1,2
  $R --data "$d" --table "$t" --models seasonal_naive --seeds 0
done; done
echo "== $(date -u +%FT%TZ) done"
