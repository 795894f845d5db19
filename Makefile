# sellerops — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast bench package check-templates deploy destroy connect add-seller clean
STAGE ?= dev

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

## Build the Lambda package (chalice package, SAM) and check it: wheels, size, no dev deps
package: install
	$(PY) -m infra.package --stage $(STAGE)

## cfn-lint and checkov on the infra template and the packaged SAM template
check-templates: package
	$(PY) -m infra.package --stage $(STAGE) --check-only

## Deploy into your AWS account: infra stack, Chalice app, ReportBatchItemFailures (safe to re-run)
deploy: install
	$(PY) -m infra.deploy deploy --stage $(STAGE)

## Remove the functions and the stack; keeps the invoice archive and tables that hold data
destroy: install
	$(PY) -m infra.deploy destroy --stage $(STAGE)

## Subscribe the deployment to Amazon's notifications (SQS destination, EventBridge for listings)
connect: install
	$(PY) -m infra.connect connect --stage $(STAGE)

## Add a seller (its refresh token is asked for, never echoed) to a running deployment
add-seller: install
	$(PY) -m infra.sellers add --stage $(STAGE)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
