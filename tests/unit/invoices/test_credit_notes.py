"""Refunds read from Amazon's Finances transactions, credit notes built from them, uploads'
metadata and Amazon's processing reports read."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.flows.invoices import credit_notes, refunds, rules, upload
from chalicelib.flows.invoices.refunds import InvalidTransaction
from tests.unit.invoices.builders import buyer, item, order, profile, supply
from tests.unit.invoices.test_rules import TODAY

POSTED = "2026-11-22T10:00:00Z"


def _money(amount: str) -> dict:
    return {"currencyAmount": float(D(amount)), "currencyCode": "EUR"}


def transaction(sku: str = "KW-1", charges=(("Principal", "-16.66"), ("Tax", "-3.33")), quantity: int = 1,
                transaction_id: str = "RF-1", kind: str = "Refund", asin: str = "B0ASIN0001") -> dict:
    total = sum((D(a) for _, a in charges), D(0))
    return {"transactionId": transaction_id, "transactionType": kind, "postedDate": POSTED,
            "relatedIdentifiers": [{"relatedIdentifierName": "ORDER_ID",
                                    "relatedIdentifierValue": "171-1234567-1234567"}],
            "totalAmount": _money(str(total)), "marketplaceDetails": {"marketplaceId": "A13V1IB3VIYZZH"},
            "items": [{"breakdowns": [{"breakdownType": "ProductCharges", "breakdownAmount": _money(str(total)),
                                       "breakdowns": [{"breakdownType": k, "breakdownAmount": _money(a)}
                                                      for k, a in charges]},
                                      {"breakdownType": "AmazonFees", "breakdownAmount": _money("0.50")}],
                       "contexts": [{"contextType": "ProductContext", "sku": sku, "asin": asin,
                                     "quantityShipped": quantity}]}]}


def _invoice(number: str = "INV-2026-000007", units: int = 1, source: str = "package#1", before=None):
    doc = rules.build_invoice(order(item(quantity=2, net="33.32", tax="6.66", shipping_net="4.15",
                                         shipping_tax="0.83")),
                              supply({"1": units}, source, before), profile(), buyer(), TODAY)
    return replace(doc, number=number)


def test_a_refund_reads_its_amounts_exactly_and_leaves_the_fees_out():
    refund = refunds.parse_refund(transaction(charges=(("Principal", "-16.66"), ("Tax", "-3.33"),
                                                       ("ShippingCharge", "-4.15"), ("ShippingTax", "-0.83"))))
    assert refund.total == D("-24.97") and refund.items[0].sku == "KW-1" and refund.items[0].quantity == 1
    assert refunds.refund_of(refunds.refund_json(refund)) == refund


@pytest.mark.parametrize(("change", "says"), [
    (lambda t: t.pop("relatedIdentifiers"), "names no ORDER_ID"),
    (lambda t: t["totalAmount"].update(currencyCode="EURO"), "ISO 4217"),
    (lambda t: t["items"][0]["breakdowns"][0]["breakdowns"][0].update(breakdownAmount=_money("-1.005")),
     "more decimals"),
    (lambda t: t.update(postedDate="yesterday"), "postedDate"),
])
def test_a_transaction_that_cannot_be_read_says_why(change, says):
    broken = transaction()
    change(broken)
    with pytest.raises(InvalidTransaction, match=says):
        refunds.parse_refund(broken)


def test_a_refund_is_credited_on_the_invoice_that_carried_the_item_and_names_it():
    invoice = _invoice()
    refund = refunds.parse_refund(transaction())
    shares, unmatched = credit_notes.split(refund, [invoice])
    assert not unmatched and [s.invoice.number for s in shares] == ["INV-2026-000007"]
    note = credit_notes.build_credit_note(shares[0], refund, profile(), TODAY, "refund#RF-1#INV-2026-000007")
    assert note.kind is rules.DocumentType.CREDIT_NOTE and note.corrects == "INV-2026-000007"
    assert note.total == D("-19.99") and note.lines[0].rate == D("20") and note.attention is None
    assert note.series_id == "CN-2026" and note.transaction_id == "RF-1"


def test_a_refund_of_the_later_package_corrects_the_later_invoice():
    first, second = _invoice("INV-2026-000001"), replace(_invoice("INV-2026-000002", source="package#2",
                                                                  before={"1": 1}), issue_date=TODAY.replace(day=21))
    shares, _ = credit_notes.split(refunds.parse_refund(transaction()), [first, second])
    assert [s.invoice.number for s in shares] == ["INV-2026-000002"]


def test_a_refund_of_an_item_no_invoice_carries_waits():
    _, unmatched = credit_notes.split(refunds.parse_refund(transaction(sku="OTHER", asin="B0OTHER000")), [_invoice()])
    assert unmatched == ["OTHER"]


def test_a_refund_larger_than_the_invoice_line_is_flagged():
    refund = refunds.parse_refund(transaction(charges=(("Principal", "-50.00"), ("Tax", "-10.00"))))
    shares, _ = credit_notes.split(refund, [_invoice()])
    note = credit_notes.build_credit_note(shares[0], refund, profile(), TODAY, "refund#RF-1#x")
    assert note.attention and "more" in note.attention


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 4000), st.integers(0, 800))
def test_a_credit_note_totals_what_amazon_refunded_to_the_cent(principal_cents, shipping_cents):
    principal = D(principal_cents) / 100
    tax = (principal * D("0.2")).quantize(D("0.01"))
    shipping = D(shipping_cents) / 100
    charges = (("Principal", str(-principal)), ("Tax", str(-tax)), ("ShippingCharge", str(-shipping)),
               ("ShippingTax", str(-(shipping * D("0.2")).quantize(D("0.01")))))
    refund = refunds.parse_refund(transaction(charges=charges))
    shares, _ = credit_notes.split(refund, [_invoice()])
    note = credit_notes.build_credit_note(shares[0], refund, profile(), TODAY, "refund#RF-1#x")
    assert note.total == refund.total
    assert sum(n + t for _, n, t in note.vat_by_rate()) == note.total


def test_a_transaction_update_names_the_seller_order_and_kind():
    from infra.local.amazon.finances import notification_of

    notice = refunds.parse_notice(notification_of("A1SELLER", transaction()), "TRANSACTION_UPDATE x")
    assert (notice.seller_id, notice.order_id, notice.transaction_type) == ("A1SELLER", "171-1234567-1234567",
                                                                            "Refund")
    assert notice.posted_at == datetime(2026, 11, 22, 10, tzinfo=UTC)


# --- uploads ----------------------------------------------------------------------------------

def test_an_uploads_metadata_is_what_amazon_asks_with_positive_totals():
    invoice = _invoice()
    assert upload.feed_options(invoice) == {
        "metadata:orderid": "171-1234567-1234567", "metadata:invoicenumber": "INV-2026-000007",
        "metadata:documenttype": "Invoice", "metadata:totalamount": "22.49", "metadata:totalvatamount": "3.75"}
    note = replace(invoice, kind=rules.DocumentType.CREDIT_NOTE, number="CN-2026-000001", transaction_id="RF-1",
                   lines=tuple(replace(x, net=-x.net, tax=-x.tax) for x in invoice.lines))
    options = upload.feed_options(note)
    assert options["metadata:documenttype"] == "CreditNote" and options["metadata:transactionid"] == "RF-1"
    assert options["metadata:totalamount"] == "22.49"


def test_amazons_processing_reports_are_read_as_amazon_writes_them():
    ok = ("Feed Processing Summary:\n\tNumber of records processed\t\t1\n\tNumber of records successful\t\t1\n")
    assert upload.parse_report(ok).accepted
    refused = ("Feed Processing Summary:\n\tNumber of records processed\t\t1\n\tNumber of records successful\t\t0\n\n"
               "original-record-number\tsku\terror-code\terror-type\terror-message\n"
               "1\t\t79525\tError\tAmazon will generate invoice for shipmentId N/A, orderId N/A\n")
    report = upload.parse_report(refused)
    assert not report.accepted and report.errors == (("79525", "Amazon will generate invoice for shipmentId N/A, "
                                                                "orderId N/A"),)
    assert "vcsMarketplaces" in (upload.explanation(report, "DONE") or "")
    garbled = upload.parse_report("<html>oops</html>")
    assert not garbled.accepted and "unreadable" in garbled.errors[0][1]
    assert "FATAL" in (upload.explanation(upload.Report(1, 0, ()), "FATAL") or "")


@pytest.mark.parametrize("identifiers", [True, "OrderId", [{"RelatedIdentifierName": "OrderId"}] * 21])
def test_a_transaction_update_with_unreadable_identifiers_is_refused_with_a_reason(identifiers):
    from chalicelib.core.errors import InvalidNotification
    from infra.local.amazon.finances import notification_of

    payload = notification_of("A1SELLER", transaction())
    payload["TransactionUpdateNotification"]["RelatedIdentifiers"] = identifiers
    with pytest.raises(InvalidNotification, match="RelatedIdentifiers"):
        refunds.parse_notice(payload, "TRANSACTION_UPDATE x")
