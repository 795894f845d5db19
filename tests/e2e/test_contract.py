"""The OpenAPI document is the contract: schemathesis, every check, against `replay --serve`.

Two bounded runs, with the token and without one. Each generates requests from the document
served at /openapi.json (every operation, GET and HEAD, positive and negative data, other
methods, missing auth) and checks each answer: no 5xx, only documented statuses, content types
and response schemas as documented, schema-valid requests accepted, invalid ones refused.

What the fuzzer is given differs from the served document in two ways, both to reach further:
- `nextToken` is left out: a page token is opaque, no schema can tell the strings this API
  sealed, and a made-up one is rightly a 400 (tests/e2e/test_api.py tries forged, tampered and
  foreign tokens, and pages with real ones);
- the served sellers' and orders' ids are the examples of `sellerId` and `orderId`, so that
  requests reach orders rather than stop at 404;
- `POST /shipments/import`, `POST /stock/import` and `POST /settlements/import` are left out: their
  body is a CSV or TSV file, and no schema can tell a good file from a bad one, so a generated
  "valid" string is rightly a 400 (tests/e2e/test_shipments.py, test_stock.py and
  test_settlements.py import good, bad and repeated files).
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from infra.local.scenario import build_scenario
from tests.e2e.harness import REPO_ROOT, serve_scenario, write_json

pytestmark = pytest.mark.e2e

TOKEN = "e2e-contract-token-not-a-secret"
SECONDS_PER_RUN = int(os.environ.get("SELLEROPS_CONTRACT_SECONDS", "50"))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("contract")
    start = (datetime.now(UTC) - timedelta(days=6)).replace(microsecond=0)
    scenario = build_scenario(seed=17, orders=16, sellers=2, start=start)
    process = serve_scenario(directory, scenario, "--rate-scale", "100", "--poll", token=TOKEN)
    process.scenario = scenario  # type: ignore[attr-defined]
    process.directory = directory  # type: ignore[attr-defined]
    try:
        yield process
    finally:
        process.stop()


def fuzzer_document(served) -> dict:
    document = requests.get(f"{served.api}/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=30).json()
    fuzzed = copy.deepcopy(document)
    orders = served.scenario.expected["orders"]
    seller = next(iter(orders.values()))["sellerId"]
    del fuzzed["paths"]["/shipments/import"]
    del fuzzed["paths"]["/stock/import"]
    del fuzzed["paths"]["/settlements/import"]
    for operations in fuzzed["paths"].values():
        for operation in operations.values():
            kept = []
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "nextToken":
                    continue
                if parameter["name"] == "sellerId":
                    parameter["example"] = seller
                if parameter["name"] == "orderId":
                    parameter["example"] = next(iter(orders))
                kept.append(parameter)
            operation["parameters"] = kept
    return fuzzed


def run_schemathesis(served, name: str, *options: str) -> tuple[int, str]:
    spec = write_json(served.directory / f"openapi-{name}.json", fuzzer_document(served))
    command = [str(Path(sys.executable).with_name("schemathesis")), "run", str(spec), "--url", served.api,
               "--checks", "all", "--max-time", str(SECONDS_PER_RUN), "--seed", "20261201",
               "--generation-database", "none", "--no-color", "--request-timeout", "10", *options]
    done = subprocess.run(command, cwd=served.directory, capture_output=True, text=True,
                          timeout=SECONDS_PER_RUN * 3 + 120, env={**os.environ, "NO_COLOR": "1"})
    return done.returncode, done.stdout + done.stderr


def cases(output: str) -> int:
    found = re.search(r"(\d+) generated", output)
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize("who", ["with the token", "without a token"])
def test_schemathesis_finds_nothing(served, who):
    options = ["--header", f"Authorization: Bearer {TOKEN}"] if who == "with the token" else []
    status, output = run_schemathesis(served, who.replace(" ", "-"), *options)
    summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-3000:]
    print(f"schemathesis {who}: {cases(output)} cases\n{summary}")
    assert status == 0, output[-12000:]
    assert cases(output) > 200, summary
    assert "unique failures" not in summary, summary


def test_the_served_document_names_every_route_the_app_serves(served):
    from chalicelib import registry

    document = requests.get(f"{served.api}/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=30).json()
    described = {(path, method.upper()) for path, operations in document["paths"].items() for method in operations}
    # Routes name their path parameters in snake_case (Python's), the document in camelCase.
    camel = re.compile(r"_([a-z])")
    routes = {(camel.sub(lambda m: m.group(1).upper(), r.path), r.method) for r in registry.ROUTES}
    assert described == routes | {(path, "HEAD") for path, method in routes if method == "GET"}
    assert json.dumps(document) == json.dumps(registry.openapi())
    assert (REPO_ROOT / "README.md").read_text(encoding="utf-8").count("/openapi.json") >= 1
