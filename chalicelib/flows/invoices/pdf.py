"""A document as a PDF (fpdf2): A4, one page for a usual order, more pages with the table's
header repeated when the lines overflow, the seller's legal identifiers and the page number in
every page's footer.

The bytes are deterministic for the same document (the creation date is its issue date, the
file id a hash of the content), so a re-render after a crash is the same file, and tests compare.
The bundled DejaVu Sans (fonts/, with its licence) prints accents and €. Parsing a TrueType font
costs ~100 ms, so each font is parsed once per container and each PDF gets a fresh copy of the
parsed font's tables (fpdf2 subsets the font in place when it writes a file).
"""
from __future__ import annotations

import copy
import io
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.flows.invoices import labels
from chalicelib.flows.invoices.rules import Buyer, Document, DocumentType

FONTS = Path(__file__).parent / "fonts"
FAMILY = "DejaVu"
_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
GREY = (90, 90, 90)
RULE = (200, 200, 200)
SHADE = (242, 242, 242)


@cache
def _parsed() -> dict[str, tuple[Any, bytes]]:
    """Each font, parsed once per container: (fpdf2's font object, the file's bytes)."""
    from fpdf import FPDF

    probe = FPDF()
    found = {}
    for style, name in _FILES.items():
        path = FONTS / name
        probe.add_font(FAMILY, style, str(path))
        found[style] = (probe.fonts[f"{FAMILY.lower()}{style}"], path.read_bytes())
    return found


def _add_fonts(pdf: Any) -> None:
    from fontTools import ttLib
    from fpdf.fonts import SubsetMap

    for font, data in _parsed().values():
        clone = copy.copy(font)
        clone.i = len(pdf.fonts) + 1
        clone.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
        clone.missing_glyphs = []
        clone.biggest_size_pt = 0
        clone._hbfont = None
        clone.subset = SubsetMap(clone)
        pdf.fonts[clone.fontkey] = clone


def _document_class() -> Any:
    from fpdf import FPDF

    class DocumentPdf(FPDF):
        legal_lines: tuple[str, ...] = ()
        lang = "en"

        def footer(self) -> None:
            self.set_y(-22)
            self.set_draw_color(*RULE)
            self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
            self.ln(1.5)
            self.set_font(FAMILY, "", 7)
            self.set_text_color(*GREY)
            for line in self.legal_lines:
                self.cell(0, 3.4, line, align="C", new_x="LMARGIN", new_y="NEXT")
            self.set_y(-8)
            self.cell(0, 4, f"{labels.word('page', self.lang)} {self.page_no()} {labels.word('of', self.lang)} "
                            "{nb}", align="R")

    return DocumentPdf


def _legal_lines(doc: Document) -> tuple[str, ...]:
    s, lang = doc.seller, doc.language
    identity = [s.legal_name]
    if s.legal_form and not s.legal_name.endswith(s.legal_form):
        identity.append(s.legal_form)
    if s.share_capital:
        identity.append(f"{labels.word('share_capital', lang)} {s.share_capital}")
    if s.rcs:
        identity.append(f"{labels.word('rcs', lang)} {s.rcs}")
    ids = []
    if s.siren:
        ids.append(f"SIREN {s.siren}")
    if s.siret:
        ids.append(f"SIRET {s.siret}")
    ids.append(f"{labels.word('vat_number', lang)} {s.vat_number}")
    return (" · ".join(identity), " · ".join(ids), *doc.footer)


def render(doc: Document, buyer: Buyer | None, logo_png: bytes | None = None) -> bytes:
    """The document's PDF. Its number must be allocated."""
    if doc.number is None:
        raise ValueError("a document is rendered once numbered")
    lang = doc.language
    money = lambda amount: labels.money(amount, doc.currency, lang)  # noqa: E731
    pdf = _document_class()(format="A4", unit="mm")
    pdf.lang, pdf.legal_lines = lang, _legal_lines(doc)
    pdf.set_creation_date(datetime(doc.issue_date.year, doc.issue_date.month, doc.issue_date.day, tzinfo=UTC))
    kind = labels.word("invoice" if doc.kind is DocumentType.INVOICE else "credit_note", lang)
    pdf.set_title(f"{kind} {doc.number}")
    pdf.set_author(doc.seller.legal_name)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=28)
    _add_fonts(pdf)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    # Seller (left, under the logo) and the document's identity (right).
    top = pdf.get_y()
    if logo_png:
        pdf.image(io.BytesIO(logo_png), x=pdf.l_margin, y=top, h=16, keep_aspect_ratio=True)
        pdf.set_y(top + 19)
    pdf.set_font(FAMILY, "B", 11)
    pdf.cell(95, 5.5, doc.seller.legal_name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 8.5)
    for text in (*doc.seller.address_lines, f"{labels.word('vat_number', lang)}: {doc.seller.vat_number}",
                 *([doc.seller.email] if doc.seller.email else [])):
        pdf.cell(95, 4.2, text, new_x="LMARGIN", new_y="NEXT")
    seller_bottom = pdf.get_y()

    pdf.set_xy(pdf.l_margin + 100, top)
    pdf.set_font(FAMILY, "B", 18)
    pdf.cell(width - 100, 9, kind.upper(), align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FAMILY, "", 9)
    facts = [(labels.word("number", lang), doc.number),
             (labels.word("issue_date", lang), labels.day(doc.issue_date, lang)),
             (labels.word("supply_date" if doc.kind is DocumentType.INVOICE else "refund_date", lang),
              labels.day(doc.supply_date, lang)),
             (labels.word("order", lang), doc.order_id)]
    for label, value in facts:
        pdf.set_x(pdf.l_margin + 100)
        pdf.set_font(FAMILY, "", 8.5)
        pdf.set_text_color(*GREY)
        pdf.cell(38, 5, label, align="R")
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FAMILY, "B", 9)
        pdf.cell(width - 138, 5, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(seller_bottom, pdf.get_y()) + 6)

    # Buyer.
    pdf.set_font(FAMILY, "", 8)
    pdf.set_text_color(*GREY)
    pdf.cell(0, 4.5, labels.word("buyer", lang).upper(), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FAMILY, "B", 10)
    if buyer is not None:
        pdf.cell(0, 5, buyer.name, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "", 9)
        for text in ((buyer.company,) if buyer.company else ()) + buyer.address_lines:
            pdf.cell(0, 4.5, text, new_x="LMARGIN", new_y="NEXT")
        if buyer.vat_number:
            pdf.cell(0, 4.5, f"{labels.word('buyer_vat_number', lang)}: {buyer.vat_number}",
                     new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    # Lines, the header repeated on every page.
    pdf.set_draw_color(*RULE)
    columns = (86.0, 14.0, 30.0, 18.0, width - 148.0)
    aligns = ("L", "R", "R", "R", "R")
    headings = [labels.word(h, lang) for h in ("description", "quantity", "unit_net", "rate", "line_net")]
    _heading_row(pdf, columns, aligns, headings)
    for line in doc.lines:
        if line.kind == "item":
            ids = " · ".join(x for x in (f"SKU {line.sku}" if line.sku else "",
                                         f"ASIN {line.asin}" if line.asin else "") if x)
            pdf.set_font(FAMILY, "", 8.5)
            described = _wrap(pdf, line.description, columns[0] - 2.4)
            small = [ids] if ids else []
        else:
            described, small = [labels.word(line.kind, lang)], []
        height = 4.4 * len(described) + 3.8 * len(small) + 2.4
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
            _heading_row(pdf, columns, aligns, headings)
        top = pdf.get_y()
        pdf.set_font(FAMILY, "", 8.5)
        pdf.set_xy(pdf.l_margin + 1.2, top + 1.2)
        for text in described:
            pdf.cell(columns[0] - 2.4, 4.4, text, new_x="LEFT", new_y="NEXT")
        pdf.set_font(FAMILY, "", 7)
        pdf.set_text_color(*GREY)
        for text in small:
            pdf.cell(columns[0] - 2.4, 3.8, text, new_x="LEFT", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FAMILY, "", 8.5)
        values = (str(line.quantity),
                  labels.money(line.unit_net, doc.currency, lang, places=max(2, _places(line.unit_net))),
                  labels.percent(line.rate, lang), money(line.net))
        x = pdf.l_margin + columns[0]
        for value, column in zip(values, columns[1:], strict=True):
            pdf.set_xy(x, top + 1.2)
            pdf.cell(column - 1.2, 4.4, value, align="R")
            x += column
        pdf.set_y(top + height)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(4)

    # VAT per rate (left) and totals (right).
    block_top = pdf.get_y()
    if block_top > pdf.h - 75:
        pdf.add_page()
        block_top = pdf.get_y()
    pdf.set_font(FAMILY, "B", 8.5)
    pdf.cell(90, 5, labels.word("vat_summary", lang), new_x="LMARGIN", new_y="NEXT")
    vat_columns = (20.0, 35.0, 35.0)
    _heading_row(pdf, vat_columns, ("R", "R", "R"),
                 [labels.word(k, lang) for k in ("rate", "taxable", "vat_amount")])
    pdf.set_font(FAMILY, "", 8.5)
    for rate, net, tax in doc.vat_by_rate():
        for value, column in zip((labels.percent(rate, lang), money(net), money(tax)), vat_columns, strict=True):
            pdf.cell(column, 5.5, value, align="R")
        pdf.ln(5.5)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + sum(vat_columns), pdf.get_y())
    after_vat = pdf.get_y()
    pdf.set_xy(pdf.l_margin + width - 80, block_top)
    for key, amount, bold in (("total_net", doc.total_net, False), ("total_tax", doc.total_tax, False),
                              ("total", doc.total, True)):
        pdf.set_x(pdf.l_margin + width - 80)
        pdf.set_font(FAMILY, "B" if bold else "", 11 if bold else 9)
        if bold:
            pdf.set_fill_color(*SHADE)
        pdf.cell(45, 7 if bold else 5.5, labels.word(key, lang), fill=bold)
        pdf.cell(35, 7 if bold else 5.5, money(amount), align="R", fill=bold, new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(pdf.l_margin + width - 80)
    pdf.set_font(FAMILY, "", 8)
    pdf.set_text_color(*GREY)
    if doc.kind is DocumentType.INVOICE:
        pdf.cell(80, 5, labels.word("paid", lang), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_y(max(after_vat, pdf.get_y()) + 6)

    # Mentions.
    pdf.set_font(FAMILY, "", 8.5)
    for text in mentions_text(doc, buyer):
        for piece in _wrap(pdf, text, width, max_lines=12):
            pdf.cell(width, 4.3, piece, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.2)
    return bytes(pdf.output())


def mentions_text(doc: Document, buyer: Buyer | None) -> list[str]:
    """The mentions that apply, worded in the document's language."""
    lang = doc.language
    texts = []
    if doc.kind is DocumentType.CREDIT_NOTE and doc.corrects:
        texts.append(labels.mention("credit_note_of", lang, number=doc.corrects,
                                    date=labels.day(doc.corrects_date, lang) if doc.corrects_date else ""))
    for key in doc.mentions:
        if key == "fr_b2b_payment":
            texts.append(labels.mention(key, lang, rate=doc.late_payment_rate or labels.LATE_PAYMENT_DEFAULT[
                labels.language(lang)]))
        elif key == "reverse_charge":
            numbers = f"{labels.word('vat_number', lang)}: {doc.seller.vat_number}"
            if buyer is not None and buyer.vat_number:
                numbers += f" · {labels.word('buyer_vat_number', lang)}: {buyer.vat_number}"
            texts.append(f"{labels.mention(key, lang, doc.seller.country_code)} {numbers}")
        else:
            texts.append(labels.mention(key, lang, doc.seller.country_code))
    return texts


def _places(amount: Any) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _heading_row(pdf: Any, columns: tuple[float, ...], aligns: tuple[str, ...], headings: list[str]) -> None:
    """The table's header; a heading longer than its column is set smaller (never cut)."""
    pdf.set_fill_color(*SHADE)
    for text, column, align in zip(headings, columns, aligns, strict=True):
        size = 8.0
        pdf.set_font(FAMILY, "B", size)
        while size > 5.5 and pdf.get_string_width(text) > column - 2:
            size -= 0.5
            pdf.set_font(FAMILY, "B", size)
        pdf.cell(column, 6.5, text, align=align, fill=True)
    pdf.ln(6.5)


def _wrap(pdf: Any, text: str, width: float, max_lines: int = 3) -> list[str]:
    """`text` in lines no wider than `width` at the current font (a word longer than a line is
    cut), at most `max_lines` (the last one ends with an ellipsis when more was cut)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if pdf.get_string_width(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while pdf.get_string_width(word) > width:
            cut = len(word)
            while cut > 1 and pdf.get_string_width(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        while lines[-1] and pdf.get_string_width(lines[-1] + "…") > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] += "…"
    return lines or [""]
