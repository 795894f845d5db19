"""The PDFs: every mandatory mention is printed (read back from the PDF's text), the bytes are the
same for the same document, long orders flow onto more pages with the table's header repeated."""
from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal as D

import pytest

from chalicelib.flows.invoices import pdf, rules
from tests.unit.invoices.builders import DE_MARKETPLACE, buyer, item, order, profile, supply
from tests.unit.invoices.test_rules import TODAY

pypdf = pytest.importorskip("pypdf")


def _text(body: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(body)).pages]


def _numbered(doc: rules.Document, sequence: int = 42) -> rules.Document:
    return replace(doc, number=rules.Series().number(doc.series_id, sequence))


def german_business_invoice() -> tuple[rules.Document, rules.Buyer]:
    customer = buyer("DE", "DE123456789", "Keller Haustechnik GmbH")
    doc = rules.build_invoice(order(item(quantity=2, net="75.55", tax="0.00", shipping_net="4.20"),
                                    item("2", net="29.40", tax="0.00"), marketplace=DE_MARKETPLACE, business=True),
                              supply({"1": 2, "2": 1}), profile(), customer, TODAY)
    return _numbered(doc), customer


def french_consumer_invoice() -> tuple[rules.Document, rules.Buyer]:
    customer = buyer()
    doc = rules.build_invoice(order(item(net="16.66", tax="3.33", shipping_net="4.15", shipping_tax="0.83",
                                         discount_net="-1.67", discount_tax="-0.33")),
                              supply({"1": 1}), profile(), customer, TODAY)
    return _numbered(doc, 7), customer


def test_a_german_reverse_charge_invoice_carries_every_mandatory_mention():
    doc, customer = german_business_invoice()
    text = " ".join(_text(pdf.render(doc, customer)))
    for expected in ("RECHNUNG", "INV-2026-000042", "Rechnungsdatum 20.11.2026", "Lieferdatum 20.11.2026",
                     "Kestrelwood SAS", "12 rue des Tilleuls", "69003 Lyon", "USt-IdNr.: FR40303265045",
                     "Camille Moreau", "Keller Haustechnik GmbH", "USt-IdNr. des Kunden: DE123456789",
                     "Product 1", "SKU KW-1", "ASIN B0ASIN0001", "37,775 €", "75,55 €", "Versandkosten", "4,20 €",
                     "0 %", "Nettobetrag", "Summe netto 109,15 €", "Summe USt. 0,00 €", "Gesamtbetrag 109,15 €",
                     "Steuerfreie innergemeinschaftliche Lieferung (Art. 138 MwStSystRL; article 262 ter I du CGI)",
                     "Steuerschuldnerschaft des Leistungsempfängers", "Amazon-Bestellung 171-1234567-1234567",
                     "Pauschale Entschädigung für Beitreibungskosten: 40 EUR", "SIREN 303265045",
                     "SIRET 30326504500011", "Stammkapital 50 000 €", "RCS Lyon B 303 265 045", "Seite 1 von 1"):
        assert expected in text, expected


def test_a_french_consumer_invoice_carries_the_french_identifiers_and_vat_per_rate():
    doc, customer = french_consumer_invoice()
    text = " ".join(_text(pdf.render(doc, customer)))
    for expected in ("FACTURE", "INV-2026-000007", "Date d'émission 20/11/2026", "Date de livraison 20/11/2026",
                     "N° TVA intracommunautaire: FR40303265045", "Frais de port", "Remise", "-1,67 €", "20 %",
                     "Base HT", "Total HT 19,14 €", "Total TVA 3,83 €", "Total TTC 22,97 €", "SAS",
                     "au capital de 50 000 €", "SIREN 303265045", "Payée via Amazon.", "Page 1 sur 1"):
        assert expected in text, expected
    assert "Autoliquidation" not in text


def test_a_credit_note_names_the_invoice_it_corrects():
    doc, customer = french_consumer_invoice()
    note = replace(doc, kind=rules.DocumentType.CREDIT_NOTE, number="CN-2026-000001", corrects=doc.number,
                   corrects_date=TODAY, lines=tuple(replace(x, net=-x.net, tax=-x.tax) for x in doc.lines))
    text = " ".join(_text(pdf.render(note, customer)))
    assert "AVOIR" in text and "corrige la facture n° INV-2026-000007 du 20/11/2026" in text
    assert "Total TTC -22,97 €" in text


def test_the_same_document_gives_the_same_bytes():
    doc, customer = german_business_invoice()
    assert pdf.render(doc, customer) == pdf.render(doc, customer)


def test_a_long_order_flows_onto_more_pages_with_the_header_repeated():
    items = tuple(item(str(n), net="10.00", tax="2.00") for n in range(1, 61))
    doc = _numbered(rules.build_invoice(order(*items), supply({str(n): 1 for n in range(1, 61)}), profile(),
                                        buyer(), TODAY))
    pages = _text(pdf.render(doc, buyer()))
    assert len(pages) >= 2
    assert all("Désignation" in page for page in pages[:-1])
    assert f"Page {len(pages)} sur {len(pages)}" in pages[-1] and "Total TTC 720,00 €" in pages[-1]


def test_a_logo_is_drawn():
    import base64

    doc, customer = french_consumer_invoice()
    logo = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
                            "awAAAABJRU5ErkJggg==")
    assert b"/Subtype /Image" in pdf.render(doc, customer, logo)


def test_euro_and_accents_need_no_core_font():
    doc, customer = french_consumer_invoice()
    doc = replace(doc, lines=(replace(doc.lines[0], description="Poêle en fonte 28 cm — émaillée, 2 × ½ kg"),
                              *doc.lines[1:]))
    assert "Poêle en fonte 28 cm — émaillée, 2 × ½ kg" in " ".join(_text(pdf.render(doc, customer)))
    assert D("0") == D(0)
