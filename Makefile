# Every target that runs code first creates or updates the virtual environment from the project's files.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck bench lambda-deps clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## sandbox deploy of the dev stack: offline, AWS emulated in-process by moto
	$(BIN)/mlopsgen sandbox up --stack dev

test: $(STAMP)  ## lint, type check and the whole test suite
	$(BIN)/ruff check infra tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check infra tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)  ## benchmarks against their peers (installs the peers into $(VENV)-bench)
	$(BIN)/python benchmarks/ab_guardrail.py
	bash benchmarks/run_drift_vs_evidently.sh

# The Lambda layer for `pulumi up`: numpy, scipy and pydantic built for Lambda's Linux (x86_64, Python 3.11),
# at the versions the project pins. pyarrow would push the layer past Lambda's 250 MB limit, so the deployed
# functions read CSV batches; the CLI reads CSV and Parquet.
lambda-deps: $(STAMP)
	rm -rf build/lambda && mkdir -p build/lambda
	$(BIN)/python -m pip install -q --platform manylinux2014_x86_64 --implementation cp --python-version 3.11 \
	  --only-binary=:all: --target build/lambda/python \
	  $$(grep -iE '^(numpy|scipy|pydantic|pydantic[-_]core|annotated-types|typing[-_]extensions|typing[-_]inspection)==' constraints.txt)
	find build/lambda/python -type d \( -name tests -o -name __pycache__ \) -prune -exec rm -rf {} +
	cd build/lambda && $(CURDIR)/$(BIN)/python -m zipfile -c runtime-deps.zip python

clean:
	rm -rf $(VENV) $(VENV)-bench build .pytest_cache .mypy_cache .ruff_cache
