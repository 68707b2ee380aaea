# The two commands of the Quick start: `make demo` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: demo test lint pytest serve migrate clean messages

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/im2 demo --host $(HOST) --port $(PORT)

serve: $(VENV)/.installed
	$(BIN)/im2 migrate
	$(BIN)/im2 serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed
	$(BIN)/ruff check im2 tests benchmarks
	$(BIN)/ruff format --check im2 tests benchmarks
	$(BIN)/mypy im2
	$(BIN)/lint-imports

# One pytest worker per core (pytest-xdist); each worker has its own database.
PYTEST_WORKERS ?= auto
pytest: $(VENV)/.installed
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

test: lint pytest

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache .pytest_cache

# Re-extract UI strings and merge them into the Chinese catalog (then translate the new ones).
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ --no-location --omit-header -o build/messages.pot im2
	$(BIN)/pybabel update -i build/messages.pot -d im2/locale -l zh_CN --no-fuzzy-matching --ignore-obsolete
