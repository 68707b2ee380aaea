# The two commands of the Quick start: `make demo` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: demo test lint pytest serve migrate clean messages lock bench fuzz screenshots system-deps-demo system-deps-test system-deps-bench

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Install exactly the versions in requirements.lock (hash-checked), then IM2 itself; again
# whenever pyproject.toml or the lock changes. `make lock` refreshes the lock.
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

lock: $(VENV)/.installed
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --upgrade -o requirements.lock

# Debian libraries the targets need beyond Python (installed when run as root).
system-deps-%:
	scripts/system-deps $*

demo: system-deps-demo $(VENV)/.installed
	$(BIN)/im2 demo --host $(HOST) --port $(PORT)

serve: $(VENV)/.installed
	$(BIN)/im2 migrate
	$(BIN)/im2 serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed
	$(BIN)/ruff check im2 tests benchmarks
	$(BIN)/ruff format --check im2 tests benchmarks
	$(BIN)/mypy im2
	$(BIN)/lint-imports
	$(BIN)/deptry im2

# One pytest worker per core (pytest-xdist); each worker has its own database.
PYTEST_WORKERS ?= auto
pytest: system-deps-test $(VENV)/.installed
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

test: lint pytest

# Every benchmark at its quick size (BENCH=--smoke for the seconds-long check CI runs).
BENCH ?= --quick
bench: system-deps-bench $(VENV)/.installed
	scripts/bench $(BENCH)

# Every console page and every public page of the demo at 390x844 and 1366x900, to look at
# before a release (build/screenshots/index.json lists pages too wide, raw times or English).
# URL=http://host:port takes them from a running demo instead of starting one.
SCREENSHOTS ?= build/screenshots
screenshots: system-deps-test $(VENV)/.installed
	$(BIN)/python scripts/screenshots.py --out $(SCREENSHOTS) $(if $(URL),--url $(URL))

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache .pytest_cache

# Re-extract UI strings and merge them into the Chinese catalog (then translate the new ones);
# the Traditional Chinese catalog is converted from it (scripts/make_zh_tw.py).
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ --no-location --omit-header -o build/messages.pot im2
	$(BIN)/pybabel update -i build/messages.pot -d im2/locale -l zh_CN --no-fuzzy-matching --ignore-obsolete
	$(BIN)/python scripts/make_zh_tw.py

# The API fuzz test at length (tests/test_fuzz_api.py; `make test` runs it small): 200 cases per
# operation and caller, with the stateful phase. IM2_FUZZ_SEED=<n> tries another seed.
IM2_FUZZ_EXAMPLES ?= 200
fuzz: system-deps-test $(VENV)/.installed
	IM2_FUZZ_EXAMPLES=$(IM2_FUZZ_EXAMPLES) $(BIN)/pytest -p no:randomly -s tests/test_fuzz_api.py
