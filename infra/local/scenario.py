"""A deterministic demo scenario: Amazon's side of a small EU seller business, from a seed.

`build_scenario(seed)` returns three things:

- `world`: what Amazon knows. Sellers (with their fake LWA refresh tokens) and their orders, each
  order in the Orders API v2026-01-01 `Order` shape, as `getOrder` with every `includedData`
  would return it *now*. The local Amazon simulator serves it; the polling backstop reads it.
- `messages`: the SQS message bodies Amazon pushes for those orders (ORDER_CHANGE notifications,
  in Amazon's PascalCase envelope), in the order the queue delivers them. Delivery is
  at least once and unordered, so there are exact duplicates, late messages, some junk, a
  notification type we do not handle, and a few orders that are never notified at all.
- `expected`: the ground truth a test compares against after ingesting every message.

Everything is stdlib and pure: the same seed and arguments give byte-identical output.

How money is shown (read this before writing invoice or settlement code against it):

- All amounts are `decimal.Decimal`, quantized to the cent, and serialized as strings
  (`{"amount": "12.34", "currencyCode": "EUR"}`), never floats, as the Orders API does.
- `product.price.unitPrice` is the VAT-inclusive shelf price the buyer saw (EU prices to
  consumers always include VAT). For simplicity B2B prices (`priceDesignation` BUSINESS_PRICE)
  are treated the same way: VAT-inclusive, VAT extracted with the same formula.
- VAT is extracted per charge (the item line, its shipping, its discount):
  `tax = gross * rate / (1 + rate)`, rounded half-up to the cent.
- The proceeds breakdowns carry *net* amounts plus a separate TAX line, so that
  ITEM + SHIPPING + DISCOUNT + TAX == proceedsTotal (per item) and == grandTotal (per order),
  exactly, like Amazon's own getOrder example. Amazon does not document whether EU `ITEM`
  subtotals include VAT; this is our reading, chosen so the numbers reconcile.
- Orders ship to the marketplace's own country. A merchant-fulfilled (MFN) order on another
  marketplace than the seller's home one is an intra-EU distance sale: destination VAT, declared
  through the Union one-stop shop, hence `tax.taxCalculationBreakdowns[].reportingScheme = UOSS`.
  B2B merchant-fulfilled orders only happen on the seller's home marketplace, so this demo never
  needs the reverse charge.

Run it: `python -m infra.local.scenario --seed 7 --orders 220 --out DIR` writes
`DIR/world.json`, `DIR/notifications.jsonl` (one message body per line) and `DIR/expected.json`.
"""
from __future__ import annotations

import argparse
import copy
import json
import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# Reference data: marketplaces, people, places, products. All names and streets are invented
# combinations; cities and postal-code formats are real so addresses look plausible.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Marketplace:
    marketplace_id: str
    country: str  # ISO 3166-1 alpha-2, also the delivery country
    name: str  # salesChannel.marketplaceName
    language: str
    currency: str
    vat_rate: Decimal  # standard rate; every product here is standard-rated
    cities: tuple[tuple[str, tuple[str, ...]], ...]  # (city, postal codes seen there)
    streets: tuple[str, ...]
    street_format: str  # how a street line is written in that country
    phone_format: str  # '#' is a random digit
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    company_format: str
    trades: tuple[str, ...]
    carriers: tuple[tuple[str, str, str], ...]  # (carrier, service, tracking format: # digit, @ letter)

    @property
    def email_domain(self) -> str:
        # Amazon relays buyer mail through an anonymized address on the marketplace's domain.
        return "marketplace." + self.name.lower()


DE = Marketplace(
    "A1PA6795UKMFR9", "DE", "Amazon.de", "de", "EUR", Decimal("0.19"),
    (("Berlin", ("10115", "10437", "12043")), ("Hamburg", ("20095", "22767", "22303")),
     ("München", ("80331", "80799", "81371")), ("Köln", ("50667", "50823", "51105")),
     ("Leipzig", ("04109", "04177", "04315")), ("Freiburg im Breisgau", ("79098", "79102", "79117"))),
    ("Lindenweg", "Am Mühlbach", "Birkenstraße", "Gartenstraße", "Kastanienallee", "Schillerring"),
    "{street} {number}", "+49 15# #######",
    ("Anna", "Jonas", "Lea", "Felix", "Marie", "Lukas", "Sophie", "Paul", "Hannah", "Tobias"),
    ("Keller", "Brandt", "Vogel", "Hartmann", "Lorenz", "Seidel", "Franke", "Winter", "Krüger"),
    "{last} {trade} GmbH", ("Haustechnik", "Büroservice", "Gartenbau", "Elektro", "Praxisbedarf"),
    (("DHL", "DHL Paket", "00340434########"), ("DPD", "DPD Classic", "0###########"),
     ("Hermes", "Hermes Paket", "H10##############")),
)
FR = Marketplace(
    "A13V1IB3VIYZZH", "FR", "Amazon.fr", "fr", "EUR", Decimal("0.20"),
    (("Paris", ("75003", "75011", "75018")), ("Lyon", ("69001", "69003", "69007")),
     ("Marseille", ("13001", "13006", "13008")), ("Toulouse", ("31000", "31300", "31500")),
     ("Nantes", ("44000", "44100", "44300")), ("Lille", ("59000", "59800", "59160"))),
    ("rue des Tilleuls", "avenue du Moulin", "rue de la Fontaine", "boulevard des Érables",
     "impasse des Lilas", "rue du Port"),
    "{number} {street}", "+33 6 ## ## ## ##",
    ("Camille", "Hugo", "Léa", "Louis", "Chloé", "Gabriel", "Manon", "Arthur", "Inès", "Jules"),
    ("Moreau", "Fontaine", "Lefèvre", "Garnier", "Chevalier", "Roussel", "Perrin", "Marchand"),
    "{trade} {last} SARL", ("Menuiserie", "Boulangerie", "Cabinet", "Atelier", "Imprimerie"),
    (("Colissimo", "Colissimo Domicile", "6A###########"), ("Chronopost", "Chrono 13", "XW#########FR")),
)
IT = Marketplace(
    "APJ6JRA9NG5V4", "IT", "Amazon.it", "it", "EUR", Decimal("0.22"),
    (("Milano", ("20121", "20135", "20154")), ("Roma", ("00153", "00185", "00198")),
     ("Torino", ("10121", "10138", "10153")), ("Bologna", ("40121", "40126", "40137")),
     ("Napoli", ("80121", "80134", "80142")), ("Firenze", ("50121", "50133", "50144"))),
    ("Via dei Mille", "Via Roma", "Corso Garibaldi", "Via delle Rose", "Viale dei Pini", "Via del Borgo"),
    "{street}, {number}", "+39 3## ### ####",
    ("Giulia", "Marco", "Chiara", "Luca", "Francesca", "Matteo", "Sara", "Andrea", "Elena", "Davide"),
    ("Rinaldi", "Ferraro", "Gallo", "Fontana", "Conti", "Marino", "Greco", "Barbieri", "Lombardi"),
    "{last} {trade} S.r.l.", ("Impianti", "Forniture", "Servizi", "Arredamenti", "Ufficio"),
    (("BRT", "BRT Express", "##############"),
     ("Poste Italiane", "Poste Delivery Business", "@@#########IT")),
)
ES = Marketplace(
    "A1RKKUPIHCS9HS", "ES", "Amazon.es", "es", "EUR", Decimal("0.21"),
    (("Madrid", ("28004", "28013", "28045")), ("Barcelona", ("08001", "08012", "08025")),
     ("Valencia", ("46001", "46005", "46021")), ("Sevilla", ("41001", "41003", "41010")),
     ("Zaragoza", ("50001", "50008", "50012")), ("Bilbao", ("48001", "48007", "48013"))),
    ("Calle del Olmo", "Avenida de los Pinos", "Calle Mayor", "Paseo del Río", "Calle de la Luna",
     "Plaza de las Flores"),
    "{street}, {number}", "+34 6## ### ###",
    ("Lucía", "Hugo", "Martina", "Pablo", "Sofía", "Álvaro", "Paula", "Javier", "Carmen", "Diego"),
    ("Navarro", "Ortega", "Serrano", "Molina", "Castillo", "Delgado", "Rubio", "Iglesias", "Vidal"),
    "{trade} {last} S.L.", ("Talleres", "Suministros", "Reformas", "Distribuciones", "Clínica"),
    (("Correos", "Paq Premium", "PQ@@@@##########"), ("SEUR", "SEUR 24", "##############")),
)
NL = Marketplace(
    "A1805IZSGTT6HS", "NL", "Amazon.nl", "nl", "EUR", Decimal("0.21"),
    (("Amsterdam", ("1012 AB", "1053 KL", "1072 HX")), ("Rotterdam", ("3011 BN", "3022 CE", "3072 AP")),
     ("Utrecht", ("3511 LX", "3521 AZ", "3581 KP")), ("Den Haag", ("2511 CV", "2563 BM", "2595 AA")),
     ("Eindhoven", ("5611 AZ", "5622 HB", "5645 JK"))),
    ("Lindelaan", "Molenstraat", "Kerkweg", "Beukenhof", "Havenkade", "Tulpstraat"),
    "{street} {number}", "+31 6 ########",
    ("Emma", "Daan", "Julia", "Sem", "Tess", "Lucas", "Sanne", "Bram", "Fenna", "Jesse"),
    ("de Vries", "Bakker", "Visser", "Smit", "Mulder", "de Boer", "Dekker", "Brouwer", "Vos"),
    "{last} {trade} B.V.", ("Installatietechniek", "Kantoorservice", "Groothandel", "Advies"),
    (("PostNL", "PostNL Standaard", "3S@@@@#######"), ("DHL", "DHL Parcel", "JVGL##########")),
)

MARKETPLACES: dict[str, Marketplace] = {m.marketplace_id: m for m in (DE, FR, IT, ES, NL)}


@dataclass(frozen=True)
class Product:
    key: str  # the SKU stem
    gross_price: Decimal  # VAT-inclusive shelf price, the same on every EU marketplace
    titles: dict[str, str]  # by marketplace language


CATALOGUE: tuple[Product, ...] = (
    Product("BOTTLE-750", Decimal("19.99"), {
        "de": "Edelstahl-Trinkflasche 750 ml, auslaufsicher", "fr": "Gourde en acier inoxydable 750 ml",
        "it": "Borraccia in acciaio inox 750 ml", "es": "Botella de acero inoxidable 750 ml",
        "nl": "RVS drinkfles 750 ml, lekvrij"}),
    Product("BOARD-SET3", Decimal("29.90"), {
        "de": "Schneidebretter aus Bambus, 3er-Set", "fr": "Planches à découper en bambou, lot de 3",
        "it": "Taglieri in bambù, set da 3", "es": "Tablas de cortar de bambú, juego de 3",
        "nl": "Bamboe snijplanken, set van 3"}),
    Product("LAMP-LED", Decimal("34.99"), {
        "de": "LED-Schreibtischlampe, dimmbar", "fr": "Lampe de bureau LED à intensité variable",
        "it": "Lampada da scrivania LED dimmerabile", "es": "Lámpara de escritorio LED regulable",
        "nl": "LED-bureaulamp, dimbaar"}),
    Product("PAN-28", Decimal("44.95"), {
        "de": "Gusseisenpfanne 28 cm", "fr": "Poêle en fonte 28 cm", "it": "Padella in ghisa 28 cm",
        "es": "Sartén de hierro fundido 28 cm", "nl": "Gietijzeren koekenpan 28 cm"}),
    Product("SOCKS-3P", Decimal("24.99"), {
        "de": "Merino-Wandersocken, 3 Paar", "fr": "Chaussettes de randonnée en mérinos, 3 paires",
        "it": "Calze da trekking in merino, 3 paia", "es": "Calcetines de senderismo de merino, 3 pares",
        "nl": "Merino wandelsokken, 3 paar"}),
    Product("LUNCHBOX", Decimal("16.49"), {
        "de": "Isolierte Lunchbox mit Fächern", "fr": "Boîte à lunch isotherme à compartiments",
        "it": "Portapranzo termico a scomparti", "es": "Fiambrera térmica con compartimentos",
        "nl": "Geïsoleerde lunchbox met vakken"}),
    Product("MAT-SILI2", Decimal("12.99"), {
        "de": "Silikon-Backmatten, 2 Stück", "fr": "Tapis de cuisson en silicone, lot de 2",
        "it": "Tappetini da forno in silicone, 2 pezzi", "es": "Tapetes de horno de silicona, 2 unidades",
        "nl": "Siliconen bakmatten, 2 stuks"}),
    Product("CABLE-C2M", Decimal("9.99"), {
        "de": "USB-C-Ladekabel 2 m, 2er-Pack", "fr": "Câble de charge USB-C 2 m, lot de 2",
        "it": "Cavo di ricarica USB-C 2 m, confezione da 2", "es": "Cable de carga USB-C 2 m, pack de 2",
        "nl": "USB-C-oplaadkabel 2 m, 2-pack"}),
    Product("YOGA-6MM", Decimal("27.50"), {
        "de": "Yogamatte 6 mm, rutschfest", "fr": "Tapis de yoga 6 mm antidérapant",
        "it": "Tappetino yoga 6 mm antiscivolo", "es": "Esterilla de yoga 6 mm antideslizante",
        "nl": "Yogamat 6 mm, antislip"}),
    Product("PRESS-1L", Decimal("32.00"), {
        "de": "French Press 1 Liter, Borosilikatglas", "fr": "Cafetière à piston 1 litre",
        "it": "Caffettiera a pistone 1 litro", "es": "Cafetera de émbolo 1 litro",
        "nl": "Cafetière 1 liter, borosilicaatglas"}),
    Product("DRIVER-36V", Decimal("39.99"), {
        "de": "Akku-Schrauber 3,6 V mit Bitset", "fr": "Tournevis sans fil 3,6 V avec embouts",
        "it": "Avvitatore a batteria 3,6 V con inserti", "es": "Atornillador inalámbrico 3,6 V con puntas",
        "nl": "Accuschroevendraaier 3,6 V met bitset"}),
    Product("CUSHION-ERGO", Decimal("22.90"), {
        "de": "Ergonomisches Sitzkissen für Bürostühle", "fr": "Coussin d'assise ergonomique",
        "it": "Cuscino ergonomico per sedia da ufficio", "es": "Cojín ergonómico para silla de oficina",
        "nl": "Ergonomisch zitkussen voor bureaustoel"}),
)

# Invented brands for the demo sellers: (brand, SKU prefix)
BRANDS = (("Kestrelwood", "KW"), ("Nordvik Living", "NV"), ("Alba & Rowe", "AR"), ("Lumenfeld", "LF"))

# ORDER_CHANGE still speaks the Orders API v0 words; the Orders API v2026-01-01 has its own.
OLD_TO_NEW_STATUS = {
    "Pending": "PENDING",
    "PendingAvailability": "PENDING_AVAILABILITY",
    "Unshipped": "UNSHIPPED",
    "PartiallyShipped": "PARTIALLY_SHIPPED",
    "Shipped": "SHIPPED",
    "InvoiceUnconfirmed": "SHIPPED",  # Brazil only: shipped, invoice not yet confirmed
    "Canceled": "CANCELLED",
    "Unfulfillable": "UNFULFILLABLE",
}

DEFAULT_START = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
DEFAULT_MARKETPLACES = (DE.marketplace_id, FR.marketplace_id, IT.marketplace_id, ES.marketplace_id)
ORDER_DAYS = 7  # orders are placed over this many days after `start`
SELLER_WEIGHTS = (1.0, 0.6, 0.45, 0.3)  # the first seller is the busiest

# The life an order has lived by "now", as shares of all orders; "shipped" takes the rest.
FATE_SHARES = {
    "cancelled": 0.06,  # buyer asks to cancel an unshipped order, seller cancels it
    "cancelled_unpaid": 0.02,  # cancelled while still pending (payment never completed)
    "partially_shipped": 0.03,  # MFN: one parcel out, the rest still to come
    "split_shipped": 0.03,  # MFN: two parcels, now fully shipped
    "unshipped": 0.08,  # paid, waiting to be shipped
    "pending": 0.03,  # payment not yet authorised
    "pending_availability": 0.015,  # pre-order, release date in the future
    "unfulfillable": 0.015,  # AFN: Amazon could not fulfil it
}
MFN_SHARE = 0.60
B2B_SHARE = 0.20
PROMOTION_SHARE = 0.12
FREE_SHIPPING_FROM = Decimal("29.00")  # MFN consumer orders below this pay shipping
MFN_SHIPPING = Decimal("4.99")
B2B_SHIPPING = Decimal("5.90")

CENT = Decimal("0.01")


# ---------------------------------------------------------------------------------------------
# Small helpers: money, time, identifiers.
# ---------------------------------------------------------------------------------------------


def cents(amount: Decimal) -> Decimal:
    result = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return result if result else Decimal("0.00")  # never "-0.00"


def vat_included(gross: Decimal, rate: Decimal) -> Decimal:
    """The VAT inside a VAT-inclusive amount, rounded half-up (symmetric for negatives)."""
    return cents(gross * rate / (1 + rate))


def money(amount: Decimal, currency: str) -> dict:
    return {"amount": str(cents(amount)), "currencyCode": currency}


def iso(moment: datetime) -> str:
    """Orders API style: whole seconds, UTC, `Z`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(moment: datetime) -> str:
    """Notification style (as in Amazon's examples): milliseconds, UTC, `Z`."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def end_of_day(day: datetime) -> datetime:
    return datetime.combine(day.date(), time(23, 59, 59), tzinfo=timezone.utc)


def start_of_day(day: datetime) -> datetime:
    return datetime.combine(day.date(), time(0, 0, 0), tzinfo=timezone.utc)


def fake_uuid(rng: random.Random) -> str:
    """A uuid4-shaped id that depends only on the seed (uuid.uuid4() would not)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def fill(pattern: str, rng: random.Random) -> str:
    """Replace each '#' by a digit and each '@' by an uppercase letter."""
    return "".join(
        rng.choice(string.digits) if c == "#" else rng.choice(string.ascii_uppercase) if c == "@" else c
        for c in pattern
    )


def quota(share: float, total: int) -> int:
    return int(Decimal(str(share * total)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------------------------------------
# The plan: sellers and orders as plain Python objects, before they are rendered as JSON.
# ---------------------------------------------------------------------------------------------


@dataclass
class Seller:
    seller_id: str
    refresh_token: str
    home: Marketplace  # where the seller's warehouse is
    marketplace_ids: list[str]
    brand: str
    sku_prefix: str
    asins: dict[str, str]  # product key -> ASIN (one ASIN across the EU marketplaces)
    warehouse: dict  # MerchantAddress, where MFN parcels ship from
    supply_source_id: str  # MFN supply source; AFN items have none
    subscription_id: str  # one ORDER_CHANGE subscription per seller


@dataclass
class Line:
    order_item_id: str
    product: Product
    asin: str
    sku: str
    quantity: int
    unit_gross: Decimal
    shipping_gross: Decimal = Decimal("0.00")
    discount_gross: Decimal = Decimal("0.00")  # positive; what the promotion took off
    promotion_id: str | None = None


@dataclass(frozen=True)
class Change:
    """One change Amazon announces with an ORDER_CHANGE notification."""

    at: datetime  # TimeOfOrderChange, strictly increasing along an order's life
    status: str  # OrderStatus in the notification's (v0) vocabulary
    shipped: tuple[int, ...]  # units shipped so far, per line
    change_type: str = "OrderStatusChange"
    reason: str = "NoReason"
    cancel_requested: bool = False


@dataclass
class Order:
    order_id: str
    seller: Seller
    marketplace: Marketplace
    afn: bool
    business: bool
    fate: str
    created: datetime
    lines: list[Line] = field(default_factory=list)
    buyer: dict = field(default_factory=dict)
    address: dict = field(default_factory=dict)
    ship_by: tuple[datetime, datetime] | None = None
    deliver_by: tuple[datetime, datetime] | None = None
    service_level: str = "STANDARD"
    prime: bool = False
    changes: list[Change] = field(default_factory=list)
    lost: bool = False  # Amazon never notified us about it

    @property
    def preorder(self) -> bool:
        return self.fate == "pending_availability"

    @property
    def cross_border(self) -> bool:
        # MFN parcels leave the seller's home warehouse; AFN stock sits in the buyer's country.
        return not self.afn and self.marketplace is not self.seller.home

    @property
    def final(self) -> Change:
        return self.changes[-1]


class _Ids:
    """Unique Amazon-looking identifiers."""

    # Amazon order ids are 3-7-7 digits; these are prefixes typical of EU marketplaces.
    ORDER_PREFIXES = ("028", "302", "303", "304", "305", "306", "402", "403", "404", "405", "406", "407")

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.seen: set[str] = set()

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self.seen:
                self.seen.add(value)
                return value

    def order_id(self) -> str:
        return self._unique(lambda: f"{self.rng.choice(self.ORDER_PREFIXES)}-{fill('#######', self.rng)}"
                                    f"-{fill('#######', self.rng)}")

    def order_item_id(self) -> str:
        return self._unique(lambda: fill("##############", self.rng))

    def seller_id(self) -> str:
        # Merchant tokens: 'A' then 12-13 uppercase letters and digits.
        alphabet = string.ascii_uppercase + string.digits
        length = self.rng.choice((12, 13))
        return self._unique(lambda: "A" + "".join(self.rng.choice(alphabet) for _ in range(length)))

    def asin(self) -> str:
        alphabet = string.ascii_uppercase + string.digits
        return self._unique(lambda: "B0" + "".join(self.rng.choice(alphabet) for _ in range(8)))


# ---------------------------------------------------------------------------------------------
# Building the world.
# ---------------------------------------------------------------------------------------------


def _make_sellers(count: int, marketplaces: list[Marketplace], rng: random.Random, ids: _Ids) -> list[Seller]:
    sellers = []
    for index in range(count):
        brand, prefix = BRANDS[index % len(BRANDS)]
        if index >= len(BRANDS):
            prefix += str(index)
        home = marketplaces[index % len(marketplaces)]
        others = [m.marketplace_id for m in marketplaces if m is not home]
        if index == 0:
            chosen = others  # the first seller sells everywhere, so every marketplace has orders
        else:
            chosen = sorted(rng.sample(others, k=max(1, min(len(others), rng.randint(1, 3)))),
                            key=[m.marketplace_id for m in marketplaces].index)
        warehouse_city, postal_codes = home.cities[-1]
        sellers.append(Seller(
            seller_id=ids.seller_id(),
            # Obviously fake: the simulator accepts any token it was given.
            refresh_token="Atzr|demo-" + "".join(rng.choice("0123456789abcdef") for _ in range(48)),
            home=home,
            marketplace_ids=[home.marketplace_id] + chosen,
            brand=brand,
            sku_prefix=prefix,
            asins={p.key: ids.asin() for p in CATALOGUE},
            warehouse={
                "name": f"{brand} Lager" if home.language == "de" else f"{brand} Warehouse",
                "addressLine1": home.street_format.format(street=rng.choice(home.streets),
                                                          number=rng.randint(2, 120)),
                "city": warehouse_city,
                "postalCode": postal_codes[0],
                "countryCode": home.country,
            },
            supply_source_id=fake_uuid(rng),
            subscription_id=fake_uuid(rng),
        ))
    return sellers


def _assign_fates(count: int, rng: random.Random) -> list[str]:
    """Exact shares (not coin flips), so even a small scenario has every kind of order."""
    fates: list[str] = []
    for fate, share in FATE_SHARES.items():
        wanted = quota(share, count)
        if count >= 40:
            wanted = max(1, wanted)
        fates += [fate] * wanted
    fates = fates[:count]
    fates += ["shipped"] * (count - len(fates))
    rng.shuffle(fates)
    return fates


def _assign_channels(fates: list[str], rng: random.Random) -> list[bool]:
    """True for AFN (fulfilled by Amazon). Parcels split by the seller are MFN; only Amazon's
    own fulfilment reports Unfulfillable; the rest is filled up to the MFN share."""
    afn: list[bool | None] = [
        False if fate in ("partially_shipped", "split_shipped") else True if fate == "unfulfillable" else None
        for fate in fates
    ]
    free = [i for i, value in enumerate(afn) if value is None]
    mfn_needed = max(0, quota(MFN_SHARE, len(fates)) - afn.count(False))
    mfn = set(rng.sample(free, k=min(mfn_needed, len(free))))
    return [value if value is not None else (i not in mfn) for i, value in enumerate(afn)]


def _person(mp: Marketplace, rng: random.Random) -> str:
    return f"{rng.choice(mp.first_names)} {rng.choice(mp.last_names)}"


def _make_buyer_and_address(order: Order, rng: random.Random) -> None:
    mp = order.marketplace
    name = _person(mp, rng)
    city, postal_codes = rng.choice(mp.cities)
    order.buyer = {
        "buyerName": name,
        "buyerEmail": "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(15))
        + "@" + mp.email_domain,
    }
    address = {"name": name}
    if order.business:
        company = mp.company_format.format(last=rng.choice(mp.last_names), trade=rng.choice(mp.trades))
        order.buyer["buyerCompanyName"] = company
        if rng.random() < 0.5:
            order.buyer["buyerPurchaseOrderNumber"] = fill("PO-2026-####", rng)
        address["companyName"] = company
    street = mp.street_format.format(street=rng.choice(mp.streets), number=rng.randint(1, 140))
    address["addressLine1"] = street
    if rng.random() < 0.2:
        address["addressLine2"] = {"de": "Hinterhaus, 2. OG", "fr": "Bâtiment B, 3e étage",
                                   "it": "Scala C, interno 4", "es": "3º B",
                                   "nl": "2e verdieping"}[mp.language]
    address.update({
        "city": city,
        "postalCode": rng.choice(postal_codes),
        "countryCode": mp.country,
        "phone": fill(mp.phone_format, rng),
        "addressType": "COMMERCIAL" if order.business else "RESIDENTIAL",
    })
    order.address = address


def _make_lines(order: Order, rng: random.Random, ids: _Ids) -> None:
    seller, mp = order.seller, order.marketplace
    count = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
    products = rng.sample(CATALOGUE, k=count)
    for product in products:
        quantity = rng.randint(2, 10) if order.business else rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
        # Separate SKUs for the FBA and the merchant-fulfilled offer is common practice.
        sku = f"{seller.sku_prefix}-{product.key}" + ("-FBA" if order.afn else "")
        line = Line(ids.order_item_id(), product, seller.asins[product.key], sku, quantity,
                    product.gross_price)
        if rng.random() < PROMOTION_SHARE:
            line.discount_gross = cents(line.unit_gross * quantity * Decimal("0.10"))
            line.promotion_id = f"{seller.sku_prefix}-AUTUMN10-{mp.country}"
        order.lines.append(line)
    # A parcel can only be split when there are at least two units.
    if order.fate in ("partially_shipped", "split_shipped") and sum(l.quantity for l in order.lines) < 2:
        order.lines[0].quantity = 2
    # Shipping is charged once, on the first item, as Amazon attributes it to an item.
    if not order.afn:
        goods = sum(l.unit_gross * l.quantity - l.discount_gross for l in order.lines)
        if order.business:
            order.lines[0].shipping_gross = B2B_SHIPPING
        elif goods < FREE_SHIPPING_FROM:
            order.lines[0].shipping_gross = MFN_SHIPPING


def _make_windows(order: Order, rng: random.Random) -> None:
    """The ship-by and deliver-by promises shown to the buyer at checkout."""
    if order.preorder:
        release = start_of_day(order.created + timedelta(days=rng.randint(12, 30)))
        ship_from, handling = release, 1
    else:
        ship_from, handling = order.created, (rng.randint(0, 1) if order.afn else rng.randint(1, 2))
    latest_ship = end_of_day(ship_from + timedelta(days=handling))
    transit = 1 if order.afn else 2 + (1 if order.cross_border else 0)
    order.ship_by = (ship_from, latest_ship)
    order.deliver_by = (start_of_day(latest_ship + timedelta(days=1)),
                        end_of_day(latest_ship + timedelta(days=transit + 1)))
    order.service_level = "EXPEDITED" if (not order.afn and rng.random() < 0.15) else "STANDARD"
    order.prime = order.afn  # FBA offers are Prime offers


def _first_parcel(lines: list[Line]) -> tuple[int, ...]:
    """What the first of two parcels carries: the first line, or part of a single line."""
    if len(lines) > 1:
        return (lines[0].quantity,) + (0,) * (len(lines) - 1)
    return (lines[0].quantity // 2,)


def _live(order: Order, rng: random.Random) -> None:
    """The order's life up to now, as the ORDER_CHANGE events Amazon would publish."""
    none = (0,) * len(order.lines)
    everything = tuple(l.quantity for l in order.lines)
    t = order.created
    changes = order.changes

    def later(low_minutes: float, high_minutes: float) -> datetime:
        nonlocal t
        t = t + timedelta(seconds=rng.randint(int(low_minutes * 60), int(high_minutes * 60)))
        return t

    if order.fate == "pending_availability":
        changes.append(Change(t, "PendingAvailability", none))
        return
    changes.append(Change(t, "Pending", none))  # TimeOfOrderChange = PurchaseDate
    if order.fate == "pending":
        return
    if order.fate == "cancelled_unpaid":
        changes.append(Change(later(30, 48 * 60), "Canceled", none))
        return
    changes.append(Change(later(2, 45), "Unshipped", none))  # payment authorised
    if order.fate == "unshipped":
        return
    if order.fate == "cancelled":
        # Amazon first tells the seller the buyer asks to cancel (the status does not change),
        # then announces the cancellation once the seller (or Amazon, for FBA) has done it.
        changes.append(Change(later(10, 5 * 60), "Unshipped", none, change_type="BuyerRequestedChange",
                              reason="Buyer Requested Cancel", cancel_requested=True))
        changes.append(Change(later(5, 3 * 60), "Canceled", none, cancel_requested=True))
        return
    if order.fate == "unfulfillable":
        changes.append(Change(later(12 * 60, 48 * 60), "Unfulfillable", none))
        return
    if order.fate in ("partially_shipped", "split_shipped"):
        changes.append(Change(later(3 * 60, 24 * 60), "PartiallyShipped", _first_parcel(order.lines)))
        if order.fate == "partially_shipped":
            return
        changes.append(Change(later(20 * 60, 60 * 60), "Shipped", everything))
        return
    hours = (2, 20) if order.afn else (3, 30)
    changes.append(Change(later(hours[0] * 60, hours[1] * 60), "Shipped", everything))


def _creation_time(fate: str, start: datetime, rng: random.Random) -> datetime:
    span = ORDER_DAYS * 24 * 3600
    if fate in ("pending", "unshipped", "partially_shipped"):
        # Orders still open "now" are the recent ones.
        return start + timedelta(seconds=span - rng.randint(1800, 20 * 3600))
    return start + timedelta(seconds=rng.randint(0, span - 3 * 24 * 3600))


def _plan_orders(count: int, sellers: list[Seller], start: datetime, rng: random.Random,
                 ids: _Ids) -> list[Order]:
    fates = _assign_fates(count, rng)
    afn = _assign_channels(fates, rng)
    business = set(rng.sample(range(count), k=quota(B2B_SHARE, count)))
    weights = [SELLER_WEIGHTS[i % len(SELLER_WEIGHTS)] for i in range(len(sellers))]
    orders = []
    for i, fate in enumerate(fates):
        seller = rng.choices(sellers, weights=weights)[0]
        is_b2b = i in business
        if is_b2b and not afn[i]:
            marketplace = seller.home  # keeps merchant-fulfilled B2B domestic: no reverse charge
        else:
            # Sellers sell most at home.
            ids_ = seller.marketplace_ids
            marketplace = MARKETPLACES[rng.choices(ids_, weights=[3] + [1] * (len(ids_) - 1))[0]]
        order = Order(ids.order_id(), seller, marketplace, afn[i], is_b2b, fate,
                      _creation_time(fate, start, rng))
        _make_buyer_and_address(order, rng)
        _make_lines(order, rng, ids)
        _make_windows(order, rng)
        _live(order, rng)
        orders.append(order)
    orders.sort(key=lambda o: (o.created, o.order_id))
    return orders


# ---------------------------------------------------------------------------------------------
# Rendering an order as Orders API v2026-01-01 JSON.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Split:
    """A VAT-inclusive charge split into its net part and its VAT."""

    gross: Decimal
    tax: Decimal

    @property
    def net(self) -> Decimal:
        return self.gross - self.tax


def _split(gross: Decimal, rate: Decimal) -> _Split:
    return _Split(cents(gross), vat_included(gross, rate))


def _item_proceeds(line: Line, mp: Marketplace) -> dict:
    cur, rate = mp.currency, mp.vat_rate
    item = _split(line.unit_gross * line.quantity, rate)
    shipping = _split(line.shipping_gross, rate)
    discount = _split(-line.discount_gross, rate)
    breakdowns = [{"type": "ITEM", "subtotal": money(item.net, cur)}]
    taxes = [{"subtype": "ITEM", "value": money(item.tax, cur)}]
    if shipping.gross:
        breakdowns.append({"type": "SHIPPING", "subtotal": money(shipping.net, cur)})
        taxes.append({"subtype": "SHIPPING", "value": money(shipping.tax, cur)})
    if discount.gross:
        breakdowns.append({"type": "DISCOUNT", "subtotal": money(discount.net, cur),
                           "detailedBreakdowns": [{"subtype": "ITEM", "value": money(discount.net, cur)}]})
        taxes.append({"subtype": "DISCOUNT", "value": money(discount.tax, cur)})
    tax_total = item.tax + shipping.tax + discount.tax
    breakdowns.append({"type": "TAX", "subtotal": money(tax_total, cur), "detailedBreakdowns": taxes})
    total = item.gross + shipping.gross + discount.gross
    return {"proceedsTotal": money(total, cur), "breakdowns": breakdowns}


def _order_proceeds(items: list[dict], currency: str) -> dict:
    """Order-level proceeds: the item breakdowns added up per category."""
    totals: dict[str, Decimal] = {}
    for item in items:
        for part in item["proceeds"]["breakdowns"]:
            amount = Decimal(part["subtotal"]["amount"])
            totals[part["type"]] = totals.get(part["type"], Decimal("0")) + amount
    grand = sum((Decimal(i["proceeds"]["proceedsTotal"]["amount"]) for i in items), Decimal("0"))
    return {
        "grandTotal": money(grand, currency),
        "breakdowns": [{"type": kind, "subtotal": money(amount, currency)}
                       for kind, amount in totals.items()],
    }


def _render_item(order: Order, index: int, line: Line) -> dict:
    mp, final = order.marketplace, order.final
    cancelled = final.status == "Canceled"
    price = {"unitPrice": money(line.unit_gross, mp.currency)}
    if order.business:
        price["priceDesignation"] = "BUSINESS_PRICE"
    item = {
        "orderItemId": line.order_item_id,
        "quantityOrdered": line.quantity,
        "product": {
            "asin": line.asin,
            "title": f"{order.seller.brand} {line.product.titles[mp.language]}",
            "sellerSku": line.sku,
            "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
            "price": price,
        },
    }
    if not cancelled:
        # Nothing was charged for a cancelled order (Orders API v0 showed no OrderTotal either).
        item["proceeds"] = _item_proceeds(line, mp)
    if line.promotion_id:
        item["promotion"] = {"breakdowns": [{"promotionId": line.promotion_id}]}
    if cancelled:
        item["cancellation"] = _cancellation(order)
    shipped = final.shipped[index]
    item["fulfillment"] = {
        "quantityFulfilled": shipped,
        # Nothing remains to ship in a cancelled order.
        "quantityUnfulfilled": 0 if cancelled else line.quantity - shipped,
    }
    if order.cross_border and not order.business:
        item["tax"] = {"taxCalculationBreakdowns": [{"reportingScheme": "UOSS"}]}
    return item


def _cancellation(order: Order) -> dict:
    """Who asked, who cancelled. The seller cancels what it ships itself; Amazon cancels FBA
    orders, and orders whose payment never completed."""
    if not order.final.cancel_requested:
        return {"cancellationExecution": {"cancelledBy": "AMAZON", "cancelReason": "PAYMENT_NOT_COMPLETED"}}
    return {
        "cancellationRequest": {"requester": "BUYER", "cancelReason": "BUYER_CANCELED"},
        "cancellationExecution": {"cancelledBy": "AMAZON" if order.afn else "MERCHANT",
                                  "cancelReason": "BUYER_CANCELED"},
    }


def _render_packages(order: Order, rng: random.Random) -> list[dict]:
    """One parcel per shipping change, for merchant-fulfilled orders only (as the model says)."""
    packages = []
    before = (0,) * len(order.lines)
    carrier, service, tracking = rng.choice(order.seller.home.carriers)
    for change in order.changes:
        if change.status not in ("PartiallyShipped", "Shipped") or change.shipped == before:
            continue
        content = [(line, now - then) for line, now, then in zip(order.lines, change.shipped, before)
                   if now > then]
        before = change.shipped
        packages.append({
            "packageReferenceId": str(len(packages) + 1),
            "createdTime": iso(change.at - timedelta(minutes=rng.randint(20, 180))),
            "packageStatus": {"status": "IN_TRANSIT", "detailedStatus": "PICKED_UP"},
            "carrier": carrier,
            "shipTime": iso(change.at),
            "shippingService": service,
            "trackingNumber": fill(tracking, rng),
            "shipFromAddress": dict(order.seller.warehouse),
            "packageItems": [{"orderItemId": line.order_item_id, "quantity": qty} for line, qty in content],
        })
    return packages


def _programs(order: Order) -> list[str]:
    programs = []
    if order.business:
        programs.append("AMAZON_BUSINESS")
    if order.prime:
        programs.append("PRIME")
    if order.preorder:
        programs.append("PREORDER")
    return programs


def render_order(order: Order, rng: random.Random) -> dict:
    """The order as getOrder (all includedData) would return it after its last change."""
    mp, final = order.marketplace, order.final
    status = OLD_TO_NEW_STATUS[final.status]
    doc: dict = {
        "orderId": order.order_id,
        "createdTime": iso(order.created),
        "lastUpdatedTime": iso(final.at),
        "programs": _programs(order),
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": mp.marketplace_id,
                         "marketplaceName": mp.name},
    }
    if status in ("PENDING", "PENDING_AVAILABILITY"):
        # Until payment is authorised Amazon shares no buyer data, only where the parcel goes.
        where = {k: order.address[k] for k in ("city", "postalCode", "countryCode")}
        doc["recipient"] = {"deliveryAddress": where}
    else:
        buyer = dict(order.buyer)
        address = dict(order.address)
        if order.afn:
            # The model: buyerEmail is FBM-only, and FBA orders never show the buyer's phone.
            buyer.pop("buyerEmail")
            address.pop("phone")
        doc["buyer"] = buyer
        doc["recipient"] = {"deliveryAddress": address}
    items = [_render_item(order, i, line) for i, line in enumerate(order.lines)]
    if status != "CANCELLED":
        doc["proceeds"] = _order_proceeds(items, mp.currency)
    doc["fulfillment"] = {
        "fulfillmentStatus": status,
        "fulfilledBy": "AMAZON" if order.afn else "MERCHANT",
        "fulfillmentServiceLevel": order.service_level,
        "shipByWindow": {"earliestDateTime": iso(order.ship_by[0]), "latestDateTime": iso(order.ship_by[1])},
        "deliverByWindow": {"earliestDateTime": iso(order.deliver_by[0]),
                            "latestDateTime": iso(order.deliver_by[1])},
    }
    doc["orderItems"] = items
    if not order.afn:
        packages = _render_packages(order, rng)
        if packages:
            doc["packages"] = packages
    return doc


# ---------------------------------------------------------------------------------------------
# Rendering changes as ORDER_CHANGE notifications (Amazon's PascalCase envelope).
# ---------------------------------------------------------------------------------------------


@dataclass
class Message:
    """One SQS body plus what we know about it (used to build the delivery order and `expected`)."""

    body: str
    kind: str  # "order_change" | "malformed" | "unhandled"
    published: datetime
    order_id: str | None = None
    changed_at: datetime | None = None


def _summary(order: Order, change: Change) -> dict:
    mp = order.marketplace
    shipped = sum(change.shipped)
    cancelled = change.status == "Canceled"
    summary: dict = {
        "MarketplaceId": mp.marketplace_id,
        "OrderStatus": change.status,
        "PurchaseDate": iso_ms(order.created),
        "DestinationPostalCode": order.address["postalCode"],
        "FulfillmentType": "AFN" if order.afn else "MFN",
        "OrderType": "Preorder" if order.preorder else "StandardOrder",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": 0 if cancelled else sum(l.quantity for l in order.lines) - shipped,
    }
    # The schema: delivery dates are "returned only for seller-fulfilled orders", and the latest
    # one not while Pending, PendingAvailability or Canceled.
    with_delivery = not order.afn
    with_latest = with_delivery and change.status not in ("Pending", "PendingAvailability", "Canceled")
    if with_delivery:
        summary["EarliestDeliveryDate"] = iso_ms(order.deliver_by[0])
    if with_latest:
        summary["LatestDeliveryDate"] = iso_ms(order.deliver_by[1])
    summary["EarliestShipDate"] = iso_ms(order.ship_by[0])
    summary["LatestShipDate"] = iso_ms(order.ship_by[1])
    programs = (["Business"] if order.business else []) + (["Prime"] if order.prime else [])
    if programs:
        summary["OrderPrograms"] = programs
    # OrderItemStatus is only shown "when items' status are different".
    item_states = ["Shipped" if done == line.quantity else "Unshipped"
                   for line, done in zip(order.lines, change.shipped)]
    mixed = len(set(item_states)) > 1
    items = []
    for line, done, state in zip(order.lines, change.shipped, item_states):
        item = {
            "OrderItemId": line.order_item_id,
            "SellerSKU": line.sku,
            "SupplySourceId": None if order.afn else order.seller.supply_source_id,
        }
        if mixed:
            item["OrderItemStatus"] = state
        item.update({"Quantity": line.quantity, "QuantityShipped": done,
                     "IsBuyerRequestedCancel": change.cancel_requested})
        if with_delivery:
            item["ItemEarliestDeliveryDate"] = iso_ms(order.deliver_by[0])
        if with_latest:
            item["ItemLatestDeliveryDate"] = iso_ms(order.deliver_by[1])
        items.append(item)
    summary["OrderItems"] = items
    return summary


def _envelope(notification_type: str, payload: dict, published: datetime, application_id: str,
              subscription_id: str, notification_id: str) -> dict:
    return {
        "NotificationVersion": "1.0",
        "NotificationType": notification_type,
        "PayloadVersion": "1.0",
        "EventTime": iso_ms(published),
        "Payload": payload,
        "NotificationMetadata": {
            "ApplicationId": application_id,
            "SubscriptionId": subscription_id,
            "PublishTime": iso_ms(published + timedelta(milliseconds=37)),
            "NotificationId": notification_id,
        },
    }


def order_change_notification(order: Order, change: Change, published: datetime, application_id: str,
                              notification_id: str) -> dict:
    payload = {"OrderChangeNotification": {
        "NotificationLevel": "OrderLevel",  # one payload for the whole order
        "SellerId": order.seller.seller_id,
        "AmazonOrderId": order.order_id,
        "OrderChangeType": change.change_type,
        "OrderChangeTrigger": {"TimeOfOrderChange": iso_ms(change.at), "ChangeReason": change.reason},
        "Summary": _summary(order, change),
    }}
    return _envelope("ORDER_CHANGE", payload, published, application_id, order.seller.subscription_id,
                     notification_id)


def to_body(document: dict) -> str:
    """The SQS body: compact JSON on one line (so a .jsonl file holds one message per line)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _published(change: Change, rng: random.Random) -> datetime:
    # Amazon publishes seconds after the change. Kept under the shortest gap between two changes
    # (2 minutes), so that any reordering is the delivery's doing, as `shuffle_window` says.
    return change.at + timedelta(milliseconds=rng.randint(1500, 90_000))


# ---------------------------------------------------------------------------------------------
# Messiness: junk messages, an unhandled type, reordering and duplicates.
# ---------------------------------------------------------------------------------------------


def _malformed(kind: str, base: dict, rng: random.Random) -> str:
    """A broken message built from a real one (`base`), or plain junk."""
    doc = copy.deepcopy(base)
    doc["NotificationMetadata"]["NotificationId"] = fake_uuid(rng)
    change = doc["Payload"]["OrderChangeNotification"]
    if kind == "not_json":
        return "Test message sent from the SQS console"
    if kind == "truncated":
        body = to_body(doc)
        return body[: len(body) // 2]
    if kind == "no_envelope":
        # Someone pushed a hand-made message into the queue.
        return to_body({"AmazonOrderId": change["AmazonOrderId"],
                        "OrderStatus": change["Summary"]["OrderStatus"]})
    if kind == "missing_order_id":
        del change["AmazonOrderId"]
        return to_body(doc)
    if kind == "invalid_date":
        change["OrderChangeTrigger"]["TimeOfOrderChange"] = "2026-11-31T25:61:00.000Z"
        return to_body(doc)
    raise ValueError(kind)


MALFORMED_KINDS = ("not_json", "no_envelope", "missing_order_id", "invalid_date", "truncated")


def pricing_health_notification(seller: Seller, mp: Marketplace, at: datetime, application_id: str,
                                notification_id: str, rng: random.Random) -> dict:
    """A PRICING_HEALTH notification: valid, but not a type this back office handles.
    Note Amazon's own shape: camelCase keys and money as JSON numbers, unlike ORDER_CHANGE."""
    product = rng.choice(CATALOGUE)
    price = float(product.gross_price)
    reference = float(cents(product.gross_price * Decimal("0.9")))
    return {
        "notificationVersion": "1.0",
        "notificationType": "PRICING_HEALTH",
        "payloadVersion": "1.0",
        "eventTime": iso_ms(at),
        "payload": {
            "issueType": "BuyBoxDisqualification",
            "sellerId": seller.seller_id,
            "offerChangeTrigger": {"marketplaceId": mp.marketplace_id, "asin": seller.asins[product.key],
                                   "itemCondition": "new",
                                   "timeOfOfferChange": iso_ms(at - timedelta(seconds=3))},
            "merchantOffer": {"condition": "new", "fulfillmentType": "MFN",
                              "listingPrice": {"amount": price, "currencyCode": mp.currency},
                              "shipping": {"amount": 0.0, "currencyCode": mp.currency},
                              "landedPrice": {"amount": price, "currencyCode": mp.currency}},
            "summary": {
                "numberOfOffers": [{"condition": "new", "fulfillmentType": "MFN", "offerCount": 4}],
                "buyBoxEligibleOffers": [{"condition": "new", "fulfillmentType": "MFN", "offerCount": 3}],
                "buyBoxPrices": [{"condition": "new",
                                  "listingPrice": {"amount": reference, "currencyCode": mp.currency},
                                  "shipping": {"amount": 0.0, "currencyCode": mp.currency},
                                  "landedPrice": {"amount": reference, "currencyCode": mp.currency}}],
                "salesRankings": [{"productCategoryId": "kitchen_display_on_website",
                                   "rank": rng.randint(800, 40000)}],
                "referencePrice": {"competitivePriceThreshold": {"amount": reference,
                                                                 "currencyCode": mp.currency}},
            },
        },
        "notificationMetadata": {
            "applicationId": application_id,
            "subscriptionId": fake_uuid(rng),
            "publishTime": iso_ms(at + timedelta(milliseconds=410)),
            "notificationId": notification_id,
        },
    }


def _reorder(messages: list[Message], shuffle_window: int, reorder_rate: float,
             rng: random.Random) -> list[Message]:
    """Publish order, then (1) every message may arrive up to `shuffle_window` places late, and
    (2) for a share of orders, one status overtakes the status before it."""
    ordered = sorted(messages, key=lambda m: m.published)
    if shuffle_window <= 0:
        return ordered
    keys = [i + rng.uniform(0, shuffle_window) for i in range(len(ordered))]
    ordered = [m for _, m in sorted(zip(keys, ordered), key=lambda pair: pair[0])]
    by_order: dict[str, list[Message]] = {}
    for m in ordered:
        by_order.setdefault(m.order_id, []).append(m)
    candidates = [oid for oid, ms in by_order.items() if len(ms) > 1]
    wanted = min(len(candidates), max(1, quota(reorder_rate, len(candidates)))) if reorder_rate > 0 else 0
    for order_id in rng.sample(candidates, k=wanted):
        life = sorted(by_order[order_id], key=lambda m: m.changed_at)
        k = rng.randrange(len(life) - 1)
        earlier, later = life[k], life[k + 1]
        # Deliver the later change just before the earlier one.
        ordered.remove(later)
        ordered.insert(ordered.index(earlier), later)
    return ordered


def _insert_randomly(messages: list[Message], extra: list[Message], rng: random.Random) -> list[Message]:
    result = list(messages)
    for m in extra:
        result.insert(rng.randint(0, len(result)), m)
    return result


def _duplicate(messages: list[Message], rate: float, rng: random.Random) -> tuple[list[Message], int]:
    """At-least-once delivery: repeat some well-formed ORDER_CHANGE bodies byte for byte, a few
    places later (sometimes right after, as when a consumer times out mid-batch)."""
    candidates = [i for i, m in enumerate(messages) if m.kind == "order_change"]
    chosen = rng.sample(candidates, k=min(len(candidates), quota(rate, len(candidates))))
    keyed = [(float(i), m) for i, m in enumerate(messages)]
    keyed += [(i + rng.choice((0.5, rng.uniform(0.5, 25.0))), messages[i]) for i in sorted(chosen)]
    keyed.sort(key=lambda p: p[0])
    return [m for _, m in keyed], len(chosen)


def _reordered_orders(delivered: list[Message]) -> int:
    """How many orders saw a later change before an earlier one (first deliveries only)."""
    seen: set[str] = set()
    last: dict[str, datetime] = {}
    inverted: set[str] = set()
    for m in delivered:
        if m.kind != "order_change" or m.body in seen:
            continue
        seen.add(m.body)
        if m.order_id in last and m.changed_at < last[m.order_id]:
            inverted.add(m.order_id)
        last[m.order_id] = max(m.changed_at, last.get(m.order_id, m.changed_at))
    return len(inverted)


# ---------------------------------------------------------------------------------------------
# The public API.
# ---------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    world: dict
    messages: list[str]  # the SQS message bodies in delivery order (strings; malformed ones as-is)
    expected: dict


def build_scenario(
    seed: int = 7,
    orders: int = 220,
    sellers: int = 2,
    marketplaces: tuple[str, ...] = DEFAULT_MARKETPLACES,
    duplicate_rate: float = 0.08,
    shuffle_window: int = 6,
    malformed: int = 5,
    lost: int = 4,
    start: datetime | None = None,
    *,
    unhandled: int = 1,
    reorder_rate: float = 0.10,
) -> Scenario:
    """Build the world, its notifications in delivery order, and the ground truth.

    `orders` counts every order in the world, the `lost` ones (never notified) included.
    `duplicate_rate` is the share of well-formed ORDER_CHANGE messages delivered twice.
    `shuffle_window` is how many places a message may arrive late; 0 delivers in publish order.
    `reorder_rate` is the share of multi-change orders where one change overtakes the previous one.
    """
    unknown = [m for m in marketplaces if m not in MARKETPLACES]
    if unknown:
        raise ValueError(f"unknown marketplace ids {unknown}; known: {sorted(MARKETPLACES)}")
    if orders < 1 or sellers < 1 or not marketplaces:
        raise ValueError("need at least one order, one seller and one marketplace")
    if not 0 <= lost <= orders:
        raise ValueError("lost must be between 0 and orders")
    start = DEFAULT_START if start is None else (
        start.replace(tzinfo=timezone.utc) if start.tzinfo is None else start.astimezone(timezone.utc))

    # Separate random streams, so that changing the messiness never changes the world.
    world_rng = random.Random(f"sellerops-scenario:{seed}:world")
    ids_rng = random.Random(f"sellerops-scenario:{seed}:ids")
    delivery_rng = random.Random(f"sellerops-scenario:{seed}:delivery")
    ids = _Ids(world_rng)

    the_sellers = _make_sellers(sellers, [MARKETPLACES[m] for m in marketplaces], world_rng, ids)
    planned = _plan_orders(orders, the_sellers, start, world_rng, ids)
    for order in world_rng.sample(planned, k=lost):
        order.lost = True

    world = {
        "sellers": [{"sellerId": s.seller_id, "refreshToken": s.refresh_token,
                     "marketplaceIds": s.marketplace_ids} for s in the_sellers],
        "orders": [{"sellerId": o.seller.seller_id, "order": render_order(o, world_rng)} for o in planned],
    }

    application_id = "amzn1.sellerapps.app." + fake_uuid(ids_rng)
    notifications: list[Message] = []
    documents: list[dict] = []
    for order in planned:
        if order.lost:
            continue
        for change in order.changes:
            published = _published(change, ids_rng)
            doc = order_change_notification(order, change, published, application_id, fake_uuid(ids_rng))
            documents.append(doc)
            notifications.append(Message(to_body(doc), "order_change", published, order.order_id, change.at))

    delivered = _reorder(notifications, shuffle_window, reorder_rate, delivery_rng)
    junk = []
    for n in range(malformed):
        base = delivery_rng.choice(documents) if documents else None
        kind = MALFORMED_KINDS[n % len(MALFORMED_KINDS)]
        if base is None:
            junk.append(Message("not json", "malformed", start))
        else:
            junk.append(Message(_malformed(kind, base, ids_rng), "malformed", start))
    for _ in range(unhandled):
        seller = delivery_rng.choice(the_sellers)
        mp = MARKETPLACES[delivery_rng.choice(seller.marketplace_ids)]
        at = start + timedelta(seconds=delivery_rng.randint(0, ORDER_DAYS * 24 * 3600))
        doc = pricing_health_notification(seller, mp, at, application_id, fake_uuid(ids_rng), delivery_rng)
        junk.append(Message(to_body(doc), "unhandled", at))
    delivered = _insert_randomly(delivered, junk, delivery_rng)
    delivered, duplicates = _duplicate(delivered, duplicate_rate, delivery_rng)

    expected = {
        "orders": {
            o.order_id: {
                "status": OLD_TO_NEW_STATUS[o.final.status],
                "sellerId": o.seller.seller_id,
                "marketplaceId": o.marketplace.marketplace_id,
                "fulfilledBy": "AMAZON" if o.afn else "MERCHANT",
                "isBusiness": o.business,
                "notified": not o.lost,
            }
            for o in planned
        },
        "duplicates": duplicates,
        "malformed": malformed,
        "unhandled": unhandled,
        "lost": lost,
        # Orders whose changes reach us out of order (a later status first): the hard case.
        "reordered": _reordered_orders(delivered),
    }
    return Scenario(world=world, messages=[m.body for m in delivered], expected=expected)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def write_scenario(scenario: Scenario, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "world.json").write_text(json.dumps(scenario.world, ensure_ascii=False, indent=2) + "\n",
                                    encoding="utf-8")
    (out / "notifications.jsonl").write_text("".join(m + "\n" for m in scenario.messages), encoding="utf-8")
    (out / "expected.json").write_text(json.dumps(scenario.expected, ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.scenario",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--orders", type=int, default=220)
    parser.add_argument("--sellers", type=int, default=2)
    parser.add_argument("--marketplaces", default=",".join(DEFAULT_MARKETPLACES),
                        help="comma-separated marketplace ids (known: %s)" % ",".join(MARKETPLACES))
    parser.add_argument("--duplicate-rate", type=float, default=0.08)
    parser.add_argument("--shuffle-window", type=int, default=6)
    parser.add_argument("--malformed", type=int, default=5)
    parser.add_argument("--lost", type=int, default=4)
    parser.add_argument("--unhandled", type=int, default=1)
    parser.add_argument("--start", type=datetime.fromisoformat, default=None,
                        help="ISO 8601 start of the order window (default 2026-11-01T08:00:00+00:00)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the three files into")
    args = parser.parse_args(argv)
    scenario = build_scenario(
        seed=args.seed, orders=args.orders, sellers=args.sellers,
        marketplaces=tuple(m for m in args.marketplaces.split(",") if m),
        duplicate_rate=args.duplicate_rate, shuffle_window=args.shuffle_window,
        malformed=args.malformed, lost=args.lost, start=args.start, unhandled=args.unhandled,
    )
    write_scenario(scenario, args.out)
    counts = scenario.expected
    print(f"{len(scenario.world['orders'])} orders, {len(scenario.messages)} messages "
          f"({counts['duplicates']} duplicates, {counts['malformed']} malformed, "
          f"{counts['unhandled']} unhandled, "
          f"{counts['lost']} orders never notified, {counts['reordered']} reordered) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
