"""How other flows tell stock an order may have moved: a task of this kind, never a call into the
flow. Kept apart and light, so that the orders and shipments flows import only this."""
from __future__ import annotations

from datetime import datetime

from chalicelib.core.tasks import Task
from chalicelib.core.times import iso

ORDER_STOCK = "order_stock"


def order_task(seller_id: str, order_id: str, at: datetime | None = None) -> Task:
    """Merge what sellerops holds about the order (status, items, confirmed shipments) into the
    ledger; `at`: when the order changed (the entries' time; else when the task runs)."""
    return Task(ORDER_STOCK, seller_id, order_id, {"at": iso(at)} if at is not None else {})
