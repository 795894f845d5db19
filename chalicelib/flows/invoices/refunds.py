"""Refunds, pure: Amazon's Finances API 2024-06-19 `Transaction` read as what was given back to
the buyer, and the TRANSACTION_UPDATE notification that announces one.

How a refund transaction is read (the model describes the shape, not the vocabulary, so this
is the reading the simulator and the tests share; a breakdown of another kind is left out):

- `transactionType` (or, failing it, `description`) says Refund;
- `relatedIdentifiers` name the order (ORDER_ID);
- each of `items[]` is one order item: its `contexts[]` ProductContext gives the SKU, ASIN and
  the units refunded (`quantityShipped`); its `breakdowns[]` of type ProductCharges hold, as
  children, what the buyer had paid and gets back: `Principal` (the item, net of VAT), `Tax`
  (its VAT), `ShippingCharge` and `ShippingTax`, `GiftWrap` and `GiftWrapTax`, and promotions
  (`Promotion`, `PromotionTax`, which were discounts: given back, they lower the refund). Fees
  and withheld taxes (AmazonFees, Expenses, ...) are the seller's, not the buyer's: not on a
  credit note.
- amounts (`currencyAmount`, a JSON number) are negative for money going back to the buyer. A
  JSON number is read through its shortest decimal form: exact for any amount of at most 15
  significant digits; more decimals than the currency has is refused.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.core import fields
from chalicelib.core.errors import InvalidNotification, PermanentError
from chalicelib.core.money import CURRENCIES


class InvalidTransaction(PermanentError):
    """Amazon's transaction cannot be read (a task fails with this reason)."""


@dataclass(frozen=True)
class RefundItem:
    sku: str | None
    asin: str | None
    quantity: int
    item_net: Decimal = Decimal(0)
    item_tax: Decimal = Decimal(0)
    shipping_net: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)
    gift_wrap_net: Decimal = Decimal(0)
    gift_wrap_tax: Decimal = Decimal(0)
    promotion_net: Decimal = Decimal(0)
    promotion_tax: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return (self.item_net + self.item_tax + self.shipping_net + self.shipping_tax + self.gift_wrap_net
                + self.gift_wrap_tax + self.promotion_net + self.promotion_tax)


@dataclass(frozen=True)
class Refund:
    transaction_id: str
    order_id: str
    marketplace_id: str | None
    posted_at: datetime
    currency: str
    items: tuple[RefundItem, ...] = field(default_factory=tuple)

    @property
    def total(self) -> Decimal:
        return sum((i.total for i in self.items), Decimal(0))


# Breakdown types, lowercased, → RefundItem field.
_CHILDREN = {"principal": "item_net", "ourpriceprincipal": "item_net", "tax": "item_tax", "ourpricetax": "item_tax",
             "shippingcharge": "shipping_net", "shipping": "shipping_net", "shippingtax": "shipping_tax",
             "giftwrap": "gift_wrap_net", "giftwrapcharge": "gift_wrap_net", "giftwraptax": "gift_wrap_tax",
             "promotion": "promotion_net", "promotionprincipal": "promotion_net", "promotiontax": "promotion_tax"}

_STRICT: dict[str, Any] = {"error": InvalidTransaction, "what": "Amazon transaction: "}


def _amount(value: Any, currency: str, where: str) -> Decimal:
    if not isinstance(value, Mapping):
        raise InvalidTransaction(f"Amazon transaction: {where} must be an object with currencyAmount")
    raw = value.get("currencyAmount")
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise InvalidTransaction(f"Amazon transaction: {where}.currencyAmount must be a number")
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        raise InvalidTransaction(f"Amazon transaction: {where}.currencyAmount is not a number") from None
    code = value.get("currencyCode") or currency
    if code != currency:
        raise InvalidTransaction(f"Amazon transaction: {where} is in {fields.quote(code)}, the refund in {currency}")
    if not amount.is_finite() or amount != amount.quantize(Decimal(1).scaleb(-CURRENCIES[currency])):
        raise InvalidTransaction(f"Amazon transaction: {where}.currencyAmount {fields.quote(str(raw))} has more "
                                 f"decimals than {currency} has")
    return amount


def is_refund(transaction: Mapping[str, Any]) -> bool:
    kind = f"{transaction.get('transactionType') or ''} {transaction.get('description') or ''}".lower()
    return "refund" in kind


def _order_id(identifiers: Any) -> str | None:
    for entry in identifiers if isinstance(identifiers, list) else []:
        if isinstance(entry, Mapping):
            name = str(entry.get("relatedIdentifierName") or entry.get("RelatedIdentifierName") or "")
            if name.upper().replace("_", "") == "ORDERID":
                value = entry.get("relatedIdentifierValue") or entry.get("RelatedIdentifierValue")
                return fields.text(value, "relatedIdentifiers.ORDER_ID", pattern=fields.ORDER_ID, **_STRICT)
    return None


def parse_refund(transaction: Any) -> Refund:
    """A refund transaction; raises InvalidTransaction saying which field is wrong."""
    if not isinstance(transaction, Mapping):
        raise InvalidTransaction("Amazon transaction: not an object")
    transaction_id = fields.required_text(transaction.get("transactionId"), "transactionId", limit=120, **_STRICT)
    order_id = _order_id(transaction.get("relatedIdentifiers"))
    if order_id is None:
        raise InvalidTransaction(f"Amazon transaction {transaction_id[:40]}: names no ORDER_ID")
    posted = fields.moment(transaction.get("postedDate"), "postedDate", required=True, **_STRICT)
    assert posted is not None
    total = transaction.get("totalAmount") or {}
    currency = total.get("currencyCode") if isinstance(total, Mapping) else None
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise InvalidTransaction(f"Amazon transaction {transaction_id[:40]}: totalAmount has no ISO 4217 currency")
    items = []
    raw_items = transaction.get("items") or []
    if not isinstance(raw_items, list) or len(raw_items) > 100:
        raise InvalidTransaction("Amazon transaction: items must be a list of at most 100")
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, Mapping):
            raise InvalidTransaction(f"Amazon transaction: items[{index}] must be an object")
        product = next((c for c in raw.get("contexts") or [] if isinstance(c, Mapping)
                        and (c.get("contextType") == "ProductContext" or "sku" in c)), {})
        amounts: dict[str, Decimal] = {}
        for b, breakdown in enumerate(raw.get("breakdowns") or []):
            kind = str(breakdown.get("breakdownType", "")).lower() if isinstance(breakdown, Mapping) else ""
            if kind != "productcharges":
                continue
            for c, child in enumerate(breakdown.get("breakdowns") or []):
                target = _CHILDREN.get(str((child or {}).get("breakdownType", "")).lower()) \
                    if isinstance(child, Mapping) else None
                if target:
                    where = f"items[{index}].breakdowns[{b}].breakdowns[{c}].breakdownAmount"
                    amounts[target] = amounts.get(target, Decimal(0)) + _amount(child.get("breakdownAmount"),
                                                                                currency, where)
        items.append(RefundItem(
            sku=fields.text(product.get("sku"), f"items[{index}].contexts.sku", **_STRICT),
            asin=fields.text(product.get("asin"), f"items[{index}].contexts.asin", limit=20, **_STRICT),
            quantity=fields.whole(product.get("quantityShipped"), f"items[{index}].contexts.quantityShipped",
                                  default=0, **_STRICT),
            **amounts))
    marketplace = (transaction.get("marketplaceDetails") or {}).get("marketplaceId") \
        if isinstance(transaction.get("marketplaceDetails"), Mapping) else None
    return Refund(transaction_id, order_id, marketplace, posted, currency, tuple(items))


def refund_json(refund: Refund) -> dict[str, Any]:
    return {"transaction_id": refund.transaction_id, "order_id": refund.order_id,
            "marketplace_id": refund.marketplace_id, "posted_at": refund.posted_at.isoformat(),
            "currency": refund.currency,
            "items": [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in vars(i).items()} for i in refund.items]}


def refund_of(data: Mapping[str, Any]) -> Refund:
    decimal_fields = {"item_net", "item_tax", "shipping_net", "shipping_tax", "gift_wrap_net", "gift_wrap_tax",
                      "promotion_net", "promotion_tax"}
    items = []
    for item in data.get("items") or []:
        amounts = {k: Decimal(v) for k, v in item.items() if k in decimal_fields}
        items.append(RefundItem(item.get("sku"), item.get("asin"), int(item.get("quantity") or 0), **amounts))
    return Refund(data["transaction_id"], data["order_id"], data.get("marketplace_id"),
                  datetime.fromisoformat(data["posted_at"]), data["currency"], tuple(items))


@dataclass(frozen=True)
class TransactionNotice:
    """What a TRANSACTION_UPDATE says: which seller, order and kind of transaction."""

    seller_id: str
    order_id: str | None
    marketplace_id: str | None
    transaction_type: str
    posted_at: datetime | None
    transaction_id: str | None = None


def parse_notice(payload: Mapping[str, Any], label: str) -> TransactionNotice:
    """The payload of a TRANSACTION_UPDATE (PascalCase, as Amazon's schema and example write it)."""
    body = payload.get("TransactionUpdateNotification") or payload.get("transactionUpdateNotification")
    strict: dict[str, Any] = {"error": InvalidNotification, "what": f"{label}: "}
    if not isinstance(body, Mapping):
        raise InvalidNotification(f"{label}: Payload.TransactionUpdateNotification is missing")
    seller = body.get("SellingPartnerMetadata") or body.get("sellingPartnerMetadata") or {}
    if not isinstance(seller, Mapping):
        raise InvalidNotification(f"{label}: SellingPartnerMetadata must be an object")
    seller_id = fields.required_text(seller.get("SellingPartnerId") or seller.get("sellingPartnerId"),
                                     "SellingPartnerMetadata.SellingPartnerId", pattern=fields.SELLER_ID, **strict)
    order_id = None
    identifiers = body.get("RelatedIdentifiers") or body.get("relatedIdentifiers") or []
    if not isinstance(identifiers, list) or len(identifiers) > 20:
        raise InvalidNotification(f"{label}: RelatedIdentifiers must be a list of at most 20")
    for entry in identifiers:
        if isinstance(entry, Mapping):
            name = str(entry.get("RelatedIdentifierName") or entry.get("relatedIdentifierName") or "")
            if name.upper().replace("_", "") == "ORDERID":
                order_id = fields.text(entry.get("RelatedIdentifierValue") or entry.get("relatedIdentifierValue"),
                                       "RelatedIdentifiers.OrderId", pattern=fields.ORDER_ID, **strict)
    return TransactionNotice(
        seller_id=seller_id, order_id=order_id,
        marketplace_id=fields.text(seller.get("MarketplaceId") or seller.get("marketplaceId"),
                                   "SellingPartnerMetadata.MarketplaceId", pattern=fields.MARKETPLACE_ID, **strict),
        transaction_type=fields.text(body.get("TransactionType") or body.get("transactionType"), "TransactionType",
                                     limit=60, **strict) or "",
        posted_at=fields.moment(body.get("PostedDate") or body.get("postedDate"), "PostedDate", **strict),
        transaction_id=fields.text(body.get("TransactionId") or body.get("transactionId"), "TransactionId",
                                   limit=120, **strict))
