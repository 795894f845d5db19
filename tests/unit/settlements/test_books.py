"""The settlement's arithmetic, its journal and its exports."""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.flows.settlements import exports, journal, parsing, rules
from chalicelib.flows.settlements.journal import DEFAULT_CHART, MappingError, chart_of
from tests.unit.settlements import samples


def tally_of(text: str) -> rules.Tally:
    head, body = parsing.read(text.splitlines(True))
    return rules.Tally.read(head, body)


def test_every_row_in_one_category_and_the_control_total_holds():
    tally = tally_of(samples.example())
    assert tally.by_category == {"sales": Decimal("53.99"), "fees": Decimal("-12.60"), "refunds": Decimal("-30.00"),
                                 "storage": Decimal("-12.34"), "reserve": Decimal("25.00")}
    assert sum(tally.by_category.values()) == tally.head.total
    assert rules.control(tally).holds and rules.control(tally).reason() is None


def test_a_mismatch_is_explained_and_a_negative_settlement_is_fine():
    mismatch = tally_of(samples.example().replace("\t24.05\t", "\t23.96\t"))
    control = rules.control(mismatch)
    assert not control.holds and control.difference == Decimal("0.09")
    assert "0.09 EUR more than paid" in control.reason()
    negative = tally_of(samples.text([samples.other_row("Subscription Fee", "-39.00", "2026-12-01")], total="-39.00"))
    assert rules.control(negative).holds


def test_each_order_money_per_shipment_and_adjustment():
    tally = tally_of(samples.example())
    first = tally.orders["302-1111111-1111111"]
    assert first.paid == {"DYmCJrqFL": Decimal("33.99")} and first.refunded == {"amzn1:crow:XyZ": Decimal("-30.00")}
    assert first.fees == Decimal("-6.80") and first.net == Decimal("-2.81")
    assert rules.OrderMoney.from_dict(first.to_dict("EUR")) == first


def test_matching_documents():
    money = tally_of(samples.example()).orders["302-1111111-1111111"]
    good = [rules.Issued("INV-1", "invoice", Decimal("33.99"), "EUR"),
            rules.Issued("CN-1", "credit_note", Decimal("30.00"), "EUR")]
    assert rules.match("o", money, "EUR", good) == []
    off = rules.match("o", money, "EUR", [rules.Issued("INV-1", "invoice", Decimal("33.98"), "EUR")])
    assert [(v.what, v.settled - v.documented) for v in off] == [("sales", Decimal("0.01")),
                                                                 ("refunds", Decimal("-30.00"))]
    assert "0.01 EUR apart" in off[0].reason and "no credit note" in off[1].reason


@pytest.mark.parametrize(("code", "with_order", "expected"), [
    (("Order", "ItemPrice", "Principal"), True, "sales"),
    (("Refund", "ItemPrice", "Tax"), True, "refunds"),
    (("Order", "ItemWithheldTax", "MarketplaceFacilitatorVAT-Principal"), True, "withheldTax"),
    (("Refund", "ItemFees", "RefundCommission"), True, "fees"),
    (("Cost of Advertising", "Cost of Advertising", "TransactionTotalAmount"), False, "advertising"),
    (("other-transaction", "other-transaction", "Subscription Fee"), False, "subscription"),
    (("FBA Inventory Reimbursement", "FBA Inventory Reimbursement", "WAREHOUSE_DAMAGE"), False, "reimbursement"),
    (("Chargeback Refund", "ItemPrice", "Principal"), True, "chargebacks"),
    (("other-transaction", "other-transaction", "Something new"), False, "other"),
])
def test_categories(code, with_order, expected):
    assert rules.category(*code, with_order) == expected


def test_the_journal_splits_at_month_end_and_balances():
    tally = tally_of(samples.example())
    book = journal.journal(tally.head, tally.by_code, DEFAULT_CHART)
    assert [e.on for e in book.entries] == [date(2026, 11, 30), date(2026, 12, 4)]
    assert book.balanced and book.rounding == 0 and not book.unmapped
    carried = [line.amount for e in book.entries for line in e.lines if line.account == DEFAULT_CHART.carried]
    assert sum(carried) == 0 and carried[0] == Decimal("66.29")  # November's net, taken back in December
    deposit = [line for line in book.entries[-1].lines if line.account == DEFAULT_CHART.clearing]
    assert [line.debit for line in deposit] == [Decimal("24.05")]
    reserve = [line.amount for e in book.entries for line in e.lines if line.account.code == "467100"]
    assert sum(reserve) == Decimal("-25.00")  # released 40, held 15: on the balance sheet


def test_an_unmapped_code_is_listed_and_a_mismatch_shows_on_the_rounding_line():
    text = samples.example().replace("Storage Fee", "Brand New Fee").replace("\t24.05\t", "\t24.00\t")
    tally = tally_of(text)
    book = journal.journal(tally.head, tally.by_code, DEFAULT_CHART)
    assert [(u.code[2], u.amount) for u in book.unmapped] == [("Brand New Fee", Decimal("-12.34"))]
    mapped = chart_of({"rules": [{"amountDescription": "Brand New Fee", "account": "628000", "name": "Other fees"}]})
    again = journal.journal(tally.head, tally.by_code, mapped)
    assert not again.unmapped and again.rounding == Decimal("0.05") and again.balanced


def test_a_mapping_is_checked():
    with pytest.raises(MappingError, match="at least one"):
        chart_of({"rules": [{"account": "1", "name": "x"}]})
    with pytest.raises(MappingError, match="account code"):
        chart_of({"rules": [{"amountType": "ItemFees", "account": "a b", "name": "x"}]})
    chart = chart_of({"rules": [{"amountType": "ItemFees", "account": "6222", "name": "Fees", "taxCode": "NONE"}],
                      "journalCode": "VTAMZ"})
    assert chart.account_for(("Order", "ItemFees", "Commission")).code == "6222"
    assert chart_of(journal.chart_json(chart)).rules == chart.rules


_codes = st.sampled_from([("Order", "ItemPrice", "Principal"), ("Order", "ItemFees", "Commission"),
                          ("Refund", "ItemPrice", "Principal"), ("other-transaction", "other-transaction",
                                                                 "Storage Fee"),
                          ("other-transaction", "other-transaction", "Current Reserve Amount")])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_codes, st.integers(0, 60), st.integers(-100_000, 100_000)), min_size=0, max_size=40),
       st.integers(-50, 50))
def test_any_settlement_gives_balanced_entries_whose_rounding_is_the_difference(rows, off):
    head = parsing.Head("1", samples_moment(0), samples_moment(45), samples_moment(47), Decimal(0), "EUR")
    by_code: dict = {}
    total = Decimal(0)
    for code, day, cents in rows:
        month = samples_moment(day).strftime("%Y-%m")
        by_code[(code, month)] = by_code.get((code, month), Decimal(0)) + Decimal(cents).scaleb(-2)
        total += Decimal(cents).scaleb(-2)
    head = parsing.Head("1", head.start, head.end, head.deposit_date, total + Decimal(off).scaleb(-2), "EUR")
    book = journal.journal(head, by_code, DEFAULT_CHART)
    assert book.balanced and book.rounding == -Decimal(off).scaleb(-2)
    assert [e.on for e in book.entries] == sorted(e.on for e in book.entries)
    for fmt in ("csv", "xero", "qbo", "fec"):
        exports.export(fmt, head, book, DEFAULT_CHART, "A1", date(2027, 1, 5))


def samples_moment(day: int):
    from datetime import UTC, datetime, timedelta
    return datetime(2026, 10, 20, tzinfo=UTC) + timedelta(days=day)


def _book():
    tally = tally_of(samples.example())
    return tally.head, journal.journal(tally.head, tally.by_code, DEFAULT_CHART)


def test_the_fec_has_its_18_columns_and_debits_equal_credits():
    head, book = _book()
    out = exports.export("fec", head, book, DEFAULT_CHART, "A1", date(2026, 12, 7), siren="123456789")
    assert out.filename == "123456789FEC20261204.txt"
    lines = list(csv.reader(io.StringIO(out.text), delimiter="\t"))
    assert tuple(lines[0]) == exports.FEC_COLUMNS and len(exports.FEC_COLUMNS) == 18
    assert all(len(line) == 18 for line in lines)
    body = lines[1:]
    for number in {line[2] for line in body}:
        entry = [line for line in body if line[2] == number]
        debits = sum(Decimal(line[11].replace(",", ".")) for line in entry)
        credits = sum(Decimal(line[12].replace(",", ".")) for line in entry)
        assert debits == credits > 0
    assert {line[3] for line in body} == {"20261130", "20261204"} and all("," in line[11] for line in body)
    with pytest.raises(exports.NotExportable, match="euros"):
        exports.export("fec", head, journal.Journal("GBP", book.entries, ()), DEFAULT_CHART, "A1", date.today())


def test_xero_and_qbo_files_balance_per_journal():
    head, book = _book()
    xero = list(csv.DictReader(io.StringIO(exports.export("xero", head, book, DEFAULT_CHART, "A1",
                                                          date(2026, 12, 7)).text)))
    assert set(xero[0]) == set(exports.XERO_COLUMNS)
    for key in {(r["*Narration"], r["*Date"]) for r in xero}:
        assert sum(Decimal(r["*Amount"]) for r in xero if (r["*Narration"], r["*Date"]) == key) == 0
    assert {r["*Date"] for r in xero} == {"30/11/2026", "04/12/2026"}
    qbo = list(csv.DictReader(io.StringIO(exports.export("qbo", head, book, DEFAULT_CHART, "A1",
                                                         date(2026, 12, 7)).text)))
    for number in {r["Journal No"] for r in qbo}:
        entry = [r for r in qbo if r["Journal No"] == number]
        assert sum(Decimal(r["Debits"] or 0) for r in entry) == sum(Decimal(r["Credits"] or 0) for r in entry)
    plain = exports.export("csv", head, book, DEFAULT_CHART, "A1", date(2026, 12, 7)).text
    assert "Rounding" in plain


def test_each_shipment_is_paired_with_an_invoice_of_its_total():
    money = rules.OrderMoney("Amazon.de", {"S1": Decimal("10.00"), "S2": Decimal("20.00")})
    two = [rules.Issued("INV-1", "invoice", Decimal("20.00"), "EUR"), rules.Issued("INV-2", "invoice",
                                                                                   Decimal("10.00"), "EUR")]
    assert rules.match("o", money, "EUR", two) == []
    # A third invoice is fine: its package is settled in another settlement.
    assert rules.match("o", money, "EUR", [*two, rules.Issued("INV-3", "invoice", Decimal("5.00"), "EUR")]) == []
    # The order's total agrees, its split does not: the shipment without a twin is named.
    split = [rules.Issued("INV-1", "invoice", Decimal("15.00"), "EUR"),
             rules.Issued("INV-2", "invoice", Decimal("15.00"), "EUR")]
    [variance] = rules.match("o", money, "EUR", split)
    assert "shipment S1, S2" in variance.reason and variance.settled == Decimal("30.00")
    one_off = [two[0], rules.Issued("INV-2", "invoice", Decimal("9.95"), "EUR")]
    [variance] = rules.match("o", money, "EUR", one_off)
    assert (variance.settled, variance.documented, variance.documents) == (Decimal("10.00"), Decimal("9.95"),
                                                                           ("INV-2",))
    assert "shipment S1" in variance.reason and "0.05 EUR apart" in variance.reason
