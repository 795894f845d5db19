"""The scenario's invoicing part: each seller's invoicing profile (world `sellers[].profile`), as
a seller would set it once (legal identity, VAT numbers, series), except the last seller's, which
the demo sets through the API later (its orders wait until then, visibly).

- the first seller (home Germany) numbers per year (`RE-2026-000001`, credit notes `GS-...`) and
  has a logo;
- a seller established in France carries the French identifiers (SIREN, SIRET, legal form, share
  capital, RCS) and numbers per year too;
- expected `profiles_later`: the profiles the demo and the e2e tests PUT.

Names and numbers are invented; SIREN and SIRET pass their Luhn check, VAT numbers have their
country's shape.
"""
from __future__ import annotations

import io
from typing import Any

from infra.local.scenario.common import MARKETPLACES, Seller, Story

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
    later = []
    for index, seller in enumerate(story.sellers):
        profile = profile_of(story, seller, index)
        entry = next(s for s in story.world["sellers"] if s["sellerId"] == seller.seller_id)
        if index == len(story.sellers) - 1 and len(story.sellers) > 1:
            later.append({"sellerId": seller.seller_id, "profile": profile})
        else:
            entry["profile"] = profile
    story.expected["profiles_later"] = later
