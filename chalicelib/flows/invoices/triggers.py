"""How other flows ask for invoices: a task of this kind, never a call into the flow. Kept apart
and light, so that the shipments and orders flows import only this."""
from __future__ import annotations

from chalicelib.core.tasks import Task

ISSUE_INVOICES = "issue_invoices"


def issue_task(seller_id: str, order_id: str) -> Task:
    """Issue what the order lacks (a confirmed shipment, an FBA order shipped, a refund)."""
    return Task(ISSUE_INVOICES, seller_id, order_id, {})
