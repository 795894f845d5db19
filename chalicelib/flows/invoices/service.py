"""Invoices: issue one per supply (a confirmed merchant shipment, or what Amazon shipped from its
warehouses), numbered without gaps, drawn as a PDF archived once; the seller's profile.

    issue_invoices  (tasks queue) order → the documents it lacks, each numbered in one transaction
    render_invoice  (work queue)  number → the PDF, archived write-once, locked
    sweep_invoices  (schedule)    what waits: orders for a profile, documents for their PDF

The other flows queue `issue_invoices` (a task, never a call into this flow): the shipments
flow when Amazon confirmed a shipment, the orders flow when Amazon reports an FBA order shipped.
A duplicated or late trigger finds the claims already made and issues nothing.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from chalicelib.core.errors import PermanentError, RetryLater
from chalicelib.core.fields import quote
from chalicelib.core.tasks import Outcome, Result, Task, TaskQueue
from chalicelib.flows.invoices import rules, triggers, vat
from chalicelib.flows.invoices.rules import Buyer, Document, OrderMoney, Profile

ISSUE = triggers.ISSUE_INVOICES
RENDER = "render_invoice"
# A document numbered but not drawn this long after is drawn again by the sweep (its task was lost).
SWEEP_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class OrderState:
    """What the invoices need of an order (from the orders flow)."""

    seller_id: str
    order_id: str
    marketplace_id: str | None
    status: str
    channel: str | None  # AFN | MFN
    money: OrderMoney | None  # None until getOrder's money is read (or while it needs a person)
    shipped: Mapping[str, int] = field(default_factory=dict)  # Amazon's shipped units per item
    # The merchant packages Amazon lists (getOrder): (reference, shipped at, units per item).
    packages: tuple[tuple[str, datetime, Mapping[str, int]], ...] = ()
    as_of: datetime | None = None  # when Amazon last changed the order (FBA: when it reported it shipped)
    attention: str | None = None  # why the order's money could not be taken


class Orders(Protocol):
    def state(self, order_id: str) -> OrderState | None: ...
    def personal(self, order_id: str) -> dict[str, Any] | None: ...


class Shipments(Protocol):
    def confirmed(self, order_id: str) -> list[tuple[str, datetime, dict[str, int]]]: ...


class Store(Protocol):
    def profile(self, seller_id: str) -> Profile | None: ...
    def save_profile(self, profile: Profile, now: datetime) -> None: ...
    def mark_waiting(self, seller_id: str, order_id: str, now: datetime) -> None: ...
    def clear_waiting(self, seller_id: str, order_id: str) -> None: ...
    def waiting_orders(self, seller_id: str, limit: int = 1000) -> list[str]: ...
    def claims(self, seller_id: str, order_id: str) -> dict[str, str]: ...
    def get(self, seller_id: str, number: str) -> Any: ...
    def seal_buyer(self, doc: Document, buyer: Buyer | None) -> str | None: ...
    def open_buyer(self, issued: Any) -> Buyer | None: ...
    def allocate(self, doc: Document, sealed_buyer: str | None, start: int, number_of: Callable[[int], str],
                 deadline: datetime, now: datetime) -> Any: ...
    def rendered(self, issued: Any, pdf_key: str, sha256: str, now: datetime) -> bool: ...
    def open_numbers(self, seller_id: str, limit: int = 500) -> Any: ...


class Archive(Protocol):
    def put(self, key: str, body: bytes, retain_until: datetime) -> str: ...


class Sellers(Protocol):
    def sellers(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class IssuePorts:
    store: Store
    orders: Orders
    shipments: Shipments
    tasks: TaskQueue


@dataclass(frozen=True)
class RenderPorts:
    store: Store
    archive: Archive
    tasks: TaskQueue
    render: Callable[[Document, Buyer | None, bytes | None], bytes]


def render_task(seller_id: str, number: str) -> Task:
    return Task(RENDER, seller_id, number, {})


def upload_deadline(shipped_at: datetime) -> datetime:
    """Amazon's deadline: the end of the next business day (Monday to Friday, UTC) after the
    shipment (or the refund)."""
    day = shipped_at.astimezone(UTC).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


# --- issuing ---------------------------------------------------------------------------------

def _supplies(order: OrderState, money: OrderMoney, profile: Profile, ports: IssuePorts,
              claims: Mapping[str, str]) -> list[rules.Supply]:
    if order.channel == "AFN":
        if order.status not in ("SHIPPED", "PARTIALLY_SHIPPED") or order.as_of is None:
            return []
        documents = [ports.store.get(order.seller_id, number) for source, number in claims.items()
                     if source.startswith("amazon#")]
        invoiced = rules.invoiced_units([d.document for d in documents if d is not None])
        ship_from = vat.marketplace_country(order.marketplace_id) or profile.address.country_code
        supply = rules.amazon_supply(order.shipped, invoiced, sum(1 for s in claims if s.startswith("amazon#")),
                                     order.as_of, ship_from)
        return [supply] if supply else []
    # Ours first: a package we confirmed is also in Amazon's list, under the same reference.
    packages = [*ports.shipments.confirmed(order.order_id), *order.packages]
    return rules.merchant_supplies(packages, set(claims), profile.address.country_code)


def issue_invoices(task: Task, ports: IssuePorts, now: datetime) -> Result:
    """The order's invoices that are due and not yet issued: numbered, recorded, then drawn."""
    order_id = task.key
    order = ports.orders.state(order_id)
    if order is None:
        raise RetryLater(f"order {order_id} is not recorded yet", delay_seconds=30)
    if order.seller_id != task.seller_id:
        raise PermanentError(f"order {quote(order_id)} belongs to another seller than {quote(task.seller_id)}")
    profile = ports.store.profile(order.seller_id)
    if profile is None:
        ports.store.mark_waiting(order.seller_id, order_id, now)
        return Result(Outcome.ATTENTION, {"order_id": order_id,
                                          "attention": "the seller has no profile yet: PUT /sellers/{id}/profile"})
    if order.marketplace_id in profile.vcs_marketplaces:
        ports.store.clear_waiting(order.seller_id, order_id)
        return Result(Outcome.SKIPPED, {"order_id": order_id, "vcs": order.marketplace_id})
    if order.money is None:
        if order.attention:
            return Result(Outcome.ATTENTION, {"order_id": order_id, "attention": order.attention})
        raise RetryLater(f"order {order_id}: Amazon's prices are not read yet", delay_seconds=60)
    claims = ports.store.claims(order.seller_id, order_id)
    supplies = _supplies(order, order.money, profile, ports, claims)
    buyer = rules.buyer_of(ports.orders.personal(order_id))
    issued = []
    for supply in supplies:
        doc = rules.build_invoice(order.money, supply, profile, buyer, now.date())
        if buyer is None:
            doc = _with_attention(doc, "the buyer's name and address are gone (deleted 30 days after delivery): "
                                       "the invoice names no buyer")
        allocation = ports.store.allocate(doc, ports.store.seal_buyer(doc, buyer), profile.series.start,
                                          functools.partial(profile.series.number, doc.series_id),
                                          upload_deadline(supply.shipped_at), now)
        ports.tasks.enqueue(render_task(order.seller_id, allocation.issued.number))
        issued.append(allocation.issued.number)
    # Documents numbered earlier but not drawn (a crash after the transaction) are drawn now too.
    for number in claims.values():
        if number not in issued:
            found = ports.store.get(order.seller_id, number)
            if found is not None and found.state == "issued":
                ports.tasks.enqueue(render_task(order.seller_id, number))
    ports.store.clear_waiting(order.seller_id, order_id)
    if not issued:
        return Result(Outcome.SKIPPED, {"order_id": order_id})
    return Result(Outcome.CREATED, {"order_id": order_id, "issued": issued})


def _with_attention(doc: Document, reason: str) -> Document:
    from dataclasses import replace

    return replace(doc, attention="; ".join(x for x in (doc.attention, reason) if x))


def render_invoice(task: Task, ports: RenderPorts, now: datetime) -> Result:
    """Draw the document and archive its PDF, once."""
    from chalicelib.flows.invoices.store import pdf_key

    issued = ports.store.get(task.seller_id, task.key)
    if issued is None:
        raise PermanentError(f"document {quote(task.key)} of seller {quote(task.seller_id)} is not issued")
    if issued.state != "issued":
        return Result(Outcome.SKIPPED, {"number": task.key})
    doc = issued.document
    profile = ports.store.profile(doc.seller_id)
    body = ports.render(doc, ports.store.open_buyer(issued), profile.logo_png if profile else None)
    years = profile.legal_period_years if profile else rules.LEGAL_PERIOD_YEARS
    retain_until = datetime.combine(_years_after(doc.issue_date, years), time(0, 0), tzinfo=UTC)
    key = pdf_key(doc)
    digest = ports.archive.put(key, body, retain_until)
    ports.store.rendered(issued, key, digest, now)
    return Result(Outcome.DONE, {"number": task.key, "bytes": len(body)})


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# --- the seller's profile ---------------------------------------------------------------------

def save_profile(store: Store, tasks: TaskQueue, seller_id: str, data: Any, now: datetime) -> Profile:
    """Check and store the profile; the orders that waited for it are invoiced now."""
    profile = rules.parse_profile(seller_id, data)
    store.save_profile(profile, now)
    for order_id in store.waiting_orders(seller_id):
        tasks.enqueue(triggers.issue_task(seller_id, order_id))
    return profile


# --- the sweep ----------------------------------------------------------------------------------

def sweep(store: Any, sellers: Sellers, tasks: TaskQueue, now: datetime) -> dict[str, int]:
    """Every 15 minutes: orders that waited for a profile that now exists are invoiced, and
    documents numbered but not drawn a while after (their task lost) are drawn."""
    queued = drawn = 0
    for seller in sellers.sellers():
        seller_id = seller["seller_id"]
        if store.profile(seller_id) is not None:
            for order_id in store.waiting_orders(seller_id):
                tasks.enqueue(triggers.issue_task(seller_id, order_id))
                queued += 1
        for number in store.open_numbers(seller_id):
            found = store.get(seller_id, number)
            if found is not None and found.state == "issued" and _updated_before(found, now - SWEEP_AFTER):
                tasks.enqueue(render_task(seller_id, number))
                drawn += 1
    return {"issued": queued, "drawn": drawn}


def _updated_before(found: Any, moment: datetime) -> bool:
    return found.updated_at is None or datetime.fromisoformat(found.updated_at) < moment
