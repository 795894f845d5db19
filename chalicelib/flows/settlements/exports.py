"""A settlement's journal as files an accountant imports (pure): a plain CSV, Xero's manual
journal CSV, QuickBooks Online's journal entry CSV and the French FEC.

    csv   one line per journal line: settlement, entry, date, account, name, tax code, debit, credit
    xero  Xero's manual journal template: *Narration, *Date (dd/mm/yyyy), Description, *AccountCode,
          *TaxRate, *Amount (a debit positive, a credit negative); the lines of one narration and
          date are one journal
    qbo   QuickBooks Online's journal entry import: Journal No, Journal Date (MM/DD/YYYY), Currency,
          Memo, Account Name (QBO matches accounts by name), Debits, Credits, Description
    fec   the Fichier des Écritures Comptables (article A47 A-1 of the Livre des procédures
          fiscales): its 18 columns in their order, tab separated, dates YYYYMMDD, amounts with a
          decimal comma; kept in euros, so a settlement in another currency is refused

Lines of zero are left out of the imports (the plain CSV keeps the rounding line, always). A
posted entry carries its number in the seller's journal (FEC EcritureNum, QBO Journal No): one
sequence per seller without a gap, in the order settlements are posted.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from chalicelib.flows.settlements.journal import ROUNDING, Chart, Journal
from chalicelib.flows.settlements.parsing import Head

FORMATS = ("csv", "xero", "qbo", "fec")
FEC_COLUMNS = ("JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
               "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit",
               "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise")
XERO_COLUMNS = ("*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount",
                "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2")
QBO_COLUMNS = ("Journal No", "Journal Date", "Currency", "Memo", "Account Name", "Debits", "Credits",
               "Description")
CSV_COLUMNS = ("settlement_id", "entry", "date", "account", "account_name", "tax_code", "debit", "credit",
               "currency", "label")


class NotExportable(ValueError):
    """This journal cannot be written in this format (the reason says why)."""


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    text: str


def _writer(delimiter: str = ",") -> tuple[io.StringIO, Callable[..., object]]:
    out = io.StringIO()
    return out, csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerow


def export(fmt: str, head: Head, journal: Journal, chart: Chart, seller_id: str, posted_on: date,
           siren: str | None = None) -> Export:
    if fmt not in FORMATS:
        raise NotExportable(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    return {"csv": _plain, "xero": _xero, "qbo": _qbo, "fec": _fec}[fmt](head, journal, chart, seller_id,
                                                                        posted_on, siren)


def _plain(head: Head, journal: Journal, chart: Chart, seller_id: str, posted_on: date,
           siren: str | None) -> Export:
    out, row = _writer()
    row(CSV_COLUMNS)
    for entry in journal.entries:
        for line in entry.lines:
            if not line.amount and line.label != ROUNDING:
                continue
            row((head.settlement_id, entry.index, entry.on.isoformat(), line.account.code, line.account.name,
                 line.account.tax_code, f"{line.debit:.2f}", f"{line.credit:.2f}", journal.currency, line.label))
    return Export(f"settlement-{head.settlement_id}-journal.csv", "text/csv; charset=utf-8", out.getvalue())


def _xero(head: Head, journal: Journal, chart: Chart, seller_id: str, posted_on: date,
          siren: str | None) -> Export:
    out, row = _writer()
    row(XERO_COLUMNS)
    for entry in journal.entries:
        for line in entry.lines:
            if line.amount:
                row((entry.label, entry.on.strftime("%d/%m/%Y"), line.label, line.account.code,
                     line.account.tax_code, f"{line.amount:.2f}", "", "", "", ""))
    return Export(f"settlement-{head.settlement_id}-xero-manual-journal.csv", "text/csv; charset=utf-8",
                  out.getvalue())


def _qbo(head: Head, journal: Journal, chart: Chart, seller_id: str, posted_on: date,
         siren: str | None) -> Export:
    out, row = _writer()
    row(QBO_COLUMNS)
    for entry in journal.entries:
        number = f"{chart.journal_code}-{entry.number}" if entry.number else f"AMZ-{head.settlement_id}-{entry.index}"
        for line in entry.lines:
            if line.amount:
                row((number, entry.on.strftime("%m/%d/%Y"), journal.currency, entry.label, line.account.name,
                     f"{line.debit:.2f}" if line.debit else "", f"{line.credit:.2f}" if line.credit else "",
                     line.label))
    return Export(f"settlement-{head.settlement_id}-qbo-journal-entries.csv", "text/csv; charset=utf-8",
                  out.getvalue())


def _comma(amount: object) -> str:
    return f"{amount:.2f}".replace(".", ",")


def _fec(head: Head, journal: Journal, chart: Chart, seller_id: str, posted_on: date,
         siren: str | None) -> Export:
    if journal.currency != "EUR":
        raise NotExportable(f"the FEC is kept in euros and this settlement is in {journal.currency}: export it as "
                            "csv, xero or qbo, or convert it in your accounting software")
    out, row = _writer("\t")
    row(FEC_COLUMNS)
    for entry in journal.entries:
        number = str(entry.number) if entry.number else f"{head.settlement_id}-{entry.index}"
        for line in entry.lines:
            if line.amount:
                row((chart.journal_code, chart.journal_name, number, entry.on.strftime("%Y%m%d"), line.account.code,
                     line.account.name, "", "", head.settlement_id, head.deposit_date.strftime("%Y%m%d"),
                     _fec_text(line.label), _comma(line.debit), _comma(line.credit), "", "",
                     posted_on.strftime("%Y%m%d"), "", ""))
    closing = head.end.strftime("%Y%m%d")
    return Export(f"{siren or seller_id}FEC{closing}.txt", "text/plain; charset=utf-8", out.getvalue())


def _fec_text(text: str) -> str:
    """A FEC field holds no tab and no line break."""
    return " ".join(text.split())
