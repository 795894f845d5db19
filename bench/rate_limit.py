"""Rate-limit efficiency: N new orders, each needing one getOrder, against the Amazon simulator
enforcing getOrder's usage plan (0.5 req/s, burst 30), time-scaled by `rate_scale`.

The bound the limit sets, from the first getOrder to the last, is (N - burst) / (rate x scale):
the bucket starts full, so `burst` calls go at once and every other call waits for a refill.
We measure the same span from the simulator's request log.

Targets: span <= 1.15 x the bound, and < 1% of getOrder calls answered 429.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import say, start_runtime, verdict

RATE, BURST = 0.5, 30  # Amazon's getOrder usage plan (requests per second, burst)
TARGET_RATIO = 1.15
TARGET_429_SHARE = 0.01
DEFAULT_WORKERS = 2
CALIBRATION_ORDERS = 200
HEADROOM = 0.7  # share of the stack's measured capacity the limit may use
MAX_SCALE = 40.0


def one_change_per_order(orders: int, seed: int) -> tuple[dict[str, Any], list[str]]:
    """A one-seller world and, per order, its latest ORDER_CHANGE (so the notified status is
    the status getOrder returns), in the order Amazon published them."""
    from chalicelib.core.envelope import parse_notification
    from chalicelib.flows.orders.parsing import parse_order_change
    from infra.local.scenario import build_scenario

    scenario = build_scenario(seed=seed, orders=orders, sellers=1, lost=0, malformed=0, unhandled=0,
                              duplicate_rate=0, shuffle_window=0, reorder_rate=0)
    latest: dict[str, tuple[Any, int, str]] = {}
    for position, body in enumerate(scenario.messages):
        change = parse_order_change(parse_notification(body))
        if change.order_id not in latest or change.changed_at > latest[change.order_id][0]:
            latest[change.order_id] = (change.changed_at, position, body)
    bodies = [body for _, _, body in sorted(latest.values(), key=lambda entry: entry[1])]
    return scenario.world, bodies


def _late_slot_seconds() -> float | None:
    from bench.pollers import late_allowance
    from chalicelib.core.limiter import DynamoRateLimiter

    return late_allowance(DynamoRateLimiter(), "getOrder")


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def calibrate(workers: int, orders: int = CALIBRATION_ORDERS) -> dict[str, Any]:
    """How many orders per second the embedded stack and these pollers can take end to end
    (intake, getOrder, storing) when the limit never binds: a fresh stack in a subprocess,
    rate_scale 1000."""
    with tempfile.TemporaryDirectory(prefix="sellerops-bench-calibrate-") as tmp:
        out = Path(tmp) / "calibration.json"
        subprocess.run([sys.executable, "-m", "bench.rate_limit", "calibrate", str(workers), str(orders), str(out)],
                       check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        measured = json.loads(out.read_text(encoding="utf-8"))
    capacity = measured["getorder"]["2xx"] / measured["wall_seconds"]
    return {"orders": orders, "wall_seconds": measured["wall_seconds"], "orders_per_second": round(capacity, 2)}


def choose_scale(capacity: float) -> float:
    """The largest scale (in steps of 0.5) at which the limit, 0.5 x scale getOrder/s, uses
    at most HEADROOM of the measured capacity: throttled tasks cost a second pass through the
    queue, and the pollers must stay ahead of their booked slots."""
    scale = HEADROOM * capacity / RATE
    return max(0.5, min(MAX_SCALE, int(scale * 2) / 2))


def run(orders: int = 2000, rate_scale: float | None = None, workers: int | None = None, seed: int = 11,
        timeout: float | None = None) -> dict[str, Any]:
    """rate_scale None (the default) calibrates the stack first and picks the scale."""
    workers = DEFAULT_WORKERS if workers is None else int(workers)
    rate_scale = rate_scale or (float(os.environ["BENCH_RATE_SCALE"]) if os.environ.get("BENCH_RATE_SCALE") else None)
    calibration = None
    if rate_scale is None:
        calibration = calibrate(workers)
        rate_scale = choose_scale(calibration["orders_per_second"])
        expected = (orders - BURST) / (RATE * rate_scale)
        say(f"[rate] calibration: the stack takes {calibration['orders_per_second']:.1f} orders/s end to end with "
            f"{workers or 'the in-process'} poller(s) when unthrottled; rate_scale {rate_scale:g} "
            f"(limit {RATE * rate_scale:.2f} getOrder/s, {HEADROOM:.0%} of it): about {expected / 60:.1f} minutes")
    timeout = timeout or max(900.0, 3 * (orders - BURST) / (RATE * rate_scale))
    result = _measure(orders, float(rate_scale), workers, seed, timeout)
    result["calibration"] = calibration
    result["rate_scale_chosen_by"] = "calibration" if calibration else "caller"
    return result


def _measure(orders: int, rate_scale: float, workers: int, seed: int, timeout: float,
             quiet: bool = False) -> dict[str, Any]:
    from bench.pollers import Instruments, clear_metrics_after, work
    from infra.local import moto_speedups

    world, bodies = one_change_per_order(orders, seed)
    patched = moto_speedups.apply()
    # getOrder's efficiency, alone: the search door would read some of these orders in pages.
    os.environ["ORDER_SEARCH_DOOR"] = "false"
    runtime = start_runtime(world, rate_scale=rate_scale)
    tmp = Path(tempfile.mkdtemp(prefix="sellerops-bench-rate-"))
    stop_file = tmp / "stop"
    children: list[tuple[subprocess.Popen, Path]] = []
    instruments = Instruments()
    try:
        if workers == 0:
            instruments.install()
            for b in runtime.worker.queues:
                b.handler = clear_metrics_after(b.handler)
        else:
            # Worker processes inherit the stack's environment that LocalRuntime.start exported.
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
            for i in range(workers):
                result_file = tmp / f"poller-{i}.json"
                proc = subprocess.Popen([sys.executable, "-m", "bench.pollers", str(stop_file), str(result_file)],
                                        env=env)
                children.append((proc, result_file))
            deadline = time.monotonic() + 120
            while not all(path.with_suffix(".ready").exists() for _, path in children):
                if time.monotonic() > deadline or any(proc.poll() is not None for proc, _ in children):
                    raise RuntimeError("a poller process did not start")
                time.sleep(0.1)

        runtime.simulator.reset_stats()
        main_cpu_before = time.process_time()
        started = time.monotonic()
        runtime.deliver(bodies)
        if workers == 0:
            drained = [False]
            deadline = started + timeout

            def stop() -> bool:
                if time.monotonic() > deadline:
                    return True
                if runtime.worker.pending() == 0:
                    drained[0] = True
                return drained[0]

            work(runtime.worker, runtime.worker.queues, instruments, stop)
            ok = drained[0]
        else:
            ok, empty_checks = False, 0
            while time.monotonic() - started < timeout:
                time.sleep(0.5)
                if any(proc.poll() is not None for proc, _ in children):
                    raise RuntimeError("a poller process died")
                empty_checks = empty_checks + 1 if runtime.worker.pending() == 0 else 0
                if empty_checks >= 2:
                    ok = True
                    break
            stop_file.touch()
            for proc, _ in children:
                proc.wait(timeout=60)
        wall = time.monotonic() - started
        main_cpu = time.process_time() - main_cpu_before
        if not ok:
            raise RuntimeError(f"the queues did not drain within {timeout:.0f} s")

        polled = [instruments.to_dict()] if workers == 0 else [
            json.loads(path.read_text(encoding="utf-8")) for _, path in children]
        lateness = [x for p in polled for x in p["lateness"]]
        outcomes: dict[str, int] = {}
        for p in polled:
            for key, value in p["outcomes"].items():
                outcomes[key] = outcomes.get(key, 0) + value

        stats = runtime.simulator.stats()
        get_order = stats.get("getOrder", {"calls": 0, "2xx": 0, "429": 0, "4xx": 0, "5xx": 0})
        times = [r.time for r in runtime.simulator.request_log() if r.operation == "getOrder"]
        span = max(times) - min(times) if times else float("nan")
        n = get_order["2xx"]
        bound = (n - BURST) / (RATE * rate_scale)
        ratio = span / bound
        share_429 = get_order["429"] / get_order["calls"] if get_order["calls"] else 0.0
        # What our limiter allows (0.97 x Amazon's rate, burst - 1): the best it can do.
        from chalicelib.core.limits import limit_for

        ours = limit_for("getOrder", rate_scale)
        limiter_floor = (n - ours.burst) / ours.rate
        busy = sum(p["busy"] for p in polled)
        late_p50, late_p95, late_max = (_percentile(lateness, 0.5), _percentile(lateness, 0.95),
                                        max(lateness) if lateness else None)
        # The limiter sets the pace only if nearly every task waited for a slot and came back
        # on time (SQS delays are whole seconds, and a batch flushes after its last record).
        throttled = outcomes.get("tasks.fetch_order.waiting", 0)
        keeping_up = throttled >= 0.9 * (n - BURST) and (late_p95 or 0) <= 3.0
        result = {
            "figure": round(ratio, 3),
            "unit": "getOrder span / limit bound",
            "target": f"<= {TARGET_RATIO:g} and 429 share < {TARGET_429_SHARE:.0%}",
            "pass": ratio <= TARGET_RATIO and share_429 < TARGET_429_SHARE and n == len(bodies),
            "orders": len(bodies),
            "rate_scale": rate_scale,
            "pollers": (f"{workers} poller process(es) (like parallel Lambda containers)" if workers
                        else "the stack's single in-process worker"),
            "moto_sqs_speedups": patched,
            "getorder_span_seconds": round(span, 2),
            "bound_seconds": round(bound, 2),
            "limiter_floor_seconds": round(limiter_floor, 2),
            "limiter_floor_ratio": round(limiter_floor / bound, 3),
            "getorder": get_order,
            "share_429": round(share_429, 5),
            "lwa_token_calls": stats.get("lwaToken", {}).get("calls", 0),
            "wall_seconds": round(wall, 2),
            "slot_lateness_seconds": {"p50": late_p50 and round(late_p50, 3), "p95": late_p95 and round(late_p95, 3),
                                      "max": late_max and round(late_max, 3), "samples": len(lateness)},
            "tasks_back_too_late_and_rebooked": sum(p.get("late_returns", 0) for p in polled),
            "lateness_allowed_seconds": _round(_late_slot_seconds()),
            "poller_busy_share": round(busy / max(1e-9, wall * max(1, workers)), 3),
            "moto_and_simulator_process_cpu_seconds": round(main_cpu, 1),
            "poller_cpu_seconds": [round(p["cpu"], 1) for p in polled],
            "outcomes": outcomes,
            "dead_lettered": runtime.dead_lettered(),
            "limiter_is_the_bottleneck": keeping_up,
        }
        result["summary"] = (f"[rate] getOrder x{n}: {span:.1f} s from first to last call vs bound {bound:.1f} s "
            f"= {ratio:.3f}x (target <= {TARGET_RATIO:g}x); 429s {get_order['429']}/{get_order['calls']} "
            f"= {share_429:.2%} (target < 1%) {verdict(result['pass'])}  -- rate_scale {rate_scale:g}, "
            f"{result['pollers']}; our limiter's own floor {limiter_floor / bound:.3f}x; "
            f"slot lateness p50 {late_p50 if late_p50 is None else round(late_p50, 2)} s, "
            f"p95 {late_p95 if late_p95 is None else round(late_p95, 2)} s")
        if quiet:
            return result
        say(result["summary"])
        if not keeping_up:
            say(f"[rate] warning: the pollers did not keep up at rate_scale {rate_scale:g} ({throttled} of "
                f"{n - BURST} tasks waited for a slot): the figure measures the embedded stack, not the "
                f"limiter; lower --rate-scale")
        if patched:
            say("[rate] note: moto's SQS runs with infra/local/moto_speedups.py (its per-message O(queue depth) "
                "attribute scans removed) so the pollers, not moto, can keep up")
        return result
    finally:
        stop_file.touch()
        for proc, _ in children:
            if proc.poll() is None:
                proc.terminate()
        runtime.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    # python -m bench.rate_limit calibrate WORKERS ORDERS OUT_FILE
    if len(sys.argv) == 5 and sys.argv[1] == "calibrate":
        measured = _measure(int(sys.argv[3]), 1000.0, int(sys.argv[2]), seed=12, timeout=900.0, quiet=True)
        Path(sys.argv[4]).write_text(json.dumps(measured), encoding="utf-8")
    else:
        sys.exit("usage: python -m bench.rate_limit calibrate WORKERS ORDERS OUT_FILE")
