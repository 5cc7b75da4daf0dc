# Plenum's everyday commands. Needs only Python 3.11 and make; everything else goes into .venv.
#   make demo    set up, migrate, seed a demo session and serve http://127.0.0.1:8000
#   make test    run the whole test suite (services and browser tests run when available);
#                PYTEST_ARGS="-m services" or PYTEST_ARGS=tests/engine narrows it
#   make lint    ruff check + ruff format --check
#   make bench   the aggregation engine's benchmark (BENCH_ARGS=--quick for a short run)
#   make serve   serve without migrating or seeding (HOST=, PORT= change where)

PYTHON ?= python3.11
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo serve test lint format bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when a requirements file changed.
$(VENV)/.installed-runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-runtime

demo: $(VENV)/.installed-runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --base-url http://$(HOST):$(PORT)
	@$(MAKE) --no-print-directory serve

serve: $(VENV)/.installed-runtime
	@echo "Plenum is serving http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	$(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

# DEBUG is off outside the embedded default, and then the settings demand a secret key:
# the tests get a throwaway one unless the environment brings its own.
test: export DJANGO_SECRET_KEY ?= plenum-tests-only-not-a-secret-$(shell date +%s)-0123456789abcdefghij
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest --timeout 600 $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-runtime
	$(BIN)/python -m aggregation.bench $(BENCH_ARGS)
