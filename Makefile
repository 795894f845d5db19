# sellerops — the two commands a newcomer needs: `make demo` and `make test`.
# The Python of pyproject.toml's requires-python (the Lambda runtime), found by infra/find-python.
PYTHON ?= $(shell sh infra/find-python)
PY_VERSION := $(shell sed -n 's/^requires-python *= *"[^0-9]*\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' pyproject.toml)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(PY_VERSION)

.PHONY: install demo test test-fast lint bench package check-templates deploy destroy connect add-seller clean
STAGE ?= dev

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -n "$(PYTHON)" || { sh infra/find-python; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## Run everything on the embedded local stack (moto + Amazon simulator + chalice local on :$(PORT))
PORT ?= 8000
demo: install
	$(PY) -m infra.local demo --port $(PORT)

## Lint and type checks, then the unit, integration and end-to-end tests
test: install lint
	$(PY) -m pytest -q -n 2

## ruff and mypy, as configured in pyproject.toml (strict on chalicelib/core and the flows' rules)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

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

## Deploy into your AWS account: infra stack, Chalice app, ReportBatchItemFailures (safe to re-run);
## ALERT_EMAIL=you@example.com subscribes an address to the alarms and the ship-by alerts
deploy: install
	$(PY) -m infra.deploy deploy --stage $(STAGE) $(if $(ALERT_EMAIL),--alert-email '$(ALERT_EMAIL)')

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
