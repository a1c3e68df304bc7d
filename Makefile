# nasforge — `make demo` and `make test` are all a new machine needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -c constraints.txt
SRC := pyproject.toml constraints.txt

.PHONY: install dev demo test test-slow lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Everything the README demonstrates needs the optional extras too (ONNX export, the report's
# plots, CSV tasks), so both targets install nasforge[all].
$(VENV)/.stamp-install: $(PY) $(SRC)
	$(PIP) -q -e '.[all]'
	touch $@

# dev adds the ray extra, so the Ray executor's tests run in CI too.
$(VENV)/.stamp-dev: $(VENV)/.stamp-install
	$(PIP) -q -e '.[all,dev,bench,ray]'
	touch $@

## install: create .venv if missing and install nasforge[all] into it (quick when nothing changed)
install: $(VENV)/.stamp-install

dev: $(VENV)/.stamp-dev

## demo: a real search (regularised evolution, NB201 1-D cells, MNIST-1D, 2 workers)
demo: install
	$(VENV)/bin/nasforge search examples/demo.yaml --overwrite

lint: dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy src

## test: lint, type-check and run the fast test suite
test: lint
	$(PY) -m pytest -m "not slow" -q

## test-slow: the tests marked slow
test-slow: dev
	$(PY) -m pytest -m slow -q

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
