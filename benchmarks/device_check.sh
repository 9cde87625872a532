#!/usr/bin/env bash
# The checks to run when a session is lent a GPU machine, as one call of the device tool (one command of at most
# 10 minutes, 8 files back): a bare machine with python3, torch with CUDA, pandas, pytest; sparsecast not installed.
#   1. with ATTENTION=1, the strided and fixed kernels (compiled FlexAttention) against SDPA's flash attention at
#      16k and 32k (ATT_LENGTHS; 8k and 64k ran in the twenty-third session), bf16, alone on the GPU
#      (benchmarks/attention.py; 90-120 s for two lengths of the three kernels, most of it compiling; recorded
#      in benchmarks/results/attention/gpu);
#   2. the tests marked gpu (training on the GPU matches the CPU; compiled FlexAttention equals dense), beside
#   3. until the deadline, training cells the 2-core CPU cannot afford, one process per slice (a table's cells at one
#      horizon), PARALLEL (default 6) at once, in the order of SLICES below: the LTSF table's Informer with and
#      without RevIN on ETTh1 at 720, the paper tables' Informer columns on ETTh1 (M at 168-720, S/24), our
#      PatchTST-style model on ETTm1, ETTm2 and weather. A cell the deadline stops is lost.
# Results come back as $OUT/results.tgz (attention/, ltsf/ and paper/ with every cell's JSON, tables and logs; a
# snapshot every 30 s, so a call cut short still brings what finished) beside the logs. Data other than the bundled
# ETTh1 is read from $ROOT, a folder carried with the call:
#   mkdir -p gpudata && cp ../shared/data/{ETTm1,ETTm2,weather}.csv gpudata && echo /gpudata/ >> .git/info/exclude
#   device run: OUT=$OUT ROOT=gpudata BUDGET_S=500 bash benchmarks/device_check.sh   (carry: gpudata)
# Attention: add the new rows of /tmp/gpu/attention/attention.json to benchmarks/results/attention/gpu/ beside the
# one-mask rows kept there (the first lease's form), and rewrite its Markdown with benchmarks/attention.py's markdown().
# Bring the tables back: tar xzf results.tgz -C /tmp/gpu, then merge the new keys of /tmp/gpu/{ltsf,paper}/*.json
# into benchmarks/results/{ltsf,paper}/ (their records name the GPU) and rewrite the Markdown.
# DEVICE=cpu BUDGET_S=90 PARALLEL=2 PY=.venv/bin/python ROOT=../shared/data runs the same plumbing on a CPU.
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
  local tmp
  tmp=$(mktemp "$work/.snapshot.XXXXXX")
  # a cell finishing mid-read renames files in the folder: tar warns (exit 1) and the archive is still whole
  tar czf "$tmp" -C "$work" --exclude runs --exclude '*.lock' --exclude '.snapshot.*' \
      --warning=no-file-changed --warning=no-file-removed attention ltsf paper
  if [ $? -le 1 ]; then mv "$tmp" "$OUT/results.tgz"; else rm -f "$tmp"; fi
}
snapshot
( while sleep 30; do snapshot; done ) > /dev/null 2>&1 &
snapshots=$!
disown "$snapshots"  # not one of the jobs run_budgeted counts
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$PY" -c "import torch; print('torch', torch.__version__, '| cuda', torch.version.cuda)"
  echo "CPU cores: $(nproc)"; date -u; } > "$OUT/machine.txt" 2>&1

if [ "${ATTENTION:-0}" = 1 ]; then  # the kernels' GPU timings (recorded in benchmarks/results/attention/gpu)
  echo "== $(date -u +%T) attention" | tee -a "$OUT/steps.log"
  timeout 300 "$PY" benchmarks/attention.py --device "$DEVICE" --batch 1 --repeats 5 \
      --lengths "${ATT_LENGTHS:-16384,32768}" --kernels "SDPA causal,strided causal,fixed causal (c=8)" \
      --out "$work/attention" > "$OUT/attention.log" 2>&1
fi

echo "== $(date -u +%T) gpu tests and training until $(date -u -d @$deadline +%T)" | tee -a "$OUT/steps.log"
left=$(( deadline - $(date +%s) ))
[ "$DEVICE" = cuda ] && [ "$left" -gt 60 ] && timeout -k 15 "$left" "$PY" -m pytest -q -rA -m gpu -p no:cacheprovider \
    tests > "$OUT/gpu_tests.log" 2>&1 &
# One process per slice (a table's cells for one horizon), PARALLEL at once, in this order. On the H200 with 16 CPU
# cores, 22 processes at once made every epoch CPU-bound (70-170 s where one process alone took 6-9 s): keep the
# processes to a few per core pair.
SLICES=(  # out folder, then the sparsecast command line without seeds, data folder and device
  "ltsf benchmark ltsf --data ETTh1 --models informer,informer:revin=true --horizons 720"
  "paper reproduce --table multivariate --data ETTh1 --models informer,informer_revin --horizons 168"
  "paper reproduce --table univariate --data ETTh1 --models informer,informer_revin --horizons 24"
  "paper reproduce --table multivariate --data ETTh1 --models informer,informer_revin --horizons 336"
  "paper reproduce --table multivariate --data ETTh1 --models informer,informer_revin --horizons 720"
  "ltsf benchmark ltsf --data ETTm1 --models patchtst --horizons 96"
  "ltsf benchmark ltsf --data ETTm1 --models patchtst --horizons 192"
  "ltsf benchmark ltsf --data ETTm1 --models patchtst --horizons 336"
  "ltsf benchmark ltsf --data ETTm1 --models patchtst --horizons 720"
  "ltsf benchmark ltsf --data ETTm2 --models patchtst --horizons 96"
  "ltsf benchmark ltsf --data ETTm2 --models patchtst --horizons 192"
  "ltsf benchmark ltsf --data ETTm2 --models patchtst --horizons 336"
  "ltsf benchmark ltsf --data ETTm2 --models patchtst --horizons 720"
  "paper reproduce --table multivariate --data ETTh1 --models full,informer_prefix --horizons 168"
  "paper reproduce --table multivariate --data ETTh1 --models full,informer_prefix --horizons 336"
  "paper reproduce --table multivariate --data ETTh1 --models full,informer_prefix --horizons 720"
  "ltsf benchmark ltsf --data weather --models patchtst --horizons 96"
  "ltsf benchmark ltsf --data weather --models patchtst --horizons 192"
  "ltsf benchmark ltsf --data weather --models patchtst --horizons 336"
  "ltsf benchmark ltsf --data weather --models patchtst --horizons 720"
)
launch() {  # seconds left, "out command...": one slice's process, stopped at the deadline
  local folder command data
  read -r folder command <<< "$2"
  data=$(sed -E 's/.*--data ([^ ]+).*/\1/' <<< "$command")
  [ -f "$ROOT/$data.csv" ] && command="$command --root-path $ROOT"  # ETTh1 is bundled
  launched=$(( ${launched:-0} + 1 ))
  echo "== $(date -u +%T) $command (${1}s left)" > "$work/$folder/gpu_$launched.log"
  timeout -k 15 --signal=INT "$1" "$PY" -m sparsecast $command --seeds 0 --out "$work/$folder" --device "$DEVICE" \
      --precision fp32 --threads 2 --no-progress >> "$work/$folder/gpu_$launched.log" 2>&1 &
}
source benchmarks/budget.sh
run_budgeted $(( (deadline - $(date +%s)) / 60 )) "${PARALLEL:-6}" launch "${SLICES[@]}"
kill "$snapshots"
wait
sleep 2  # a snapshot the kill interrupted has ended: the last one below writes its own file
echo "== $(date -u +%T) done" | tee -a "$OUT/steps.log"
tail -n 3 "$OUT/attention.log" "$OUT/gpu_tests.log" 2>/dev/null
grep -h "^== \|stopped early\|Traceback\|Error" "$work"/*/gpu_*.log 2>/dev/null | tail -n 40
snapshot
