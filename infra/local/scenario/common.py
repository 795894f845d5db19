"""What every part of the scenario shares: the marketplaces, the catalogue and the brands, money
and time helpers, Amazon-looking identifiers, the sellers, the notification envelope, and the
`Story` each part adds to.

All names and streets are invented combinations; cities and postal-code formats are real so
addresses look plausible.
"""
from __future__ import annotations

import json
import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

# ---------------------------------------------------------------------------------------------
# Reference data: marketplaces, people, places, products.
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

DEFAULT_START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
DEFAULT_MARKETPLACES = (DE.marketplace_id, FR.marketplace_id, IT.marketplace_id, ES.marketplace_id)
ORDER_DAYS = 7  # orders are placed over this many days after `start`
SELLER_WEIGHTS = (1.0, 0.6, 0.45, 0.3)  # the first seller is the busiest



# ---------------------------------------------------------------------------------------------
# Small helpers: money, time, identifiers.
# ---------------------------------------------------------------------------------------------


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


def item_charges(item: dict) -> dict[str, Decimal]:
    """An item's net charges and their VAT (`tax_<subtype>`), from its Orders API proceeds."""
    found: dict[str, Decimal] = {}
    for part in item["proceeds"]["breakdowns"]:
        if part["type"] == "TAX":
            for detail in part.get("detailedBreakdowns") or []:
                found[f"tax_{detail['subtype']}"] = Decimal(detail["value"]["amount"])
        else:
            found[part["type"]] = Decimal(part["subtotal"]["amount"])
    return found


def money(amount: Decimal, currency: str) -> dict:
    return {"amount": str(cents(amount)), "currencyCode": currency}


def iso(moment: datetime) -> str:
    """Orders API style: whole seconds, UTC, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(moment: datetime) -> str:
    """Notification style (as in Amazon's examples): milliseconds, UTC, `Z`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def end_of_day(day: datetime) -> datetime:
    return datetime.combine(day.date(), time(23, 59, 59), tzinfo=UTC)


def start_of_day(day: datetime) -> datetime:
    return datetime.combine(day.date(), time(0, 0, 0), tzinfo=UTC)


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
# Sellers and identifiers.
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


def make_sellers(count: int, marketplaces: list[Marketplace], rng: random.Random, ids: _Ids) -> list[Seller]:
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




# ---------------------------------------------------------------------------------------------
# Messages and the notification envelope.
# ---------------------------------------------------------------------------------------------


@dataclass
class Message:
    """One SQS body plus what we know about it (used to build the delivery order and `expected`)."""

    body: str
    kind: str  # "order_change" | "malformed" | "unhandled"
    published: datetime
    order_id: str | None = None
    changed_at: datetime | None = None


def envelope(notification_type: str, payload: dict, published: datetime, application_id: str,
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


def to_body(document: dict) -> str:
    """The SQS body: compact JSON on one line (so a .jsonl file holds one message per line)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))




# ---------------------------------------------------------------------------------------------
# The story every part adds to.
# ---------------------------------------------------------------------------------------------


@dataclass
class Story:
    """What the parts of the scenario build together, in order: each part (orders.py, ...) reads
    the sellers and adds its world keys, its notifications (in publish order) and its truths.
    The random streams are separate, so changing the messiness never changes the world."""

    seed: int
    start: datetime
    sellers: list[Seller]
    application_id: str
    world_rng: random.Random
    ids_rng: random.Random
    delivery_rng: random.Random
    ids: _Ids
    world: dict = field(default_factory=dict)
    notifications: list[Message] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)  # well-formed notifications, to break some
    expected: dict = field(default_factory=dict)
