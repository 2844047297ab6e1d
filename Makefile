# The two commands of the README:  `make run`  and  `make test`.  `make lint`: the checks CI runs before the tests.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install bench lint screenshots

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	DEBUG=$${DEBUG:-1} $(PY) manage.py serve --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff (lint, then format check) and mypy on the services and selectors, all configured in pyproject.toml. Runs all
# three and fails if any failed, so one run shows every finding.
lint: install
	rc=0; \
	$(VENV)/bin/ruff check . || rc=1; \
	$(VENV)/bin/ruff format --check . || rc=1; \
	$(VENV)/bin/mypy || rc=1; \
	exit $$rc

# The README's screenshots (docs/screenshots/*.png) of every main page, desktop and phone, from a throwaway server.
screenshots: install
	$(PY) docs/screenshots/take.py

# Every benchmark, then bench/results/<date>.json and the plots of docs/benchmarks.md (bench/plot.py).
bench: install
	$(PY) bench/run_all.py
	$(PY) bench/plot.py

install: $(VENV)/.installed

# requirements-wandb.txt: the optional Weights & Biases tracking (ranking/tracking.py imports it only when configured);
# installed here so the test suite exercises it in offline mode. A production image may leave it out.
# requirements-bench.txt: matplotlib for bench/plot.py (benchmarks only; its CI test runs on a fresh venv).
$(VENV)/.installed: requirements.txt requirements-wandb.txt requirements-bench.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-wandb.txt -r requirements-bench.txt
	touch $@
