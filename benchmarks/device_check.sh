#!/usr/bin/env bash
# The checks to run when a session is lent a GPU machine (a bare machine with python3, torch with CUDA, pandas,
# pytest; sparsecast not installed), from the repository root, writing under $OUT:
#   1. the tests marked gpu (training on the GPU matches the CPU);
#   2. the strided and fixed kernels (compiled FlexAttention) against SDPA's flash attention at 8k-64k, bf16
#      (benchmarks/attention.py, under $OUT/attention);
#   3. LongPatch on the bundled ETTh1 (M, 336 -> 96) on the GPU, with its wall-clock (compare: about 2 minutes on
#      2 CPU cores, README);
#   4. the LTSF table's remaining cells for LTSF_MINUTES (default 4) with benchmarks/ltsf_gpu.sh (our PatchTST-style
#      model on ETTm1 / ETTm2 / weather first), then the paper's remaining tables for MINUTES (default 3) with
#      benchmarks/reproduce_gpu.sh; data other than the bundled ETTh1 is read from $ROOT (default data/, carried
#      with the call).
# Example (device tool): OUT=$OUT LTSF_MINUTES=4 MINUTES=3 bash benchmarks/device_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src PYTHONUNBUFFERED=1
PY=${PY:-python3}
OUT=${OUT:-/tmp/device_check}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
"$PY" -m pytest -q -m gpu -p no:cacheprovider tests 2>&1 | tee "$OUT/gpu_tests.log"
"$PY" benchmarks/attention.py --device cuda --batch 1 --repeats 5 --lengths 8192,16384,32768,65536 \
    --kernels "SDPA causal,strided causal,fixed causal (c=8)" --out "$OUT/attention" 2>&1 | tail -8
start=$(date +%s)
"$PY" -m sparsecast train --data ETTh1 --model longpatch --features M --seq-len 336 --pred-len 96 \
    --out "$OUT/etth1-longpatch" --no-progress 2>&1 | tee "$OUT/longpatch_gpu.log"
echo "LongPatch ETTh1 336 -> 96 on the GPU: $(( $(date +%s) - start )) s, whole process" | tee -a "$OUT/longpatch_gpu.log"
mkdir -p "$OUT/ltsf" && cp benchmarks/results/ltsf/*_ltsf.json "$OUT/ltsf/"  # finished cells are skipped there
ROOT=${ROOT:-data} OUT="$OUT/ltsf" PY="$PY" bash benchmarks/ltsf_gpu.sh "${LTSF_MINUTES:-4}" 6
mkdir -p "$OUT/paper" && cp benchmarks/results/paper/*.json "$OUT/paper/"
ROOT=${ROOT:-data} OUT="$OUT/paper" PY="$PY" bash benchmarks/reproduce_gpu.sh "${MINUTES:-3}" 8
# bring the tables back: cp "$files_at"/paper/*.json *.md benchmarks/results/paper/ and "$files_at"/ltsf/*_ltsf.json
# *_ltsf.md benchmarks/results/ltsf/ (the JSON holds every cell)
