# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/avrgen validate
	$(BIN)/avrgen render

test: $(VENV)/.installed-test
	$(BIN)/ruff check avrgen tests
	$(BIN)/ruff format --check avrgen tests
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check avrgen tests
	$(BIN)/ruff format --check avrgen tests

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix avrgen tests
	$(BIN)/ruff format avrgen tests

# Whole-process timings against the targets of issue 6 (README "Performance"); BENCH_ARGS=--quick
# for 1,000 agents only. Prints every figure with its target; writes benchmarks/results/*.json.
bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info
