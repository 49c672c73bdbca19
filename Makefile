# Every target that runs code first creates or updates the virtual environment from the project's files.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck bench fuzz clean

$(STAMP): pyproject.toml constraints.txt setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## sandbox deploy of the dev stack: offline, AWS emulated in-process by moto
	$(BIN)/mlopsgen sandbox up --stack dev

test: $(STAMP)  ## lint, type check and the whole test suite
	$(BIN)/ruff check infra tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check infra tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)  ## benchmarks against their peers (installs the peers into $(VENV)-bench)
	$(BIN)/python benchmarks/ab_guardrail.py
	bash benchmarks/run_drift_vs_evidently.sh
	$(BIN)/python benchmarks/compare_startup.py

fuzz: $(STAMP)  ## 2,000 generated and mutated profile and stack files through validate, preview and sandbox up
	$(BIN)/python benchmarks/fuzz_profiles.py --cases 2000 --sandbox 50

clean:
	rm -rf $(VENV) $(VENV)-bench build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
