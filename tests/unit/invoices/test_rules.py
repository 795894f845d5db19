"""The invoices' rules: profiles, series, what is invoiced when, and documents to the cent."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.flows.invoices import rules, service
from chalicelib.flows.invoices.rules import DocumentType, ProfileError
from tests.unit.invoices.builders import (
    DE_MARKETPLACE,
    FR_PROFILE,
    IT_MARKETPLACE,
    SHIPPED,
    buyer,
    item,
    order,
    profile,
    supply,
)

TODAY = date(2026, 11, 20)


# --- profiles -----------------------------------------------------------------------------

def test_a_french_profile_reads_back_as_written():
    parsed = profile()
    assert parsed.vat_numbers == {"FR": "FR40303265045", "DE": "DE811907980"}
    assert rules.parse_profile("A1SELLER", rules.profile_json(parsed)) == parsed


@pytest.mark.parametrize(("change", "says"), [
    ({"legalName": ""}, "legalName is missing"),
    ({"vatNumbers": {}}, "vatNumbers must name"),
    ({"vatNumbers": {"DE": "FR40303265045"}}, "is not a VAT number of DE"),
    ({"vatNumbers": {"fr": "FR40303265045"}}, "is not a country code"),
    ({"siren": "303265046"}, "is not a SIREN"),
    ({"siret": "30326504500012"}, "is not a SIRET"),
    ({"siren": None}, "must give siren"),
    ({"logoPng": "aGVsbG8="}, "logoPng must be a PNG"),
    ({"series": {"prefix": "F"}}, "unknown setting"),
    ({"series": {"invoicePrefix": "F", "creditNotePrefix": "F"}}, "need their own creditNotePrefix"),
    ({"series": {"scope": "month"}}, "series.scope must be one of"),
    ({"address": {"line1": "x", "postalCode": "1", "city": "Y", "countryCode": "US"}}, "not a country this"),
    ({"legalPeriodYears": 3}, "legalPeriodYears"),
])
def test_a_profile_that_cannot_be_used_says_why(change, says):
    with pytest.raises(ProfileError, match=says):
        rules.parse_profile("A1SELLER", {**FR_PROFILE, **change})


def test_a_seller_outside_france_needs_no_french_identifiers():
    parsed = rules.parse_profile("A2", {"legalName": "Nordvik GmbH", "vatNumbers": {"DE": "DE 811 907 980"},
                                        "address": {"line1": "Lindenweg 1", "postalCode": "10115", "city": "Berlin",
                                                    "countryCode": "DE"}})
    assert parsed.vat_numbers == {"DE": "DE811907980"} and parsed.siren is None


# --- series --------------------------------------------------------------------------------

@pytest.mark.parametrize(("settings_", "kind", "number"), [
    ({}, DocumentType.INVOICE, "INV-2026-000042"),
    ({}, DocumentType.CREDIT_NOTE, "CN-2026-000042"),
    ({"scope": "single", "invoicePrefix": "F", "digits": 4}, DocumentType.INVOICE, "F-0042"),
    ({"scope": "country"}, DocumentType.INVOICE, "INV-DE-000042"),
    ({"scope": "year-country", "creditNotes": "same"}, DocumentType.CREDIT_NOTE, "INV-2026-DE-000042"),
])
def test_a_number_ends_in_its_sequence_within_its_series(settings_, kind, number):
    series = rules.parse_series(settings_)
    assert series.number(series.series_id(kind, TODAY, "DE"), 42) == number


# --- amounts -------------------------------------------------------------------------------

@given(st.integers(-10 ** 7, 10 ** 7), st.lists(st.integers(1, 5), min_size=1, max_size=6))
def test_the_parts_of_an_amount_add_up_to_it_exactly(cents, splits):
    amount, of = D(cents) / 100, sum(splits)
    parts, done = [], 0
    for now in splits:
        parts.append(rules.part(amount, done, now, of))
        done += now
    assert sum(parts) == amount
    assert all(p == p.quantize(D("0.01")) for p in parts)


_money = st.integers(0, 50_000).map(lambda c: D(c) / 100)


@st.composite
def _orders(draw):
    items = []
    for index in range(draw(st.integers(1, 4))):
        quantity = draw(st.integers(1, 5))
        net = draw(_money)
        items.append(rules.ItemMoney(str(index + 1), f"SKU{index}", None, f"Item {index}", quantity, net,
                                     (net * D("0.2")).quantize(D("0.01")), shipping_net=draw(_money),
                                     shipping_tax=D(0),
                                     discount_net=-(draw(_money) / 10).quantize(D("0.01"))))
    shipments = draw(st.integers(1, 3))
    plan = []  # per shipment, units of each item
    for it in items:
        cuts = sorted(draw(st.lists(st.integers(0, it.quantity), min_size=shipments - 1, max_size=shipments - 1)))
        bounds = [0, *cuts, it.quantity]
        plan.append([bounds[i + 1] - bounds[i] for i in range(shipments)])
    return items, shipments, plan


@settings(max_examples=60, deadline=None)
@given(_orders())
def test_the_invoices_of_an_order_add_up_to_what_amazon_charged_to_the_cent(drawn):
    items, shipments, plan = drawn
    money = order(*items)
    total = D(0)
    before: dict[str, int] = {}
    for number in range(shipments):
        units = {it.order_item_id: plan[i][number] for i, it in enumerate(items) if plan[i][number]}
        if not units:
            continue
        doc = rules.build_invoice(money, supply(units, f"shipment#{number + 1}", dict(before)), profile(),
                                  buyer(), TODAY)
        total += doc.total
        assert sum(n + t for _, n, t in doc.vat_by_rate()) == doc.total
        for key, count in units.items():
            before[key] = before.get(key, 0) + count
    charged = sum((it.item_net + it.item_tax + it.shipping_net + it.shipping_tax + it.discount_net + it.discount_tax
                   for it in items), D(0))
    assert total == charged


# --- VAT and mentions ----------------------------------------------------------------------

def test_a_french_consumer_invoice_prints_french_vat_and_no_mention():
    doc = rules.build_invoice(order(item(net="16.66", tax="3.33", shipping_net="4.15", shipping_tax="0.83")),
                              supply({"1": 1}), profile(), buyer(), TODAY)
    assert doc.language == "fr" and doc.country == "FR" and doc.attention is None
    assert [(line.kind, line.rate) for line in doc.lines] == [("item", D("20")), ("shipping", D("20"))]
    assert doc.mentions == () and doc.total == D("24.97") and doc.seller.vat_number == "FR40303265045"


def test_an_intra_eu_business_supply_without_vat_carries_the_reverse_charge_and_the_sellers_home_number():
    doc = rules.build_invoice(order(item(net="75.55", tax="0.00"), marketplace=DE_MARKETPLACE, business=True),
                              supply({"1": 1}), profile(), buyer("DE", "DE123456789", "Keller GmbH"), TODAY)
    assert rules.REVERSE_CHARGE in doc.mentions and rules.FR_B2B_PAYMENT in doc.mentions
    assert doc.attention is None and doc.language == "de"
    assert doc.seller.vat_number == "FR40303265045"  # the goods leave France


def test_no_vat_to_a_consumer_in_the_eu_flags_the_document():
    doc = rules.build_invoice(order(item(net="20.00", tax="0.00")), supply({"1": 1}), profile(), buyer(), TODAY)
    assert doc.attention and "no VAT was charged" in doc.attention


def test_a_vat_that_fits_no_rate_of_the_country_flags_the_document_with_the_line():
    doc = rules.build_invoice(order(item(net="100.00", tax="15.00")), supply({"1": 1}), profile(), buyer(), TODAY)
    assert doc.lines[0].rate is None
    assert doc.attention and "15.00 on 100.00 net" in doc.attention and "20%" in doc.attention


def test_a_distance_sale_to_a_consumer_in_another_country_is_taxed_there_and_says_so():
    doc = rules.build_invoice(order(item(net="16.39", tax="3.61"), marketplace=IT_MARKETPLACE),
                              supply({"1": 1}), profile(), buyer("IT"), TODAY)
    assert doc.lines[0].rate == D("22") and doc.mentions == (rules.OSS,) and doc.language == "it"


def test_an_export_outside_the_eu_is_exempt_and_says_so():
    doc = rules.build_invoice(order(item(net="30.00", tax="0.00")), supply({"1": 1}), profile(), buyer("CH"), TODAY)
    assert doc.mentions == (rules.EXPORT,) and doc.attention is None


# --- what is invoiced when -----------------------------------------------------------------

def test_each_package_not_yet_invoiced_is_one_supply_counting_the_earlier_ones():
    later = SHIPPED.replace(hour=16)
    ours = [("2", later, {"1": 1}), ("1", SHIPPED, {"1": 2, "2": 1})]
    amazons = [("1", SHIPPED, {"1": 2, "2": 1}), ("SC-77", later.replace(hour=18), {"3": 1})]  # ours again, and one
    supplies = rules.merchant_supplies([*ours, *amazons], {"package#1"}, "FR")
    assert [(s.source, dict(s.units), dict(s.before)) for s in supplies] == [
        ("package#2", {"1": 1}, {"1": 2, "2": 1}), ("package#SC-77", {"3": 1}, {"1": 3, "2": 1})]


def test_what_amazon_shipped_beyond_what_is_invoiced_is_one_supply():
    assert rules.amazon_supply({"1": 2}, {"1": 2}, 1, SHIPPED, "DE") is None
    found = rules.amazon_supply({"1": 3, "2": 1}, {"1": 2}, 1, SHIPPED, "DE")
    assert found is not None and found.source == "amazon#2" and dict(found.units) == {"1": 1, "2": 1}


@pytest.mark.parametrize(("shipped", "deadline"), [
    (datetime(2026, 11, 20, 14, tzinfo=UTC), datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)),  # Friday → Monday
    (datetime(2026, 11, 18, 9, tzinfo=UTC), datetime(2026, 11, 19, 23, 59, 59, tzinfo=UTC)),
    (datetime(2026, 11, 21, 9, tzinfo=UTC), datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)),  # Saturday
])
def test_amazon_wants_the_invoice_by_the_end_of_the_next_business_day(shipped, deadline):
    assert service.upload_deadline(shipped) == deadline


def test_a_document_reads_back_as_stored():
    doc = rules.build_invoice(order(item(), item("2", 2, "10.00", "2.00", discount_net="-1.00",
                                                 discount_tax="-0.20")),
                              supply({"1": 1, "2": 2}), profile(), buyer(), TODAY)
    assert rules.document_of(rules.document_json(doc)) == doc
