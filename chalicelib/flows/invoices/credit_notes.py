"""Credit notes, pure: a refund split over the invoices it corrects, and each credit note built to
the cent of what Amazon gave back.

A refunded item is credited on the latest invoice that carried it (a refund usually concerns
the last package; when the latest cannot hold all of it, the earlier ones take the rest), so a
refund that concerns two invoices gives two credit notes, each naming the invoice it corrects.
Each credit note copies its invoice's seller, country of supply, language and mentions; its
lines are Amazon's refunded amounts (negative), at the rate of the invoice's line when Amazon's
VAT fits it, else at the rate that fits, else flagged for a person.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from chalicelib.flows.invoices import vat
from chalicelib.flows.invoices.refunds import Refund, RefundItem
from chalicelib.flows.invoices.rules import CENT, Document, DocumentType, Line, Profile


@dataclass(frozen=True)
class Share:
    invoice: Document
    items: tuple[tuple[RefundItem, Line | None], ...]  # the refunded item and the invoice line it credits


def split(refund: Refund, invoices: Sequence[Document]) -> tuple[list[Share], list[str]]:
    """Which invoice each refunded item corrects, and the items no invoice carried (by SKU)."""
    ordered = sorted((d for d in invoices if d.kind is DocumentType.INVOICE),
                     key=lambda d: (d.issue_date, d.number or ""), reverse=True)
    by_invoice: dict[str, list[tuple[RefundItem, Line | None]]] = {}
    unmatched = []
    for item in refund.items:
        target, line = None, None
        for invoice in ordered:
            line = next((x for x in invoice.lines if x.kind == "item" and item.sku and x.sku == item.sku), None) or (
                next((x for x in invoice.lines if x.kind == "item" and item.asin and x.asin == item.asin), None))
            if line is not None:
                target = invoice
                break
        if target is None:
            if not item.sku and not item.asin and ordered:  # an amount for the order (goodwill): the latest invoice
                target, line = ordered[0], None
            else:
                unmatched.append(item.sku or item.asin or "?")
                continue
        by_invoice.setdefault(target.number or "", []).append((item, line))
    shares = [Share(next(d for d in ordered if (d.number or "") == number), tuple(items))
              for number, items in by_invoice.items()]
    return shares, unmatched


def _rate(net: Decimal, tax: Decimal, wanted: Decimal | None, countries: tuple[str, ...], units: int) -> Decimal | None:
    if wanted is not None:
        expected = (net * wanted / 100).quantize(CENT)
        if abs(expected - tax) <= CENT * max(1, units):
            return wanted
    return vat.fitting_rate(abs(net), abs(tax), countries, units)


def build_credit_note(share: Share, refund: Refund, profile: Profile, issue_date: date, source: str) -> Document:
    invoice = share.invoice
    countries = tuple(dict.fromkeys(c for c in (invoice.country, invoice.seller.country_code,
                                                profile.address.country_code) if c))
    extra_rate = next((x.rate for x in invoice.lines if x.kind == "item"), None)
    lines: list[Line] = []
    extras: dict[tuple[str, Decimal | None], Line] = {}
    for item, line in share.items:
        if item.item_net or item.item_tax:
            units = item.quantity or (line.quantity if line else 1)
            lines.append(Line("item", line.description if line else (item.sku or "refund"), max(1, units),
                              item.item_net, item.item_tax,
                              _rate(item.item_net, item.item_tax, line.rate if line else extra_rate, countries, units),
                              item.sku or (line.sku if line else None), item.asin or (line.asin if line else None),
                              line.order_item_id if line else None))
        for kind, net, tax in (("shipping", item.shipping_net, item.shipping_tax),
                               ("gift_wrap", item.gift_wrap_net, item.gift_wrap_tax),
                               ("promotion", item.promotion_net, item.promotion_tax)):
            if not net and not tax:
                continue
            invoiced = next((x for x in invoice.lines if x.kind == kind), None)
            rate = _rate(net, tax, invoiced.rate if invoiced else extra_rate, countries, 1)
            key = (kind, rate)
            found = extras.get(key)
            extras[key] = Line(kind, kind, 1, net, tax, rate) if found is None else replace(
                found, net=found.net + net, tax=found.tax + tax)
    order = {"shipping": 0, "gift_wrap": 1, "promotion": 2}
    all_lines = (*lines, *sorted(extras.values(), key=lambda x: order[x.kind]))
    problems = []
    unfit = [x for x in all_lines if x.rate is None]
    if unfit:
        problems.append(f"the VAT Amazon refunded on {unfit[0].kind} {unfit[0].sku or ''} ({unfit[0].tax} on "
                        f"{unfit[0].net} net) fits no VAT rate of {invoice.country}")
    over = [x for x in lines if x.order_item_id and abs(x.net + x.tax) > _invoiced(invoice, x.order_item_id)]
    if over:
        problems.append(f"Amazon refunded more for {over[0].sku or over[0].description[:40]} than this invoice "
                        "charged for it")
    return Document(
        kind=DocumentType.CREDIT_NOTE, seller_id=invoice.seller_id, order_id=invoice.order_id,
        marketplace_id=invoice.marketplace_id, source=source,
        series_id=profile.series.series_id(DocumentType.CREDIT_NOTE, issue_date, invoice.country),
        issue_date=issue_date, supply_date=refund.posted_at.date(), currency=invoice.currency,
        language=invoice.language, country=invoice.country, seller=invoice.seller, lines=tuple(all_lines),
        mentions=invoice.mentions, business=invoice.business, corrects=invoice.number,
        corrects_date=invoice.issue_date, transaction_id=refund.transaction_id,
        attention="; ".join(problems) or None, footer=profile.footer, late_payment_rate=invoice.late_payment_rate)


def _invoiced(invoice: Document, order_item_id: str) -> Decimal:
    return sum((x.net + x.tax for x in invoice.lines if x.order_item_id == order_item_id), Decimal(0))
