"""The scenario's settlements part: the settlement reports Amazon writes for each seller that has
shipped orders, `GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2`, two consecutive periods that
settle the whole story (the first across a month end), and what reconciling them must find.

- world `reports`: per seller, the two reports as the Reports API serves them (infra/local/amazon/
  reports.py), each the tab-separated file Amazon writes: the header (24 columns, in Amazon's
  order), the totals row (settlement id, period, deposit date, total-amount, currency), then the
  rows, in the order they were posted:
  - per shipment and order item (a merchant package, or what Amazon's warehouses shipped), Order
    rows: ItemPrice Principal and Tax, Shipping and ShippingTax when charged, Promotion Principal
    when discounted (its VAT is in the item's Tax: the VAT charged), ItemFees Commission (15 % of
    what the buyer paid for the item, VAT included) and, for Amazon-fulfilled items,
    FBAPerUnitFulfillmentFee. Amounts are the order's own (its proceeds, split per package as the
    invoices flow splits them), so an order's sales in a settlement are what its invoices total;
  - per refund Amazon posted (world `transactions`), Refund rows: ItemPrice Principal and Tax
    (and Shipping, ShippingTax, Promotion) as given back, negative, and ItemFees RefundCommission,
    positive: 20 % of the commission on what was refunded;
  - account rows without an order: Subscription Fee (-39.00) and, for a seller with FBA stock,
    Storage Fee on each month start within the period; the previous settlement's reserve released
    as the first opens (before the month end it crosses); a reserve held at the end of the first
    (Current Reserve Amount, negative) and released at the start of the second (Previous Reserve
    Amount Balance, positive, the same amount).
  The total-amount is the sum of every row, to the cent. The first period starts the day before
  the first shipment and ends about halfway through the events when a month end falls before
  that; else it is the period across that month's start. The second closes an hour after the
  last shipment or refund, so every event of the story is settled (`_periods`).
- one deliberate variance: one merchant order of the first seller settled 0.05 more than its
  price (Amazon adjusted the price), so 0.05 more than invoiced;
- expected `settlements`: per seller the reports (ids, period, deposit, rows, orders), the
  reserve, the variance, and what Amazon paid for a few orders (net of fees).

A report is created three hours after its period ends (Amazon writes it when the settlement
closes); the simulator lists it from then on, for 90 days. Nothing here draws from the other
parts' random streams, so adding settlements changed no other part of the scenario.
"""
from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from infra.local.scenario.common import CENT, MARKETPLACES, Seller, Story, cents, iso, item_charges, start_of_day

REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
COLUMNS = ("settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
           "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
           "marketplace-name", "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date",
           "posted-date-time", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
           "quantity-purchased", "promotion-id")
CLOSING = timedelta(hours=18, minutes=3, seconds=49)  # the time of day Amazon closes this seller's settlements
REPORT_DELAY = timedelta(hours=3)  # the report is written after the settlement closes
DEPOSIT_DELAY = timedelta(days=2)  # the payout's transfer date
COMMISSION = Decimal("0.15")  # of what the buyer paid for the item, VAT included
REFUND_COMMISSION = Decimal("0.20")  # of the commission on what was refunded
SUBSCRIPTION_FEE = Decimal("-39.00")
STORAGE_PER_UNIT = Decimal("0.04")  # a month, per unit in Amazon's warehouses
RESERVE_SHARE, RESERVE_MINIMUM = Decimal("0.07"), Decimal("25.00")
VARIANCE = Decimal("0.05")
VARIANCE_REASON = "settled 0.05 more than invoiced: Amazon adjusted the item's price"
PAID_SHOWN = 2  # orders of each fulfilment channel whose net payout `expected` shows, per seller


@dataclass
class _Row:
    posted: datetime
    cells: dict[str, str]
    amount: Decimal

    @property
    def order_id(self) -> str:
        return self.cells.get("order-id", "")


@dataclass
class _Settlement:
    settlement_id: str
    report_id: str
    start: datetime
    end: datetime
    rows: list[_Row] = field(default_factory=list)

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def total(self) -> Decimal:
        return sum((row.amount for row in self.rows), Decimal("0.00"))


def _amount(value: Decimal) -> str:
    return str(cents(value))


def _moment(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _part(amount: Decimal, done: int, now: int, of: int) -> Decimal:
    """The share of `amount` for `now` units after `done` of `of`, cumulatively rounded (as the
    invoices flow splits an item over its packages), so the parts add up to `amount`."""
    if of <= 0:
        return Decimal(0)
    upto = (amount * (done + now) / of).quantize(CENT, rounding=ROUND_HALF_UP)
    before = (amount * done / of).quantize(CENT, rounding=ROUND_HALF_UP)
    return upto - before


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _shipments(order: dict[str, Any]) -> list[tuple[datetime, dict[str, int]]]:
    """What left, when: each merchant package in the order it left, or everything Amazon's
    warehouses shipped at the order's last change."""
    if order["fulfillment"]["fulfilledBy"] == "AMAZON":
        units = {i["orderItemId"]: int(i["fulfillment"]["quantityFulfilled"]) for i in order["orderItems"]
                 if i["fulfillment"]["quantityFulfilled"]}
        return [(_parse(order["lastUpdatedTime"]), units)] if units else []
    packages = sorted(order.get("packages") or [], key=lambda p: (p["shipTime"], p["packageReferenceId"]))
    return [(_parse(p["shipTime"]), {i["orderItemId"]: int(i["quantity"]) for i in p["packageItems"]})
            for p in packages]


def _fba_fee(unit_gross: Decimal) -> Decimal:
    """Amazon's fulfilment fee per unit, by size tier (read off the price, as the catalogue has no sizes)."""
    for below, fee in ((Decimal("15"), "2.70"), (Decimal("25"), "3.20"), (Decimal("35"), "3.90")):
        if unit_gross < below:
            return Decimal(fee)
    return Decimal("4.80")


def _periods(events: list[datetime]) -> tuple[datetime, datetime, datetime]:
    """Two consecutive periods that settle every event (shipments and refunds) and close an hour
    after the last, so both reports exist once the story is over: the first across a month end
    (starting the day before the first event, or before the month's first day when no month end
    falls within the events), ending about halfway through the events when it can, so both
    settle orders. Lengths follow the story (a seller on a shorter cycle than Amazon's 14 days)."""
    first, last = min(events), max(events)
    end = last.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1, minutes=3, seconds=49)
    start = start_of_day(first) - timedelta(days=1) + CLOSING
    month = _month_after(start)
    if month >= end:  # no month end within: the first period is the one across this month's start
        month = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        start = month - timedelta(days=1) + CLOSING
    middle = max(start_of_day(first + (last - first) / 2) + CLOSING, month + timedelta(hours=6))
    if middle >= end - timedelta(hours=1):
        middle = month + (end - month) / 2
    return start, middle.replace(microsecond=0), end


def _month_after(moment: datetime) -> datetime:
    """The start of the month after the moment's."""
    return (moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(day=1)


def _ids(rng: random.Random, seen: set[str]) -> str:
    while True:
        value = "".join(rng.choice(string.digits) for _ in range(11)).lstrip("0")
        if len(value) == 11 and value not in seen:
            seen.add(value)
            return value


def _shipment_id(rng: random.Random) -> str:
    return "D" + "".join(rng.choice(string.ascii_letters) for _ in range(8))


class _Writer:
    """One seller's two settlements, filled row by row."""

    def __init__(self, seller: Seller, settlements: list[_Settlement], rng: random.Random):
        self.seller, self.settlements, self.rng = seller, settlements, rng
        self.currency = seller.home.currency

    def settlement_at(self, moment: datetime) -> _Settlement | None:
        return next((s for s in self.settlements if s.holds(moment)), None)

    def add(self, settlement: _Settlement, posted: datetime, amount: Decimal, **cells: str) -> None:
        cells = {"transaction-type": "", **cells, "amount": _amount(amount), "posted-date": f"{posted:%Y-%m-%d}",
                 "posted-date-time": _moment(posted)}
        settlement.rows.append(_Row(posted, cells, cents(amount)))

    def order(self, order: dict[str, Any], variance: bool) -> bool:
        """Order rows for each shipment of the order within a period; True if any."""
        marketplace = order["salesChannel"]
        afn = order["fulfillment"]["fulfilledBy"] == "AMAZON"
        items = {i["orderItemId"]: i for i in order["orderItems"]}
        done: dict[str, int] = {}
        settled, adjust = False, variance
        for shipped_at, units in _shipments(order):
            settlement = self.settlement_at(shipped_at)
            shipment_id = _shipment_id(self.rng)
            for item_id, count in units.items():
                item = items[item_id]
                before = done.get(item_id, 0)
                done[item_id] = before + count
                if settlement is None:
                    continue
                settled = True
                quantity, zero = int(item["quantityOrdered"]), Decimal(0)
                share = {kind: _part(amount, before, count, quantity) for kind, amount in item_charges(item).items()}
                principal = share.get("ITEM", zero) + (VARIANCE if adjust else zero)  # Amazon's price, once
                adjust = False
                tax = share.get("tax_ITEM", zero) + share.get("tax_DISCOUNT", zero)
                promotion = share.get("DISCOUNT", zero)
                base = {"transaction-type": "Order", "order-id": order["orderId"], "shipment-id": shipment_id,
                        "marketplace-name": marketplace["marketplaceName"], "fulfillment-id": "AFN" if afn else "MFN",
                        "order-item-code": item_id, "sku": item["product"]["sellerSku"],
                        "quantity-purchased": str(count)}
                rows = [("ItemPrice", "Principal", principal), ("ItemPrice", "Tax", tax)]
                if share.get("SHIPPING") or share.get("tax_SHIPPING"):
                    rows += [("ItemPrice", "Shipping", share.get("SHIPPING", zero)),
                             ("ItemPrice", "ShippingTax", share.get("tax_SHIPPING", zero))]
                if promotion:
                    rows.append(("Promotion", "Principal", promotion))
                rows.append(("ItemFees", "Commission", -cents((principal + tax + promotion) * COMMISSION)))
                if afn:
                    unit = Decimal(item["product"]["price"]["unitPrice"]["amount"])
                    rows.append(("ItemFees", "FBAPerUnitFulfillmentFee", -_fba_fee(unit) * count))
                promotion_id = next((p.get("promotionId", "") for p in (item.get("promotion") or {}).get(
                    "breakdowns") or []), "")
                for amount_type, description, amount in rows:
                    extra = {"promotion-id": promotion_id} if amount_type == "Promotion" else {}
                    self.add(settlement, shipped_at, amount, **base, **extra, **{
                        "amount-type": amount_type, "amount-description": description})
        return settled

    def refund(self, order: dict[str, Any], transaction: dict[str, Any]) -> _Settlement | None:
        """Refund rows of one refund transaction, in the period it was posted in."""
        posted = _parse(transaction["postedDate"])
        settlement = self.settlement_at(posted)
        if settlement is None:
            return None
        adjustment = next(r["relatedIdentifierValue"] for r in transaction["relatedIdentifiers"]
                          if r["relatedIdentifierName"] == "REFUND_ID")
        by_sku = {i["product"]["sellerSku"]: i for i in order["orderItems"]}
        for entry in transaction["items"]:
            context = next(c for c in entry["contexts"] if c.get("contextType") == "ProductContext")
            given: dict[str, Decimal] = {}
            for breakdown in entry["breakdowns"]:
                if breakdown["breakdownType"] == "ProductCharges":
                    for child in breakdown["breakdowns"]:
                        # A JSON number, read through its shortest decimal form (as the refunds flow does).
                        given[child["breakdownType"]] = Decimal(str(child["breakdownAmount"]["currencyAmount"]))
            zero = Decimal(0)
            principal, promotion = given.get("Principal", zero), given.get("Promotion", zero)
            tax = given.get("Tax", zero) + given.get("PromotionTax", zero)
            base = {"transaction-type": "Refund", "order-id": order["orderId"], "adjustment-id": adjustment,
                    "marketplace-name": order["salesChannel"]["marketplaceName"],
                    "fulfillment-id": "AFN" if order["fulfillment"]["fulfilledBy"] == "AMAZON" else "MFN",
                    "order-item-code": by_sku.get(context["sku"], {}).get("orderItemId", ""),
                    "merchant-adjustment-item-id": entry["relatedIdentifiers"][0]["itemRelatedIdentifierValue"],
                    "sku": context["sku"]}
            rows = [("ItemPrice", "Principal", principal), ("ItemPrice", "Tax", tax)]
            if given.get("ShippingCharge") or given.get("ShippingTax"):
                rows += [("ItemPrice", "Shipping", given.get("ShippingCharge", zero)),
                         ("ItemPrice", "ShippingTax", given.get("ShippingTax", zero))]
            if promotion:
                rows.append(("Promotion", "Principal", promotion))
            commission = cents(-(principal + tax + promotion) * COMMISSION)
            rows.append(("ItemFees", "RefundCommission", cents(commission * REFUND_COMMISSION)))
            for amount_type, description, amount in rows:
                self.add(settlement, posted, amount, **base, **{"amount-type": amount_type,
                                                                "amount-description": description})
        return settlement

    def account(self, fba_units: int) -> Decimal:
        """The account's own rows: fees on each month start, the reserve held and released."""
        for settlement in self.settlements:
            month = _month_after(settlement.start)
            while month < settlement.end:
                self.add(settlement, month + timedelta(hours=2), SUBSCRIPTION_FEE,
                         **{"transaction-type": "other-transaction", "amount-type": "other-transaction",
                            "amount-description": "Subscription Fee"})
                if fba_units:
                    self.add(settlement, month + timedelta(hours=3), -cents(STORAGE_PER_UNIT * fba_units),
                             **{"transaction-type": "other-transaction", "amount-type": "other-transaction",
                                "amount-description": "Storage Fee"})
                month = _month_after(month)
        first, second = self.settlements
        sales = sum((r.amount for r in first.rows if r.cells["amount-type"] in ("ItemPrice", "Promotion")
                     and r.cells["transaction-type"] == "Order"), Decimal(0))
        reserve = max(RESERVE_MINIMUM, cents(sales * RESERVE_SHARE))
        # The settlement before the first (not in the world) held RESERVE_MINIMUM: the first releases it
        # as it opens, before the month end it crosses.
        for settlement, posted, amount, description in (
                (first, first.start, RESERVE_MINIMUM, "Previous Reserve Amount Balance"),
                (first, first.end - timedelta(seconds=1), -reserve, "Current Reserve Amount"),
                (second, second.start, reserve, "Previous Reserve Amount Balance")):
            self.add(settlement, posted, amount, **{"transaction-type": "other-transaction",
                                                    "amount-type": "other-transaction",
                                                    "amount-description": description})
        return reserve


def text_of(settlement: _Settlement, currency: str) -> str:
    """The report as Amazon writes it: header, totals row, the rows in the order they were posted."""
    deposit = settlement.end + DEPOSIT_DELAY
    head = {"settlement-id": settlement.settlement_id, "settlement-start-date": _moment(settlement.start),
            "settlement-end-date": _moment(settlement.end), "deposit-date": _moment(deposit),
            "total-amount": _amount(settlement.total), "currency": currency}
    ordered = sorted(enumerate(settlement.rows), key=lambda pair: (pair[1].posted, pair[0]))
    lines = ["\t".join(COLUMNS), "\t".join(head.get(name, "") for name in COLUMNS)]
    for _, row in ordered:
        cells = {**row.cells, "settlement-id": settlement.settlement_id}
        lines.append("\t".join(cells.get(name, "") for name in COLUMNS))
    return "\n".join(lines) + "\n"


def _net(settlement: _Settlement, order_id: str) -> dict[str, str]:
    """What Amazon paid for the order in the settlement, as the settlements flow sums it."""
    rows = [r for r in settlement.rows if r.order_id == order_id]
    sales = sum((r.amount for r in rows if r.cells["transaction-type"] == "Order"
                 and r.cells["amount-type"] in ("ItemPrice", "Promotion")), Decimal("0.00"))
    refunds = sum((r.amount for r in rows if r.cells["transaction-type"] == "Refund"
                   and r.cells["amount-type"] in ("ItemPrice", "Promotion")), Decimal("0.00"))
    fees = sum((r.amount for r in rows if r.cells["amount-type"] == "ItemFees"), Decimal("0.00"))
    return {"orderId": order_id, "settlementId": settlement.settlement_id, "sales": str(sales),
            "refunds": str(refunds), "fees": str(fees), "net": str(sales + refunds + fees)}


def tell(story: Story) -> None:
    rng = random.Random(f"sellerops-scenario:{story.seed}:settlements")
    seen: set[str] = set()
    orders_of: dict[str, list[dict[str, Any]]] = {}
    for entry in story.world["orders"]:
        order = entry["order"]
        if order["fulfillment"]["fulfillmentStatus"] in ("SHIPPED", "PARTIALLY_SHIPPED") and order.get("proceeds"):
            orders_of.setdefault(entry["sellerId"], []).append(order)
    refunds = [(t["sellerId"], t["transaction"]) for t in story.world.get("transactions") or []]
    vcs = story.expected.get("vcs_rejected") or {}
    fba: dict[str, int] = {}
    for holding in story.world.get("fbaInventory") or []:
        fba[holding["sellerId"]] = fba.get(holding["sellerId"], 0) + int(holding["fulfillable"])
    reports: list[dict[str, Any]] = []
    expected: list[dict[str, Any]] = []
    for index, seller in enumerate(story.sellers):
        mine = [o for o in orders_of.get(seller.seller_id, [])
                if MARKETPLACES[o["salesChannel"]["marketplaceId"]].currency == seller.home.currency]
        events = [moment for o in mine for moment, _ in _shipments(o)]
        if not events:
            continue
        mine_ids = {o["orderId"] for o in mine}
        events += [_parse(t["postedDate"]) for s, t in refunds if s == seller.seller_id and any(
            r["relatedIdentifierValue"] in mine_ids for r in t["relatedIdentifiers"]
            if r["relatedIdentifierName"] == "ORDER_ID")]
        start, middle, end = _periods(events)
        settlements = [_Settlement(_ids(rng, seen), _ids(rng, seen), start, middle),
                       _Settlement(_ids(rng, seen), _ids(rng, seen), middle, end)]
        writer = _Writer(seller, settlements, rng)
        refunded_ids = {r["relatedIdentifierValue"] for s, t in refunds if s == seller.seller_id
                        for r in t["relatedIdentifiers"] if r["relatedIdentifierName"] == "ORDER_ID"}
        variance_id = _variance_order(mine, writer, vcs, refunded_ids) if index == 0 else None
        settled: dict[str, list[str]] = {"AMAZON": [], "MERCHANT": []}
        for order in sorted(mine, key=lambda o: (min(m for m, _ in _shipments(o)), o["orderId"])):
            if writer.order(order, order["orderId"] == variance_id):
                settled[order["fulfillment"]["fulfilledBy"]].append(order["orderId"])
        by_id = {o["orderId"]: o for o in mine}
        refunded: list[tuple[str, _Settlement]] = []
        for seller_id, transaction in refunds:
            order_id = next(r["relatedIdentifierValue"] for r in transaction["relatedIdentifiers"]
                            if r["relatedIdentifierName"] == "ORDER_ID")
            if seller_id == seller.seller_id and order_id in by_id:
                where = writer.refund(by_id[order_id], transaction)
                if where is not None:
                    refunded.append((order_id, where))
        reserve = writer.account(fba.get(seller.seller_id, 0))
        described = []
        for settlement in settlements:
            created = settlement.end + REPORT_DELAY
            reports.append({"sellerId": seller.seller_id, "reportId": settlement.report_id, "reportType": REPORT_TYPE,
                            "createdTime": iso(created), "marketplaceIds": list(seller.marketplace_ids),
                            "document": text_of(settlement, writer.currency)})
            described.append({"reportId": settlement.report_id, "settlementId": settlement.settlement_id,
                              "start": iso(settlement.start), "end": iso(settlement.end),
                              "depositDate": iso(settlement.end + DEPOSIT_DELAY), "createdTime": iso(created),
                              "totalAmount": str(settlement.total), "currency": writer.currency,
                              "rows": len(settlement.rows),
                              "orders": len({r.order_id for r in settlement.rows if r.order_id})})
        shown = [o for kind in ("AMAZON", "MERCHANT") for o in settled[kind][:PAID_SHOWN]]
        paid = [_net(s, order_id) for s in settlements for order_id in dict.fromkeys(
            [*shown, *([variance_id] if variance_id else []), *(o for o, w in refunded if w is s)])
            if any(r.order_id == order_id for r in s.rows)]
        variance = None
        if variance_id:
            order = by_id[variance_id]
            grand = Decimal(order["proceeds"]["grandTotal"]["amount"])
            where = next(s for s in settlements if any(r.order_id == variance_id for r in s.rows))
            variance = {"orderId": variance_id, "settlementId": where.settlement_id, "what": "sales",
                        "settled": str(grand + VARIANCE), "invoiced": str(grand), "difference": str(VARIANCE),
                        "reason": VARIANCE_REASON}
        expected.append({"sellerId": seller.seller_id, "reports": described,
                         "reserve": {"held": str(-reserve), "released": str(reserve),
                                     "releasedFirst": str(RESERVE_MINIMUM)},
                         "variance": variance, "paid": paid})
    story.world["reports"] = reports
    story.expected["settlements"] = expected


def _variance_order(orders: list[dict[str, Any]], writer: _Writer, vcs: dict[str, Any],
                    refunded: set[str]) -> str | None:
    """The order Amazon settles 0.05 above its price: the first merchant order shipped whole in
    one package within the periods, not refunded, in a marketplace where the seller invoices
    itself."""
    candidates = sorted((o for o in orders if o["fulfillment"]["fulfilledBy"] == "MERCHANT"
                         and o["orderId"] not in refunded and o["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
                         and len(o.get("packages") or []) == 1
                         and o["salesChannel"]["marketplaceId"] != vcs.get("marketplaceId")
                         and writer.settlement_at(_parse(o["packages"][0]["shipTime"])) is not None),
                        key=lambda o: (o["packages"][0]["shipTime"], o["orderId"]))
    return candidates[0]["orderId"] if candidates else None
