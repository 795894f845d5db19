"""Stock: the ledger under concurrency, and what pushing quantities to Amazon costs.

1. Ledger: WORKERS threads apply MOVEMENTS mixed movements (warehouse counts and adjustments,
   merchant orders reserving, cancelled and shipped) to SKUS SKUs on the moto server, a share of
   them duplicated and the whole shuffled. Target: every SKU's on hand and reserved equal a
   serial replay of the same movements (the in-memory store, same rules) exactly. Reports
   movements per second and the writes lost to a concurrent movement (read again, retried).
2. Push: LISTED SKUs, each listed on the Amazon simulator, all change within a minute (a CSV-like
   burst of counts); one run of the push schedule, then the queues drained. Target: a handful of
   SP-API calls (one JSON_LISTINGS_FEED), never one patch per SKU; every listing then shows the
   SKU's available-to-sell. Then one SKU changes: the next schedule run patches it; the delay from
   the change to the simulator showing it is reported (the schedule runs every minute in AWS, so
   a change reaches Amazon within one interval plus this).
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import say, start_runtime, verdict

SELLER = "A1BENCHSTOCK01"
MARKETPLACE = "A1PA6795UKMFR9"


def _movements(skus: int, movements: int, duplicate_share: float, rng: random.Random) -> tuple[list, list]:
    from chalicelib.flows.stock.rules import ItemFact

    base = datetime.now(UTC) - timedelta(hours=12)
    unique: list[tuple] = []
    wanted = int(movements * (1 - duplicate_share))
    n = 0
    while len(unique) < wanted:
        n += 1
        sku = f"SKU-{rng.randrange(skus):05d}"
        at = base + timedelta(seconds=rng.randrange(11 * 3600)) + timedelta(microseconds=n)
        kind = rng.random()
        if kind < 0.08:
            unique.append(("count", sku, f"count.{n}", rng.randrange(200), at))
        elif kind < 0.45:
            unique.append(("adjust", sku, f"adj.{n}", rng.choice([-5, -2, -1, 1, 3, 10, 25]), at))
        else:
            order, ordered = f"028-{n:07d}-0000001", rng.randint(1, 3)
            unique.append(("fact", sku, ItemFact(order, "1", sku, ordered), 0, at))
            ending = rng.random()
            if ending < 0.2:
                unique.append(("fact", sku, ItemFact(order, "1", sku, ordered, cancelled=True), 0,
                               at + timedelta(minutes=5)))
            elif ending < 0.7:
                unique.append(("fact", sku, ItemFact(order, "1", sku, ordered, ordered), 0, at + timedelta(hours=1)))
    unique = unique[:wanted]
    sent = unique + [rng.choice(unique) for _ in range(movements - len(unique))]
    rng.shuffle(sent)
    return unique, sent


def _apply(store: Any, move: tuple, now: datetime) -> None:
    from chalicelib.flows.stock import service

    kind, sku, ident, quantity, at = move
    if kind == "count":
        service.set_count(store, SELLER, sku, quantity, at, ident, {"type": "count"}, now)
    elif kind == "adjust":
        service.adjust(store, SELLER, sku, quantity, at, ident, {"type": "adjustment"}, now)
    else:
        service.apply_fact(store, SELLER, ident, at, {"type": "order"}, now)


def ledger(skus: int, movements: int, workers: int, duplicate_share: float, seed: int) -> dict[str, Any]:
    from chalicelib.flows.stock.store import DynamoStock, Written
    from tests.fakes import FakeStock

    rng = random.Random(seed)
    _, sent = _movements(skus, movements, duplicate_share, rng)
    now = datetime.now(UTC)
    serial = FakeStock()
    for move in sent:
        _apply(serial, move, now)
    store = DynamoStock()
    conflicts: Counter[Any] = Counter()
    original = store.write

    def counting(*args: Any, **kwargs: Any) -> Any:
        outcome = original(*args, **kwargs)
        conflicts[outcome] += 1
        return outcome

    store.write = counting  # type: ignore[method-assign]
    failures: list[str] = []

    def work(part: list) -> None:
        for move in part:
            try:
                _apply(store, move, now)
            except Exception as exc:  # a lost movement must show
                failures.append(f"{type(exc).__name__}: {exc}"[:200])

    parts = [sent[i::workers] for i in range(workers)]
    threads = [threading.Thread(target=work, args=(part,)) for part in parts]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    wrong = []
    names = sorted({m[1] for m in sent})
    got = store.get_many(SELLER, names)
    for sku in names:
        expected, found = serial.get(SELLER, sku), got.get(sku)
        if found is None or (found.on_hand, found.reserved) != (expected.on_hand, expected.reserved):
            wrong.append(sku)
    return {"movements": len(sent), "unique": len(set(map(repr, sent))), "skus": len(names), "workers": workers,
            "seconds": round(wall, 1), "per_second": round(len(sent) / wall, 1),
            "written": conflicts[Written.OK], "conflicts_retried": conflicts[Written.CONFLICT],
            "duplicates_found": conflicts[Written.DUPLICATE], "failures": failures[:5],
            "mismatched_skus": wrong[:10], "exact": not wrong and not failures}


def push(runtime: Any, listed: int) -> dict[str, Any]:
    from chalicelib.flows.stock import service
    from chalicelib.flows.stock import wiring as stock

    store = stock.stock()
    now = datetime.now(UTC)
    for n in range(listed):  # the warehouse's burst: every SKU counted within the minute
        service.set_count(store, SELLER, f"LIST-{n:05d}", n % 50, now, f"burst.{n}", {"type": "count"}, now)
    runtime.simulator.reset_stats()
    started = time.perf_counter()
    scheduled = runtime.run_schedule("push_stock")
    runtime.worker.drain(timeout=1800)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and runtime.simulator.feeds.feeds and any(
            f.status == "IN_QUEUE" for f in runtime.simulator.feeds.feeds.values()):
        time.sleep(0.5)
    runtime.worker.drain(timeout=1800)
    wall = time.perf_counter() - started
    stats = runtime.simulator.stats()
    calls = {op: s["calls"] for op, s in stats.items() if op not in ("lwaToken", "feedDocumentContent")}
    shown = {(s, k): item.quantity for (s, k), item in runtime.simulator.listings.listings.items()}
    matching = sum(1 for n in range(listed) if shown.get((SELLER, f"LIST-{n:05d}")) == n % 50)
    # One SKU changes: the next schedule run patches it.
    store_sku = "LIST-00007"
    changed_at = time.perf_counter()
    service.adjust(store, SELLER, store_sku, 5, datetime.now(UTC), "single.1", {"type": "adjustment"},
                   datetime.now(UTC))
    runtime.run_schedule("push_stock")
    while runtime.simulator.listings.listings[(SELLER, store_sku)].quantity != 7 % 50 + 5:
        runtime.worker.drain(timeout=60)
        if time.perf_counter() - changed_at > 120:
            break
    single = time.perf_counter() - changed_at
    return {"skus": listed, "scheduled": scheduled, "sp_api_calls": calls, "total_calls": sum(calls.values()),
            "patches": calls.get("patchListingsItem", 0), "listings_matching": matching,
            "seconds": round(wall, 1), "single_change_seconds": round(single, 2),
            "single_change_reached": runtime.simulator.listings.listings[(SELLER, store_sku)].quantity == 12}


def run(skus: int = 500, movements: int = 20_000, workers: int = 20, duplicate_share: float = 0.2,
        listed: int = 10_000, seed: int = 11) -> dict[str, Any]:
    from infra.local import moto_speedups

    moto_speedups.apply()
    world = {"applicationId": "amzn1.sellerapps.app.bench",
             "sellers": [{"sellerId": SELLER, "marketplaceIds": [MARKETPLACE], "refreshToken": "Atzr|bench"}],
             "listings": [{"sellerId": SELLER, "sku": f"LIST-{n:05d}", "asin": f"B0{n:08d}",
                           "marketplaceIds": [MARKETPLACE], "quantity": 999} for n in range(listed)]}
    runtime = start_runtime(world, rate_scale=1.0)
    try:
        say(f"ledger: {movements} movements ({duplicate_share:.0%} duplicates, shuffled) on {skus} SKUs, "
            f"{workers} workers")
        first = ledger(skus, movements, workers, duplicate_share, seed)
        say(f"  {first['per_second']}/s over {first['seconds']} s; {first['conflicts_retried']} lost races retried; "
            f"exact: {first['exact']}")
        say(f"push: {listed} SKUs changing at once")
        second = push(runtime, listed)
        say(f"  {second['total_calls']} SP-API calls ({second['sp_api_calls']}), {second['patches']} patches; "
            f"{second['listings_matching']}/{listed} listings right; one change reached Amazon "
            f"{second['single_change_seconds']} s after the schedule ran")
    finally:
        runtime.stop() if hasattr(runtime, "stop") else None
    ok = first["exact"] and second["patches"] <= 1 and second["total_calls"] <= 10 and \
        second["listings_matching"] == listed and second["single_change_reached"]
    summary = (f"[stock] ledger {first['per_second']} movements/s by {workers} workers, exact = serial replay: "
               f"{first['exact']}; {listed} SKUs pushed in {second['total_calls']} SP-API calls "
               f"({second['patches']} patch), one change in {second['single_change_seconds']} s after the "
               f"schedule {verdict(ok)}")
    return {"summary": summary, "figure": first["per_second"], "unit": "ledger movements per second (20 workers)",
            "ledger": first, "push": second, "ok": ok}
