# The README's commands. Everything a command needs is installed by the project itself:
# system packages (Java 17; PostgreSQL and MariaDB for the tests) from Debian when run as
# root, the Python packages into .venv, and the Delta/JDBC jars into ~/.cache/lake.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUTPUT ?= output
PYTEST_ARGS ?=
# the suite runs in TEST_WORKERS processes, a test file per process at a time (pytest-xdist
# --dist loadfile): each has its own Spark session; most of a small test's time is Spark's
# and Delta's fixed cost per job and commit, which two processes overlap on two cores.
# Files are handed out in collection order, longest first (tests/conftest.py, LONGEST_FIRST)
# Three processes were slower on two cores (2026-11-27: the CPU 99.5% busy and the suite at 57%
# after 28 minutes, against 26 minutes for the whole suite with two).
TEST_WORKERS ?= 2
XDIST  := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: help setup setup-test jars demo lint test test-long test-fast test-benchmark clean clean-lake db-start db-stop benchmark notebooks

help:
	@echo "make demo        set everything up and run the demo (both pipelines, CSV in $(OUTPUT)/)"
	@echo "make test        set everything up (incl. PostgreSQL and MariaDB), lint and run the test suite"
	@echo "make lint        ruff (lint + format check) and mypy on lake/"
	@echo "make test-long   make test plus the long cases (N = 10 deliveries vs one full run)"
	@echo "make setup       system packages, virtualenv, package and jar cache only"
	@echo "make benchmark   run scripts/benchmark.py at 1 million rows (and 2 000 beside it)"
	@echo "make clean-lake  remove the demo's lake, data and output folders"

$(BIN)/python:
	bash scripts/setup_system.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.py lake/versions.py
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

jars: $(VENV)/.installed
	$(BIN)/python -m lake.install --warm

setup: $(VENV)/.installed jars

setup-test: setup
	bash scripts/setup_system.sh --with-db

demo: setup
	$(BIN)/lake demo --output-dir $(OUTPUT)

# lint first: a lint or type error fails make test before the (long) suite starts
lint: $(VENV)/.installed
	$(BIN)/ruff check lake
	$(BIN)/ruff format --check lake
	$(BIN)/mypy lake

test: setup-test lint
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-long: setup-test lint
	LAKE_LONG_TESTS=1 $(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

db-start: setup-test
	bash scripts/db/postgres.sh start
	bash scripts/db/mariadb.sh start

db-stop:
	-bash scripts/db/postgres.sh stop
	-bash scripts/db/mariadb.sh stop

test-benchmark: setup
	$(BIN)/python -m pytest -m benchmark $(PYTEST_ARGS)

benchmark: setup
	$(BIN)/python scripts/benchmark.py --rows 1000000 --small-rows 2000 --out benchmarks/latest.json

notebooks: setup
	$(BIN)/python scripts/clear_notebooks.py --check

clean-lake:
	rm -rf lake-data data output

clean: clean-lake
	rm -rf $(VENV) *.egg-info .pytest_cache
