"""python -m bench [NAME ...] [--rate-scale X] [--workers N] [--orders N] [--messages N] [--repeats N]
                 [--minutes M] [--per-day N]

Without a name, runs every benchmark, each in a fresh subprocess (moto's state, the outcome
tally and the handlers' cached adapters are process-global), prints one line per figure with
its target, then a JSON object with every figure, also written to bench/results.json. With
names, runs just those and updates their entries in bench/results.json.

Names: requests (AWS calls per ORDER_CHANGE on intake), cold (cold-start import cost),
rate (getOrder rate-limit efficiency; calibrates, then 5 to 15 minutes), throughput (intake notifications per second),
shipments (1,000 confirmations at confirmShipment's limit x1.5, 5% applied then timed out; about 6 minutes),
invoices (rendering speed, 5,000 numbers by 50 workers with crashes, AWS requests per invoice; a few minutes),
stock (20,000 shuffled movements with duplicates by 20 workers against a serial replay; 10,000 SKUs pushed),
settlements (a 200,000-row settlement parsed and reconciled against csv.reader; peak memory as rows grow),
scale (a day of one seller's orders against Amazon's limits, the ceiling before and after; the AWS cost of an
order's whole life on the embedded stack; about 8 minutes),
sustained (50,000 orders a day, or --per-day, on the embedded stack in real time against Amazon's limits, for
--minutes (default 20), checked against the model over the same window; the minutes and a few more to drain).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results.json"

# name -> (module, one-line description)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "requests": ("bench.intake_requests", "AWS requests per ORDER_CHANGE on intake"),
    "cold": ("bench.cold_start", "cold start: intake import path vs boto3 + one client"),
    "rate": ("bench.rate_limit", "getOrder rate-limit efficiency against the simulator"),
    "throughput": ("bench.throughput", "intake notifications per second on the embedded stack"),
    "shipments": ("bench.shipments", "confirmShipment drain at Amazon's limit, 5% applied then timed out"),
    "invoices": ("bench.invoices", "invoice rendering, gapless numbering by 50 workers, AWS requests per invoice"),
    "stock": ("bench.stock", "20,000 movements by 20 workers vs a serial replay; 10,000 SKUs pushed in a few calls"),
    "settlements": ("bench.settlements", "a 200,000-row settlement parsed and reconciled vs the csv module; memory"),
    "scale": ("bench.orders_scale", "a day at 50,000 orders against Amazon's limits; cost per million orders"),
    "sustained": ("bench.orders_sustained", "50,000 orders a day in real time on the embedded stack vs the model"),
}


def _child(name: str, args: argparse.Namespace) -> int:
    """Run one benchmark in this process and write its result where the parent asked."""
    module = importlib.import_module(BENCHMARKS[name][0])
    kwargs = {}
    if name == "rate":
        if args.rate_scale is not None:
            kwargs["rate_scale"] = args.rate_scale
        if args.orders is not None:
            kwargs["orders"] = args.orders
        if args.workers is not None:
            kwargs["workers"] = args.workers
    elif name == "requests" and args.orders is not None:
        kwargs["orders"] = args.orders
    elif name == "throughput" and args.messages is not None:
        kwargs["messages"] = args.messages
    elif name == "shipments":
        if args.rate_scale is not None:
            kwargs["rate_scale"] = args.rate_scale
        if args.orders is not None:
            kwargs["shipments"] = args.orders
    elif name == "cold" and args.repeats is not None:
        kwargs["repeats"] = args.repeats
    elif name == "sustained":
        if args.minutes is not None:
            kwargs["minutes"] = args.minutes
        if args.per_day is not None:
            kwargs["per_day"] = args.per_day
    result = module.run(**kwargs)
    Path(args.result_file).write_text(json.dumps(result), encoding="utf-8")
    return 0


def _spawn(name: str, args: argparse.Namespace) -> dict:
    """One benchmark in a fresh interpreter: clean moto state, OUTCOMES and adapter caches."""
    with tempfile.TemporaryDirectory(prefix="sellerops-bench-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "bench", name, "--result-file", str(out)]
        for flag, value in (("--rate-scale", args.rate_scale), ("--orders", args.orders), ("--workers", args.workers),
                            ("--messages", args.messages), ("--repeats", args.repeats),
                            ("--minutes", args.minutes), ("--per-day", args.per_day)):
            if value is not None:
                command += [flag, str(value)]
        env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "ERROR", "PYTHONPATH": str(BENCH_DIR.parent)}
        started = time.monotonic()
        completed = subprocess.run(command, cwd=BENCH_DIR.parent, env=env)
        elapsed = round(time.monotonic() - started, 1)
        if completed.returncode != 0 or not out.exists():
            print(f"[{name}] FAILED (exit {completed.returncode})", flush=True)
            return {"error": f"exit status {completed.returncode}", "bench_seconds": elapsed}
        result = json.loads(out.read_text(encoding="utf-8"))
        result["bench_seconds"] = elapsed
        result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="benchmarks to run: " + ", ".join(BENCHMARKS) + " (default: all)")
    parser.add_argument("--rate-scale", type=float, default=None,
                        help="rate: how much faster than real time Amazon's limits run (default: calibrated)")
    parser.add_argument("--orders", type=int, default=None,
                        help="rate: orders (default 2000); requests: orders (default 500)")
    parser.add_argument("--workers", type=int, default=None,
                        help="rate: poller processes (default 2); 0 = the stack's own single in-process worker")
    parser.add_argument("--messages", type=int, default=None, help="throughput: messages (default 1000)")
    parser.add_argument("--repeats", type=int, default=None, help="cold: fresh processes per variant (default 9)")
    parser.add_argument("--minutes", type=float, default=None, help="sustained: the window, in minutes (default 20)")
    parser.add_argument("--per-day", type=float, default=None,
                        help="sustained: orders a day (default 50000; 150000 is a peak that opens the search door)")
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    if args.result_file:  # we are the subprocess
        if len(args.names) != 1:
            parser.error("--result-file takes exactly one benchmark name")
        return _child(args.names[0], args)

    names = args.names or list(BENCHMARKS)
    results = {}
    for name in names:
        print(f"--- {name}: {BENCHMARKS[name][1]}", flush=True)
        results[name] = _spawn(name, args)

    print("=== summary", flush=True)
    for name in names:
        print(results[name].get("summary") or f"[{name}] FAILED: {results[name].get('error')}", flush=True)
    summary = {name: results[name] for name in names}
    if args.names and RESULTS.exists():
        try:
            previous = json.loads(RESULTS.read_text(encoding="utf-8"))
        except ValueError:
            previous = {}
        merged = dict(previous.get("benchmarks", {}).items())
        merged.update(summary)
    else:
        merged = summary
    document = {
        "python": sys.version.split()[0],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "figures": {name: {"figure": r.get("figure"), "unit": r.get("unit"), "target": r.get("target"),
                           "pass": r.get("pass"), "measured_at": r.get("measured_at")}
                    for name, r in merged.items()},
        "benchmarks": merged,
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=2), flush=True)
    return 1 if any("error" in r for r in summary.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
