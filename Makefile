# Two commands on a fresh machine: `make demo` and `make test`.
# Both install from the committed locks in requirements/ (exact versions, hashes), with
# plain pip: nothing beyond Python 3.11+, make and git is needed. `make lock` refreshes them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv resolves the locks (`make lock`, `make test-lowest`); pinned so a new uv cannot change them
UV_VERSION := 0.13.9
UV := $(VENV)-tools/bin/uv
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 --custom-compile-command 'make lock' -q
PIP_LOCKED := --require-hashes --no-deps -q

.PHONY: demo test lint format typecheck contracts coverage mutation bench lock test-latest test-lowest clean

$(VENV)/.installed: requirements/runtime.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_LOCKED) -r requirements/runtime.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements/dev.lock
	$(BIN)/pip install $(PIP_LOCKED) -r requirements/dev.lock
	touch $@

$(UV):
	$(PYTHON) -m venv $(VENV)-tools
	$(VENV)-tools/bin/pip install -q uv==$(UV_VERSION)

demo: $(VENV)/.installed
	$(BIN)/avrgen validate
	$(BIN)/avrgen render

# avrgen's bytecode, written before the suite: the tests start hundreds of `python -m avrgen`
# processes, and where PYTHONDONTWRITEBYTECODE is set (as on the CI machine) or the checkout
# is fresh each would compile every module it imports from source again.
BYTECODE := $(BIN)/python -m compileall -q avrgen

# COVERAGE=1 (as .ci/run sets): the suite once, under coverage, with its floors (`coverage`)
test: lint typecheck contracts
ifeq ($(COVERAGE),1)
	$(MAKE) --no-print-directory coverage
else
	$(BYTECODE)
	$(BIN)/pytest $(PYTEST_ARGS)
endif

lint: $(VENV)/.installed-test
	$(BIN)/ruff check avrgen tests benchmarks
	$(BIN)/ruff format --check avrgen tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

contracts: $(VENV)/.installed-test
	$(BIN)/lint-imports

# The docker test modules whose engines are their own (tests/cluster.py namespaces, each module
# with a prefix and addresses of its own): they share nothing with the machine's engine, so
# they run beside the other docker tests. test_swarm.py's one-node swarm is one of them: swarm
# mode never reaches the machine's engine, and its minutes of waiting on swarm convergence
# leave the machine's-engine process, CI's longest.
DOCKER_ON_OWN_ENGINES := tests/docker/test_multinode.py tests/docker/test_hosts.py \
	tests/docker/test_swarm.py

# The whole suite under coverage.py (docker tests and the CLI run as a process included), then
# the floors of tests/coverage_gate.py: 95% of lines, 90% of branches, 90% of each module's lines.
coverage: $(VENV)/.installed-test
	$(BYTECODE)
	rm -rf .coverage-data && mkdir -p .coverage-data
	@# Three pytest processes at once: the docker tests mostly wait on an engine, those on
	@# engines of their own (network namespaces, DOCKER_ON_OWN_ENGINES) beside those on the
	@# machine's engine, and the rest mostly use the CPU. The other two logs are shown when
	@# all three are done. Each has a temporary folder of its own: in the shared default one
	@# (/tmp/pytest-of-USER) each session would prune the others' folders as it starts.
	@tmp=$$(mktemp -d /tmp/avrgen-coverage.XXXXXX); \
	$(BIN)/coverage run -m pytest -p no:cacheprovider -m "not docker" $(PYTEST_ARGS) \
		--basetemp=$$tmp/without-docker >.coverage-data/without-docker.log 2>&1 & without=$$!; \
	$(BIN)/coverage run -m pytest -p no:cacheprovider -m docker $(PYTEST_ARGS) \
		--basetemp=$$tmp/own-engines $(DOCKER_ON_OWN_ENGINES) \
		>.coverage-data/own-engines.log 2>&1 & own=$$!; \
	$(BIN)/coverage run -m pytest -p no:cacheprovider -m docker $(PYTEST_ARGS) \
		--basetemp=$$tmp/docker $(addprefix --ignore=,$(DOCKER_ON_OWN_ENGINES)); docker=$$?; \
	wait $$own; own_status=$$?; wait $$without; rest=$$?; \
	echo "== the docker tests on engines of their own (run beside the others):"; \
	cat .coverage-data/own-engines.log; \
	echo "== the tests without docker (run beside the docker tests):"; \
	cat .coverage-data/without-docker.log; \
	rm -rf $$tmp; [ $$docker -eq 0 ] && [ $$own_status -eq 0 ] && [ $$rest -eq 0 ]
	$(BIN)/coverage combine -q
	$(BIN)/coverage report
	$(BIN)/coverage json -q -o .coverage-data/coverage.json
	$(BIN)/python tests/coverage_gate.py .coverage-data/coverage.json

# Mutation testing of the pipeline modules (mutmut, [tool.mutmut] in pyproject.toml): a sample
# of MUTATION_PER_MODULE mutants a module drawn with MUTATION_SEED, each module's score against
# 95% (docs/testing.md, "Mutation testing"). Not in CI: 15-25 minutes on two cores.
MUTATION_SEED ?= 14
MUTATION_PER_MODULE ?= 40
mutation: $(VENV)/.installed-test
	$(BIN)/python tests/mutation_run.py --seed $(MUTATION_SEED) --per-module $(MUTATION_PER_MODULE)

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix avrgen tests benchmarks
	$(BIN)/ruff format avrgen tests benchmarks

# Re-resolve both locks from pyproject.toml's ranges (the newest releases they allow).
# The runtime lock is constrained by the dev lock, so `make demo` and `make test` agree.
lock: $(UV)
	$(UV) pip compile pyproject.toml requirements/build.in --extra test --extra dev \
		$(LOCK_FLAGS) -o requirements/dev.lock
	$(UV) pip compile pyproject.toml requirements/build.in -c requirements/dev.lock \
		$(LOCK_FLAGS) -o requirements/runtime.lock

# Drift seen before users see it: the suite against the newest releases of every
# dependency, then against the lowest versions pyproject.toml's ranges allow, each in a
# virtualenv of its own (the locked .venv is left alone).
test-latest:
	rm -rf $(VENV)-latest
	$(PYTHON) -m venv $(VENV)-latest
	$(VENV)-latest/bin/pip install -q --upgrade pip
	$(VENV)-latest/bin/pip install -q --upgrade -e '.[test,dev]'
	$(VENV)-latest/bin/pip freeze --exclude-editable > $(VENV)-latest/versions.txt
	$(VENV)-latest/bin/pytest -p no:cacheprovider $(PYTEST_ARGS)

test-lowest: $(UV)
	rm -rf $(VENV)-lowest
	$(PYTHON) -m venv $(VENV)-lowest
	$(UV) pip compile pyproject.toml requirements/build.in --extra test --extra dev \
		--resolution lowest-direct --python-version 3.11 -q -o $(VENV)-lowest/lowest.txt
	$(VENV)-lowest/bin/pip install -q --no-deps -r $(VENV)-lowest/lowest.txt
	$(VENV)-lowest/bin/pip install -q --no-deps --no-build-isolation -e .
	$(VENV)-lowest/bin/pytest -p no:cacheprovider $(PYTEST_ARGS)

# Whole-process timings against their targets (docs/performance.md); BENCH_ARGS=--quick
# for 1,000 agents only. Prints every figure with its target; writes benchmarks/results/*.json.
# The bytecode first: an installed avrgen has it (pip compiles), so each timed process must
# not compile from source what it imports (PYTHONDONTWRITEBYTECODE, or files just edited).
bench: $(VENV)/.installed
	$(BYTECODE)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(VENV)-tools $(VENV)-latest $(VENV)-lowest build dist *.egg-info
