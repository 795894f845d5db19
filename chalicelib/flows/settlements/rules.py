"""A settlement's arithmetic (pure): every row in a category, the control total against the
deposit, each order's money (what the buyer paid per shipment, the refunds, Amazon's fees, the
tax Amazon withheld, the net proceeds), and each order's money matched with the documents issued.

`Tally` takes the parser's sums and keeps its own: per category, per journal code and month, and
per order. Its memory grows with the orders and the codes, never with the rows.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib.flows.settlements.parsing import Body, Head, Sums

ZERO = Decimal(0)

# Categories: every row lands in exactly one.
SALES = "sales"  # what the buyer paid for an order: item price, shipping, gift wrap (and their taxes), promotions
REFUNDS = "refunds"  # the same, paid back
FEES = "fees"  # Amazon's fees on orders and refunds (commission, FBA fulfilment, refund administration)
WITHHELD_TAX = "withheldTax"  # tax Amazon collected and remits itself (marketplace facilitator)
RESERVE = "reserve"  # reserves Amazon held back, and released
ADVERTISING = "advertising"
STORAGE = "storage"  # FBA storage, long-term storage, removals, disposals
SUBSCRIPTION = "subscription"
REIMBURSEMENT = "reimbursement"  # Amazon paying for inventory it lost or damaged
CHARGEBACKS = "chargebacks"  # A-to-z guarantee claims, card chargebacks, SAFE-T
OTHER = "other"  # any other account-level charge or credit
CATEGORIES = (SALES, REFUNDS, FEES, WITHHELD_TAX, CHARGEBACKS, RESERVE, ADVERTISING, STORAGE, SUBSCRIPTION,
              REIMBURSEMENT, OTHER)

_PAID = frozenset({"ItemPrice", "Promotion"})
_REFUND_TYPES = frozenset({"Refund", "REVERSAL_REIMBURSEMENT_REFUND"})
_CHARGEBACK_TYPES = frozenset({"Chargeback Refund", "A-to-z Guarantee Claim", "SAFE-T Reimbursement",
                               "Chargeback", "GuaranteeClaim"})


def category(transaction_type: str, amount_type: str, amount_description: str, with_order: bool) -> str:
    """The category of a row's code (transaction-type, amount-type, amount-description)."""
    words = f"{transaction_type} {amount_type} {amount_description}".lower()
    if "reserve" in words:
        return RESERVE
    if amount_type == "ItemWithheldTax" or "withheld" in words:
        return WITHHELD_TAX
    if transaction_type in _CHARGEBACK_TYPES:
        return CHARGEBACKS
    if with_order and amount_type in _PAID:
        return REFUNDS if transaction_type in _REFUND_TYPES else SALES
    if with_order and amount_type in ("ItemFees", "ShipmentFees", "OrderFees"):
        return FEES
    if "advertising" in words or "sponsored" in words:
        return ADVERTISING
    if "storage" in words or "removal" in words or "disposal" in words:
        return STORAGE
    if "subscription" in words:
        return SUBSCRIPTION
    if "reimbursement" in words:
        return REIMBURSEMENT
    if with_order and amount_type in _PAID:
        return SALES
    if with_order or "fee" in words:
        return FEES
    return OTHER


@dataclass
class OrderMoney:
    """One order's money in one settlement (a plain accumulator, kept per order)."""

    marketplace: str = ""
    paid: dict[str, Decimal] = field(default_factory=dict)  # shipment id → what the buyer paid
    refunded: dict[str, Decimal] = field(default_factory=dict)  # adjustment id → what was paid back
    fees: Decimal = ZERO
    withheld: Decimal = ZERO
    other: Decimal = ZERO  # chargebacks and anything else on the order

    @property
    def sales(self) -> Decimal:
        return sum(self.paid.values(), ZERO)

    @property
    def refunds(self) -> Decimal:
        return sum(self.refunded.values(), ZERO)

    @property
    def net(self) -> Decimal:
        """What Amazon paid the seller for the order in this settlement."""
        return self.sales + self.refunds + self.fees + self.withheld + self.other

    def to_dict(self, currency: str) -> dict[str, Any]:
        return {"marketplace": self.marketplace or None, "currency": currency,
                "sales": str(self.sales), "refunds": str(self.refunds), "fees": str(self.fees),
                "withheldTax": str(self.withheld), "other": str(self.other), "net": str(self.net),
                "shipments": {k: str(v) for k, v in sorted(self.paid.items())},
                "adjustments": {k: str(v) for k, v in sorted(self.refunded.items())}}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> OrderMoney:
        return cls(value.get("marketplace") or "", {k: Decimal(v) for k, v in value["shipments"].items()},
                   {k: Decimal(v) for k, v in value["adjustments"].items()}, Decimal(value["fees"]),
                   Decimal(value["withheldTax"]), Decimal(value["other"]))


class Tally:
    """A settlement's sums as the books read them: per category, per code and month, per order."""

    def __init__(self, head: Head, sums: Sums):
        self.head = head
        self.rows = sums.rows
        self.by_currency = sums.by_currency
        self.by_code = sums.by_code
        self.first_posted, self.last_posted = sums.first_posted, sums.last_posted
        self.by_category: dict[str, Decimal] = {}
        for code, amount in sums.by_account.items():
            kind = sums.categories[(code, False)]
            self.by_category[kind] = self.by_category.get(kind, ZERO) + amount
        self.orders: dict[str, OrderMoney] = {}
        for kind, kept in sums.by_kind.items():
            self.by_category[kind] = self.by_category.get(kind, ZERO) + sum(kept.values(), ZERO)
            if kind in (SALES, REFUNDS):
                for (order_id, sub), amount in kept.items():
                    money = self._order(order_id, sums)
                    found = money.paid if kind == SALES else money.refunded
                    found[sub] = found.get(sub, ZERO) + amount
            elif kind == FEES:
                for order_id, amount in kept.items():
                    self._order(order_id, sums).fees += amount
            elif kind == WITHHELD_TAX:
                for order_id, amount in kept.items():
                    self._order(order_id, sums).withheld += amount
            else:
                for order_id, amount in kept.items():
                    self._order(order_id, sums).other += amount

    def _order(self, order_id: str, sums: Sums) -> OrderMoney:
        money = self.orders.get(order_id)
        if money is None:
            money = self.orders[order_id] = OrderMoney(sums.marketplaces.get(order_id, ""))
        return money

    @classmethod
    def read(cls, head: Head, body: Body) -> Tally:
        return cls(head, body.sums(category, SALES, REFUNDS))


@dataclass(frozen=True)
class Control:
    """The control total: the rows' sum against the deposit, per currency."""

    currency: str
    deposit: Decimal
    rows_total: Decimal
    others: Mapping[str, Decimal]  # rows in another currency (their sums must be zero)

    @property
    def difference(self) -> Decimal:
        return self.rows_total - self.deposit

    @property
    def holds(self) -> bool:
        return self.difference == 0 and not any(self.others.values())

    def reason(self) -> str | None:
        if self.holds:
            return None
        if self.difference:
            return (f"the rows sum to {self.rows_total} {self.currency} but the deposit (total-amount) is "
                    f"{self.deposit} {self.currency}: {abs(self.difference)} {self.currency} "
                    f"{'more' if self.difference > 0 else 'less'} than paid (a row missing, or the file cut short)")
        found = ", ".join(f"{v} {c}" for c, v in sorted(self.others.items()) if v)
        return f"rows in other currencies do not cancel out ({found}); the deposit is in {self.currency}"

    def to_dict(self) -> dict[str, Any]:
        return {"currency": self.currency, "deposit": str(self.deposit), "rowsTotal": str(self.rows_total),
                "difference": str(self.difference), "holds": self.holds, "reason": self.reason()}


def control(tally: Tally) -> Control:
    currency = tally.head.currency
    return Control(currency, tally.head.total, tally.by_currency.get(currency, ZERO),
                   {c: v for c, v in tally.by_currency.items() if c != currency})


# ------------------------------------------------------------------------- matching documents

@dataclass(frozen=True)
class Issued:
    """What the invoices flow issued for an order: an invoice or a credit note, and its total."""

    number: str
    kind: str  # invoice | credit_note
    total: Decimal  # as printed: a credit note's total is what it credits (positive)
    currency: str


@dataclass(frozen=True)
class Variance:
    order_id: str
    what: str  # sales | refunds
    settled: Decimal
    documented: Decimal
    documents: tuple[str, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"orderId": self.order_id, "what": self.what, "settled": str(self.settled),
                "documented": str(self.documented), "difference": str(self.settled - self.documented),
                "documents": list(self.documents), "reason": self.reason}


def match(order_id: str, money: OrderMoney, currency: str, documents: Sequence[Issued]) -> list[Variance]:
    """Each shipment the settlement paid against an invoice of the same total, each refund
    (adjustment) against a credit note of the same total; what finds none is a variance with
    its reason. Documents left over are fine: their shipments are settled in another settlement.
    An order with neither sales nor refunds here (only fees) is not matched."""
    if not money.refunded:
        if not money.paid:
            return []
        if len(documents) == 1 and len(money.paid) == 1:  # the common case: one invoice, to the cent
            only = documents[0]
            if only.kind == "invoice" and only.currency == currency and only.total == sum(money.paid.values(), ZERO):
                return []
    invoices: list[Issued] = []
    credits: list[Issued] = []
    for issued in documents:
        (invoices if issued.kind == "invoice" else credits).append(issued)
    variances = []
    for what, kept, docs, sign in (("sales", money.paid, invoices, 1), ("refunds", money.refunded, credits, -1)):
        if not kept:
            continue
        document, part = ("invoice", "shipment") if what == "sales" else ("credit note", "refund")
        other_currency = [d.number for d in docs if d.currency != currency]
        left = [d for d in docs if d.currency == currency]
        unpaired: list[tuple[str, Decimal]] = []
        for sub, amount in sorted(kept.items()):
            twin = next((d for d in left if abs(d.total) == sign * amount), None)
            if twin is None:
                unpaired.append((sub, amount))
            else:
                left.remove(twin)
        if not unpaired:
            continue
        settled = sum((amount for _, amount in unpaired), ZERO)
        documented = sign * sum((abs(d.total) for d in left), ZERO)
        parts = ", ".join(sub or "(no id)" for sub, _ in unpaired)
        if not docs:
            reason = (f"no {document} issued for this order "
                      f"({'not shipped by us, or invoiced by Amazon VCS' if what == 'sales' else 'refund not seen'})")
        elif other_currency and not left:
            reason = f"documents {', '.join(other_currency)} are not in {currency}"
        elif not left:
            reason = (f"Amazon settled {settled} {currency} for {part} {parts}, and every {document} of the order "
                      "is paired with another: a supply or refund with no document")
        else:
            reason = (f"Amazon settled {settled} {currency} for {part} {parts}, the {document}s left total "
                      f"{documented} {currency}: {settled - documented} {currency} apart")
        variances.append(Variance(order_id, what, settled, documented, tuple(d.number for d in left or docs),
                                  reason))
    return variances
