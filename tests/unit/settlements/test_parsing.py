from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.flows.settlements import parsing, rules
from chalicelib.flows.settlements.parsing import BadRow, amount_of, moment_of
from tests.unit.settlements import samples


def read_all(text: str):
    head, body = parsing.read(text.splitlines(True))
    return head, body.sums(rules.category, rules.SALES, rules.REFUNDS)


def test_a_us_style_file_reads_by_header_name():
    head, rows = read_all(samples.example())
    assert head.settlement_id == "11795245201" and head.currency == "EUR" and head.total == Decimal("24.05")
    assert head.start.isoformat() == "2026-11-20T18:03:49+00:00"
    assert rows.rows == 15 and rows.by_currency == {"EUR": Decimal("24.05")}
    assert rows.by_order()[("302-1111111-1111111", "sales", "DYmCJrqFL")] == Decimal("33.99")
    assert rows.by_order()[("302-1111111-1111111", "refunds", "amzn1:crow:XyZ")] == Decimal("-30.00")
    assert rows.by_code[(("Order", "ItemPrice", "Principal"), "2026-11")] == Decimal("25.21")
    assert rows.by_account[("other-transaction", "other-transaction", "Current Reserve Amount")] == Decimal("-15")
    assert rows.marketplaces == {"302-1111111-1111111": "Amazon.de", "302-2222222-2222222": "Amazon.de"}
    assert (rows.first_posted.isoformat(), rows.last_posted.isoformat()) == ("2026-11-20", "2026-12-04")


def test_eu_formats_and_spaced_headers_read_the_same():
    us = samples.example()
    eu_rows = []
    for line in us.splitlines()[2:]:
        cells = line.split("\t")
        cells[14] = cells[14].replace(".", ",")
        if cells[16]:
            y, m, d = cells[16].split("-")
            cells[16] = f"{d}.{m}.{y}"
        eu_rows.append(cells)
    spaced = tuple(name.replace("-", " ").title() for name in samples.COLUMNS)
    eu = samples.text(eu_rows, total="24,05", start="20.11.2026 18:03:49 UTC", end="04.12.2026 18:03:49 UTC",
                      deposit="06.12.2026 18:03:49 UTC", header=spaced)
    assert read_all(eu) == read_all(us)


def test_columns_in_another_order_and_a_bom():
    us = samples.example().splitlines()
    swapped = []
    for line in us:
        cells = line.split("\t")
        cells[14], cells[0] = cells[0], cells[14]
        swapped.append("\t".join(cells))
    swapped[0] = "\ufeff" + swapped[0]
    assert read_all("\n".join(swapped)) == read_all(samples.example())


def test_two_identical_rows_are_both_kept():
    rows = [samples.other_row("Storage Fee", "-1.00", "2026-12-01")] * 2
    _, read = read_all(samples.text(rows, total="-2.00"))
    assert read.rows == 2 and read.by_currency == {"EUR": Decimal("-2.00")}


@pytest.mark.parametrize(("change", "line", "column", "words"), [
    (lambda cells: cells.__setitem__(14, "12.3.4"), 5, "amount", "not an amount"),
    (lambda cells: cells.__setitem__(14, "1e3"), 5, "amount", "not an amount"),
    (lambda cells: cells.__setitem__(16, "2026-13-01"), 5, "posted-date", "not a date"),
    (lambda cells: cells.__setitem__(0, "999"), 5, "settlement-id", "not this report's settlement"),
    (lambda cells: cells.__setitem__(7, "bad order id!"), 5, "order-id", "not an order id"),
    (lambda cells: (cells.__setitem__(6, ""), cells.__setitem__(12, "")), 5, "transaction-type", "is empty"),
])
def test_a_bad_row_names_its_line_column_and_value(change, line, column, words):
    lines = samples.example().splitlines()
    cells = lines[line - 1].split("\t")
    change(cells)
    lines[line - 1] = "\t".join(cells)
    with pytest.raises(BadRow) as raised:
        read_all("\n".join(lines))
    assert (raised.value.line, raised.value.column) == (line, column)
    assert words in raised.value.reason and f"line {line}" in raised.value.reason


def test_a_file_without_the_columns_or_totals_is_refused_clearly():
    with pytest.raises(BadRow, match="no column .*amount-type"):
        read_all("settlement-id\tsettlement-start-date\n1\t2\n")
    with pytest.raises(BadRow, match="empty"):
        read_all("")
    with pytest.raises(BadRow, match="no totals row"):
        read_all("\t".join(samples.COLUMNS) + "\n")
    bad_total = samples.text([], total="lots")
    with pytest.raises(BadRow, match="line 2, column total-amount: 'lots'"):
        read_all(bad_total)
    with pytest.raises(BadRow, match="currency"):
        read_all(samples.text([], total="1.00", currency="EURO"))


def test_amounts_in_both_conventions():
    assert amount_of("1.234,56") == amount_of("1,234.56") == amount_of("1234.56") == Decimal("1234.56")
    assert amount_of("-12,34") == Decimal("-12.34") and amount_of("1,234") == Decimal(1234)
    for wrong in ("", "1e3", "0.123", "1,234.567", "1.234.56", "NaN", "--1", "1.2345"):
        assert amount_of(wrong) is None, wrong


@given(st.decimals(min_value=Decimal("-999999999.99"), max_value=Decimal("999999999.99"), places=2))
def test_any_amount_reads_back_in_both_conventions(value):
    plain = f"{value:.2f}"
    grouped = f"{value:,.2f}"
    european = grouped.replace(",", "_").replace(".", ",").replace("_", ".")
    assert amount_of(plain) == amount_of(grouped) == amount_of(european) == value


def test_moments():
    assert moment_of("03.11.2026 18:03:49 UTC") == moment_of("2026-11-03 18:03:49 UTC") == moment_of(
        "2026-11-03T18:03:49+00:00")
    assert moment_of("2026-11-03").hour == 0
    assert moment_of("31.02.2026") is None and moment_of("2026-11-03 18:03 PST") is None


@given(st.lists(st.tuples(st.decimals(min_value=Decimal("-99999.99"), max_value=Decimal("99999.99"), places=2),
                          st.sampled_from(["302-1111111-1111111", "302-2222222-2222222", ""]),
                          st.sampled_from([("Order", "ItemPrice", "Principal"), ("Order", "ItemFees", "Commission"),
                                           ("Refund", "ItemPrice", "Principal"),
                                           ("other-transaction", "other-transaction", "Storage Fee")]),
                          st.booleans()), max_size=60))
def test_the_sums_are_exact_whatever_the_amounts(rows):
    lines = []
    for amount, order_id, (kind, amount_type, description), european in rows:
        text = f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".") if european else f"{amount:.2f}"
        lines.append(samples.row(settlement_id="11795245201", transaction_type=kind, order_id=order_id,
                                 shipment_id="S1" if kind == "Order" else "", adjustment_id="A1" if kind == "Refund"
                                 else "", amount_type=amount_type, amount_description=description, amount=text,
                                 posted_date="2026-11-28"))
    total = sum((amount for amount, *_ in rows), Decimal(0))
    _, sums = read_all(samples.text(lines, total=f"{total:.2f}"))
    assert sums.rows == len(rows) and sums.by_currency == {"EUR": total}
    assert sum(sums.by_order().values(), Decimal(0)) + sum(sums.by_account.values(), Decimal(0)) == total
    for order_id in {o for _, o, *_ in rows if o}:
        assert sum(v for (o, _, _), v in sums.by_order().items() if o == order_id) == sum(
            (a for a, o, *_ in rows if o == order_id), Decimal(0))
