"""Cold start: the intake handler's import path against a minimal boto3 handler.

Each sample is a fresh interpreter (`python -c`), as a new Lambda container is. The intake
path is `import app` plus what the intake handler resolves on its first call; the baseline is
`import boto3` and one DynamoDB client, the least any handler here does. Samples alternate
between the two, after one discarded warm-up each (so both read compiled .pyc files), and the
medians are compared. Also checked: sp_api (~0.35 s) and fpdf (~0.6 s) stay out of intake.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import say, verdict

TARGET_RATIO = 1.5
REPEATS = 9
PROJECT_DIR = Path(__file__).resolve().parents[1]

_REPORT = """
import json, sys
print(json.dumps({"seconds": _t1 - _t0, "sp_api": "sp_api" in sys.modules, "fpdf": "fpdf" in sys.modules,
                  "boto3": "boto3" in sys.modules, "pynamodb": "pynamodb" in sys.modules,
                  "modules": len(sys.modules)}))
"""

# What the intake handler needs before it handles its first record.
INTAKE = """
import time
_t0 = time.perf_counter()
import app
import chalicelib.handlers
import chalicelib.core.intake
import chalicelib.flows.orders.store
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools import Logger, Metrics  # the observe middleware's first call
_t1 = time.perf_counter()
""" + _REPORT

# The same, plus the ports and the two botocore clients the first record builds (no request).
INTAKE_WITH_CLIENTS = """
import time
_t0 = time.perf_counter()
import app
import chalicelib.handlers
import chalicelib.core.intake
import chalicelib.flows.orders.store
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from chalicelib.core import aws, observability
from chalicelib.flows.orders import store, wiring
observability.logger(); observability.metrics()
wiring.intake_ports()
aws.client("sqs")
store._order_models().order._get_connection().connection.client
_t1 = time.perf_counter()
""" + _REPORT

BASELINE = """
import time
_t0 = time.perf_counter()
import boto3
boto3.client("dynamodb", region_name="eu-west-1")
_t1 = time.perf_counter()
""" + _REPORT


def _environment() -> dict[str, str]:
    """A Lambda-like environment: the stage, a region, dummy credentials, the resource names;
    nothing that points at the local stack."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({
        "SELLEROPS_STAGE": "local",
        "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "ORDERS_TABLE": "sellerops-local-orders", "BUYER_DATA_TABLE": "sellerops-local-buyer-data",
        "STATE_TABLE": "sellerops-local-state",
        "INTAKE_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/000000000000/sellerops-local-intake",
        "TASK_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/000000000000/sellerops-local-tasks",
        "POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true",
    })
    return env


def _sample(code: str, env: dict[str, str], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *extra, "-c", code], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold-start sample failed: {done.stderr.strip()[-800:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    result["stderr"] = done.stderr
    return result


def _heaviest_imports(stderr: str, top: int = 10) -> dict[str, float]:
    """From `-X importtime`: seconds spent importing each top-level package (the sum of its
    modules' own times), heaviest first."""
    totals: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        package = parts[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(parts[0]) / 1e6
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:top]
    return {name: round(seconds, 3) for name, seconds in ranked}


def run(repeats: int = REPEATS) -> dict[str, Any]:
    env = _environment()
    variants = {"intake": INTAKE, "baseline": BASELINE, "intake_with_clients": INTAKE_WITH_CLIENTS}
    for code in variants.values():  # warm-up: compile .pyc, fill the OS page cache
        _sample(code, env)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, code in variants.items():
            samples[name].append(_sample(code, env))

    def median(name: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[name])

    imports = {name: median(name, "seconds") for name in variants}
    walls = {name: median(name, "wall") for name in variants}
    ratio = imports["intake"] / imports["baseline"]
    wall_ratio = walls["intake"] / walls["baseline"]
    leaked = sorted({m for s in samples["intake"] + samples["intake_with_clients"] for m in ("sp_api", "fpdf") if s[m]})
    profile = _heaviest_imports(_sample(INTAKE, env, ("-X", "importtime"))["stderr"])
    result: dict[str, Any] = {
        "figure": round(ratio, 3),
        "unit": "intake import path / (boto3 + one client), median in-process seconds",
        "target": f"<= {TARGET_RATIO:g}, and no sp_api or fpdf",
        "pass": ratio <= TARGET_RATIO and not leaked,
        "repeats": repeats,
        "intake_seconds": round(imports["intake"], 4),
        "baseline_seconds": round(imports["baseline"], 4),
        "intake_with_clients_seconds": round(imports["intake_with_clients"], 4),
        "intake_with_clients_ratio": round(imports["intake_with_clients"] / imports["baseline"], 3),
        "process_wall_seconds": {name: round(value, 4) for name, value in walls.items()},
        "process_wall_ratio": round(wall_ratio, 3),
        "sp_api_imported": "sp_api" in leaked,
        "fpdf_imported": "fpdf" in leaked,
        "modules_loaded": {name: samples[name][0]["modules"] for name in variants},
        "heaviest_top_level_imports": profile,
        "samples_seconds": {name: [round(s["seconds"], 4) for s in samples[name]] for name in variants},
    }
    result["summary"] = (f"[cold] intake import path {imports['intake'] * 1000:.0f} ms vs boto3 + client "
        f"{imports['baseline'] * 1000:.0f} ms = {ratio:.2f}x (target <= {TARGET_RATIO:g}x); "
        f"sp_api {'LOADED' if 'sp_api' in leaked else 'not loaded'}, "
        f"fpdf {'LOADED' if 'fpdf' in leaked else 'not loaded'} "
        f"{verdict(result['pass'])}  -- medians of {repeats} fresh processes each; whole process "
        f"{walls['intake'] * 1000:.0f} vs {walls['baseline'] * 1000:.0f} ms = {wall_ratio:.2f}x; with the first "
        f"call's clients {imports['intake_with_clients'] * 1000:.0f} ms = {result['intake_with_clients_ratio']:.2f}x")
    say(result["summary"])
    return result
