"""The fulfillment flow's storage (PynamoDB): one item per fulfillment order, keyed by the seller
and its `sellerFulfillmentOrderId` (unique per seller at Amazon, not across sellers), holding
the record as JSON and a `version` every change conditions on (no recipient: that is sealed
apart, with the buyer data)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib import config, resources
from chalicelib.core.dynamo import models_builder, unless_refused
from chalicelib.core.times import iso, parse_iso
from chalicelib.flows.fulfillment.rules import FulfillmentOrder, Item, State


@dataclass(frozen=True)
class _FulfillmentModels:
    order: Any  # built at run time (the table name comes from the environment)


@models_builder
@cache
def _fulfillment_models() -> _FulfillmentModels:
    class Pending(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_pending"
            projection = KeysOnlyProjection()

        pending_seller = UnicodeAttribute(hash_key=True)
        fulfillment_order_id = UnicodeAttribute(range_key=True)

    class FulfillmentOrderRow(Model):
        class Meta:
            table_name = config.table_name(resources.FULFILLMENT_ORDERS)

        seller_id = UnicodeAttribute(hash_key=True)
        fulfillment_order_id = UnicodeAttribute(range_key=True)
        version = NumberAttribute()
        data = JSONAttribute()
        updated_at = UnicodeAttribute()
        pending_seller = UnicodeAttribute(null=True)  # while its creation or cancellation is on its way

        by_pending = Pending()

    return _FulfillmentModels(FulfillmentOrderRow)


def _to_json(o: FulfillmentOrder) -> dict[str, Any]:
    return {"marketplace_id": o.marketplace_id, "state": o.state.value, "requested_at": iso(o.requested_at),
            "displayable_order_id": o.displayable_order_id, "speed": o.speed,
            "items": [[i.item_id, i.sku, i.quantity] for i in o.items], "fingerprint": o.fingerprint,
            "amazon_status": o.amazon_status,
            "status_updated_at": iso(o.status_updated_at) if o.status_updated_at else None,
            "snapshot": dict(o.snapshot), "amazon_answer": o.amazon_answer,
            "cancel_requested_at": iso(o.cancel_requested_at) if o.cancel_requested_at else None,
            "read_at": iso(o.read_at) if o.read_at else None}


def _of_row(row: Any) -> FulfillmentOrder:
    d = row.data
    return FulfillmentOrder(
        row.fulfillment_order_id, row.seller_id, d["marketplace_id"], State(d["state"]),
        parse_iso(d["requested_at"]) or datetime.min, d.get("displayable_order_id") or "", d.get("speed"),
        tuple(Item(str(i[0]), str(i[1]), int(i[2])) for i in d.get("items") or []), d.get("fingerprint"),
        d.get("amazon_status"), parse_iso(d.get("status_updated_at")), d.get("snapshot") or {},
        d.get("amazon_answer"), parse_iso(d.get("cancel_requested_at")), parse_iso(d.get("read_at")),
        int(row.version))


class DynamoFulfillmentOrders:
    def get(self, seller_id: str, fulfillment_order_id: str) -> FulfillmentOrder | None:
        try:
            return _of_row(_fulfillment_models().order.get(seller_id, fulfillment_order_id, consistent_read=True))
        except DoesNotExist:
            return None

    def save(self, order: FulfillmentOrder, now: datetime) -> bool:
        """Store `order` unless another change came first (False: read again); version 0 is a
        new order, stored only if its id is free."""
        Row = _fulfillment_models().order
        condition = Row.fulfillment_order_id.does_not_exist() if order.version == 0 else Row.version == order.version
        with unless_refused() as written:
            Row(order.seller_id, order.fulfillment_order_id).update(
                actions=[Row.version.set(order.version + 1),
                         Row.data.set(_to_json(order)), Row.updated_at.set(iso(now)),
                         Row.pending_seller.set(order.seller_id) if order.on_its_way else Row.pending_seller.remove()],
                condition=condition)
        return written.ok

    def pending(self, seller_id: str, limit: int = 500) -> list[str]:
        """A seller's orders whose creation or cancellation is on its way to Amazon."""
        Row = _fulfillment_models().order
        return [row.fulfillment_order_id for row in Row.by_pending.query(seller_id, limit=limit)]

    def count_pending(self, seller_id: str) -> int:
        return int(_fulfillment_models().order.by_pending.count(seller_id))
