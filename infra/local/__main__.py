"""The embedded local stack's commands.

    python -m infra.local demo [--orders N] [--rate-scale X] [--port 8000]
    python -m infra.local replay --world WORLD.json [--serve] [--port N] [--poll] FILE...

`replay` delivers the notifications in FILE... to the intake queue, drains both queues and
prints one JSON summary line; `demo` generates a realistic scenario and does the same with
progress, then serves the API until Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any


def _outcomes() -> Counter:
    from chalicelib.core.observability import OUTCOMES

    return OUTCOMES


def _tally(prefix: str, outcome: str) -> int:
    """Every `<prefix><kind>.<outcome>` counted (tasks are counted per kind)."""
    return sum(n for key, n in _outcomes().items() if key.startswith(prefix) and key.endswith(f".{outcome}"))


def summary(runtime, received: int, started: float) -> dict:
    from infra.local.guard import DENIED

    o = _outcomes()
    failures, _ = runtime_state_failures()
    elapsed = time.monotonic() - started
    dead = runtime.dead_lettered()
    return {
        "received": received,
        # Notifications Amazon pushed while the stack ran (a feed processed, an MCF order's step):
        # they reach the intake too, so processed + duplicates + failed = received + pushed.
        "pushed": len(runtime.simulator.notifications.pushed),
        # The intake admits only the world's application (its "applicationId") and sellers.
        "application_check": "on" if runtime.world.get("applicationId") else "off: the world names no applicationId",
        "refused": len({f.message_id for f in failures if f.kind == "refused"}),
        "processed": o["intake.created"] + o["intake.updated"] + o["intake.stale"] + o["intake.unhandled"],
        "duplicates": o["intake.duplicate"],
        "failed": len({f.message_id for f in failures}),
        "dead_lettered": dead["intake"],
        "created": o["intake.created"], "updated": o["intake.updated"], "stale": o["intake.stale"],
        "unhandled": o["intake.unhandled"],
        # Orders that no notification brought, found by the backstop and created from getOrder.
        "recovered": o["tasks.fetch_order.created"],
        "tasks": {"fetched": o["tasks.fetch_order.done"] + o["tasks.fetch_order.created"],
                  "fresh": o["tasks.fetch_order.skipped"],
                  # Orders whose money from Amazon could not be taken as exact: see their "attention".
                  "attention": _tally("tasks.", "attention"),
                  "polled": o["tasks.poll_orders.done"],
                  "throttled": _tally("tasks.", "waiting"), "retried": _tally("tasks.", "retried"),
                  "failed": o["tasks.invalid"] + o["tasks.error"], "dead_lettered": dead["tasks"]},
        # AWS calls a function's own IAM policy (infra/policy.py) would refuse: 0 unless the code
        # and the policies disagree (infra/local/guard.py).
        "iam_denied": len(DENIED),
        "seconds": round(elapsed, 2),
    }


def runtime_state_failures():
    from chalicelib.core import wiring

    found, more = wiring.state().list_failures("intake", limit=1000)
    return [failure for _, failure in found], more


def local_command(module: str, command: str, runtime) -> str:
    """How to run one of the infra commands against the embedded stack (moto takes any key)."""
    return (f"AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local .venv/bin/python -m infra.{module} {command} "
            f"--stage local --region {runtime.stack.region} --endpoint-url {runtime.stack.endpoint_url}")


def _serve_forever(runtime, schedule_every: float = 60.0) -> None:
    """Keep the API up, the worker on the queues and the schedules on their timer, until Ctrl-C:
    work started through the API (or pushed by the simulator) is processed as in AWS."""
    runtime.run_background(schedule_every=schedule_every)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping", file=sys.stderr)
        runtime.stop()


def replay(args) -> int:
    from infra.local.runtime import LocalRuntime, check_port, load_messages

    with open(args.world, encoding="utf-8") as handle:
        world = json.load(handle)
    bodies = load_messages(args.files)
    if args.serve:
        check_port(args.port)
    runtime = LocalRuntime.start(world, rate_scale=args.rate_scale)
    if args.serve:
        runtime.serve_api(port=args.port)
    started = time.monotonic()
    runtime.deliver(bodies)
    # Intake first, as in AWS where notifications are handled within seconds and the simulator's
    # getOrder answers with the order as it is at the end of the story.
    runtime.worker.drain(timeout=args.timeout, only="intake")
    runtime.worker.drain(timeout=args.timeout)
    if args.poll:
        runtime.run_schedule("poll_orders")
        runtime.worker.drain(timeout=args.timeout)
    print(json.dumps(summary(runtime, len(bodies), started)), flush=True)
    if args.serve:
        print(json.dumps({"api": runtime.api_url, "token": runtime.token,
                          "simulator": runtime.simulator.views_url, "aws": runtime.stack.endpoint_url}), flush=True)
        _serve_forever(runtime, args.schedule_every)
    else:
        runtime.stop()
    return 0


def _shop(runtime, api: str, expected: dict, say) -> Any:
    """The web shop sends its orders to Amazon's warehouses (MCF) through the API, cancels the
    last one while Amazon allows, and follows the others until Amazon has shipped them."""
    from infra.local import shop
    from infra.local.api import GatewayRequestHandler

    say("  web shop: sending its orders to Amazon's warehouses (Multi-Channel Fulfillment) ...")

    def work() -> None:
        runtime.worker.drain(timeout=30)

    GatewayRequestHandler.access_log = False
    try:
        run = shop.send(api, runtime.token, expected.get("shop_orders", []))
        shop.cancel_last(api, runtime.token, run, work)
        shop.follow(api, runtime.token, run, work)
    finally:
        GatewayRequestHandler.access_log = True
    return run


def _ship_by_check(runtime, inbox: str, say) -> dict:
    """The ship-by schedule, once: what it counted, and the digest as the seller's inbox got it."""
    say("  ship-by check: the alert_ship_by schedule counts the orders Amazon waits for ...")
    result = runtime.run_schedule("alert_ship_by")
    for subject, text in runtime.read_alerts(inbox):
        say(f"    e-mail to the seller: \"{subject}\"")
        for line in [line for line in text.splitlines() if line.startswith("  ")][:3]:
            say(f"      {line.strip()}")
    return result


def _warehouse(runtime, api: str, expected: dict, say) -> dict:
    """The demo's warehouse ships the unshipped merchant orders through the API; their
    confirmations reach Amazon, whose ORDER_CHANGE comes back through the intake."""
    from collections import Counter as Tally

    from chalicelib.flows.orders import wiring as orders
    from infra.local import warehouse
    from infra.local.api import GatewayRequestHandler

    unshipped = [order_id for order_id, truth in expected["orders"].items()
                 if truth["status"] == "UNSHIPPED" and truth["fulfilledBy"] == "MERCHANT" and truth["notified"]]
    say("  warehouse: shipping the unshipped merchant orders through the API ...")
    GatewayRequestHandler.access_log = False
    try:
        shipped = warehouse.ship(api, runtime.token, unshipped)
    finally:
        GatewayRequestHandler.access_log = True
    runtime.worker.drain(timeout=1800)
    packages = Tally((c["orderId"], c["packageDetail"]["packageReferenceId"])
                     for c in runtime.simulator.orders.confirmations)
    now_shipped = sum(1 for order_id in unshipped
                      if (found := orders.orders().get(order_id)) and found[0].status.value == "SHIPPED")
    return {"shipped": shipped, "orders": len(unshipped), "confirmed": sum(packages.values()),
            "duplicates": sum(1 for n in packages.values() if n > 1), "now_shipped": now_shipped}


def _invoices(runtime, api: str, expected: dict, world: dict, say) -> Any:
    """Invoices: those of the sellers with a profile are issued as their orders ship; the seller
    without one waits until the accountant sets it through the API; then the books are read back."""
    from infra.local import accountant
    from infra.local.api import GatewayRequestHandler
    from infra.local.runtime import PROJECT_DIR

    GatewayRequestHandler.access_log = False
    try:
        from infra.local.warehouse import call

        _, health = call(api, runtime.token, "GET", "/health")
        waiting = ((health.get("flows") or {}).get("invoices") or {}).get("waitingForProfile", 0)
        later = expected.get("profiles_later", [])
        if later:
            say(f"  invoices: {waiting} shipped orders wait for their seller's profile; the accountant sets it "
                "(PUT /sellers/{id}/profile) ...")
        set_ = accountant.set_profiles(api, runtime.token, later)
        runtime.worker.drain(timeout=1800)
        sellers = [s["sellerId"] for s in world["sellers"]]
        orders = {o["order"]["orderId"]: o["order"] for o in world["orders"]}
        books = accountant.check(api, runtime.token, sellers, orders)
        accountant.save_samples(api, runtime.token, books, PROJECT_DIR / "build" / "demo-invoices")
    finally:
        GatewayRequestHandler.access_log = True
    return books, set_, waiting


def _stock(runtime, api: str, expected: dict, say) -> dict:
    """Amazon's merchant quantities follow available-to-sell: the push schedule sends them (a few
    patches each, or one listings feed), the reconciliation checks FBA stock against Amazon's;
    then the stock is read back through the API and set beside what Amazon shows."""
    from infra.local.api import GatewayRequestHandler
    from infra.local.warehouse import call

    say("  stock: pushing available-to-sell to Amazon's listings, reconciling FBA stock with Amazon's ...")
    before = runtime.simulator.stats()
    runtime.run_schedule("push_stock")
    runtime.run_schedule("reconcile_stock")
    for _ in range(3):  # a listings feed is processed a moment later; its report comes back as a notification
        runtime.worker.drain(timeout=600)
        time.sleep(1.2)
    runtime.run_schedule("push_stock")  # what Amazon's quantity notifications asked to correct, if anything
    runtime.worker.drain(timeout=600)
    after = runtime.simulator.stats()
    calls = {op: after.get(op, {}).get("calls", 0) - before.get(op, {}).get("calls", 0)
             for op in ("patchListingsItem", "createFeed", "getInventorySummaries")}
    truth = expected.get("stock", {})
    GatewayRequestHandler.access_log = False
    try:
        sellers = sorted({t["sellerId"] for t in truth.values()})
        items: dict[str, dict] = {}
        for seller_id in sellers:
            _, page = call(api, runtime.token, "GET", f"/stock?sellerId={seller_id}&limit=100")
            items.update({i["sku"]: i for i in page.get("items", [])})
    finally:
        GatewayRequestHandler.access_log = True
    shown = {item.sku: item.quantity for item in runtime.simulator.listings.listings.values()}
    mismatches = []
    for sku, t in truth.items():
        got = items.get(sku)
        if got is None or (got["available"], got["state"], got["oversold"]) != (t["available"], t["state"],
                                                                                 t["oversold"]):
            mismatches.append(f"{sku}: {got and (got['available'], got['state'])} instead of "
                              f"{(t['available'], t['state'])}")
        elif t["amazonQuantity"] is not None and shown.get(sku) != t["amazonQuantity"]:
            mismatches.append(f"{sku}: Amazon shows {shown.get(sku)}, not {t['amazonQuantity']}")
    fba = [i for i in items.values() if i["fba"]]
    return {"items": items, "truth": truth, "shown": shown, "calls": calls, "mismatches": mismatches,
            "fba": len([f for i in fba for f in i["fba"]]), "drift": sum(i["fbaDrift"] for i in fba)}


def _settlements(runtime, api: str, expected: dict, world: dict, say) -> dict:
    """Amazon's payouts: the first seller's reports arrive as Amazon announces them
    (REPORT_PROCESSING_FINISHED), the others' through the daily getReports backstop; each is
    reconciled, its journal exported as FEC and Xero files, the same file imported again."""
    from infra.local.api import GatewayRequestHandler
    from infra.local.runtime import PROJECT_DIR
    from infra.local.warehouse import call, call_text

    truth = expected.get("settlements") or []
    if not truth:
        return {"truth": []}
    say("  settlements: Amazon announces the first seller's reports; the daily getReports finds the others' ...")
    runtime.simulator.reports.publish_world_reports(seller_id=truth[0]["sellerId"])
    runtime.worker.drain(timeout=600)
    runtime.run_schedule("list_settlements")
    runtime.worker.drain(timeout=600)
    folder = PROJECT_DIR / "build" / "demo-books"
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("*-fec.txt"), *folder.glob("*-xero.csv")]:  # an earlier run's settlements
        old.unlink()
    GatewayRequestHandler.access_log = False
    seen: dict[str, dict] = {}
    files: list[str] = []
    try:
        for seller in truth:
            sid = seller["sellerId"]
            for report in seller["reports"]:
                status, found = call(api, runtime.token, "GET",
                                     f"/settlements/{report['settlementId']}?sellerId={sid}")
                seen[report["settlementId"]] = found if status == 200 else {"status": f"HTTP {status}"}
                for fmt in ("fec", "xero"):
                    status, text = call_text(api, runtime.token, "GET", f"/settlements/{report['settlementId']}"
                                                                       f"/export?sellerId={sid}&format={fmt}")
                    if status == 200:
                        path = folder / f"{sid}-{report['settlementId']}-{fmt}.{'txt' if fmt == 'fec' else 'csv'}"
                        path.write_text(text, encoding="utf-8")
                        files.append(path.name)
        first = truth[0]["reports"][0]
        document = next(r["document"] for r in world["reports"] if r["reportId"] == first["reportId"])
        status, text = call_text(api, runtime.token, "POST", f"/settlements/import?sellerId={truth[0]['sellerId']}",
                                 document, "text/tab-separated-values")
        again = (status, json.loads(text) if text.startswith("{") else {"message": text[:100]})
        paid = truth[0]["paid"][0] if truth[0]["paid"] else None
        order = call(api, runtime.token, "GET", f"/orders/{paid['orderId']}")[1] if paid else None
    finally:
        GatewayRequestHandler.access_log = True
    return {"truth": truth, "seen": seen, "folder": folder, "files": files, "again": again, "paid": paid,
            "order": order}


def _say_settlements(books: dict, say) -> None:
    truth = books["truth"]
    if not truth:
        return
    seen = books["seen"]
    reports = [r for seller in truth for r in seller["reports"]]
    good = [r for r in reports if seen[r["settlementId"]].get("status") == "posted"
            and seen[r["settlementId"]]["deposit"]["amount"] == r["totalAmount"]
            and seen[r["settlementId"]]["rows"] == r["rows"] and seen[r["settlementId"]]["journal"]["balanced"]]
    say(f"  settlements: {len(reports)} of Amazon's reports reconciled; {len(good)} balance to their deposit with "
        f"every row accounted for and a balanced journal (GET /settlements?sellerId=...)")
    for r in reports:
        got = seen[r["settlementId"]]
        if got.get("status") != "posted":
            say(f"    settlement {r['settlementId']} is {got.get('status')}: {'; '.join(got.get('reasons') or [])}")
            continue
        entries = got["journal"]["entries"]
        say(f"    {r['settlementId']} ({r['start'][:10]} to {r['end'][:10]}): deposit {got['deposit']['amount']} "
            f"{got['deposit']['currency']} from {got['rows']} rows of {got['orders']} orders; "
            + ", ".join(f"{k} {v}" for k, v in got["totals"].items())
            + f"; {len(entries)} journal entr{'y' if len(entries) == 1 else 'ies'} "
            + " + ".join(f"{e['date']} ({e['debits']} = {e['credits']})" for e in entries)
            + f", rounding {got['journal']['rounding']}")
    variance = truth[0].get("variance")
    if variance:
        got = seen.get(variance["settlementId"], {})
        found = [v for v in got.get("variancesShown", []) if v["orderId"] == variance["orderId"]]
        say(f"  the deliberate variance: order {variance['orderId']} "
            + (f"is listed: {found[0]['reason']}" if found else "IS NOT LISTED")
            + f" (settlement {variance['settlementId']})")
    others = [v for r in reports for v in seen[r["settlementId"]].get("variancesShown", [])
              if not variance or v["orderId"] != variance["orderId"]]
    for reason, count in Counter(v["reason"].split(":")[0].split(" (")[0] for v in others).most_common(3):
        example = next(v for v in others if v["reason"].startswith(reason))
        say(f"    {count} other order(s): {reason} (e.g. {example['orderId']}, {example['what']}: {example['reason']})")
    again = books["again"]
    say(f"  the same settlement file uploaded again (POST /settlements/import): {again[0]} "
        f"\"{(again[1] or {}).get('message', '')}\"")
    if books["paid"] and books["order"]:
        payment = books["order"].get("payment") or {}
        say(f"  was order {books['paid']['orderId']} paid? {'yes' if payment.get('paid') else 'NO'}: "
            f"{payment.get('net')} {payment.get('currency')} net of fees, in settlement(s) "
            f"{', '.join(s['settlementId'] for s in payment.get('settlements', []))} (GET /orders/{{id}}, payment)")
    say(f"  the journals as the accountant imports them, FEC and Xero: {len(books['files'])} files in "
        f"{books['folder']}")


def _say_stock(stock: dict, say) -> None:
    items, truth, shown = stock["items"], stock["truth"], stock["shown"]
    merchant = [items[s] for s in truth if s in items]
    say(f"  stock: {len(merchant)} merchant SKUs counted by the warehouse, {sum(i['onHand'] for i in merchant)} "
        f"units on the shelves, {sum(i['reserved'] for i in merchant)} reserved by open orders "
        "(GET /stock?sellerId=...)")
    reorder = [i for i in merchant if i["onReorderList"]]
    say(f"    reorder list ({len(reorder)}): " + ", ".join(
        f"{i['sku']} ({i['available']} available, reorder at {i['reorderPoint']})" for i in reorder))
    for item in (i for i in merchant if i["oversold"]):
        taken = next((e for e in item["latestEntries"] if e["oversold"]), None)
        by = f" by order {taken['cause'].get('orderId')}" if taken else ""
        say(f"    oversold: {item['sku']} has {item['oversold']} unit reserved beyond its shelf (taken{by}); "
            "Amazon shows 0 and a person must decide")
    listed = [i for i in merchant if i["state"] not in ("invalid",)][:6]
    say("    Amazon shows (GET /_simulator/listings): " + ", ".join(
        f"{i['sku']} {shown.get(i['sku'])}" for i in listed) + ", ...")
    for item in (i for i in merchant if i["state"] == "discontinued"):
        say(f"    discontinued: {item['sku']} shows {shown.get(item['sku'])} on Amazon with {item['onHand']} "
            "on the shelf")
    for item in (i for i in merchant if i["state"] == "invalid"):
        say(f"    unknown to Amazon: {item['sku']}: \"{(item['invalid'] or '')[:90]}\"")
    calls = stock["calls"]
    say(f"    sent with {calls['patchListingsItem']} patchListingsItem calls and {calls['createFeed']} listings "
        f"feed(s); FBA: {stock['fba']} marketplace quantities from Amazon's notifications, "
        f"{calls['getInventorySummaries']} getInventorySummaries pages, {stock['drift']} drifted quantity corrected")
    if stock["mismatches"]:
        say(f"    MISMATCHES with the scenario: {'; '.join(stock['mismatches'][:5])}")
    else:
        say("    every SKU as the scenario says: available, state, oversold, and what Amazon shows")


def demo(args) -> int:
    from infra.local.runtime import LocalRuntime, check_port
    from infra.local.scenario import build_scenario

    check_port(args.port)
    say = lambda text="": print(text, flush=True)  # noqa: E731
    say("sellerops demo: the whole back office on your laptop, no AWS account needed.")
    start = (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0)  # all of it in the past
    scenario = build_scenario(seed=args.seed, orders=args.orders, start=start)
    exp = scenario.expected
    say(f"  scenario: {len(exp['orders'])} Amazon orders from "
        f"{len({o['sellerId'] for o in exp['orders'].values()})} sellers "
        f"on {len({o['marketplaceId'] for o in exp['orders'].values()})} EU marketplaces; "
        f"{len(scenario.messages)} SQS messages incl. {exp['duplicates']} duplicates, {exp['malformed']} malformed, "
        f"{exp['unhandled']} of an unhandled type, shuffled; {exp['lost']} orders whose notifications were lost")
    say("  starting: moto (AWS) from infra/template.yaml, Amazon simulator, worker, API ...")
    runtime = LocalRuntime.start(scenario.world, rate_scale=args.rate_scale)
    api = runtime.serve_api(port=args.port)
    say(f"  Amazon's rate limits run {args.rate_scale:g}x faster than real time so the demo takes a couple of minutes")

    started = time.monotonic()
    runtime.deliver(scenario.messages)
    last = [0.0]

    def progress(final: bool = False):
        now = time.monotonic()
        if now - last[0] < 1.0 and not final:
            return
        last[0] = now
        o = _outcomes()
        handled = (o['intake.created'] + o['intake.updated'] + o['intake.stale'] + o['intake.duplicate']
                   + o['intake.unhandled'])
        priced = o["tasks.fetch_order.done"] + o["tasks.fetch_order.created"]
        sys.stdout.write(f"\r  working: {handled:4d} notifications handled, "
                         f"{priced:4d} orders priced via getOrder, "
                         f"{_tally('tasks.', 'waiting'):4d} waits for Amazon's rate limit, "
                         f"{runtime.dead_lettered()['intake']:3d} malformed set aside   ")
        sys.stdout.flush()

    runtime.worker.drain(timeout=1800, on_progress=progress, only="intake")
    runtime.worker.drain(timeout=1800, on_progress=progress)
    say()
    say("  backstop: polling searchOrders for orders whose notification never came ...")
    runtime.run_schedule("poll_orders")
    runtime.worker.drain(timeout=1800, on_progress=progress)
    progress(final=True)  # the last counts, as the summary gives them
    say()
    result = summary(runtime, len(scenario.messages), started)
    inbox = runtime.alerts_inbox()
    ship_by = _ship_by_check(runtime, inbox, say)
    shipping = _warehouse(runtime, api, exp, say)
    after = runtime.run_schedule("alert_ship_by")
    mcf = _shop(runtime, api, exp, say)
    books, profiles_set, waited = _invoices(runtime, api, exp, scenario.world, say)
    stock = _stock(runtime, api, exp, say)
    settled = _settlements(runtime, api, exp, scenario.world, say)
    say()
    say("Summary")
    orders = result['created'] + result['recovered']
    say(f"  {result['received']} messages received: {result['created']} orders created from notifications, "
        f"{result['updated']} updates applied, "
        f"{result['stale']} late events kept in history only, {result['duplicates']} duplicates ignored, "
        f"{result['unhandled']} of types not handled yet")
    say(f"  {result['failed'] - result['refused']} malformed messages rejected, {result['refused']} refused "
        f"(another application, or a seller not served) -> {result['dead_lettered']} in the dead-letter queue, "
        "reasons at GET /failures")
    if result["application_check"] != "on":
        say(f"  ApplicationId check {result['application_check']}")
    say(f"  the backstop found {result['recovered']} orders whose notification never came: {orders} orders in all "
        f"(GET /orders lists them)")
    from chalicelib.flows.orders.service import DETAILS_READ

    say(f"  {result['tasks']['fetched']} details tasks stored prices, taxes and (encrypted) buyer data: "
        f"{DETAILS_READ['getOrder']} orders read through getOrder, {DETAILS_READ['searchOrders']} through "
        f"searchOrders pages (that door opens past 150 getOrder calls booked ahead of a seller), "
        f"{DETAILS_READ['ours']} shipped in packages confirmed through sellerops needed no read; "
        f"{result['tasks']['throttled']} times a task waited for its rate-limit slot; "
        f"Amazon answered 429 {runtime.simulator.stats().get('getOrder', {}).get('429', 0)} times")
    say(f"  the warehouse recorded {len(shipping['shipped'].recorded)} shipments through the API for "
        f"{shipping['orders']} unshipped merchant orders ({shipping['shipped'].split} in two parcels, "
        f"{len(shipping['shipped'].late)} after its ship-by date); Amazon received {shipping['confirmed']} "
        f"confirmations, {shipping['duplicates']} twice; {shipping['now_shipped']} of those orders are SHIPPED now")
    for order_id, message in shipping["shipped"].refused:
        say(f"  refused by the API, nothing recorded (order {order_id}): {message}")
    shipped_mcf = [o for o in mcf.final.values() if o.get("amazonStatus") == "Complete"]
    tracking = [p["trackingNumber"] for o in shipped_mcf for s in o.get("shipments", []) for p in s["packages"]]
    say(f"  the web shop sent {len(mcf.sent)} orders to Amazon's warehouses (MCF; the same request again "
        f"answered {', '.join(map(str, mcf.again)) or '-'}: no second order); {len(shipped_mcf)} shipped with "
        f"tracking {', '.join(tracking) or '-'}, {len(mcf.cancelled)} cancelled while Amazon allowed it")
    for order_id, message in mcf.refused:
        say(f"  refused for the web shop (order {order_id}): {message}")
    from infra.local.warehouse import call

    for seed in exp.get("fulfillment_seeds", []):
        status, seen = call(api, runtime.token, "GET", f"/fulfillment-orders/{seed}?sellerId={mcf.seller_id}")
        if status == 200:
            say(f"  an order made in Seller Central before ({seed}) is followed from Amazon's notification: "
                f"{seen.get('amazonStatus')}, {len(seen.get('returns') or [])} return(s) received "
                f"(GET /fulfillment-orders/{seed}?sellerId={mcf.seller_id})")
        else:
            say(f"  the order made in Seller Central before ({seed}) is not followed yet: Amazon has not notified")
    say(f"  ship-by alerts: {ship_by['late']} merchant orders were late to ship before the warehouse ran, one "
        f"digest named them; {after['late']} still are, and the next run sent {len(runtime.read_alerts(inbox))} "
        f"e-mails (each order is alerted once per threshold; GET /shipments/due lists them)")
    every = [d for docs in books.documents.values() for d in docs]
    languages = sorted({d["language"] for d in every})
    reverse = sum(1 for d in every if "reverse_charge" in d["mentions"])
    attention = [d for d in every if d.get("attention")]
    series = len({(d["sellerId"], d["number"].rsplit("-", 1)[0]) for d in every})
    say(f"  invoices: {books.count} issued for {len({d['orderId'] for d in every})} shipped orders, one per "
        f"package ({', '.join(languages)}; {reverse} intra-EU business supplies with the reverse charge), "
        f"numbered in {series} series " + (f"WITH GAPS: {'; '.join(books.gaps)}" if books.gaps else "without a gap")
        + f"; {books.matched} wholly shipped orders invoiced to the cent of what Amazon charged"
        + (f", MISMATCHES: {'; '.join(books.mismatches[:3])}" if books.mismatches else ""))
    uploads = Counter(d["upload"]["status"] for d in every)
    say(f"  uploads to Amazon (UPLOAD_VAT_INVOICE feeds, at most once each): {uploads.get('accepted', 0)} accepted, "
        f"{uploads.get('rejected', 0)} rejected, {uploads.get('held', 0)} held, "
        f"{sum(n for k, n in uploads.items() if k not in ('accepted', 'rejected', 'held'))} on their way")
    rejected = [d for d in every if d["upload"]["status"] == "rejected"]
    for reason, count in Counter((d["upload"]["amazonCode"], d["upload"]["explanation"]) for d in rejected).items():
        example = next(d for d in rejected if (d["upload"]["amazonCode"], d["upload"]["explanation"]) == reason)
        say(f"    {count} rejected by Amazon with {reason[0]} (\"{(example['upload']['amazonMessage'] or '')[:70]}\", "
            f"e.g. {example['number']}): {reason[1]}")
    notes = [d for d in every if d["type"] == "creditNote"]
    for refund in exp.get("refunds", []):
        made = [d for d in notes if d["orderId"] == refund["orderId"]]
        say(f"  refund {refund['transactionId']} ({refund['kind']}, {refund['total']}) of order {refund['orderId']}: "
            + (", ".join(f"credit note {d['number']} correcting {d['corrects']}, total {d['total']}" for d in made)
               or "no credit note yet"))
    for seller_id, status, message in profiles_set:
        say(f"  seller {seller_id} had no profile: {waited} orders waited; PUT /sellers/{seller_id}/profile "
            f"answered {status}{' ' + message if message else ''}, and they were invoiced")
    for doc in attention[:3]:
        say(f"  needs a person, not uploaded: {doc['number']} ({doc['orderId']}): {doc['attention']}")
    if books.samples:
        say(f"  sample PDFs in {books.samples[0][1].parent}:")
        for what, path in books.samples:
            say(f"    {path.name}  ({what})")
    _say_stock(stock, say)
    _say_settlements(settled, say)
    say(f"  done in {result['seconds']} s")
    sample = next(iter(exp["orders"]))
    seller = next(iter(exp["orders"].values()))["sellerId"]
    say()
    say("Try it (the API is up until Ctrl-C):")
    say(f"  export TOKEN={runtime.token}")
    say(f"  curl -s {api}/health")
    say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" {api}/orders/{sample}")
    say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{api}/orders?sellerId={seller}&status=SHIPPED&limit=5'")
    say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" {api}/sellers/{seller}/backlog")
    say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" {api}/failures")
    if shipping["shipped"].recorded:
        first = shipping["shipped"].recorded[0]
        say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" {api}/shipments/{first}")
        say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" {api}/orders/{first.rsplit('.', 1)[0]}/shipments")
    say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{api}/shipments/due?sellerId={seller}&within=PT24H'")
    if mcf.sent:
        say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" "
            f"'{api}/fulfillment-orders/{mcf.sent[0]}?sellerId={mcf.seller_id}'")
    first_doc = next((d for docs in books.documents.values() for d in docs), None)
    if first_doc:
        say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" {api}/orders/{first_doc['orderId']}/invoices")
        say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{api}/invoices?sellerId={first_doc['sellerId']}&limit=5'")
    stock_truth: dict[str, dict[str, Any]] = exp.get("stock") or {}
    stock_seller = next((t["sellerId"] for t in stock_truth.values()), None)
    if stock_seller:
        say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{api}/stock?sellerId={stock_seller}&state=reorder'")
        say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{api}/stock/{next(iter(exp['stock']))}?sellerId="
            f"{stock_seller}'")
        say(f"  curl -s {runtime.simulator.views_url}/_simulator/listings?sellerId={stock_seller}")
    say(f"  curl -s -H \"Authorization: Bearer $TOKEN\" {api}/openapi.json")
    say("  # a token for a warehouse that may read one seller's orders and nothing else (shown once):")
    say(f"  {local_command('tokens', 'create', runtime)} --name warehouse --scopes orders:read --sellers {seller}")
    if args.no_serve:
        runtime.stop()
        return 0
    _serve_forever(runtime)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("replay", help="deliver notification files, drain the queues, print a JSON summary")
    p.add_argument("--world", required=True, help='Amazon side: {"orders": [{"sellerId": ..., "order": <Order>}]}')
    p.add_argument("--serve", action="store_true", help="keep the API up afterwards")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--poll", action="store_true", help="also run the backstop poll once")
    p.add_argument("--rate-scale", type=float, default=float(os.environ.get("SELLEROPS_RATE_SCALE", "1")))
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--schedule-every", type=float, default=60.0, metavar="SECONDS",
                   help="with --serve: how often the schedules run while serving (default 60)")
    p.add_argument("files", nargs="+")
    d = sub.add_parser("demo", help="a realistic scenario end to end, then serve the API")
    d.add_argument("--orders", type=int, default=220)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--rate-scale", type=float, default=100.0)
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--no-serve", action="store_true", help="exit after the summary")
    args = parser.parse_args(argv)
    from infra.local.runtime import PortTaken

    try:
        return {"replay": replay, "demo": demo}[args.command](args)
    except PortTaken as taken:
        print(f"error: {taken}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
