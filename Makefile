# Installs into .venv. The CPU build of torch is installed first and pinned, so no step ever pulls a CUDA torch.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

STATS_VENV ?= .venv-stats

.PHONY: install test test-stats run paper clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test,images,onnx]' $(TORCH)

test: install
	$(BIN)/python -m pytest -q

# The suite again with the 'stats' extra (statsforecast, which takes pandas 2.x): the statistical models' tests run
# instead of skipping, and everything else is checked on pandas 2 too.
test-stats:
	$(PY) -m venv $(STATS_VENV)
	$(STATS_VENV)/bin/pip install -q $(TORCH)
	$(STATS_VENV)/bin/pip install -q -e '.[test,stats]' $(TORCH)
	$(STATS_VENV)/bin/python -m pytest -q

run: install
	$(BIN)/sparsecast train --data ETTh1 --model longpatch --features M --seq-len 336 --pred-len 96 --out runs/etth1-longpatch-M-96

paper: install
	$(BIN)/sparsecast train --data ETTh1 --model informer --features S --seq-len 96 --label-len 48 --pred-len 24 \
		--out runs/etth1-informer-S-24

clean:
	rm -rf $(VENV) $(STATS_VENV) build src/*.egg-info
