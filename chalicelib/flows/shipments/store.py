"""The shipments flow's storage (PynamoDB): one item per order (`order_id`) holding its shipments
(JSON) and a `version`. Every change is one conditional write on that version, so two requests
racing for an order's last units never both record them: the loser reads again and is checked
again. `pending_seller` (the seller id while a shipment awaits Amazon's answer, absent otherwise)
feeds a sparse index that the sweep reads to re-queue confirmations whose task was lost;
`attention_seller` (while Amazon's refusal of the latest shipment stands) one that /health counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib import config, resources
from chalicelib.core.dynamo import models_builder, unless_refused
from chalicelib.core.times import iso, parse_iso
from chalicelib.flows.shipments.rules import OrderShipments, Shipment, ShipmentLine, ShipmentState


@dataclass(frozen=True)
class _ShipmentModels:
    # Any: the model class is built at run time (the table name comes from the environment).
    row: Any


@models_builder
@cache
def _models() -> _ShipmentModels:
    class Pending(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_pending"
            projection = KeysOnlyProjection()

        pending_seller = UnicodeAttribute(hash_key=True)
        order_id = UnicodeAttribute(range_key=True)

    class Attention(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_attention"
            projection = KeysOnlyProjection()

        attention_seller = UnicodeAttribute(hash_key=True)
        order_id = UnicodeAttribute(range_key=True)

    class BySellerUpdated(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_seller_updated"
            projection = AllProjection()

        seller_id = UnicodeAttribute(hash_key=True)
        updated_key = UnicodeAttribute(range_key=True)

    class ShipmentsRow(Model):
        class Meta:
            table_name = config.table_name(resources.SHIPMENTS)

        order_id = UnicodeAttribute(hash_key=True)
        seller_id = UnicodeAttribute()
        version = NumberAttribute()
        shipments = JSONAttribute()
        pending_seller = UnicodeAttribute(null=True)
        attention_seller = UnicodeAttribute(null=True)
        updated_at = UnicodeAttribute()
        updated_key = UnicodeAttribute(null=True)  # <updated at>#<order id>: a total order for listing

        by_pending = Pending()
        by_seller_updated = BySellerUpdated()
        by_attention = Attention()

    return _ShipmentModels(ShipmentsRow)


def _to_json(s: Shipment) -> dict[str, Any]:
    return {"number": s.number, "marketplace_id": s.marketplace_id, "carrier_code": s.carrier_code,
            "carrier_name": s.carrier_name, "tracking_number": s.tracking_number, "ship_date": iso(s.ship_date),
            "shipping_method": s.shipping_method, "ship_from_supply_source_id": s.ship_from_supply_source_id,
            "lines": [{"order_item_id": line.order_item_id, "quantity": line.quantity, "sku": line.sku}
                      for line in s.lines],
            "recorded_at": iso(s.recorded_at), "state": s.state.value,
            "answered_at": iso(s.answered_at) if s.answered_at else None,
            "amazon_answer": s.amazon_answer, "explanation": s.explanation}


def _moment(value: str) -> datetime:
    moment = parse_iso(value)
    if moment is None:
        raise ValueError(f"not a time: {value[:40]!r}")
    return moment


def _from_json(order_id: str, seller_id: str, data: dict[str, Any]) -> Shipment:
    return Shipment(
        f"{order_id}.{data['number']}", order_id, seller_id, data.get("marketplace_id"), int(data["number"]),
        data["carrier_code"], data["tracking_number"], _moment(data["ship_date"]),
        tuple(ShipmentLine(line["order_item_id"], int(line["quantity"]), line.get("sku")) for line in data["lines"]),
        _moment(data["recorded_at"]), data.get("carrier_name"), data.get("shipping_method"),
        data.get("ship_from_supply_source_id"), ShipmentState(data["state"]),
        parse_iso(data["answered_at"]) if data.get("answered_at") else None,
        data.get("amazon_answer"), data.get("explanation"))


def _of_row(row: Any) -> OrderShipments:
    return OrderShipments(row.order_id, row.seller_id,
                          tuple(_from_json(row.order_id, row.seller_id, s) for s in row.shipments or []),
                          int(row.version))


class DynamoShipments:
    def get(self, order_id: str) -> OrderShipments | None:
        Row = _models().row
        try:
            row = Row.get(order_id, consistent_read=True)
        except DoesNotExist:
            return None
        return _of_row(row)

    def read_many(self, order_ids: list[str]) -> dict[str, OrderShipments]:
        """The shipments of these orders (up to 100), read together; orders with none are left out."""
        if not order_ids:
            return {}
        return {row.order_id: _of_row(row) for row in _models().row.batch_get(order_ids)}

    def save(self, current: OrderShipments, shipments: tuple[Shipment, ...], now: datetime) -> bool:
        """Store `shipments` as the order's, unless another change came first (False: read again)."""
        Row = _models().row
        pending = any(s.state is ShipmentState.PENDING for s in shipments)
        # Amazon refused the latest shipment and none was recorded since: a person must look.
        attention = bool(shipments) and max(shipments, key=lambda s: s.number).state is ShipmentState.REJECTED
        actions = [Row.seller_id.set(current.seller_id), Row.version.set(current.version + 1),
                   Row.shipments.set([_to_json(s) for s in shipments]), Row.updated_at.set(iso(now)),
                   Row.updated_key.set(f"{iso(now)}#{current.order_id}"),
                   Row.pending_seller.set(current.seller_id) if pending else Row.pending_seller.remove(),
                   Row.attention_seller.set(current.seller_id) if attention else Row.attention_seller.remove()]
        condition = Row.order_id.does_not_exist() if current.version == 0 else Row.version == current.version
        with unless_refused() as written:
            Row(current.order_id).update(actions=actions, condition=condition)
        return written.ok

    def pending(self, seller_id: str, limit: int = 500) -> list[str]:
        """Orders of a seller with a shipment awaiting Amazon's answer."""
        return [row.order_id for row in _models().row.by_pending.query(seller_id, limit=limit)]

    def list(self, seller_id: str, since: datetime | None, limit: int,
             start: dict[str, Any] | None) -> tuple[list[OrderShipments], dict[str, Any] | None]:
        """A seller's orders with shipments, the most recently changed first, one DynamoDB page at
        a time: the page and the key the next one starts after (None on the last page)."""
        Row = _models().row
        results = Row.by_seller_updated.query(
            seller_id, range_key_condition=Row.updated_key >= iso(since) if since else None,
            scan_index_forward=False, page_size=limit, last_evaluated_key=start)
        try:
            page = next(results.page_iter)
        except StopIteration:
            return [], None
        rows = [Row.from_raw_data(item) for item in page.get("Items", [])]
        return [_of_row(row) for row in rows], results.page_iter.last_evaluated_key

    def counts(self, seller_id: str) -> dict[str, int]:
        """How many of a seller's orders have a confirmation pending, and a refusal to look at."""
        Row = _models().row
        return {"pending": Row.by_pending.count(seller_id), "refused": Row.by_attention.count(seller_id)}
