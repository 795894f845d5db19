"""Settlements: parse and reconcile a 200,000-row settlement file against Python's csv module
reading the same file in the same run, and the peak memory of the parse for a fixed number of
orders as the rows grow.

The file is Amazon's flat file V2 as the simulator writes it: per order two items, each with its
ItemPrice (Principal, Tax, Shipping) and ItemFees (Commission, FBA fee) rows; a refund every
twentieth order; storage, subscription and reserve rows. Timing: the best of five runs each,
alternated, streaming the file from disk. Memory: tracemalloc's peak over the parse and the
reconciliation (control total, per-order matching, journal), at 50,000, 100,000 and 200,000 rows
for the same 2,000 orders (more rows per order: more items and fee lines).
"""
from __future__ import annotations

import csv
import random
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import verdict

COLUMNS = ("settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
           "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
           "marketplace-name", "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date",
           "posted-date-time", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
           "quantity-purchased", "promotion-id")
SETTLEMENT = "11795245201"


def write_file(path: Path, rows: int, orders: int, seed: int = 11) -> Decimal:
    """A settlement of about `rows` rows over `orders` orders; returns its total."""
    rng = random.Random(seed)
    total = Decimal(0)
    body: list[str] = []

    def row(**cells: str) -> None:
        body.append("\t".join(cells.get(name.replace("-", "_"), "") for name in COLUMNS))

    per_order = max(5, rows // orders)
    written = 0
    order = 0
    while written < rows - 4:
        order_id = f"302-{order % orders:07d}-1234567"  # past `orders`, the same orders again
        day = 1 + order % 28
        posted = f"2026-11-{day:02d}"
        shipment = f"S{order // orders}{order % orders}"
        for line in range(max(1, per_order // 5)):
            price = Decimal(rng.randrange(500, 9000)).scaleb(-2)
            tax = (price * Decimal("0.19")).quantize(Decimal("0.01"))
            base = {"settlement_id": SETTLEMENT, "transaction_type": "Order", "order_id": order_id,
                    "shipment_id": shipment, "marketplace_name": "Amazon.de", "fulfillment_id": "AFN",
                    "posted_date": posted, "posted_date_time": f"{posted} 10:{line % 60:02d}:00 UTC",
                    "order_item_code": f"{rng.randrange(10**14)}", "sku": f"SKU-{line}", "quantity_purchased": "1"}
            fee = -(price * Decimal("0.15")).quantize(Decimal("0.01"))
            for amount_type, description, amount in (("ItemPrice", "Principal", price), ("ItemPrice", "Tax", tax),
                                                     ("ItemPrice", "Shipping", Decimal("3.99")),
                                                     ("ItemFees", "Commission", fee),
                                                     ("ItemFees", "FBAPerUnitFulfillmentFee", Decimal("-3.20"))):
                row(**base, amount_type=amount_type, amount_description=description, amount=f"{amount:.2f}")
                total += amount
                written += 1
        if order % 20 == 19:
            refund = Decimal("-9.99")
            row(settlement_id=SETTLEMENT, transaction_type="Refund", order_id=order_id, adjustment_id=f"A{order}",
                marketplace_name="Amazon.de", amount_type="ItemPrice", amount_description="Principal",
                amount=f"{refund:.2f}", posted_date=posted)
            total += refund
            written += 1
        order += 1
    for description, amount in (("Storage Fee", Decimal("-81.20")), ("Subscription Fee", Decimal("-39.00")),
                                ("Previous Reserve Amount Balance", Decimal("120.00")),
                                ("Current Reserve Amount", Decimal("-150.00"))):
        row(settlement_id=SETTLEMENT, transaction_type="other-transaction", amount_type="other-transaction",
            amount_description=description, amount=f"{amount:.2f}", posted_date="2026-11-29")
        total += amount
    head = "\t".join(COLUMNS)
    first = "\t".join({"settlement-id": SETTLEMENT, "settlement-start-date": "2026-11-15 18:03:49 UTC",
                       "settlement-end-date": "2026-11-29 18:03:49 UTC", "deposit-date": "2026-12-01 18:03:49 UTC",
                       "total-amount": f"{total:.2f}", "currency": "EUR"}.get(name, "") for name in COLUMNS)
    path.write_text("\n".join([head, first, *body]) + "\n", encoding="utf-8")
    return total


def _csv_reader(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.reader(f, delimiter="\t"))


def _csv_dict_reader(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.DictReader(f, delimiter="\t"))


def _reconcile(path: Path, documents: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """What the work task does with a file (without its reads and writes): parse, control total,
    journal, and each order matched with its documents."""
    from chalicelib.flows.settlements import journal, parsing, rules

    with path.open(encoding="utf-8", newline="") as f:
        head, body = parsing.read(f)
        tally = rules.Tally.read(head, body)
    control = rules.control(tally)
    book = journal.journal(head, tally.by_code, journal.DEFAULT_CHART)
    documents = documents or {}
    variances = sum(len(rules.match(order_id, money, head.currency, documents.get(order_id, ())))
                    for order_id, money in tally.orders.items())
    return {"rows": tally.rows, "orders": len(tally.orders), "holds": control.holds, "balanced": book.balanced,
            "variances": variances, "tally": tally}


def _documents(path: Path) -> dict[str, list[Any]]:
    """An invoice for each order's sales and a credit note for its refunds, as the invoices flow
    issues them (read from DynamoDB in the work task; built here, outside the timing)."""
    from chalicelib.flows.settlements import rules

    tally = _reconcile(path)["tally"]
    out: dict[str, list[Any]] = {}
    for order_id, money in tally.orders.items():
        out[order_id] = [rules.Issued(f"INV-{order_id}", "invoice", money.sales, "EUR")]
        if money.refunded:
            out[order_id].append(rules.Issued(f"CN-{order_id}", "credit_note", money.refunds, "EUR"))
    return out


def _best(fn: Any, path: Path, repeats: int = 3, *args: Any) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        value = fn(path, *args)
        times.append(time.perf_counter() - started)
    return min(times), value


def _peak(path: Path) -> int:
    tracemalloc.start()
    try:
        _reconcile(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(rows: int = 200_000, orders: int = 20_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sellerops-settlement-") as tmp:
        big = Path(tmp) / "settlement.tsv"
        write_file(big, rows, orders)
        size = big.stat().st_size
        documents = _documents(big)
        csv_times, ours_times, dict_times = [], [], []
        result: dict[str, Any] = {}
        for _ in range(5):  # alternated, so a slow moment of the machine hits both
            csv_times.append(_best(_csv_reader, big, 1)[0])
            elapsed, result = _best(_reconcile, big, 1, documents)
            ours_times.append(elapsed)
            dict_times.append(_best(_csv_dict_reader, big, 1)[0])
        csv_rate = (result["rows"] + 2) / min(csv_times)
        ours_rate = (result["rows"] + 2) / min(ours_times)
        dict_rate = (result["rows"] + 2) / min(dict_times)
        peaks = {}
        for n in (50_000, 100_000, 200_000):
            path = Path(tmp) / f"fixed-{n}.tsv"
            write_file(path, n, 2_000)
            peaks[n] = _peak(path)
    ratio = ours_rate / csv_rate
    growth = peaks[200_000] / peaks[50_000]
    ok = ratio >= 0.5 and growth <= 1.25 and result["holds"] and result["balanced"] and not result["variances"]
    summary = (f"[settlements] {result['rows']:,} rows, {result['orders']:,} orders ({size / 1e6:.0f} MB): parse and "
               f"reconcile {ours_rate:,.0f} rows/s, csv.reader {csv_rate:,.0f} rows/s, ratio {ratio:.2f} (target "
               f">= 0.5; csv.DictReader {dict_rate:,.0f} rows/s, ratio {ours_rate / dict_rate:.2f}); control total "
               f"{'holds' if result['holds'] else 'FAILS'}, journal {'balanced' if result['balanced'] else 'NOT'}, "
               f"{result['variances']} variances against {len(documents):,} orders' documents; "
               f"peak memory for 2,000 orders: " + ", ".join(f"{n // 1000}k rows {p / 1e6:.1f} MB"
                                                             for n, p in peaks.items())
               + f" (x{growth:.2f} for 4x the rows) {verdict(ok)}")
    print(summary, flush=True)
    return {"summary": summary, "figure": round(ratio, 3), "unit": "parse+reconcile rows/s over csv.reader rows/s",
            "target": 0.5, "pass": ok, "rows": result["rows"], "orders": result["orders"], "bytes": size,
            "rows_per_second": round(ours_rate), "csv_reader_rows_per_second": round(csv_rate),
            "csv_dictreader_rows_per_second": round(dict_rate),
            "peak_bytes_fixed_orders": {str(k): v for k, v in peaks.items()}, "peak_growth": round(growth, 3)}
