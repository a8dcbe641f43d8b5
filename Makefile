# The two commands README gives: `make run` (web server, job worker and the
# network simulator together, Ctrl-C stops them all; SIMULATOR=0 leaves the
# simulator out) and `make test`. Everything else here
# serves them (and CI). Needs only Python 3.11+; the database is embedded unless
# DATABASE_URL is set.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install run test lint check bench bench-smoke

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo --if-empty
	DEBUG=1 $(PY) manage.py devserver 127.0.0.1:8000

test: install
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# What CI checks besides the tests: lint and formatting, the apps' layers
# (import-linter's contracts in pyproject.toml, docs/architecture.md), migrations
# complete, and the deploy check with production settings (a throw-away secret key).
check: lint
	$(VENV)/bin/lint-imports --no-logo
	$(PY) manage.py makemigrations --check --dry-run
	env -u DEBUG SECRET_KEY="check-$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
		ALLOWED_HOSTS=portal.example.com PORTAL_BASE_URL=https://portal.example.com \
		DATABASE_URL=$${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres} \
		REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
		$(PY) manage.py check --deploy --fail-level WARNING

# The benchmark (docs/benchmark.md): 1,000,000 endpoints in database bench_1m on
# DATABASE_URL's server (else 127.0.0.1:5432, else the embedded one), loaded once
# and reused; prints the table and writes bench/results/latest.json.
bench: install
	$(PY) -m bench.run --endpoints 1000000 --database bench_1m

# The same at 10,000 endpoints in a throw-away database, a few runs each, no
# timing assertions: CI runs it so that the benchmark cannot rot.
bench-smoke: install
	$(PY) -m bench.run --smoke
