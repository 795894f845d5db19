"""The words, money and dates of a document in its marketplace's language (pure).

English, French, German, Italian and Spanish; a marketplace of another language gets English.
Mentions cite the VAT Directive (2006/112/EC), as art. 226(11) allows, and the seller's national
provision where we know it.
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

LANGUAGES = ("en", "fr", "de", "it", "es")

_WORDS: dict[str, dict[str, str]] = {
    "invoice": {"en": "Invoice", "fr": "Facture", "de": "Rechnung", "it": "Fattura", "es": "Factura"},
    "credit_note": {"en": "Credit note", "fr": "Avoir", "de": "Gutschrift", "it": "Nota di credito",
                    "es": "Factura rectificativa"},
    "number": {"en": "Number", "fr": "Numéro", "de": "Rechnungsnummer", "it": "Numero", "es": "Número"},
    "issue_date": {"en": "Issue date", "fr": "Date d'émission", "de": "Rechnungsdatum", "it": "Data di emissione",
                   "es": "Fecha de expedición"},
    "supply_date": {"en": "Date of supply", "fr": "Date de livraison", "de": "Lieferdatum",
                    "it": "Data di consegna", "es": "Fecha de entrega"},
    "refund_date": {"en": "Refund date", "fr": "Date du remboursement", "de": "Erstattungsdatum",
                    "it": "Data del rimborso", "es": "Fecha del reembolso"},
    "order": {"en": "Amazon order", "fr": "Commande Amazon", "de": "Amazon-Bestellung", "it": "Ordine Amazon",
              "es": "Pedido de Amazon"},
    "seller": {"en": "Seller", "fr": "Vendeur", "de": "Verkäufer", "it": "Venditore", "es": "Vendedor"},
    "buyer": {"en": "Bill to", "fr": "Facturé à", "de": "Rechnungsempfänger", "it": "Intestatario",
              "es": "Facturar a"},
    "vat_number": {"en": "VAT number", "fr": "N° TVA intracommunautaire", "de": "USt-IdNr.", "it": "Partita IVA",
                   "es": "NIF-IVA"},
    "buyer_vat_number": {"en": "Customer VAT number", "fr": "N° TVA du client", "de": "USt-IdNr. des Kunden",
                         "it": "Partita IVA del cliente", "es": "NIF-IVA del cliente"},
    "description": {"en": "Description", "fr": "Désignation", "de": "Beschreibung", "it": "Descrizione",
                    "es": "Descripción"},
    "quantity": {"en": "Qty", "fr": "Qté", "de": "Menge", "it": "Qtà", "es": "Cant."},
    "unit_net": {"en": "Unit price excl. VAT", "fr": "Prix unitaire HT", "de": "Einzelpreis netto",
                 "it": "Prezzo unit. netto", "es": "Precio unit. sin IVA"},
    "rate": {"en": "VAT", "fr": "TVA", "de": "USt.", "it": "IVA", "es": "IVA"},
    "line_net": {"en": "Total excl. VAT", "fr": "Total HT", "de": "Gesamt netto", "it": "Totale netto",
                 "es": "Total sin IVA"},
    "shipping": {"en": "Shipping", "fr": "Frais de port", "de": "Versandkosten", "it": "Spedizione",
                 "es": "Gastos de envío"},
    "gift_wrap": {"en": "Gift wrap", "fr": "Emballage cadeau", "de": "Geschenkverpackung",
                  "it": "Confezione regalo", "es": "Envoltorio de regalo"},
    "promotion": {"en": "Promotion", "fr": "Remise", "de": "Rabatt", "it": "Sconto", "es": "Descuento"},
    "vat_summary": {"en": "VAT summary", "fr": "Récapitulatif TVA", "de": "Umsatzsteuer", "it": "Riepilogo IVA",
                    "es": "Resumen de IVA"},
    "taxable": {"en": "Taxable amount", "fr": "Base HT", "de": "Nettobetrag", "it": "Imponibile",
                "es": "Base imponible"},
    "vat_amount": {"en": "VAT amount", "fr": "Montant TVA", "de": "USt.-Betrag", "it": "Imposta",
                   "es": "Cuota de IVA"},
    "total_net": {"en": "Total excl. VAT", "fr": "Total HT", "de": "Summe netto", "it": "Totale imponibile",
                  "es": "Total base imponible"},
    "total_tax": {"en": "Total VAT", "fr": "Total TVA", "de": "Summe USt.", "it": "Totale IVA",
                  "es": "Total IVA"},
    "total": {"en": "Total", "fr": "Total TTC", "de": "Gesamtbetrag", "it": "Totale", "es": "Total"},
    "paid": {"en": "Paid through Amazon.", "fr": "Payée via Amazon.", "de": "Bezahlt über Amazon.",
             "it": "Pagata tramite Amazon.", "es": "Pagada a través de Amazon."},
    "page": {"en": "Page", "fr": "Page", "de": "Seite", "it": "Pagina", "es": "Página"},
    "of": {"en": "of", "fr": "sur", "de": "von", "it": "di", "es": "de"},
    "siren": {"en": "SIREN", "fr": "SIREN", "de": "SIREN", "it": "SIREN", "es": "SIREN"},
    "siret": {"en": "SIRET", "fr": "SIRET", "de": "SIRET", "it": "SIRET", "es": "SIRET"},
    "share_capital": {"en": "share capital", "fr": "au capital de", "de": "Stammkapital", "it": "capitale sociale",
                      "es": "capital social"},
    "rcs": {"en": "RCS", "fr": "RCS", "de": "RCS", "it": "RCS", "es": "RCS"},
    "sku": {"en": "SKU", "fr": "SKU", "de": "SKU", "it": "SKU", "es": "SKU"},
    "asin": {"en": "ASIN", "fr": "ASIN", "de": "ASIN", "it": "ASIN", "es": "ASIN"},
}

_MENTIONS: dict[str, dict[str, str]] = {
    "reverse_charge": {
        "en": "Exempt intra-Community supply of goods (Article 138 of Directive 2006/112/EC{law}). Reverse charge: "
              "VAT is to be accounted for by the customer.",
        "fr": "Exonération de TVA, livraison intracommunautaire de biens (article 138 de la directive "
              "2006/112/CE{law}). Autoliquidation : TVA due par le preneur.",
        "de": "Steuerfreie innergemeinschaftliche Lieferung (Art. 138 MwStSystRL{law}). "
              "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge).",
        "it": "Cessione intracomunitaria non imponibile (art. 138 direttiva 2006/112/CE{law}). "
              "Inversione contabile: imposta dovuta dal cessionario.",
        "es": "Entrega intracomunitaria exenta (art. 138 Directiva 2006/112/CE{law}). "
              "Inversión del sujeto pasivo: el IVA lo declara el destinatario.",
    },
    "export": {
        "en": "Export of goods outside the European Union, exempt from VAT (Article 146 of Directive "
              "2006/112/EC{law}).",
        "fr": "Exportation hors de l'Union européenne, exonérée de TVA (article 146 de la directive "
              "2006/112/CE{law}).",
        "de": "Steuerfreie Ausfuhrlieferung in ein Drittland (Art. 146 MwStSystRL{law}).",
        "it": "Esportazione fuori dall'Unione europea, non imponibile IVA (art. 146 direttiva "
              "2006/112/CE{law}).",
        "es": "Exportación fuera de la Unión Europea, exenta de IVA (art. 146 Directiva "
              "2006/112/CE{law}).",
    },
    "oss": {
        "en": "Distance sale: VAT of the country of destination, declared through the One-Stop Shop (OSS).",
        "fr": "Vente à distance : TVA du pays de destination, déclarée via le guichet unique (OSS).",
        "de": "Fernverkauf: Umsatzsteuer des Bestimmungslandes, erklärt über den One-Stop-Shop (OSS).",
        "it": "Vendita a distanza: IVA del paese di destinazione, dichiarata tramite lo sportello unico (OSS).",
        "es": "Venta a distancia: IVA del país de destino, declarado a través de la ventanilla única (OSS).",
    },
    "fr_b2b_payment": {
        "en": "Late payment penalties: {rate}. Fixed indemnity for recovery costs: EUR 40 (art. L441-10 of the "
              "French Commercial Code). No discount for early payment.",
        "fr": "Pénalités de retard : {rate}. Indemnité forfaitaire pour frais de recouvrement : 40 € (art. L441-10 "
              "du Code de commerce). Pas d'escompte pour paiement anticipé.",
        "de": "Verzugszinsen: {rate}. Pauschale Entschädigung für Beitreibungskosten: 40 EUR (Art. L441-10 "
              "Code de commerce). Kein Skonto bei vorzeitiger Zahlung.",
        "it": "Penali di mora: {rate}. Indennità forfettaria per spese di recupero: 40 EUR (art. L441-10 Code de "
              "commerce). Nessuno sconto per pagamento anticipato.",
        "es": "Penalizaciones por demora: {rate}. Indemnización fija por costes de cobro: 40 EUR (art. L441-10 "
              "Code de commerce). Sin descuento por pronto pago.",
    },
    "credit_note_of": {
        "en": "This credit note corrects invoice {number} of {date}.",
        "fr": "Cet avoir annule et corrige la facture n° {number} du {date}.",
        "de": "Diese Gutschrift korrigiert die Rechnung Nr. {number} vom {date}.",
        "it": "Questa nota di credito rettifica la fattura n. {number} del {date}.",
        "es": "Esta factura rectificativa corrige la factura n.º {number} de {date}.",
    },
}

# The seller's own national provision, added after the Directive's (art. 226(11) accepts either).
NATIONAL = {
    "reverse_charge": {"FR": "article 262 ter I du CGI", "DE": "§ 4 Nr. 1b UStG", "IT": "art. 41 D.L. 331/1993",
                       "ES": "art. 25 Ley 37/1992"},
    "export": {"FR": "article 262 I du CGI", "DE": "§ 4 Nr. 1a UStG", "IT": "art. 8 D.P.R. 633/1972",
               "ES": "art. 21 Ley 37/1992"},
}

LATE_PAYMENT_DEFAULT = {
    "en": "three times the French legal interest rate", "fr": "trois fois le taux d'intérêt légal",
    "de": "das Dreifache des französischen gesetzlichen Zinssatzes",
    "it": "tre volte il tasso di interesse legale francese", "es": "tres veces el tipo de interés legal francés",
}


def language(code: str) -> str:
    return code if code in LANGUAGES else "en"


def word(key: str, lang: str) -> str:
    return _WORDS[key][language(lang)]


def mention(key: str, lang: str, seller_country: str = "", **values: str) -> str:
    national = NATIONAL.get(key, {}).get(seller_country)
    return _MENTIONS[key][language(lang)].format(law=f"; {national}" if national else "", **values)


_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "PLN": "zł", "SEK": "kr", "TRY": "₺", "CHF": "CHF"}


def _grouped(amount: Decimal, thousands: str, decimal_mark: str, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    text = f"{abs(amount.quantize(quantum, rounding=ROUND_HALF_UP)):.{places}f}"
    whole, _, fraction = text.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    sign = "-" if amount < 0 and amount.quantize(quantum) != 0 else ""
    return sign + thousands.join(groups) + (decimal_mark + fraction if fraction else "")


def money(amount: Decimal, currency: str, lang: str, places: int = 2) -> str:
    """`1 234,56 €` (fr), `1.234,56 €` (de, it, es), `€1,234.56` (en)."""
    lang = language(lang)
    symbol = _SYMBOLS.get(currency, currency)
    if lang == "en":
        text = _grouped(amount, ",", ".", places)
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        return f"{sign}{symbol}{digits}" if len(symbol) == 1 else f"{sign}{digits} {symbol}"
    thousands = "\u202f" if lang == "fr" else "."
    return f"{_grouped(amount, thousands, ',', places)}\u00a0{symbol}"


def number(amount: Decimal, lang: str) -> str:
    """A plain number (a rate, a unit price with more decimals) in the language's notation."""
    text = format(amount.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if language(lang) == "en" else text.replace(".", ",")


def percent(rate: Decimal | None, lang: str) -> str:
    if rate is None:
        return "?"
    return f"{number(rate, lang)}\u00a0%" if language(lang) in ("fr", "de") else f"{number(rate, lang)}%"


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def day(moment: date, lang: str) -> str:
    lang = language(lang)
    if lang == "de":
        return moment.strftime("%d.%m.%Y")
    if lang == "en":
        return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"
    return moment.strftime("%d/%m/%Y")
