"""The invoices flow's ports, built once per container on first use, and what it reads of the
orders and shipments flows (their stores, through these adapters only)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib import config
from chalicelib.core import aws, wiring
from chalicelib.core.datakeys import DataKeys
from chalicelib.core.money import Money
from chalicelib.flows.invoices.rules import ItemMoney, OrderMoney
from chalicelib.flows.invoices.service import AmazonPorts, IntakePorts, IssuePorts, OrderState, RenderPorts
from chalicelib.flows.invoices.store import DynamoInvoices, S3Archive
from chalicelib.flows.orders.rules import SHIPPED_STATUSES, Order


def _amount(money: Money | None) -> Decimal:
    return money.amount if money is not None else Decimal(0)


def money_of(order: Order) -> tuple[OrderMoney | None, str | None]:
    """The order's money as the invoices take it (net and VAT per charge), or why not: Amazon's
    parts of a line must add up to the line's total, to the cent."""
    details = order.details
    if details is None or details.currency is None:
        return None, None
    items = []
    for line in details.lines:
        item_tax = line.item_tax
        if item_tax is None and line.tax is not None and not any((line.shipping_tax, line.gift_wrap_tax,
                                                                   line.discount_tax)):
            item_tax = line.tax if not (line.shipping or line.gift_wrap or line.discount) else None
        item = ItemMoney(
            line.order_item_id, line.sku, line.asin, line.title, line.quantity,
            item_net=_amount(line.item), item_tax=_amount(item_tax),
            shipping_net=_amount(line.shipping), shipping_tax=_amount(line.shipping_tax),
            gift_wrap_net=_amount(line.gift_wrap), gift_wrap_tax=_amount(line.gift_wrap_tax),
            discount_net=_amount(line.discount), discount_tax=_amount(line.discount_tax),
            promotion_ids=line.promotion_ids)
        parts = (item.item_net + item.item_tax + item.shipping_net + item.shipping_tax + item.gift_wrap_net
                 + item.gift_wrap_tax + item.discount_net + item.discount_tax)
        taxes = item.item_tax + item.shipping_tax + item.gift_wrap_tax + item.discount_tax
        if line.total is not None and parts != line.total.amount:
            return None, (f"item {line.order_item_id}: Amazon's net amounts and VAT add up to {parts}, not to its "
                          f"total {line.total.amount}")
        if line.tax is not None and taxes != line.tax.amount:
            return None, (f"item {line.order_item_id}: Amazon's VAT split ({taxes}) differs from its VAT total "
                          f"{line.tax.amount}")
        items.append(item)
    return OrderMoney(order.seller_id, order.order_id, order.marketplace_id, details.currency,
                      order.is_business, tuple(items), order.purchase_date), None


class OrderRecords:
    """The orders flow's record of an order, and its buyer data (opened here: the invoice names
    the buyer)."""

    def state(self, order_id: str) -> OrderState | None:
        from chalicelib.flows.orders import wiring as orders

        found = orders.orders().get(order_id, consistent=True)
        if found is None:
            return None
        order = found[0]
        money, problem = money_of(order)
        attention = problem or (order.attention.reason if order.attention else None)
        shipped = {line.order_item_id: line.quantity_shipped for line in order.lines}
        as_of = order.details.as_of if order.details else None
        if order.status in SHIPPED_STATUSES and (order.fulfillment_channel or _channel(order)) == "AFN":
            # An FBA order's details are not read again when it ships (orders/rules.details_due):
            # Amazon's shipping change is the date it supplied.
            shipped_at = max((e.at for e in order.timeline if e.status in SHIPPED_STATUSES), default=None)
            if shipped_at is not None and (as_of is None or shipped_at > as_of):
                as_of = shipped_at
        packages = tuple((p.package_reference_id, shipped_at, _units(p.items))
                         for p in (order.details.packages if order.details else ())
                         if p.items and p.package_reference_id and (shipped_at := p.ship_time or as_of))
        return OrderState(order.seller_id, order.order_id, order.marketplace_id, order.status.value,
                          order.fulfillment_channel or _channel(order), money if not problem else None, shipped,
                          packages, as_of, attention)

    def personal(self, order_id: str) -> dict[str, Any] | None:
        from chalicelib.flows.orders import wiring as orders

        return orders.buyer_data().get(order_id)


def _units(items: tuple[tuple[str, int], ...]) -> dict[str, int]:
    units: dict[str, int] = {}
    for item_id, count in items:
        units[item_id] = units.get(item_id, 0) + count
    return units


def _channel(order: Order) -> str | None:
    by = order.details.fulfilled_by if order.details else None
    return {"AMAZON": "AFN", "MERCHANT": "MFN"}.get(by or "")


class ShipmentRecords:
    """The shipments flow's confirmed packages of an order."""

    def confirmed(self, order_id: str) -> list[tuple[str, datetime, dict[str, int]]]:
        from chalicelib.flows.shipments import wiring as shipments
        from chalicelib.flows.shipments.rules import ShipmentState

        found = shipments.shipments().get(order_id)
        result = []
        for shipment in found.shipments if found else ():
            if shipment.state is ShipmentState.CONFIRMED:
                units: dict[str, int] = {}
                for line in shipment.lines:
                    units[line.order_item_id] = units.get(line.order_item_id, 0) + line.quantity
                result.append((shipment.package_reference_id, shipment.ship_date, units))
        return result


@wiring.cached
def store() -> DynamoInvoices:
    """With the data keys that seal and open the documents' buyer blocks."""
    return DynamoInvoices(DataKeys(lambda: aws.client("kms"), config.data_key_id, purpose="invoices"))


@wiring.cached
def profiles() -> DynamoInvoices:
    """Profiles and documents without the data keys (the API handler opens no buyer data)."""
    return DynamoInvoices()


@wiring.cached
def archive() -> S3Archive:
    return S3Archive()


@wiring.cached
def issue_ports() -> IssuePorts:
    return IssuePorts(store=store(), orders=OrderRecords(), shipments=ShipmentRecords(), tasks=wiring.task_queue())


@wiring.cached
def render_ports() -> RenderPorts:
    from chalicelib.flows.invoices.pdf import render  # fpdf2 only where documents are drawn

    return RenderPorts(store=store(), archive=archive(), tasks=wiring.task_queue(), render=render)


@wiring.cached
def amazon_ports() -> AmazonPorts:
    from chalicelib.flows.invoices.amazon import SpApiInvoices  # sp_api only where Amazon is called

    return AmazonPorts(store=store(), archive=archive(), tasks=wiring.task_queue(), slots=wiring.slots(),
                       ledger=wiring.state(), amazon=SpApiInvoices(wiring.spapi()))


@wiring.cached
def intake_ports() -> IntakePorts:
    return IntakePorts(tasks=wiring.task_queue())
