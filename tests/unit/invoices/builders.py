"""Profiles, orders and buyers for the invoices' tests."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

from chalicelib.flows.invoices import rules

FR_PROFILE: dict[str, Any] = {
    "legalName": "Kestrelwood SAS",
    "address": {"line1": "12 rue des Tilleuls", "postalCode": "69003", "city": "Lyon", "countryCode": "FR"},
    "vatNumbers": {"FR": "FR40303265045", "DE": "DE811907980"},
    "siren": "303265045", "siret": "30326504500011", "legalForm": "SAS", "shareCapital": "50 000 €",
    "rcs": "Lyon B 303 265 045", "email": "factures@kestrelwood.example",
    "footer": ["Kestrelwood — kitchen and outdoor goods"],
}
DE_MARKETPLACE, FR_MARKETPLACE, IT_MARKETPLACE = "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4"
SHIPPED = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def profile(**changes: Any) -> rules.Profile:
    return rules.parse_profile("A1SELLER", {**FR_PROFILE, **changes})


def item(item_id: str = "1", quantity: int = 1, net: str = "16.66", tax: str = "3.33", **extra: Any) -> rules.ItemMoney:
    return rules.ItemMoney(item_id, f"KW-{item_id}", f"B0ASIN{item_id:0>4}", f"Product {item_id}", quantity,
                           D(net), D(tax), **{k: D(v) for k, v in extra.items()})


def order(*items: rules.ItemMoney, marketplace: str = FR_MARKETPLACE, business: bool = False,
          currency: str = "EUR") -> rules.OrderMoney:
    return rules.OrderMoney("A1SELLER", "171-1234567-1234567", marketplace, currency, business,
                            items or (item(),))


def buyer(country: str = "FR", vat_number: str | None = None, company: str | None = None) -> rules.Buyer:
    return rules.Buyer("Camille Moreau", ("4 rue du Port", "69001 Lyon" if country == "FR" else "10115 Berlin",
                                          country), country, company, vat_number)


def supply(units: dict[str, int], source: str = "shipment#1", before: dict[str, int] | None = None,
           ship_from: str = "FR") -> rules.Supply:
    return rules.Supply(source, SHIPPED, ship_from, units, before or {})
