# Every target creates and uses .venv by itself, so a fresh clone needs nothing but python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format bench bench-probes bench-monitor-scale bench-links bench-routers bench-fault-proxy bench-browser bench-judge bench-journeys bench-router system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/livesite demo

# Debian packages the integration tests start (only when root; otherwise say what is missing).
system-deps:
	@scripts/system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/mypy src/livesite
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: bench-probes bench-monitor-scale

bench-probes: $(STAMP) system-deps
	$(BIN)/python bench/probes.py

bench-monitor-scale: $(STAMP) system-deps
	$(BIN)/python bench/monitor_scale.py

bench-routers: $(STAMP) system-deps
	$(BIN)/python bench/router_apply.py

bench-fault-proxy: $(STAMP) system-deps
	$(BIN)/python bench/fault_proxy.py

bench-links: $(STAMP) system-deps
	$(BIN)/python bench/links.py

bench-browser: $(STAMP) system-deps
	$(BIN)/python bench/browser.py

bench-judge: $(STAMP)
	$(BIN)/python bench/judge.py

bench-journeys: $(STAMP) system-deps
	$(BIN)/python bench/journeys.py

bench-router: $(STAMP) system-deps
	$(BIN)/python bench/router.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .livesite
