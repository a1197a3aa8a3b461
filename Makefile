# Newcomer entry points: `make demo` and `make test`. Each installs what it
# needs into .venv first: `make demo` only glmops[serve,report] and the demo's
# HTTP client, `make test` the [dev] extra. Each has its own stamp, so either
# reinstalls when pyproject.toml changes and switching between them is safe
# (the demo's packages are a subset of [dev]).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test lint bench bench-serving install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DEMO_STAMP): pyproject.toml examples/demo/requirements.txt | $(PY)
	$(PY) -m pip install --quiet -e '.[serve,report]' -r examples/demo/requirements.txt
	touch $(DEMO_STAMP)

install: $(STAMP)

demo: $(DEMO_STAMP)
	$(PY) -m examples.demo --output demo-output

lint: $(STAMP)
	$(VENV)/bin/ruff format --check src tests bench examples
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict examples

test: lint
	$(PY) -m pytest -n 2 --dist loadgroup -q

bench: $(STAMP)
	$(PY) -m bench.run --write

# glmops serve vs MLflow, BentoML and MLServer (peer venvs under bench/, created once)
bench-serving: $(STAMP)
	command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	PYTHON=$(PYTHON) bash bench/setup_peers.sh
	$(PY) bench/serving.py --out bench/results/serving.json

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
