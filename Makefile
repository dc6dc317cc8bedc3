# gradproof: two commands on a fresh machine, `make demo` and `make test`; both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench reports verify clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m derive.demo
	$(BIN)/gradproof verify --no-torch examples/seed_example1.toml examples/seed_example2.toml
	$(BIN)/gradproof key examples/hw_seed/assignment.toml -o reports/seed/ --no-torch
	$(BIN)/gradproof sheet examples/hw_seed/assignment.toml -o reports/seed/

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check derive numeric tests benchmarks examples
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/derive_depth.py --out benchmarks/results/derive_depth.json
	$(BIN)/python benchmarks/gradient_speed.py --out benchmarks/results/gradient_speed.json
	$(BIN)/python benchmarks/grade_speed.py --out benchmarks/results/grade_speed.json

reports: $(STAMP)
	$(BIN)/python -m derive.demo --all

verify: $(STAMP)
	$(BIN)/gradproof verify examples/*.toml

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
