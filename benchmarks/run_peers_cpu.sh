#!/usr/bin/env bash
# Peers beside our forecaster on the LTSF protocol: neuralforecast's PatchTST and DLinear with its long-horizon
# tutorial settings, and LongPatch, one thread each, in one run; finished cells are skipped, and a stopped cell
# continues from the checkpoint in its run folder (written every 10 minutes of training, --checkpoint-minutes).
#   benchmarks/run_peers_cpu.sh [DATA] [HORIZONS] [MODELS]   (defaults: ETTh1, 96, lookbacks 96 and 336)
# Needs a venv with the 'peers' extra beside the pinned CPU torch (VENV, default .venv-peers):
#   python3 -m venv .venv-peers && .venv-peers/bin/pip install torch==2.13.0 &&
#   .venv-peers/bin/pip install -e '.[peers]' torch==2.13.0
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-peers}
DATA=${1:-ETTh1}
HORIZONS=${2:-96}
MODELS=${3:-longpatch:seq_len=96,nf_patchtst:seq_len=96,nf_dlinear:seq_len=96,longpatch,nf_patchtst,nf_dlinear}
OUT=benchmarks/results/peers
mkdir -p "$OUT"
lscpu | grep -E "Model name|Flags" > "$OUT/${DATA}_cpu.txt"
"$VENV/bin/sparsecast" benchmark ltsf --data "$DATA" --root-path "${ROOT:-../shared/data}" --horizons "$HORIZONS" --seeds 0 \
    --threads 1 --precision fp32 --out "$OUT" \
    --models "$MODELS" \
    >> "$OUT/${DATA}_peers.log" 2>&1
