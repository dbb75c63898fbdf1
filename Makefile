# Everyday commands; the README explains each. Run from the repository root.
PYTHON ?= python
TEST_DATABASE_URL ?= postgresql://root@127.0.0.1:5432/test

.PHONY: help install lock run demo migrate lint format test test-fast test-postgres bench verify indexes worker ci

help:  ## list the targets
	@grep -E "^[a-z-]+:.*## " $(MAKEFILE_LIST) | sed -E "s/:.*## /\t/"

install:  ## install the runtime and development requirements
	$(PYTHON) -m pip install -r requirements-dev.txt

# Edit requirements.in / requirements-bench.in / requirements-dev.in, never the .txt locks: this rewrites them, every
# dependency (transitive ones too) pinned with hashes. pip-compile comes from the dev lock.
# --no-emit-*: a machine's own pip config (extra indexes, find-links) stays out of the locks.
PIP_COMPILE = pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

lock:  ## refresh the hashed locks requirements*.txt from requirements*.in (pip-compile)
	$(PIP_COMPILE) -o requirements.txt requirements.in
	$(PIP_COMPILE) -o requirements-bench.txt requirements-bench.in
	$(PIP_COMPILE) -o requirements-dev.txt requirements-dev.in

demo:  ## the app in demo mode: SQLite and a simulated Canvas, nothing to set up
	$(PYTHON) run.py --demo

run:  ## the app on DATABASE_URL (development server)
	$(PYTHON) run.py

migrate:  ## bring the DATABASE_URL database up to date
	$(PYTHON) -m flask --app app db upgrade

lint:  ## ruff and mypy
	ruff check .
	mypy

format:  ## ruff format (rewrites files)
	ruff format .

test:  ## the test suite on SQLite
	$(PYTHON) -m pytest

test-fast:  ## a developer's loop: the suite without slow, browser and Celery tests (SQLite)
	$(PYTHON) -m pytest -q -m "not slow and not browser and not celery"

test-postgres:  ## the test suite on PostgreSQL (a fresh database on TEST_DATABASE_URL's server)
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) REQUIRE_POSTGRES=1 $(PYTHON) -m pytest

bench:  ## the benchmark against the simulator (see CANVAS_PERFORMANCE_TESTING.md)
	$(PYTHON) test_canvas_performance.py

verify:  ## observe each optimisation of the original design at work
	$(PYTHON) test_optimizations.py

indexes:  ## add the ten Canvas indexes to the DATABASE_URL database
	$(PYTHON) add_canvas_indexes.py

worker:  ## a Celery worker (needs CELERY_BROKER_URL)
	celery -A app.celery_app worker --loglevel INFO

ci:  ## what CI runs: services, the Postgres suite, lint, the optimisation checks
	.ci/run
