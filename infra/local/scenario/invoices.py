"""The scenario's invoicing part: each seller's invoicing profile (world `sellers[].profile`), as
a seller would set it once (legal identity, VAT numbers, series), except the last seller's, which
the demo sets through the API later (its orders wait until then, visibly).

- the first seller (home Germany) numbers per year (`RE-2026-000001`, credit notes `GS-...`) and
  has a logo;
- a seller established in France carries the French identifiers (SIREN, SIRET, legal form, share
  capital, RCS) and numbers per year too;
- expected `profiles_later`: the profiles the demo and the e2e tests PUT;
- world `transactions` (Finances API 2024-06-19): refunds Amazon posted after shipping, one of a
  whole item with its shipping, one partial (a goodwill amount), one for the seller whose profile
  comes later; each announced by a TRANSACTION_UPDATE (the first one twice, and once more under
  another NotificationId), expected `refunds`;
- world `sellers[].vcsEnrolled`: the first seller is enrolled in Amazon's VAT Calculation Service in
  one marketplace its profile does not list, so Amazon rejects those uploads (79525): expected
  `vcs_rejected`.

Names and numbers are invented; SIREN and SIRET pass their Luhn check, VAT numbers have their
country's shape.
"""
from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

from infra.local.scenario.common import (
    MARKETPLACES,
    Message,
    Seller,
    Story,
    envelope,
    fake_uuid,
    iso,
    item_charges,
    to_body,
    vat_included,
)

_FORMS = {"DE": ("GmbH", "25.000,00 €"), "FR": ("SAS", "50 000 €"), "IT": ("S.r.l.", "10.000,00 €"),
          "ES": ("S.L.", "3.000,00 €"), "NL": ("B.V.", "1,00 €")}
_BANK = {"DE": "Bankverbindung auf Anfrage", "FR": "Coordonnées bancaires sur demande"}
_PREFIXES = {"DE": ("RE", "GS"), "FR": ("FA", "AV"), "IT": ("FT", "NC"), "ES": ("FV", "FR"), "NL": ("INV", "CN")}


def _luhn_complete(stem: str) -> str:
    """`stem` and the digit that makes it pass the Luhn check."""
    for last in "0123456789":
        digits = stem + last
        total = sum((int(c) * (2 if i % 2 else 1)) - (9 if int(c) * (2 if i % 2 else 1) > 9 else 0)
                    for i, c in enumerate(reversed(digits)))
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def _vat_number(country: str, digits: str) -> str:
    return {"DE": f"DE{digits[:9]}", "FR": f"FR{digits[:2]}{digits[2:11]}", "IT": f"IT{digits[:11]}",
            "ES": f"ESB{digits[:8]}", "NL": f"NL{digits[:9]}B01"}.get(country, f"{country}{digits[:9]}")


def logo_png(color: tuple[int, int, int]) -> bytes:
    """A small brand mark: a coloured disc beside three bars (drawn, no font needed)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (360, 120), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, 112, 112), fill=color)
    draw.ellipse((40, 40, 80, 80), fill="white")
    for row, width in enumerate((220, 170, 120)):
        draw.rectangle((132, 22 + row * 30, 132 + width, 38 + row * 30), fill=color if row == 0 else (90, 90, 90))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def profile_of(story: Story, seller: Seller, index: int) -> dict[str, Any]:
    import base64

    rng = story.world_rng
    country = seller.home.country
    form, capital = _FORMS.get(country, ("Ltd", "1 000 €"))
    # Registered at home and, with its stock in Amazon's warehouses there (Pan-EU FBA), in every
    # country it sells in.
    vat_numbers = {}
    for marketplace_id in seller.marketplace_ids:
        where = MARKETPLACES[marketplace_id].country
        vat_numbers[where] = _vat_number(where, "".join(rng.choice("0123456789") for _ in range(12)))
    warehouse = seller.warehouse
    invoice_prefix, credit_prefix = _PREFIXES.get(country, ("INV", "CN"))
    profile: dict[str, Any] = {
        "legalName": f"{seller.brand} {form}",
        "address": {"line1": warehouse["addressLine1"], "postalCode": warehouse["postalCode"],
                    "city": warehouse["city"], "countryCode": country},
        "vatNumbers": vat_numbers,
        "email": f"invoices@{seller.brand.lower().replace(' ', '').replace('&', '')}.example",
        "legalForm": form, "shareCapital": capital,
        "series": {"scope": "year", "invoicePrefix": invoice_prefix, "creditNotePrefix": credit_prefix,
                   "creditNotes": "own", "digits": 6},
        "footer": [f"{seller.brand} · {warehouse['city']} · {_BANK.get(country, 'Bank details on request')}"],
    }
    if country == "FR":
        siren = _luhn_complete("".join(rng.choice("0123456789") for _ in range(8)))
        siret = _luhn_complete(siren + "0001")
        profile.update(siren=siren, siret=siret, rcs=f"{warehouse['city']} B {siren[:3]} {siren[3:6]} {siren[6:]}")
        profile["vatNumbers"]["FR"] = f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"
    if index == 0:
        profile["logoPng"] = base64.b64encode(logo_png((31, 94, 140))).decode()
    return profile


def tell(story: Story) -> None:
    later: list[dict[str, Any]] = []
    for index, seller in enumerate(story.sellers):
        profile = profile_of(story, seller, index)
        entry = next(s for s in story.world["sellers"] if s["sellerId"] == seller.seller_id)
        if index == len(story.sellers) - 1 and len(story.sellers) > 1:
            later.append({"sellerId": seller.seller_id, "profile": profile})
        else:
            entry["profile"] = profile
    story.expected["profiles_later"] = later
    _refunds(story, later_seller=str(later[0]["sellerId"]) if later else None)
    _vcs(story)


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"currencyAmount": float(amount), "currencyCode": currency}  # a JSON number, as the model has it


def _transaction(story: Story, seller_id: str, order: dict[str, Any], item: dict[str, Any],
                 charges: list[tuple[str, Decimal]], quantity: int) -> dict[str, Any]:
    mp = MARKETPLACES[order["salesChannel"]["marketplaceId"]]
    currency = mp.currency
    posted = max(datetime_of(order["lastUpdatedTime"]) + timedelta(days=1), story.start)
    charged = sum((-amount for _, amount in charges), Decimal(0))
    commission = (charged * Decimal("0.03")).quantize(Decimal("0.01"))  # Amazon gives back part of its fee
    transaction_id = "RF-" + fake_uuid(story.ids_rng)[:18]
    return {
        "sellingPartnerMetadata": {"sellingPartnerId": seller_id, "accountType": "PAYABLE",
                                   "marketplaceId": mp.marketplace_id},
        "relatedIdentifiers": [{"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": order["orderId"]},
                               {"relatedIdentifierName": "REFUND_ID", "relatedIdentifierValue": transaction_id[3:]}],
        "transactionType": "Refund", "transactionId": transaction_id, "transactionStatus": "RELEASED",
        "description": "Refund Order", "postedDate": iso(posted),
        "totalAmount": _money(charged + commission, currency),
        "marketplaceDetails": {"marketplaceId": mp.marketplace_id, "marketplaceName": mp.name},
        "items": [{
            "description": item["product"]["title"],
            "totalAmount": _money(charged + commission, currency),
            "relatedIdentifiers": [{"itemRelatedIdentifierName": "ORDER_ADJUSTMENT_ITEM_ID",
                                    "itemRelatedIdentifierValue": fake_uuid(story.ids_rng)[:12]}],
            "breakdowns": [
                {"breakdownType": "ProductCharges", "breakdownAmount": _money(charged, currency),
                 "breakdowns": [{"breakdownType": kind, "breakdownAmount": _money(-amount, currency)}
                                for kind, amount in charges]},
                {"breakdownType": "AmazonFees", "breakdownAmount": _money(commission, currency),
                 "breakdowns": [{"breakdownType": "RefundCommission",
                                 "breakdownAmount": _money(commission, currency)}]}],
            "contexts": [{"contextType": "ProductContext", "asin": item["product"]["asin"],
                          "sku": item["product"]["sellerSku"], "quantityShipped": quantity,
                          "fulfillmentNetwork": "AFN" if order["fulfillment"]["fulfilledBy"] == "AMAZON" else "MFN"}],
        }],
    }


def datetime_of(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _notify(story: Story, seller_id: str, transaction: dict[str, Any], published: Any) -> str:
    from infra.local.amazon.finances import notification_of

    doc = envelope("TRANSACTION_UPDATE", notification_of(seller_id, transaction), published, story.application_id,
                   fake_uuid(story.ids_rng), fake_uuid(story.ids_rng))
    body = to_body(doc)
    story.notifications.append(Message(body, "transaction_update", published, transaction["relatedIdentifiers"][0][
        "relatedIdentifierValue"]))
    return body


def _refunds(story: Story, later_seller: str | None) -> None:
    """Refunds Amazon posted for shipped orders, each with its TRANSACTION_UPDATE."""
    shipped = [(e["sellerId"], e["order"]) for e in story.world["orders"]
               if e["order"]["fulfillment"]["fulfillmentStatus"] == "SHIPPED" and e["order"].get("proceeds")]
    first = story.sellers[0].seller_id
    merchant = [o for s, o in shipped if s == first and o["fulfillment"]["fulfilledBy"] == "MERCHANT"
                and len(o.get("packages") or []) == 1]
    amazon = [o for s, o in shipped if s == first and o["fulfillment"]["fulfilledBy"] == "AMAZON"]
    later = [o for s, o in shipped if s == later_seller and o["fulfillment"]["fulfilledBy"] == "MERCHANT"
             and len(o.get("packages") or []) == 1]
    wanted: list[tuple[str, dict[str, Any], str]] = []
    if merchant:
        wanted.append((first, merchant[0], "whole"))
    if amazon:
        wanted.append((first, amazon[0], "goodwill"))
    if later:
        wanted.append((later_seller or "", later[0], "whole"))
    transactions, expected = [], []
    for index, (seller_id, order, how) in enumerate(wanted):
        item = order["orderItems"][0]
        parts = item_charges(item)
        if how == "whole":
            charges = [("Principal", parts.get("ITEM", Decimal(0))), ("Tax", parts.get("tax_ITEM", Decimal(0)))]
            if parts.get("SHIPPING"):
                charges += [("ShippingCharge", parts["SHIPPING"]),
                            ("ShippingTax", parts.get("tax_SHIPPING", Decimal(0)))]
            if parts.get("DISCOUNT"):
                charges += [("Promotion", parts["DISCOUNT"]), ("PromotionTax", parts.get("tax_DISCOUNT", Decimal(0)))]
            quantity = int(item["quantityOrdered"])
        else:
            rate = MARKETPLACES[order["salesChannel"]["marketplaceId"]].vat_rate
            tax = vat_included(Decimal("5.00"), rate)
            charges, quantity = [("Principal", Decimal("5.00") - tax), ("Tax", tax)], 0
        transaction = _transaction(story, seller_id, order, item, charges, quantity)
        transactions.append({"sellerId": seller_id, "transaction": transaction})
        published = datetime_of(transaction["postedDate"]) + timedelta(minutes=3)
        body = _notify(story, seller_id, transaction, published)
        if index == 0:  # delivered twice, and announced once more under another NotificationId
            story.notifications.append(Message(body, "transaction_update", published, order["orderId"]))
            _notify(story, seller_id, transaction, published + timedelta(hours=6))
        expected.append({"sellerId": seller_id, "orderId": order["orderId"],
                         "transactionId": transaction["transactionId"], "kind": how,
                         "total": str(sum((-a for _, a in charges), Decimal(0)))})
    story.world["transactions"] = transactions
    story.expected["refunds"] = expected


def _vcs(story: Story) -> None:
    """Amazon issues the first seller's invoices itself (VCS) in its least busy marketplace abroad,
    which its profile does not say: Amazon rejects those uploads (79525)."""
    seller = story.sellers[0]
    counts = dict.fromkeys(seller.marketplace_ids[1:], 0)
    for entry in story.world["orders"]:
        order = entry["order"]
        if entry["sellerId"] == seller.seller_id and order["salesChannel"]["marketplaceId"] in counts \
                and order["fulfillment"]["fulfillmentStatus"] in ("SHIPPED", "UNSHIPPED", "PARTIALLY_SHIPPED"):
            counts[order["salesChannel"]["marketplaceId"]] += 1
    busy = [m for m, n in counts.items() if n]
    if not busy:
        story.expected["vcs_rejected"] = None
        return
    marketplace = min(busy, key=lambda m: (counts[m], m))
    entry = next(s for s in story.world["sellers"] if s["sellerId"] == seller.seller_id)
    entry["vcsEnrolled"] = [marketplace]
    story.expected["vcs_rejected"] = {"sellerId": seller.seller_id, "marketplaceId": marketplace}
