# sellerops — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast bench clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## Run everything on the embedded local stack (moto + Amazon simulator + chalice local on :8000)
demo: install
	$(PY) -m infra.local demo

## Unit, integration and end-to-end tests
test: install
	$(PY) -m pytest -q -n 2

test-fast: install
	$(PY) -m pytest -q tests/unit

## Benchmarks (on demand; not part of the test suite)
bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
