"""The settlements flow's ports, built once per container on first use, and what it reads of the
invoices flow (the documents issued, through this adapter only)."""
from __future__ import annotations

from datetime import datetime

from chalicelib.core import wiring
from chalicelib.flows.settlements import rules
from chalicelib.flows.settlements.service import Ports
from chalicelib.flows.settlements.store import DynamoSettlements, SettlementFiles


class IssuedDocuments:
    """The invoices and credit notes issued since a date, by order, as the matching reads them."""

    def issued_since(self, seller_id: str, since: datetime) -> dict[str, list[rules.Issued]]:
        from chalicelib.flows.invoices import wiring as invoices

        store = invoices.profiles()
        out: dict[str, list[rules.Issued]] = {}
        after = None
        while True:
            page, after = store.list(seller_id, since.date(), 500, after)
            for issued in page:
                doc = issued.document
                out.setdefault(doc.order_id, []).append(
                    rules.Issued(issued.number, doc.kind.value, doc.total, doc.currency))
            if not after:
                return out


@wiring.cached
def settlements() -> DynamoSettlements:
    return DynamoSettlements()


@wiring.cached
def files() -> SettlementFiles:
    return SettlementFiles()


@wiring.cached
def intake_ports() -> Ports:
    return Ports(store=settlements(), files=files(), tasks=wiring.task_queue())


@wiring.cached
def work_ports() -> Ports:
    return Ports(store=settlements(), files=files(), tasks=wiring.task_queue(), documents=IssuedDocuments())


@wiring.cached
def amazon_ports() -> Ports:
    from chalicelib.flows.settlements.amazon import SpApiSettlements  # sp_api only where Amazon is called

    return Ports(store=settlements(), files=files(), tasks=wiring.task_queue(), slots=wiring.slots(),
                 amazon=SpApiSettlements(wiring.spapi()))
