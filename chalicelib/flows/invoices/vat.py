"""VAT facts the invoices check Amazon's tax against (pure, reference data).

Rates are the percentages each country applies (standard first, then the reduced ones), as the
European Commission's "VAT rates applied in the Member States" lists them for 2026, with the
United Kingdom, Switzerland, Norway and Turkey for the marketplaces outside the EU. They are
used to *check* what Amazon charged, never to compute it: a tax that fits none of the rates of
the country of supply flags the document for a person.

A new rate is one edit here (and the date it applies from, if it changes during a year).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# ISO 3166-1 alpha-2 → rates in percent, the standard rate first.
RATES: dict[str, tuple[str, ...]] = {
    "AT": ("20", "13", "10"), "BE": ("21", "12", "6"), "BG": ("20", "9"), "CY": ("19", "9", "5", "3"),
    "CZ": ("21", "12"), "DE": ("19", "7"), "DK": ("25",), "EE": ("24", "13", "9"), "ES": ("21", "10", "4"),
    "FI": ("25.5", "14", "10"), "FR": ("20", "10", "5.5", "2.1"), "GR": ("24", "13", "6"),
    "HR": ("25", "13", "5"), "HU": ("27", "18", "5"), "IE": ("23", "13.5", "9", "4.8"),
    "IT": ("22", "10", "5", "4"), "LT": ("21", "12", "9", "5"), "LU": ("17", "14", "8", "3"),
    "LV": ("21", "12", "5"), "MT": ("18", "12", "7", "5"), "NL": ("21", "9"), "PL": ("23", "8", "5"),
    "PT": ("23", "13", "6"), "RO": ("21", "11"), "SE": ("25", "12", "6"), "SI": ("22", "9.5", "5"),
    "SK": ("23", "19", "5"),
    # Outside the EU
    "GB": ("20", "5"), "CH": ("8.1", "3.8", "2.6"), "NO": ("25", "15", "12"), "TR": ("20", "10", "1"),
}
EU = frozenset({"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
                "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"})
# VAT numbers carry their country's prefix; Greece writes EL.
VAT_PREFIX = {"GR": "EL"}


def vat_prefix(country: str) -> str:
    return VAT_PREFIX.get(country, country)


def vat_country(vat_number: str) -> str | None:
    """The country of a VAT number by its prefix (EL is Greece), or None."""
    prefix = vat_number[:2].upper()
    if prefix == "EL":
        return "GR"
    return prefix if prefix in RATES or prefix == "XI" else None


# Amazon's European marketplaces: country, the language of their documents, currency.
MARKETPLACES: dict[str, tuple[str, str, str]] = {
    "A1PA6795UKMFR9": ("DE", "de", "EUR"), "A13V1IB3VIYZZH": ("FR", "fr", "EUR"),
    "APJ6JRA9NG5V4": ("IT", "it", "EUR"), "A1RKKUPIHCS9HS": ("ES", "es", "EUR"),
    "A1F83G8C2ARO7P": ("GB", "en", "GBP"), "A1805IZSGTT6HS": ("NL", "en", "EUR"),
    "AMEN7PMS3EDWL": ("BE", "fr", "EUR"), "A1C3SOZRARQ6R3": ("PL", "en", "PLN"),
    "A2NODRKZP88ZB9": ("SE", "en", "SEK"), "A33AVAJ2PDY3EV": ("TR", "en", "TRY"),
    "A28R8C7NBKEWEA": ("IE", "en", "EUR"),
}


def marketplace_country(marketplace_id: str | None) -> str | None:
    found = MARKETPLACES.get(marketplace_id or "")
    return found[0] if found else None


def marketplace_language(marketplace_id: str | None) -> str:
    found = MARKETPLACES.get(marketplace_id or "")
    return found[1] if found else "en"


CENT = Decimal("0.01")


def fitting_rate(net: Decimal, tax: Decimal, countries: tuple[str, ...], units: int = 1) -> Decimal | None:
    """The rate (a percentage) of one of `countries` under which `tax` is the VAT on `net`, to
    the cent. Amazon rounds per unit, so each unit may be half a cent off: the tolerance grows
    with the units, and of several rates that fit, the closest wins. None when none fits."""
    if net == 0:
        return Decimal("0") if tax == 0 else None
    tolerance = CENT * max(1, units)
    best: tuple[Decimal, Decimal] | None = None
    for country in countries:
        for rate in (*RATES.get(country, ()), "0"):
            percent = Decimal(rate)
            expected = (net * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
            off = abs(expected - tax)
            if off <= tolerance and (best is None or off < best[0]):
                best = (off, percent)
    if best is None or (best[1] == 0 and tax != 0):
        return None
    return best[1]
