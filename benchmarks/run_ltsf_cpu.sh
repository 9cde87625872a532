#!/usr/bin/env bash
# The LTSF table on a 2-core CPU: two processes of one thread each (small models use two cores best that way).
# Finished cells are skipped, so the script continues a half-done table. Usage: bash benchmarks/run_ltsf_cpu.sh [DATA]
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-ETTh1}
OUT=benchmarks/results/ltsf
ROOT=${ROOT:-../shared/data}
mkdir -p "$OUT"
lscpu | grep -E "Model name|Flags" > "$OUT/${DATA}_cpu.txt"
run() {  # models, log name
  .venv/bin/sparsecast benchmark ltsf --data "$DATA" --root-path "$ROOT" --models "$1" --seeds 0,1,2 --precision fp32 \
      --horizons 96,192,336,720 --threads 1 --out "$OUT" >> "$OUT/${DATA}_$2.log" 2>&1
}
run "patchtst" patchtst &
run "longpatch,dlinear,repeat_last" ours &
wait
