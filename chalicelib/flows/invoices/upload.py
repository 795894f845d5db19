"""Uploading a document to Amazon (`UPLOAD_VAT_INVOICE`), pure: the feed's metadata, Amazon's
processing report read, its errors said in plain words, and the states of an upload.

    not sent ──upload task──▶ submitted ──FEED_PROCESSING_FINISHED──▶ accepted | rejected
         │ (held: the document needs a person, or Amazon's VCS issues the invoices there)
         └─ POST /invoices/{number}/upload sends it (again) after a fix

A document Amazon has not accepted by the end of the next business day after its shipment or
refund is late: counted in /health, listed, a metric.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.flows.invoices.rules import Document, DocumentType

FEED_TYPE = "UPLOAD_VAT_INVOICE"

NOT_SENT, SUBMITTED, ACCEPTED, REJECTED, HELD = "not sent", "submitted", "accepted", "rejected", "held"
STATUSES = (NOT_SENT, HELD, SUBMITTED, ACCEPTED, REJECTED)


def amount(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def feed_options(doc: Document) -> dict[str, str]:
    """The metadata Amazon needs with the PDF (its documentation's keys). Amounts are what the
    buyer paid (a credit note's: what was refunded), positive, to the cent."""
    assert doc.number is not None
    options = {"metadata:orderid": doc.order_id, "metadata:invoicenumber": doc.number,
               "metadata:documenttype": doc.kind.amazon,
               "metadata:totalamount": amount(abs(doc.total)), "metadata:totalvatamount": amount(abs(doc.total_tax))}
    if doc.kind is DocumentType.CREDIT_NOTE and doc.transaction_id:
        options["metadata:transactionid"] = doc.transaction_id
    return options


@dataclass(frozen=True)
class Report:
    processed: int
    successful: int
    errors: tuple[tuple[str, str], ...]  # (code, Amazon's message)

    @property
    def accepted(self) -> bool:
        return self.processed > 0 and self.successful == self.processed and not self.errors


_COUNT = re.compile(r"Number of records (processed|successful)\s+(\d+)", re.IGNORECASE)


def parse_report(text: str) -> Report:
    """Amazon's processing report for a feed (the text summary, then a tab-separated table of
    errors). Anything else is read as a report of one record that failed, with its first line."""
    counts = {kind.lower(): int(value) for kind, value in _COUNT.findall(text)}
    errors = []
    header: list[str] | None = None
    for line in text.splitlines():
        cells = line.split("\t")
        if "error-code" in cells:
            header = cells
            continue
        if header is not None and len(cells) >= len(header) - 1 and line.strip():
            row = dict(zip(header, cells, strict=False))
            if (row.get("error-type") or "Error").strip().lower() == "error":
                errors.append(((row.get("error-code") or "").strip(),
                               (row.get("error-message") or "").strip()[:300]))
    if "processed" not in counts:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "an empty report")
        return Report(1, 0, (("", f"unreadable processing report: {first[:200]}"),))
    return Report(counts["processed"], counts.get("successful", 0), tuple(errors))


# Amazon's upload errors (its VAT Calculation Service documentation), and what to do.
EXPLANATIONS = {
    "79509": "Amazon does not let this account upload invoices (VCS without the self-invoicing option): ask "
             "Seller Support to enable invoice uploads.",
    "79513": "Amazon wants metadata the upload lacked; this is a bug of sellerops if it happens: report it.",
    "79517": "Amazon does not know the order for this seller, or it has not shipped yet: check the order in "
             "Seller Central; send it again once it has shipped.",
    "79523": "Invoices can only be uploaded in Amazon's EU and UK marketplaces, one marketplace per document.",
    "79525": "Amazon's VAT Calculation Service (VCS) issues the invoices in this marketplace for this seller: add "
             "the marketplace to the profile's vcsMarketplaces, and sellerops issues none there.",
    "79531": "Amazon takes the document types Invoice and CreditNote only.",
    "79503": "Amazon received a file that is not a PDF.",
    "79540": "Amazon received no file with the upload: send it again.",
    "79544": "Amazon received no file with the credit note's upload: send it again.",
    "79532": "The total differs from what Amazon charged for the shipment, to the cent: a person must compare "
             "the invoice with the order in Seller Central, then correct it with a credit note.",
}


def explanation(report: Report, processing_status: str) -> str | None:
    """What a person should do about a document Amazon did not accept."""
    if processing_status in ("CANCELLED", "FATAL"):
        return (f"Amazon could not process the upload ({processing_status}): send it again with POST "
                "/invoices/{number}/upload")
    if report.accepted:
        return None
    code = report.errors[0][0] if report.errors else ""
    return EXPLANATIONS.get(code, "Amazon refused the document; its message says why. Fix the cause, then send it "
                                  "again with POST /invoices/{number}/upload")
