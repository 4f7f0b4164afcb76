# Two commands for a fresh machine: `make demo` and `make check` (the whole suite, what CI runs). `make test` is the
# loop while changing code: every test on DuckDB and PostgreSQL. Each sets up .venv when needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := False
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: demo test check lint docs screenshots clean

# The project installs with uv (downloads and unpacks in parallel: about 15 s for `.[dev]` where pip takes 50 to
# 90 s here, then about 20 s compiling bytecode), itself installed into .venv by pip; where uv cannot reach an
# index (say, only pip is configured for a mirror), pip installs the same pins
UV := 'uv>=0.9,<1'
DEV_AND_SPARK := dev,spark
# (`$(call INSTALL,dev)`: the project with those extras, comma-free so make's `call` keeps them one argument)
# (`--compile-bytecode`: uv, unlike pip, leaves compiling to the first import, and where PYTHONDONTWRITEBYTECODE is
# set, as on this project's CI machine, no process ever keeps it: every test worker, CLI call and daily run would
# compile dbt, Prefect and pandas from source again, 3.6 s of the daily flow's 6.5 s of imports)
INSTALL = $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[$(1)]' \
	|| $(BIN)/python -m pip install --quiet -e '.[$(1)]'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(UV) || echo 'uv could not be installed: pip installs the project'
	$(call INSTALL,dev)
	touch $(STAMP)

# the spark target's extra (pyspark, dbt-spark): only `make check` runs its test
$(SPARK_STAMP): $(STAMP)
	$(call INSTALL,$(DEV_AND_SPARK))
	touch $(SPARK_STAMP)

demo: $(STAMP)
	$(BIN)/reactivation demo

# two pytest-xdist workers (TEST_WORKERS=0 runs in one process)
TEST_WORKERS ?= 2
PYTEST_WORKERS = $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load

# every test on DuckDB and PostgreSQL: all but the two marked `spark` and `bench` (the spark target's end-to-end test
# and the benchmark harness's smoke run), which take minutes of a core each and are what `make check` adds; property
# tests draw a fifth of CI's examples (tests/conftest.py)
test: $(STAMP)
	bash .ci/system-packages
	$(PYTEST_WORKERS) --durations=10 -m "not spark and not bench" \
		--hypothesis-profile=dev

# the whole suite, as CI runs it (.ci/run); the Spark test starts first (tests/conftest.py)
check: $(SPARK_STAMP)
	bash .ci/system-packages spark
	$(PYTEST_WORKERS) --durations=25

# the README's picture of the review page (docs/review.png), taken by its browser test; a plain test run leaves it
screenshots: $(STAMP)
	bash .ci/system-packages
	REACTIVATION_UPDATE_DOCS_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/test_review_browser.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

docs: $(STAMP)
	$(BIN)/reactivation docs

clean:
	rm -rf target logs reactivation.duckdb demo_data
