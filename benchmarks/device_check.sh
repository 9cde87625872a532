#!/usr/bin/env bash
# The checks to run when a session is lent a GPU machine, as one call of the device tool (one command of at most
# 10 minutes, 8 files back): a bare machine with python3, torch with CUDA, pandas, pytest; sparsecast not installed.
#   1. the strided and fixed kernels (compiled FlexAttention) against SDPA's flash attention at 8k-64k, bf16, alone
#      on the GPU (benchmarks/attention.py);
#   2. until the deadline, training cells the 2-core CPU cannot afford, as parallel processes sharing the GPU (a
#      table's cells are split between the processes of one slice by their lock files): the LTSF table's Informer
#      and Informer + RevIN on ETTh1 at 192-720, the paper tables' Informer columns on ETTh1 (M at 168-720, S/24
#      plain and with RevIN), our PatchTST-style model on ETTm1 and ETTm2; cells the deadline stops are lost;
#   3. meanwhile, the tests marked gpu (training on the GPU matches the CPU; compiled FlexAttention equals dense).
# Results come back as $OUT/results.tgz (attention/, ltsf/ and paper/ with every cell's JSON, tables and logs) beside
# the logs. Data other than the bundled ETTh1 is read from $ROOT, a folder carried with the call.
#   OUT=$OUT ROOT=gpudata BUDGET_S=500 bash benchmarks/device_check.sh
# Bring the tables back: tar xzf results.tgz -C /tmp/gpu, then copy /tmp/gpu/ltsf/*_ltsf.{json,md} to
# benchmarks/results/ltsf/, /tmp/gpu/paper/*.{json,md,png} to benchmarks/results/paper/ and /tmp/gpu/attention/* to
# benchmarks/results/attention/gpu/ (the JSON holds every cell, the ones recorded before the call too).
# DEVICE=cpu BUDGET_S=60 ATT_LENGTHS=256 runs the same plumbing on a CPU, to try the script.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src PYTHONUNBUFFERED=1
PY=${PY:-python3}
OUT=${OUT:-/tmp/device_check}
ROOT=${ROOT:-data}
DEVICE=${DEVICE:-cuda}
deadline=$(( $(date +%s) + ${BUDGET_S:-500} ))
work=$(mktemp -d)
mkdir -p "$OUT" "$work/attention" "$work/ltsf" "$work/paper"
cp benchmarks/results/ltsf/*_ltsf.json "$work/ltsf/"  # finished cells are skipped
cp benchmarks/results/paper/*.json "$work/paper/"
snapshot() {  # the results so far as $OUT/results.tgz, replaced whole: a call cut short still brings them back
  tar czf "$work/results.tgz" -C "$work" --exclude runs --exclude '*.lock' --exclude results.tgz attention ltsf paper \
    && mv "$work/results.tgz" "$OUT/results.tgz"
}
snapshot
( while sleep 30; do snapshot; done ) &
snapshots=$!
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$PY" -c "import torch; print('torch', torch.__version__, '| cuda', torch.version.cuda)"
  echo "CPU cores: $(nproc)"; date -u; } > "$OUT/machine.txt" 2>&1

echo "== $(date -u +%T) attention" | tee -a "$OUT/steps.log"
timeout 210 "$PY" benchmarks/attention.py --device "$DEVICE" --batch 1 --repeats 5 \
    --lengths "${ATT_LENGTHS:-8192,16384,32768,65536}" --kernels "SDPA causal,strided causal,fixed causal (c=8)" \
    --out "$work/attention" > "$OUT/attention.log" 2>&1

echo "== $(date -u +%T) training until $(date -u -d @$deadline +%T)" | tee -a "$OUT/steps.log"
slice() {  # log name, processes, command...: that many processes of one command, splitting its cells
  local name=$1 n=$2 i
  shift 2
  for i in $(seq "$n"); do
    timeout -k 15 --signal=INT $(( deadline - $(date +%s) )) "$PY" -m sparsecast "$@" --device "$DEVICE" \
        --precision fp32 --threads 1 --no-progress \
        >> "$work/$name.$i.log" 2>&1 &
    sleep 1  # each claims its first cell before the next starts
  done
}
slice ltsf/ETTh1_informer 6 benchmark ltsf --data ETTh1 --models informer,informer:revin=true \
    --horizons 192,336,720 --seeds 0 --out "$work/ltsf"
slice paper/ETTh1_multivariate 6 reproduce --table multivariate --data ETTh1 --horizons 168,336,720 \
    --models informer,full,informer_prefix,informer_revin --seeds 0 --out "$work/paper"
slice paper/ETTh1_univariate 2 reproduce --table univariate --data ETTh1 --horizons 24 \
    --models informer,informer_revin --seeds 0 --out "$work/paper"
for data in ETTm1 ETTm2; do
  slice "ltsf/${data}_patchtst" 4 benchmark ltsf --data "$data" --root-path "$ROOT" --models patchtst --seeds 0 \
      --out "$work/ltsf"
done

echo "== $(date -u +%T) gpu tests" | tee -a "$OUT/steps.log"
[ "$DEVICE" = cuda ] && timeout $(( deadline - $(date +%s) )) "$PY" -m pytest -q -m gpu -p no:cacheprovider tests \
    > "$OUT/gpu_tests.log" 2>&1
kill "$snapshots"
wait
echo "== $(date -u +%T) done" | tee -a "$OUT/steps.log"
tail -n 3 "$OUT/attention.log" "$OUT/gpu_tests.log" 2>/dev/null
grep -h "test MSE\|^== \|Traceback\|Error" "$work"/*/*.log 2>/dev/null | tail -n 40
snapshot
