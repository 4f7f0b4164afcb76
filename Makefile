# Two commands for a fresh machine: `make demo` and `make test`. Each sets up .venv when needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := False
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: demo test quick lint docs clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/reactivation demo

# two pytest-xdist workers (TEST_WORKERS=0 runs in one process); the Spark test starts first (tests/conftest.py)
TEST_WORKERS ?= 2
test: $(STAMP)
	bash .ci/system-packages
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --durations=25

# the loop while changing code: every test on DuckDB and PostgreSQL, without the two that take minutes of a core
# each (the spark target's and the benchmark harness's end-to-end run); `make test` and CI run those too
quick: $(STAMP)
	bash .ci/system-packages
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --durations=10 -m "not spark and not bench"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

docs: $(STAMP)
	$(BIN)/reactivation docs

clean:
	rm -rf target logs reactivation.duckdb demo_data
