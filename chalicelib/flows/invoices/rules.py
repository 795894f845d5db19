"""Invoices and credit notes, pure: the seller's profile, the series a document is numbered in,
what is invoiced when, and the document itself, to the cent of what Amazon charged.

A document is *built* here from the order's money (Orders API proceeds: net amounts and their
tax), the quantities a shipment carried and the seller's profile; the store numbers it. Amounts
are never recomputed from a rate: each line's net and VAT are Amazon's, split pro rata when an
order ships in several packages (cumulatively, so that the parts add up to Amazon's exactly),
and the rate printed is the one of the country of supply that Amazon's VAT fits. A VAT that fits
no rate, or no VAT where the law wants some, flags the document for a person (`attention`)
instead of being corrected.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

from chalicelib.core.errors import PermanentError
from chalicelib.core.fields import quote
from chalicelib.flows.invoices import vat

CENT = Decimal("0.01")
MAX_LOGO_BYTES = 256 * 1024
LEGAL_PERIOD_YEARS = 10  # France keeps invoices 10 years (Code de commerce L123-22); the default


class ProfileError(PermanentError):
    """A seller profile that cannot be used (a 409 with this reason through the API)."""


class Refused409(Exception):
    """A request the documents' state refuses (a 409 with this message)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class DocumentType(str, Enum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def amazon(self) -> str:  # UPLOAD_VAT_INVOICE's metadata:DocumentType
        return "Invoice" if self is DocumentType.INVOICE else "CreditNote"


# --- the seller's profile ------------------------------------------------------------------

@dataclass(frozen=True)
class Address:
    line1: str
    postal_code: str
    city: str
    country_code: str
    line2: str | None = None

    def lines(self) -> tuple[str, ...]:
        return tuple(x for x in (self.line1, self.line2, f"{self.postal_code} {self.city}".strip(),
                                 self.country_code) if x)


class SeriesScope(str, Enum):
    SINGLE = "single"  # one series for everything
    YEAR = "year"  # a series per calendar year of issue
    COUNTRY = "country"  # a series per country of supply
    YEAR_AND_COUNTRY = "year-country"


@dataclass(frozen=True)
class Series:
    """How a seller's documents are numbered: `<prefix>[-<year>][-<country>]-<sequence>`, the
    sequence continuous within each series, starting at `start`."""

    scope: SeriesScope = SeriesScope.YEAR
    invoice_prefix: str = "INV"
    credit_note_prefix: str = "CN"
    credit_notes_own_series: bool = True
    digits: int = 6
    start: int = 1

    def series_id(self, kind: DocumentType, issued: date, country: str) -> str:
        own = kind is DocumentType.CREDIT_NOTE and self.credit_notes_own_series
        parts = [self.credit_note_prefix if own else self.invoice_prefix]
        if self.scope in (SeriesScope.YEAR, SeriesScope.YEAR_AND_COUNTRY):
            parts.append(str(issued.year))
        if self.scope in (SeriesScope.COUNTRY, SeriesScope.YEAR_AND_COUNTRY):
            parts.append(country)
        return "-".join(parts)

    def number(self, series_id: str, sequence: int) -> str:
        return f"{series_id}-{sequence:0{self.digits}d}"


@dataclass(frozen=True)
class Profile:
    seller_id: str
    legal_name: str
    address: Address
    vat_numbers: Mapping[str, str]  # country → VAT number
    email: str | None = None
    siren: str | None = None
    siret: str | None = None
    legal_form: str | None = None
    share_capital: str | None = None
    rcs: str | None = None
    logo_png: bytes | None = None
    vcs_marketplaces: tuple[str, ...] = ()
    series: Series = field(default_factory=Series)
    footer: tuple[str, ...] = ()
    late_payment_rate: str | None = None  # France, business buyers: the penalty rate agreed
    legal_period_years: int = LEGAL_PERIOD_YEARS
    updated_at: str | None = None

    def vat_number_for(self, ship_from: str) -> str:
        """The VAT number a supply is invoiced under: the seller's number in the country the
        goods leave from (a domestic sale there, an intra-EU supply from there), else their home
        number (the one-stop shop declares distance sales at home)."""
        return (self.vat_numbers.get(ship_from) or self.vat_numbers.get(self.address.country_code)
                or next(iter(self.vat_numbers.values())))


_COUNTRY = re.compile(r"[A-Z]{2}")
_VAT_NUMBER = re.compile(r"[A-Z]{2}[0-9A-Z+*]{2,13}")
_PREFIX = re.compile(r"[A-Z0-9]{1,8}")
_DIGITS = re.compile(r"[0-9]+")


def _text(data: Mapping[str, Any], key: str, where: str, *, required: bool = False, limit: int = 200,
          pattern: re.Pattern[str] | None = None) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise ProfileError(f"{where}{key} is missing")
        return None
    if not isinstance(value, str) or len(value) > limit or any(ord(c) < 32 for c in value):
        raise ProfileError(f"{where}{key} must be text of at most {limit} characters")
    value = value.strip()
    if pattern is not None and not pattern.fullmatch(value):
        raise ProfileError(f"{where}{key} {quote(value)} is not valid")
    return value


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def parse_profile(seller_id: str, data: Any, updated_at: str | None = None) -> Profile:
    """A profile as the API, the command and the world file write it (camelCase keys), checked:
    every reason names the field."""
    if not isinstance(data, Mapping):
        raise ProfileError("the profile must be a JSON object")
    name = _text(data, "legalName", "", required=True)
    address_data = data.get("address")
    if not isinstance(address_data, Mapping):
        raise ProfileError("address must be an object with line1, postalCode, city and countryCode")
    address = Address(
        line1=_text(address_data, "line1", "address.", required=True) or "",
        line2=_text(address_data, "line2", "address."),
        postal_code=_text(address_data, "postalCode", "address.", required=True, limit=20) or "",
        city=_text(address_data, "city", "address.", required=True, limit=100) or "",
        country_code=_text(address_data, "countryCode", "address.", required=True, pattern=_COUNTRY) or "")
    if address.country_code not in vat.RATES:
        raise ProfileError(f"address.countryCode {quote(address.country_code)} is not a country this version "
                           f"invoices from ({', '.join(sorted(vat.RATES))})")
    numbers = data.get("vatNumbers")
    if not isinstance(numbers, Mapping) or not numbers:
        raise ProfileError("vatNumbers must name at least one VAT number, by country: {\"FR\": \"FR…\"}")
    vat_numbers: dict[str, str] = {}
    for country in numbers:
        if not isinstance(country, str) or not _COUNTRY.fullmatch(country):
            raise ProfileError(f"vatNumbers: {quote(country)} is not a country code (two capitals)")
        text = _text(numbers, country, "vatNumbers.", required=True, limit=20)
        compact = (text or "").replace(" ", "").upper()
        if not _VAT_NUMBER.fullmatch(compact) or (country in vat.EU and compact[:2] != vat.vat_prefix(country)):
            raise ProfileError(f"vatNumbers.{country} {quote(text)} is not a VAT number of {country} "
                               f"(it starts with {vat.vat_prefix(country)})")
        vat_numbers[country] = compact
    siren = _text(data, "siren", "", pattern=re.compile(r"[0-9 ]{9,11}"))
    siren = siren.replace(" ", "") if siren else None
    if siren and (len(siren) != 9 or not _luhn(siren)):
        raise ProfileError(f"siren {quote(siren)} is not a SIREN (9 digits, Luhn checked)")
    siret = _text(data, "siret", "", pattern=re.compile(r"[0-9 ]{14,17}"))
    siret = siret.replace(" ", "") if siret else None
    if siret and (len(siret) != 14 or not (_luhn(siret) or siret.startswith("356000000"))):
        raise ProfileError(f"siret {quote(siret)} is not a SIRET (14 digits, Luhn checked)")
    if siren and siret and not siret.startswith(siren):
        raise ProfileError("siret must start with the siren")
    if address.country_code == "FR":
        missing = [k for k, v in (("siren", siren), ("legalForm", data.get("legalForm")),
                                  ("shareCapital", data.get("shareCapital")), ("rcs", data.get("rcs"))) if not v]
        if missing:
            raise ProfileError(f"a seller established in France must give {', '.join(missing)} (French invoices "
                               "carry them)")
    logo = None
    if data.get("logoPng"):
        raw = data["logoPng"]
        try:
            logo = base64.b64decode(raw, validate=True) if isinstance(raw, str) else None
        except ValueError:
            logo = None
        if logo is None or not logo.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ProfileError("logoPng must be a PNG image, base64-encoded")
        if len(logo) > MAX_LOGO_BYTES:
            raise ProfileError(f"logoPng is {len(logo)} bytes (at most {MAX_LOGO_BYTES})")
    vcs = data.get("vcsMarketplaces") or []
    if not isinstance(vcs, list) or not all(isinstance(m, str) and re.fullmatch(r"[A-Z0-9]{2,20}", m) for m in vcs):
        raise ProfileError("vcsMarketplaces must be a list of marketplace ids")
    footer = data.get("footer") or []
    if not isinstance(footer, list) or len(footer) > 6 or not all(isinstance(x, str) and len(x) <= 300
                                                                  for x in footer):
        raise ProfileError("footer must be a list of at most 6 lines of at most 300 characters")
    years = data.get("legalPeriodYears", LEGAL_PERIOD_YEARS)
    if isinstance(years, bool) or not isinstance(years, int) or not 6 <= years <= 30:
        raise ProfileError("legalPeriodYears must be a whole number of years from 6 to 30")
    return Profile(
        seller_id=seller_id, legal_name=name or "", address=address, vat_numbers=vat_numbers,
        email=_text(data, "email", "", pattern=re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}")),
        siren=siren, siret=siret, legal_form=_text(data, "legalForm", "", limit=60),
        share_capital=_text(data, "shareCapital", "", limit=60), rcs=_text(data, "rcs", "", limit=100),
        logo_png=logo, vcs_marketplaces=tuple(vcs), series=parse_series(data.get("series")),
        footer=tuple(x.strip() for x in footer if x.strip()),
        late_payment_rate=_text(data, "latePaymentRate", "", limit=200),
        legal_period_years=years, updated_at=updated_at)


def parse_series(data: Any) -> Series:
    if data is None:
        return Series()
    if not isinstance(data, Mapping):
        raise ProfileError("series must be an object")
    known = {"scope", "invoicePrefix", "creditNotePrefix", "creditNotes", "digits", "start"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ProfileError(f"series: unknown setting {quote(unknown[0])} (known: {', '.join(sorted(known))})")
    try:
        scope = SeriesScope(data.get("scope", SeriesScope.YEAR.value))
    except ValueError:
        raise ProfileError(f"series.scope must be one of {', '.join(s.value for s in SeriesScope)}") from None
    own = data.get("creditNotes", "own")
    if own not in ("own", "same"):
        raise ProfileError("series.creditNotes must be \"own\" (their own series) or \"same\" (the invoices')")
    digits, start = data.get("digits", 6), data.get("start", 1)
    if isinstance(digits, bool) or not isinstance(digits, int) or not 3 <= digits <= 10:
        raise ProfileError("series.digits must be from 3 to 10")
    if isinstance(start, bool) or not isinstance(start, int) or not 1 <= start < 10 ** digits:
        raise ProfileError("series.start must be a whole number from 1, below 10^digits")
    series = Series(scope, _text(data, "invoicePrefix", "series.", pattern=_PREFIX) or "INV",
                    _text(data, "creditNotePrefix", "series.", pattern=_PREFIX) or "CN", own == "own", digits, start)
    if series.credit_notes_own_series and series.credit_note_prefix == series.invoice_prefix:
        raise ProfileError("series: credit notes in their own series need their own creditNotePrefix")
    return series


def profile_json(profile: Profile) -> dict[str, Any]:
    """The profile as `parse_profile` reads it (what GET answers and the store keeps)."""
    a = profile.address
    out: dict[str, Any] = {
        "legalName": profile.legal_name,
        "address": {k: v for k, v in (("line1", a.line1), ("line2", a.line2), ("postalCode", a.postal_code),
                                      ("city", a.city), ("countryCode", a.country_code)) if v},
        "vatNumbers": dict(profile.vat_numbers),
        "vcsMarketplaces": list(profile.vcs_marketplaces),
        "series": {"scope": profile.series.scope.value, "invoicePrefix": profile.series.invoice_prefix,
                   "creditNotePrefix": profile.series.credit_note_prefix,
                   "creditNotes": "own" if profile.series.credit_notes_own_series else "same",
                   "digits": profile.series.digits, "start": profile.series.start},
        "footer": list(profile.footer), "legalPeriodYears": profile.legal_period_years,
    }
    for key, value in (("email", profile.email), ("siren", profile.siren), ("siret", profile.siret),
                       ("legalForm", profile.legal_form), ("shareCapital", profile.share_capital),
                       ("rcs", profile.rcs), ("latePaymentRate", profile.late_payment_rate)):
        if value:
            out[key] = value
    if profile.logo_png:
        out["logoPng"] = base64.b64encode(profile.logo_png).decode()
    return out


# --- what an order's documents are built from ----------------------------------------------

@dataclass(frozen=True)
class ItemMoney:
    """One order item as Amazon charged it (net amounts and their VAT, in the order's currency)."""

    order_item_id: str
    sku: str | None
    asin: str | None
    title: str | None
    quantity: int
    item_net: Decimal
    item_tax: Decimal
    shipping_net: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)
    gift_wrap_net: Decimal = Decimal(0)
    gift_wrap_tax: Decimal = Decimal(0)
    discount_net: Decimal = Decimal(0)  # promotions: negative
    discount_tax: Decimal = Decimal(0)
    promotion_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Buyer:
    """Who the document is addressed to (personal data: sealed at rest, never logged)."""

    name: str
    address_lines: tuple[str, ...]
    country_code: str | None
    company: str | None = None
    vat_number: str | None = None  # a business buyer's, from the order's tax registrations

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "address_lines": list(self.address_lines), "country_code": self.country_code,
                "company": self.company, "vat_number": self.vat_number}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Buyer:
        return cls(str(d.get("name") or ""), tuple(d.get("address_lines") or ()), d.get("country_code"),
                   d.get("company"), d.get("vat_number"))


def buyer_of(personal: Mapping[str, Any] | None) -> Buyer | None:
    """The buyer block from the order's buyer data (orders flow), or None when it is gone."""
    if not personal:
        return None
    buyer, address = personal.get("buyer") or {}, personal.get("delivery_address") or {}
    vat_number = None
    for registration in personal.get("tax_registrations") or []:
        kind = (registration.get("taxRegistrationType") or "").upper()
        entity = (registration.get("entityType") or "BUYER").upper()
        if entity == "BUYER" and kind in ("VAT", "BUSINESS") and registration.get("taxRegistrationNumber"):
            vat_number = registration["taxRegistrationNumber"].replace(" ", "").upper()
            break
    lines = [address.get(k) for k in ("addressLine1", "addressLine2", "addressLine3")]
    city = " ".join(x for x in (address.get("postalCode"), address.get("city")) if x)
    lines += [city, address.get("stateOrRegion"), address.get("countryCode")]
    company = buyer.get("buyerCompanyName") or address.get("companyName")
    name = address.get("name") or buyer.get("buyerName") or company or ""
    return Buyer(name=name, address_lines=tuple(x for x in lines if x), country_code=address.get("countryCode"),
                 company=company if company and company != name else None, vat_number=vat_number)


@dataclass(frozen=True)
class Supply:
    """What one document invoices: the units per order item (a shipment's package, or what
    Amazon shipped from its warehouses), and when they left."""

    source: str  # package#<reference> | amazon#<n>: the document's claim on the order (one document each)
    shipped_at: datetime
    ship_from: str  # the country the goods left from (the seller's for a merchant shipment)
    units: Mapping[str, int]  # order item id → units in this supply
    before: Mapping[str, int] = field(default_factory=dict)  # units invoiced earlier, per item


@dataclass(frozen=True)
class Line:
    kind: str  # item | shipping | gift_wrap | promotion
    description: str
    quantity: int
    net: Decimal
    tax: Decimal
    rate: Decimal | None  # percent; None when Amazon's VAT fits no rate (attention)
    sku: str | None = None
    asin: str | None = None
    order_item_id: str | None = None

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax

    @property
    def unit_net(self) -> Decimal:
        unit = self.net / self.quantity if self.quantity else self.net
        exact = unit.quantize(CENT)
        return exact if exact == unit else unit.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class SellerBlock:
    legal_name: str
    address_lines: tuple[str, ...]
    vat_number: str
    country_code: str
    email: str | None = None
    siren: str | None = None
    siret: str | None = None
    legal_form: str | None = None
    share_capital: str | None = None
    rcs: str | None = None


@dataclass(frozen=True)
class Document:
    """An invoice or credit note as issued: everything printed on it except the buyer block
    (sealed apart). `number` is None until the store allocates it."""

    kind: DocumentType
    seller_id: str
    order_id: str
    marketplace_id: str | None
    source: str
    series_id: str
    issue_date: date
    supply_date: date
    currency: str
    language: str
    country: str  # of supply (where the VAT is due)
    seller: SellerBlock
    lines: tuple[Line, ...]
    mentions: tuple[str, ...]  # mention keys (labels.py words them in the document's language)
    business: bool
    number: str | None = None
    corrects: str | None = None  # a credit note: the invoice it corrects
    corrects_date: date | None = None
    transaction_id: str | None = None  # a credit note: Amazon's refund transaction
    attention: str | None = None
    footer: tuple[str, ...] = ()
    late_payment_rate: str | None = None

    @property
    def total_net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal(0))

    @property
    def total_tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.total_net + self.total_tax

    def vat_by_rate(self) -> list[tuple[Decimal | None, Decimal, Decimal]]:
        """(rate, taxable amount, VAT) per rate, the highest rate first."""
        by: dict[Decimal | None, tuple[Decimal, Decimal]] = {}
        for line in self.lines:
            net, tax = by.get(line.rate, (Decimal(0), Decimal(0)))
            by[line.rate] = (net + line.net, tax + line.tax)
        return sorted(((rate, n, t) for rate, (n, t) in by.items()), key=lambda x: -(x[0] if x[0] is not None else -1))


# Mention keys (labels.py has their words in each language).
REVERSE_CHARGE = "reverse_charge"  # intra-EU supply to a business, no VAT: exempt, the buyer accounts for it
EXPORT = "export"  # goods leaving the EU
FR_B2B_PAYMENT = "fr_b2b_payment"  # French seller, business buyer: late-payment penalties, 40 € fee
OSS = "oss"  # distance sale to a consumer in another EU country, destination VAT through the OSS
CREDIT_NOTE_OF = "credit_note_of"


def part(amount: Decimal, done: int, now: int, of: int) -> Decimal:
    """The share of `amount` for `now` units after `done` of `of`, cumulatively rounded, so that
    all the parts add up to `amount` exactly."""
    if of <= 0:
        return Decimal(0)
    upto = (amount * (done + now) / of).quantize(CENT, rounding=ROUND_HALF_UP)
    before = (amount * done / of).quantize(CENT, rounding=ROUND_HALF_UP)
    return upto - before


def supply_country(marketplace_id: str | None, buyer: Buyer | None) -> str:
    """Where the goods go (the place of supply of a distance sale and of an intra-EU one)."""
    return ((buyer.country_code if buyer and buyer.country_code else None)
            or vat.marketplace_country(marketplace_id) or "")


@dataclass(frozen=True)
class OrderMoney:
    """An order as the invoices need it."""

    seller_id: str
    order_id: str
    marketplace_id: str | None
    currency: str
    business: bool
    items: tuple[ItemMoney, ...]
    purchase_date: datetime | None = None


def build_invoice(order: OrderMoney, supply: Supply, profile: Profile, buyer: Buyer | None,
                  issue_date: date) -> Document:
    """The invoice of one supply: each item's units, with their share of the item's shipping,
    gift wrap and promotions as lines of their own."""
    country = supply_country(order.marketplace_id, buyer)
    home = supply.ship_from or profile.address.country_code
    countries = tuple(dict.fromkeys(c for c in (country, home) if c))
    lines: list[Line] = []
    extras: list[Line] = []
    for item in order.items:
        units = supply.units.get(item.order_item_id, 0)
        if units <= 0:
            continue
        done = supply.before.get(item.order_item_id, 0)
        net = part(item.item_net, done, units, item.quantity)
        tax = part(item.item_tax, done, units, item.quantity)
        lines.append(Line("item", item.title or item.sku or item.order_item_id, units, net, tax,
                          vat.fitting_rate(net, tax, countries, units), item.sku, item.asin, item.order_item_id))
        for kind, net_total, tax_total in (("shipping", item.shipping_net, item.shipping_tax),
                                           ("gift_wrap", item.gift_wrap_net, item.gift_wrap_tax),
                                           ("promotion", item.discount_net, item.discount_tax)):
            if net_total == 0 and tax_total == 0:
                continue
            n, t = part(net_total, done, units, item.quantity), part(tax_total, done, units, item.quantity)
            if n == 0 and t == 0:
                continue
            extras.append(Line(kind, item.sku or item.order_item_id, 1, n, t, vat.fitting_rate(n, t, countries, 1),
                               item.sku))
    if not lines:
        raise ValueError(f"supply {supply.source} of order {order.order_id} carries no item")
    seller = seller_block(profile, home)
    mentions, attention = _mentions(order, profile, buyer, country, home, (*lines, *extras))
    return Document(
        kind=DocumentType.INVOICE, seller_id=order.seller_id, order_id=order.order_id,
        marketplace_id=order.marketplace_id, source=supply.source,
        series_id=profile.series.series_id(DocumentType.INVOICE, issue_date, country or home),
        issue_date=issue_date, supply_date=supply.shipped_at.date(), currency=order.currency,
        language=vat.marketplace_language(order.marketplace_id), country=country or home, seller=seller,
        lines=(*lines, *_merged(extras)), mentions=mentions, business=order.business, attention=attention,
        footer=profile.footer, late_payment_rate=profile.late_payment_rate)


def _merged(extras: Sequence[Line]) -> list[Line]:
    """Shipping, gift wrap and promotions: one line per kind and rate."""
    merged: dict[tuple[str, Decimal | None], Line] = {}
    for line in extras:
        key = (line.kind, line.rate)
        found = merged.get(key)
        merged[key] = line if found is None else replace(found, net=found.net + line.net, tax=found.tax + line.tax,
                                                          sku=None, description=line.kind)
    order = {"shipping": 0, "gift_wrap": 1, "promotion": 2}
    return [replace(line, description=line.kind, sku=None, quantity=1)
            for line in sorted(merged.values(), key=lambda x: order[x.kind])]


def seller_block(profile: Profile, ship_from: str) -> SellerBlock:
    return SellerBlock(profile.legal_name, profile.address.lines(), profile.vat_number_for(ship_from),
                       profile.address.country_code, profile.email, profile.siren, profile.siret,
                       profile.legal_form, profile.share_capital, profile.rcs)


def _mentions(order: OrderMoney, profile: Profile, buyer: Buyer | None, country: str, home: str,
              lines: Sequence[Line]) -> tuple[tuple[str, ...], str | None]:
    untaxed = all(line.tax == 0 for line in lines)
    mentions: list[str] = []
    problems: list[str] = []
    unfit = [line for line in lines if line.rate is None]
    if unfit:
        line = unfit[0]
        rates = ", ".join(f"{r}%" for r in vat.RATES.get(country, ()))
        problems.append(f"the VAT Amazon charged on {line.kind} {line.sku or line.description[:40]!r} "
                        f"({line.tax} on {line.net} net) fits no VAT rate of {country or 'the country of supply'}"
                        f" ({rates or 'unknown'})")
    if country and country not in vat.EU and home in vat.EU:
        mentions.append(EXPORT)
        if not untaxed:
            problems.append(f"an export to {country} is invoiced with VAT charged by Amazon; a person must check")
    elif untaxed and sum(line.net for line in lines) != 0:
        intra_eu = country in vat.EU and home in vat.EU and country != home
        buyer_vat = buyer.vat_number if buyer else None
        if order.business and intra_eu and buyer_vat:
            mentions.append(REVERSE_CHARGE)
        else:
            problems.append("no VAT was charged, and the supply is neither an export nor an intra-EU supply to a "
                            "business buyer with a VAT number")
    elif country and country != home and country in vat.EU and not order.business:
        mentions.append(OSS)
    if order.business and profile.address.country_code == "FR":
        mentions.append(FR_B2B_PAYMENT)
    return tuple(mentions), "; ".join(problems) or None


def document_json(doc: Document) -> dict[str, Any]:
    """The document as the store keeps it (no personal data) and the PDF is drawn from."""
    s = doc.seller
    return {
        "kind": doc.kind.value, "seller_id": doc.seller_id, "order_id": doc.order_id,
        "marketplace_id": doc.marketplace_id, "source": doc.source, "series_id": doc.series_id,
        "issue_date": doc.issue_date.isoformat(), "supply_date": doc.supply_date.isoformat(),
        "currency": doc.currency, "language": doc.language, "country": doc.country,
        "seller": {"legal_name": s.legal_name, "address_lines": list(s.address_lines), "vat_number": s.vat_number,
                   "country_code": s.country_code, "email": s.email, "siren": s.siren, "siret": s.siret,
                   "legal_form": s.legal_form, "share_capital": s.share_capital, "rcs": s.rcs},
        "lines": [{"kind": x.kind, "description": x.description, "quantity": x.quantity, "net": str(x.net),
                   "tax": str(x.tax), "rate": str(x.rate) if x.rate is not None else None, "sku": x.sku,
                   "asin": x.asin, "order_item_id": x.order_item_id} for x in doc.lines],
        "mentions": list(doc.mentions), "business": doc.business, "number": doc.number,
        "corrects": doc.corrects, "corrects_date": doc.corrects_date.isoformat() if doc.corrects_date else None,
        "transaction_id": doc.transaction_id, "attention": doc.attention, "footer": list(doc.footer),
        "late_payment_rate": doc.late_payment_rate,
    }


def document_of(d: Mapping[str, Any]) -> Document:
    s = d["seller"]
    return Document(
        kind=DocumentType(d["kind"]), seller_id=d["seller_id"], order_id=d["order_id"],
        marketplace_id=d.get("marketplace_id"), source=d["source"], series_id=d["series_id"],
        issue_date=date.fromisoformat(d["issue_date"]), supply_date=date.fromisoformat(d["supply_date"]),
        currency=d["currency"], language=d["language"], country=d["country"],
        seller=SellerBlock(s["legal_name"], tuple(s["address_lines"]), s["vat_number"], s["country_code"],
                           s.get("email"), s.get("siren"), s.get("siret"), s.get("legal_form"),
                           s.get("share_capital"), s.get("rcs")),
        lines=tuple(Line(x["kind"], x["description"], int(x["quantity"]), Decimal(x["net"]), Decimal(x["tax"]),
                         Decimal(x["rate"]) if x.get("rate") is not None else None, x.get("sku"), x.get("asin"),
                         x.get("order_item_id"))
                    for x in d["lines"]),
        mentions=tuple(d.get("mentions") or ()), business=bool(d.get("business")), number=d.get("number"),
        corrects=d.get("corrects"),
        corrects_date=date.fromisoformat(d["corrects_date"]) if d.get("corrects_date") else None,
        transaction_id=d.get("transaction_id"), attention=d.get("attention"), footer=tuple(d.get("footer") or ()),
        late_payment_rate=d.get("late_payment_rate"))


# --- when documents are issued -------------------------------------------------------------

def merchant_supplies(packages: Sequence[tuple[str, datetime, Mapping[str, int]]],
                      invoiced_sources: set[str], ship_from: str) -> list[Supply]:
    """One supply per merchant package not yet invoiced (those the warehouse confirmed through
    us, and those Amazon lists that were confirmed elsewhere: one per package reference), in the
    order they left, each with the units earlier packages carried (their share of the money was
    invoiced with them)."""
    supplies = []
    before: dict[str, int] = {}
    seen: set[str] = set()
    for reference, shipped_at, units in sorted(packages, key=lambda p: (p[1], p[0])):
        if reference in seen or not units:
            continue
        seen.add(reference)
        source = f"package#{reference}"
        if source not in invoiced_sources:
            supplies.append(Supply(source, shipped_at, ship_from, dict(units), dict(before)))
        for item, count in units.items():
            before[item] = before.get(item, 0) + count
    return supplies


def amazon_supply(shipped: Mapping[str, int], invoiced: Mapping[str, int], amazon_invoices: int,
                  shipped_at: datetime, ship_from: str) -> Supply | None:
    """What Amazon shipped from its warehouses (FBA; `ship_from` the marketplace's country, where
    Amazon keeps the seller's stock) and we have not invoiced yet: one supply for the
    difference, or None."""
    units = {item: count - invoiced.get(item, 0) for item, count in shipped.items()
             if count - invoiced.get(item, 0) > 0}
    if not units:
        return None
    return Supply(f"amazon#{amazon_invoices + 1}", shipped_at, ship_from, units, dict(invoiced))


def invoiced_units(documents: Sequence[Document]) -> dict[str, int]:
    """Units already invoiced per order item (credit notes do not give units back: a refunded
    unit was still supplied)."""
    units: dict[str, int] = {}
    for doc in documents:
        if doc.kind is DocumentType.INVOICE:
            for line in doc.lines:
                if line.kind == "item" and line.order_item_id:
                    units[line.order_item_id] = units.get(line.order_item_id, 0) + line.quantity
    return units
