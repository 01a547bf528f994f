# emofx: `make run` (the offline end-to-end pipeline) and `make test`. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.emofx-installed
SYSTEM_DEPS := $(wildcard scripts/install_system_deps.sh)
export PATH := $(BIN):$(PATH)
export MPLBACKEND := Agg

.PHONY: setup run test test-fast ui team-server bench lint format clean

setup: $(STAMP)  ## create .venv and install emofx (a second call is near-instant)

$(STAMP): pyproject.toml constraints.txt $(SYSTEM_DEPS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	@if [ -n "$(SYSTEM_DEPS)" ]; then bash $(SYSTEM_DEPS); fi
	@touch $(STAMP)

run: setup  ## synthetic corpus → prepare → conditions → embed → probe → analyze (dvc repro)
	@git rev-parse --git-dir >/dev/null 2>&1 || { echo "make run needs a git checkout (dvc)"; exit 1; }
	dvc repro
	@echo
	@echo "Results:"
	@echo "  reports      $(CURDIR)/reports/index.html   (one report per dataset: reports/<dataset>/)"
	@echo "  key metrics  reports/<dataset>/metrics.json   (dvc metrics show; dvc plots show)"
	@echo "  MLflow UI    make ui   → http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"

test: setup  ## the full test suite (unit + integration + end-to-end), two workers (one per core)
	pytest -q -n 2 --dist loadfile

test-fast: setup  ## skip the slow end-to-end tests
	pytest -q -m "not slow"

team-server: setup  ## the team's MLflow server: PostgreSQL, proxied artifacts, basic-auth (docs/team.md)
	bash scripts/team_server.sh

ui: setup  ## MLflow UI on 127.0.0.1:5000 (one worker), opened on the runs, not the GenAI pages
	@echo "MLflow UI: http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"
	mlflow server --backend-store-uri sqlite:///mlruns/mlflow.db \
		--default-artifact-root $(CURDIR)/mlruns/artifacts --host 127.0.0.1 --port 5000 --workers 1

bench: setup  ## throughput / memory benchmarks (print ratios)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; python $$b || exit 1; done

lint: setup
	ruff check src tests benchmarks
	ruff format --check src tests benchmarks

format: setup
	ruff check --fix src tests benchmarks
	ruff format src tests benchmarks

clean:  ## remove pipeline outputs (not the venv, not the MLflow store)
	rm -rf data/prepared data/embeddings data/predictions data/conditions.json reports/figures
