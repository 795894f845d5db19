"""Invoices: rendering speed, gapless numbering under concurrency and crashes, and the AWS
requests (and their list price) one invoice costs end to end.

1. Rendering: a 5-line invoice with the bundled Unicode font, warm (fonts parsed once per
   container): documents per second on one core; and the first document in a fresh Python
   process (imports, font parsing, the PDF), measured in a subprocess.
   Targets: >= 40 per second warm; the first < 400 ms: from its call to its bytes, fpdf2's import
   and the fonts' parsing included (the app's own imports, which every handler pays, are reported
   apart).
2. Numbering: WORKERS threads allocate N numbers against the moto server in two series; a
   share of allocations "crash" right after the transaction (the worker drops its result) and
   the same document is allocated again, as the retried task does. Target: each series holds
   exactly 1..n, each number once, every document one number. Reports allocations per second and
   the retries lost to a concurrent allocation.
3. AWS requests per invoice: a scenario's shipped orders (merchant packages and FBA, B2C and B2B)
   are issued, drawn, archived, uploaded to the Amazon simulator and answered, counting every AWS
   request (DynamoDB, S3, SQS, KMS) from botocore, and the Lambda invocations; priced at
   eu-west-1 list prices per 1,000 invoices.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import EARLIER, ApiCallCounter, price_requests, say, start_runtime, verdict

TARGET_RATE, TARGET_FIRST_MS = 40.0, 400.0
_FIRST = r'''
import time
started = time.perf_counter()
from datetime import date
from decimal import Decimal as D
from chalicelib.flows.invoices import pdf, rules
imported = time.perf_counter()
{setup}
doc, buyer = sample()
pdf.render(doc, buyer)
done = time.perf_counter()
print((imported - started) * 1000, (done - imported) * 1000)
'''

_SAMPLE = r'''
def sample():
    from datetime import UTC, datetime
    profile = rules.parse_profile("A1BENCH", {
        "legalName": "Kestrelwood SAS", "address": {"line1": "12 rue des Tilleuls", "postalCode": "69003",
        "city": "Lyon", "countryCode": "FR"}, "vatNumbers": {"FR": "FR40303265045"}, "siren": "303265045",
        "siret": "30326504500011", "legalForm": "SAS", "shareCapital": "50 000 €", "rcs": "Lyon B 303 265 045"})
    items = tuple(rules.ItemMoney(str(n), f"KW-SKU-{n}", f"B0BENCH{n:03d}", f"Poêle en fonte émaillée {n} — 28 cm",
                                  n, D("16.66") * n, D("3.33") * n) for n in range(1, 6))
    money = rules.OrderMoney("A1BENCH", "171-1234567-1234567", "A13V1IB3VIYZZH", "EUR", False, items)
    buyer = rules.Buyer("Camille Moreau", ("4 rue du Port", "69001 Lyon", "FR"), "FR")
    supply = rules.Supply("package#1", datetime(2026, 11, 20, 14, tzinfo=UTC), "FR", {str(n): n for n in range(1, 6)})
    doc = rules.build_invoice(money, supply, profile, buyer, date(2026, 11, 20))
    from dataclasses import replace
    return replace(doc, number="INV-2026-000042"), buyer
'''


def _render_figures(seconds: float = 5.0) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(_SAMPLE, {"rules": __import__("chalicelib.flows.invoices.rules", fromlist=["rules"]),  # noqa: S102
                   "D": Decimal, "date": __import__("datetime").date}, namespace)
    from chalicelib.flows.invoices import pdf

    doc, buyer = namespace["sample"]()
    pdf.render(doc, buyer)  # warm: fonts parsed
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        pdf.render(doc, buyer)
        count += 1
    rate = count / (time.perf_counter() - started)
    firsts = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", _FIRST.format(setup=_SAMPLE)], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[1], check=True)
        imports_ms, render_ms = (float(x) for x in out.stdout.split())
        firsts.append((imports_ms + render_ms, render_ms))
    first_total, first_render = sorted(firsts)[1]  # the median of three fresh processes
    return {"rate": round(rate, 1), "first_ms": round(first_total, 1), "first_render_ms": round(first_render, 1)}


def _numbering(runtime: Any, allocations: int, workers: int, crash_share: float, seed: int) -> dict[str, Any]:
    from chalicelib.core.function import running
    from chalicelib.flows.invoices import rules, wiring
    from chalicelib.flows.invoices.store import NumberingBusy

    profile_data = {"legalName": "Bench SAS", "address": {"line1": "1 rue", "postalCode": "69003", "city": "Lyon",
                                                          "countryCode": "FR"}, "vatNumbers": {"FR": "FR40303265045"},
                    "siren": "303265045", "legalForm": "SAS", "shareCapital": "1 €", "rcs": "Lyon"}
    sellers = ["A1BENCHSERIES1", "A1BENCHSERIES2"]
    profiles = {s: rules.parse_profile(s, profile_data) for s in sellers}
    store = wiring.store()
    today = datetime.now(UTC).date()
    base = rules.build_invoice(
        rules.OrderMoney(sellers[0], "x", "A13V1IB3VIYZZH", "EUR", False,
                         (rules.ItemMoney("1", "S", None, "Item", 1, Decimal("10.00"), Decimal("2.00")),)),
        rules.Supply("package#1", datetime.now(UTC), "FR", {"1": 1}), profiles[sellers[0]], None, today)
    jobs = [(sellers[n % 2], f"171-{n:07d}-0000001") for n in range(allocations)]
    lock = threading.Lock()
    results: list[tuple[str, str, str]] = []  # (seller, order, number)
    stats: Counter[str] = Counter()
    rng = random.Random(seed)
    crashes = {n for n in range(allocations) if rng.random() < crash_share}

    def work(indexes: list[int]) -> None:
        with running("tasks"):
            for index in indexes:
                seller, order_id = jobs[index]
                doc = replace(base, seller_id=seller, order_id=order_id)
                series = profiles[seller].series
                tries = 0
                while True:
                    try:
                        allocation = store.allocate(doc, None, series.start,
                                                    lambda n, d=doc, s=series: s.number(d.series_id, n),
                                                    datetime.now(UTC) + timedelta(days=1), datetime.now(UTC))
                        break
                    except NumberingBusy:  # the task would go back to its queue
                        tries += 1
                        with lock:
                            stats["busy"] += 1
                with lock:
                    stats["conflicts"] += allocation.conflicts
                if index in crashes:  # the worker dies after the transaction; the task is retried
                    again = store.allocate(doc, None, series.start, lambda n, d=doc, s=series: s.number(d.series_id, n),
                                           datetime.now(UTC) + timedelta(days=1), datetime.now(UTC))
                    with lock:
                        stats["retried_after_crash"] += 1
                        stats["renumbered"] += int(again.new or again.issued.number != allocation.issued.number)
                with lock:
                    results.append((seller, order_id, allocation.issued.number))

    threads = [threading.Thread(target=work, args=(list(range(w, allocations, workers)),)) for w in range(workers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    gapless = True
    per_series = {}
    for seller in sellers:
        numbers = sorted(int(n.rsplit("-", 1)[1]) for s, _, n in results if s == seller)
        per_series[seller] = len(numbers)
        gapless = gapless and numbers == list(range(1, len(numbers) + 1))
    orders_once = len({(s, o) for s, o, _ in results}) == allocations
    return {"allocations": len(results), "workers": workers, "seconds": round(wall, 2),
            "per_second": round(len(results) / wall, 1), "conflict_retries": stats["conflicts"],
            "busy_requeues": stats["busy"], "crashes": stats["retried_after_crash"],
            "renumbered_after_crash": stats["renumbered"], "series": per_series,
            "gapless": gapless and orders_once and stats["renumbered"] == 0}


def _requests_per_invoice(runtime: Any, invoices: int) -> dict[str, Any]:
    """The scenario's shipped orders (merchant packages and FBA, B2C and B2B, four marketplaces),
    already priced: issue → draw → archive → upload → Amazon's answer, every AWS request counted."""
    from chalicelib.core import wiring as core
    from chalicelib.core.function import running
    from chalicelib.flows.invoices import rules, wiring
    from chalicelib.flows.invoices.triggers import issue_task
    from chalicelib.flows.orders import parsing
    from chalicelib.flows.orders import wiring as orders
    from infra.local.scenario import build_scenario

    scenario = build_scenario(seed=3, orders=int(invoices * 1.6), sellers=1,
                              start=datetime.now(UTC) - timedelta(days=12))
    seller = scenario.world["sellers"][0]
    runtime.simulator.add_seller(seller["sellerId"], seller["refreshToken"])
    from infra.local.runtime import LWA_APP_ID, LWA_CLIENT_SECRET
    from infra.local.stack import write_secret

    write_secret(runtime.stack, LWA_APP_ID, LWA_CLIENT_SECRET,
                 {seller["sellerId"]: {"refresh_token": seller["refreshToken"]}, "A2EUQ1WTGCTBG2": {
                     "refresh_token": "Atzr|bench"}})
    core.state().put_seller(seller["sellerId"], seller["marketplaceIds"])
    from chalicelib import resources, subscriptions

    runtime.simulator.connect(LWA_APP_ID, runtime.stack.outputs[f"{resources.INTAKE.stem}QueueArn"],
                              [seller["sellerId"]], list(subscriptions.SQS_TYPES))
    wiring.profiles().save_profile(rules.parse_profile(seller["sellerId"], seller["profile"]), datetime.now(UTC))
    now = datetime.now(UTC)
    shipped = [e["order"] for e in scenario.world["orders"]
               if e["order"]["fulfillment"]["fulfillmentStatus"] == "SHIPPED" and e["order"].get("proceeds")
               and (e["order"]["fulfillment"]["fulfilledBy"] == "AMAZON" or e["order"].get("packages"))][:invoices]
    order_ids = []
    for raw in shipped:
        runtime.simulator.upsert_order(seller["sellerId"], raw)
        change = parsing.order_change(seller["sellerId"], raw)
        with running("tasks"):
            orders.orders().apply_change(change, now)
            orders.orders().save_details(change.order_id, parsing.order_details(raw))
            orders.buyer_data().save(seller["sellerId"], change.order_id, parsing.personal_data(raw),
                                     change.changed_at, now + timedelta(days=30), None, now)
        order_ids.append(change.order_id)
    counter = ApiCallCounter().install()
    try:
        for order_id in order_ids:
            core.task_queue().enqueue(issue_task(seller["sellerId"], order_id))
        with counter.counting(), running("tasks"):
            core.task_queue().flush()
        counter.wrap_queues(runtime)
        started = time.monotonic()
        runtime.worker.drain(timeout=1200.0)
        wall = time.monotonic() - started
    finally:
        counter.uninstall()
    states: Counter[str] = Counter()
    documents = 0
    with running("api_handler"):
        for order_id in order_ids:
            for doc in wiring.profiles().documents_of(seller["sellerId"], order_id):
                states[doc.upload_status] += 1
                documents += 1
    calls = Counter(counter.calls)
    cost = price_requests(calls, EARLIER)  # per request, at the earlier DynamoDB prices (README)
    # Lambda invocations: one per task (issue, render, upload, submit, report), batches of ten
    # but the work queue's one; and one intake per FEED_PROCESSING_FINISHED.
    cost += documents * (4 / 10 + 1 + 1 / 10) * EARLIER["lambda"]
    return {"orders": len(order_ids), "invoices": documents, "states": dict(states), "wall_seconds": round(wall, 1),
            "aws_requests_per_invoice": round(sum(calls.values()) / max(1, documents), 2),
            "by_service": {s: round(sum(c for n, c in calls.items() if n.startswith(s + ":")) / max(1, documents), 2)
                           for s in sorted({n.split(":")[0] for n in calls})},
            "by_operation": dict(calls),
            "list_price_per_1000_invoices_usd": round(cost / max(1, documents) * 1000, 4)}


def run(allocations: int = 5000, workers: int = 50, crash_share: float = 0.05, invoices: int = 200,
        seed: int = 7) -> dict[str, Any]:
    from infra.local import moto_speedups

    moto_speedups.apply()
    render = _render_figures()
    world = {"applicationId": "amzn1.sellerapps.app.bench", "orders": [],
             "sellers": [{"sellerId": "A2EUQ1WTGCTBG2", "marketplaceIds": ["A1F83G8C2ARO7P"],
                          "refreshToken": "Atzr|bench"}]}
    runtime = start_runtime(world, rate_scale=50.0)
    numbering = _numbering(runtime, allocations, workers, crash_share, seed)
    requests = _requests_per_invoice(runtime, invoices)
    ok = (render["rate"] >= TARGET_RATE and render["first_render_ms"] < TARGET_FIRST_MS and numbering["gapless"]
          and requests["states"].get("accepted", 0) == requests["invoices"])
    summary = (f"[invoices] rendering {render['rate']:.0f}/s warm (target >= {TARGET_RATE:g}), first in a fresh "
               f"process {render['first_ms']:.0f} ms ({render['first_render_ms']:.0f} ms of it the PDF; target < "
               f"{TARGET_FIRST_MS:g}); numbering {numbering['allocations']} by {workers} workers: "
               f"{numbering['per_second']:.0f}/s, {numbering['conflict_retries']} conflict retries, "
               f"{numbering['crashes']} crashes after allocation retried, gapless {numbering['gapless']}; "
               f"{requests['aws_requests_per_invoice']:.1f} AWS requests per invoice {requests['by_service']}, "
               f"${requests['list_price_per_1000_invoices_usd']:.4f} per 1,000 invoices  {verdict(ok)}")
    say(summary)
    return {"summary": summary, "figure": render["rate"], "unit": "invoices rendered per second, warm",
            "target": f">= {TARGET_RATE:g}/s; first < {TARGET_FIRST_MS:g} ms; numbering gapless", "pass": ok,
            "render": render, "numbering": numbering, "requests": requests}


if __name__ == "__main__":
    print(json.dumps(run(*(int(a) for a in sys.argv[1:2])), indent=2))
