# lmrepro: the two commands of the README, and the rest.
#   make reproduce   venv + install + full default reproduction (snakemake --cores all)
#   make test        venv + install + the test suite (smoke DAG included)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip warns about every package missing from a partial local index: harmless, hidden.
QUIET_PIP := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export HF_HUB_OFFLINE := 1
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1
CORES ?= all
PORT ?= 5000

.PHONY: install reproduce smoke test test-fast faults lint ui report bench gpu-check dvc.yaml dvc-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip $(QUIET_PIP)

# torch==2.13.0 first: it installs the CPU build from local disk; then exact pins.
$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet torch==2.13.0 $(QUIET_PIP)
	$(BIN)/pip install --quiet -r requirements.lock $(QUIET_PIP)
	$(BIN)/pip install --quiet --no-deps -e . $(QUIET_PIP)
	touch $@

install: $(VENV)/.installed

# After a killed run: remove its stale lock (one line says so; refused while a snakemake
# or a stage process still works here) and rerun the jobs it left incomplete.
RECOVER := python -m lmrepro.unlock
SNAKEMAKE := snakemake --rerun-incomplete
# Optional targets (files or rules) to limit a run, e.g. make reproduce TARGETS=data/nlu/tasks.parquet
TARGETS ?=

# A fresh clone carries our reports/ but no data/: Snakemake would see the committed
# results as up to date and do nothing, so without data/ every job is forced.
reproduce: install
	$(RECOVER)
	$(SNAKEMAKE) --cores $(CORES) $(if $(wildcard data),,--forceall) $(TARGETS)

# A profile works in runs/<profile>/ (data, models, reports, logs, mlflow.db, .snakemake):
# it never overwrites the default profile's results. TARGETS are relative to that folder.
smoke: install
	$(RECOVER) --directory runs/smoke
	$(SNAKEMAKE) --cores 2 $(TARGETS) --configfile params.yaml workflow/profiles/smoke/params.yaml

# Two pytest-xdist workers, a test file to a worker (its module fixtures computed once);
# the smoke and cluster DAG runs are made once per session whichever worker asks first
# (tests/conftest.py once_per_session). One process took ~85 min on a 2-core AVX2 machine.
# TEST_WORKERS=0 runs the suite in this process.
TEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile)
test: install
	python -m pytest -q $(XDIST)

# Unit tests only: no smoke DAG run (local or cluster executor).
test-fast: install
	python -m pytest -q -m "not e2e and not scaleout" $(XDIST)

# The fault table of the report's appendix: every fault-injection test, rows kept only for
# tests that passed (tests/faults.py); written atomically to reports/faults.md.
faults: install
	LMREPRO_FAULT_TABLE=reports/faults.md python -m pytest -q -p no:xdist -m fault

lint: install
	snakemake --lint
	snakefmt --check Snakefile workflow/rules
	python -m lmrepro.condaenv check

dvc.yaml: install
	python -m lmrepro.dvcgen write

dvc-check: install
	python -m lmrepro.dvcgen check

# MLflow UI on loopback only, one worker, reading the embedded store.
# MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false: no huey job runners (seven processes for the
# GenAI jobs; run browsing needs none, and they took CPU from the stages on 2 cores).
ui: install
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false mlflow server --backend-store-uri "$$(python -m lmrepro.tracking uri)" --host 127.0.0.1 --port $(PORT) --workers 1

# The report needs every output it shows: bring the DAG up to date first (a no-op when it is).
report: install
	$(RECOVER)
	$(SNAKEMAKE) --cores $(CORES)
	snakemake --cores 1 --report report.html

bench: install
	python -m lmrepro.tools.bench

# On a GPU machine, before a paper-profile run: a few paper-size training steps per track
# on CUDA with throughput and peak memory (a few minutes; fails clearly without CUDA).
gpu-check: install
	python -m lmrepro.tools.gpu_check --profile paper --device cuda --json reports/gpu_check.json

clean:
	rm -rf data models logs mlflow.db mlartifacts .snakemake report.html runs
