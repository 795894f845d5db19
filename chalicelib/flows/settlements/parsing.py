"""Amazon's settlement report, `GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2`, read as a stream (pure).

The file is tab separated. Its header names the columns (`settlement-id`, or `settlement id`, or
`Settlement ID`: one column); the first row carries the settlement's totals (its period, its
deposit date, `total-amount` and `currency`) and every other row one amount of one transaction.
Dates come as Amazon writes them in each region (`2026-11-03 18:03:49 UTC`, `03.11.2026 18:03:49
UTC`, `2026-11-03T18:03:49+00:00`, a posted date alone), amounts with a decimal point or a decimal
comma (`1234.56`, `1,234.56`, `1.234,56`, `-12,34`).

`read(lines)` returns the settlement's `Head` and its `Body`, whose `sums()` reads every row and
returns the rows summed by what the books need of them (order, shipment, adjustment, code,
posted date): memory grows with the orders, not with the rows. A bad row raises `BadRow` (line,
column, value quoted, what is wrong) before anything of the settlement is used.
"""
from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from chalicelib.core.csvfile import column
from chalicelib.core.errors import PermanentError
from chalicelib.core.fields import ORDER_ID, quote
from chalicelib.core.money import CURRENCIES

REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
REQUIRED = ("settlement_id", "settlement_start_date", "settlement_end_date", "deposit_date", "total_amount",
            "currency", "transaction_type", "order_id", "amount_type", "amount_description", "amount",
            "posted_date")
OPTIONAL = ("merchant_order_id", "adjustment_id", "shipment_id", "marketplace_name", "fulfillment_id",
            "posted_date_time", "order_item_code", "merchant_order_item_id", "merchant_adjustment_item_id",
            "sku", "quantity_purchased", "promotion_id")
SETTLEMENT_ID = re.compile(r"[0-9A-Za-z-]{1,40}")
_CODE = re.compile(r"[^\x00-\x1f\x7f]{0,120}")
_AMOUNT = re.compile(r"-?[0-9]{1,3}(?:([.,' ])[0-9]{3})*(?:([.,])[0-9]{1,2})?|-?[0-9]{1,15}(?:([.,])[0-9]{1,2})?")
_MOMENT = re.compile(r"(?:(\d{4})-(\d{2})-(\d{2})|(\d{2})\.(\d{2})\.(\d{4}))"
                     r"(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(UTC|GMT|Z|[+-]00:?00)?)?")


class BadRow(PermanentError):
    """A row (or the header) that cannot be read: where, and what is wrong."""

    def __init__(self, line: int, column_name: str | None, value: str | None, message: str):
        where = f"line {line}" + (f", column {column_name}" if column_name else "")
        shown = f" {quote(value)}" if value is not None else ""
        super().__init__(f"{where}:{shown} {message}".strip())
        self.line, self.column, self.value, self.message = line, column_name, value, message

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "value": None if self.value is None else self.value[:40],
                "message": self.message}


@dataclass(frozen=True)
class Head:
    settlement_id: str
    start: datetime
    end: datetime
    deposit_date: datetime
    total: Decimal
    currency: str


Code = tuple[str, str, str]  # transaction-type, amount-type, amount-description


@dataclass
class Sums:
    """A settlement's rows summed by what the books need of them: per code and month, per
    currency, and per order (by category, and by shipment for sales, by adjustment for refunds).
    Two identical rows count twice."""

    rows: int = 0
    by_code: dict[tuple[Code, str], Decimal] = field(default_factory=dict)  # (code, "YYYY-MM") → sum
    by_currency: dict[str, Decimal] = field(default_factory=dict)
    # category → its sums by order: sales by (order, shipment), refunds by (order, adjustment), the
    # other categories by order alone
    by_kind: dict[str, dict[Any, Decimal]] = field(default_factory=dict)
    by_account: dict[Code, Decimal] = field(default_factory=dict)  # rows of no order, per code
    marketplaces: dict[str, str] = field(default_factory=dict)  # order → marketplace name
    categories: dict[tuple[Code, bool], str] = field(default_factory=dict)  # (code, of an order) → category
    first_posted: date | None = None
    last_posted: date | None = None

    def by_order(self) -> dict[tuple[str, str, str], Decimal]:
        """(order, category, shipment or adjustment id, or "") → sum."""
        out: dict[tuple[str, str, str], Decimal] = {}
        for kind, kept in self.by_kind.items():
            for okey, amount in kept.items():
                key = (okey[0], kind, okey[1]) if isinstance(okey, tuple) else (okey, kind, "")
                out[key] = out.get(key, ZERO) + amount
        return out


def amount_of(text: str) -> Decimal | None:
    """An amount as Amazon writes one, with a decimal point or a decimal comma; None if it is
    not one. A separator followed by one or two digits at the end is the decimal mark; the
    others group thousands, all with the same sign (so "1,234" is 1234, as in a JPY file, and
    "12,34" is 12.34; "0.123" and "1,234.567" are refused)."""
    text = text.strip()
    found = _AMOUNT.fullmatch(text)
    if found is None:
        return None
    grouping, decimal_mark = found.group(1), found.group(2) or found.group(3)
    if grouping and decimal_mark and grouping == decimal_mark:
        return None  # "1.234.56": no mark can be both
    whole, _, fraction = (text.rpartition(decimal_mark) if decimal_mark else (text, "", ""))
    if grouping and (len(set(re.findall(r"[.,' ]", whole))) > 1 or whole.lstrip("-").startswith("0")):
        return None
    digits = re.sub(r"[.,' ]", "", whole)
    return Decimal(f"{digits}.{fraction}" if fraction else digits)


def moment_of(text: str) -> datetime | None:
    """A date-time (or a date, at midnight) as settlement files write them, in UTC; None if not."""
    found = _MOMENT.fullmatch(text.strip())
    if found is None:
        return None
    g = found.groups()
    year, month, day = (g[0], g[1], g[2]) if g[0] else (g[5], g[4], g[3])
    try:
        return datetime(int(year), int(month), int(day), int(g[6] or 0), int(g[7] or 0), int(g[8] or 0), tzinfo=UTC)
    except ValueError:
        return None


def read(lines: Iterable[str]) -> tuple[Head, Body]:
    """The settlement's head, and its body to read once. Raises BadRow for the header or the
    totals row; the body raises BadRow for the first row it cannot read.

    Amazon's settlement files are tab separated and never quoted, so a line is split on its
    tabs (str.split, twice as fast as the csv module's reader, which reads them the same with
    QUOTE_NONE)."""
    lines = iter(lines)
    names = _split(next(lines, ""))
    if not any(n.strip() for n in names):
        raise BadRow(1, None, None, "the file is empty: a settlement report starts with its header "
                                    "(settlement-id, settlement-start-date, ...)")
    header = [column(name.lstrip("\ufeff")) for name in names]
    missing = [name.replace("_", "-") for name in REQUIRED if name not in header]
    if missing:
        raise BadRow(1, None, None, f"the header has no column {', '.join(missing)}: is this a "
                                    f"{REPORT_TYPE} file, tab separated?")
    at = {name: header.index(name) for name in REQUIRED + OPTIONAL if name in header}
    first = next(lines, None)
    if first is None:
        raise BadRow(2, None, None, "the file has no totals row: the first row after the header carries the "
                                    "settlement's period, deposit and currency")
    head = _head(_split(first), at, 2)
    return head, Body(lines, at, len(header), head)


def _split(line: str) -> list[str]:
    return line.rstrip("\r\n").split("\t")


def _cell(row: list[str], at: dict[str, int], name: str) -> str:
    index = at.get(name)
    return row[index].strip() if index is not None and index < len(row) else ""


def _head(row: list[str], at: dict[str, int], line: int) -> Head:
    settlement_id = _cell(row, at, "settlement_id")
    if not SETTLEMENT_ID.fullmatch(settlement_id):
        raise BadRow(line, "settlement-id", settlement_id, "is not a settlement id (digits)")
    moments = {}
    for name in ("settlement_start_date", "settlement_end_date", "deposit_date"):
        value = _cell(row, at, name)
        moments[name] = moment_of(value)
        if moments[name] is None:
            raise BadRow(line, name.replace("_", "-"), value, "is not a date (2026-11-03 18:03:49 UTC or "
                                                              "03.11.2026 18:03:49 UTC)")
    total_text, currency = _cell(row, at, "total_amount"), _cell(row, at, "currency").upper()
    total = amount_of(total_text)
    if total is None:
        raise BadRow(line, "total-amount", total_text, "is not an amount (1234.56 or 1.234,56)")
    if currency not in CURRENCIES:
        raise BadRow(line, "currency", currency, "is not an ISO 4217 currency code")
    start, end = moments["settlement_start_date"], moments["settlement_end_date"]
    if start > end:  # type: ignore[operator]  # both checked above
        raise BadRow(line, "settlement-end-date", _cell(row, at, "settlement_end_date"),
                     "is before the settlement's start date")
    return Head(settlement_id, start, end, moments["deposit_date"], total, currency)  # type: ignore[arg-type]


ZERO = Decimal(0)
_AMOUNTS_KEPT = 20_000  # distinct amounts remembered (most repeat: fees, prices)
Classify = Callable[[str, str, str, bool], str]  # (code..., with an order) → category (rules.category)


class Body:
    """The rows after the totals row, read once by `sums()`."""

    def __init__(self, lines: Iterator[str], at: dict[str, int], width: int, head: Head):
        self._lines, self._at, self._width, self.head = lines, at, width, head

    def sums(self, classify: Classify, sales: str, refunds: str) -> Sums:
        """Every row read, checked and summed (`_sums`), the cyclic garbage collector paused: the
        loop makes no reference cycles, and the collector's passes over the growing sums cost
        about a tenth of the time."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._sums(classify, sales, refunds)
        finally:
            if collecting:
                gc.enable()

    def _sums(self, classify: Classify, sales: str, refunds: str) -> Sums:
        """Every row read, checked and added to the sums. The loop does the least a row needs
        (csv's own reading is half the time): a few dictionary lookups and two additions; each
        distinct amount, date, code and order id is checked once, the first time it is seen.
        `classify` names each code's category; sales are kept per shipment, refunds per
        adjustment."""
        head, at = self.head, self._at
        empty = len(at) + 100  # a column index no row reaches: reads as "" through _get
        i_id, i_amount, i_posted, i_order = at["settlement_id"], at["amount"], at["posted_date"], at["order_id"]
        i_type, i_atype, i_desc = at["transaction_type"], at["amount_type"], at["amount_description"]
        i_ship, i_adj, i_cur, i_market = (at.get("shipment_id", empty), at.get("adjustment_id", empty),
                                          at.get("currency", empty), at.get("marketplace_name", empty))
        if max(i_ship, i_adj, i_cur, i_market) == empty:
            return self._padded(classify, sales, refunds)
        out = Sums()
        amounts: dict[str, int] = {}  # an amount as written → hundredths
        # (transaction type, amount type, description, posted date) → its slots [of no order, of an
        # order], each [sum, code, month, category, its category's sums by order, a row's key there]
        slots: dict[tuple[str, str, str, str], list[Any]] = {}
        slot_of = itemgetter(i_type, i_atype, i_desc, i_posted)
        codes: dict[tuple[str, str, str, bool], tuple[Code, str]] = {}
        months: dict[str, tuple[str, date]] = {}
        orders: set[str] = set()  # as written (checked once each)
        # category → its sums by order: sales by (order, shipment), refunds by (order, adjustment)
        by_kind: dict[str, dict[Any, int]] = {}  # in hundredths, like every sum of the loop
        keys = {sales: itemgetter(i_order, i_ship), refunds: itemgetter(i_order, i_adj)}
        by_account: dict[Code, int] = {}
        by_currency = out.by_currency
        settlement_id, currency = head.settlement_id, head.currency
        subs = (by_kind, keys, itemgetter(i_order))
        others: dict[str, int] = {}  # rows whose currency cell names one (another than the deposit's)
        blank = 0
        row: list[str] = []
        line = 2
        lines = self._lines
        read = (i_id, i_amount, i_posted, i_order, i_type, i_atype, i_desc, i_ship, i_adj, i_cur, i_market)
        if self._width - 1 in read:
            lines = (text.rstrip("\r\n") for text in lines)  # a cell read is the last: without the break
        # Split no further than the last cell read (the rest of the line stays in one string); a row
        # of fewer cells than the header is caught as an IndexError.
        splits = max(read) + 1
        numbered = enumerate(lines, start=3)
        while True:
            try:
                for line, text in numbered:
                    row = text.split("\t", splits)  # the last cell keeps its line break: no cell read is last
                    if row[i_id] != settlement_id:
                        self._other_settlement(row, i_id, line)
                    amount = amounts.get(row[i_amount])
                    if amount is None:
                        if len(amounts) > _AMOUNTS_KEPT:
                            amounts.clear()
                        amount = amounts[row[i_amount]] = int(self._amount(row[i_amount], line).scaleb(2))
                    order_id = row[i_order]
                    pair = slots.get(slot_of(row))
                    slot = pair[order_id != ""] if pair is not None else None
                    if slot is None:
                        slot = self._slot(slots, slot_of(row), order_id != "", codes, months, classify, subs, line)
                    slot[0] += amount
                    if row[i_cur] and row[i_cur] != currency:
                        self._currency(row[i_cur], amount, others, line)
                    if order_id:
                        kept = slot[4]  # this category's sums, by order (and shipment or adjustment)
                        okey = slot[5](row)
                        before = kept.get(okey)
                        if before is None:
                            if order_id not in orders:
                                self._order(row, i_order, i_market, out.marketplaces, line)
                                orders.add(order_id)
                            kept[okey] = amount
                        else:
                            kept[okey] = before + amount
                    else:
                        by_account[slot[1]] = by_account.get(slot[1], 0) + amount
                break
            except IndexError:
                if not any(cell.strip() for cell in row):
                    blank += 1
                    continue
                cells = len(text.split("\t"))
                raise BadRow(line, None, None, f"this row has {cells} cells where the header has "
                                                          f"{self._width}") from None
        out.rows = line - 2 - blank
        # The sums were kept in hundredths (every amount has at most two decimals): exact, and
        # integers add faster than Decimals. Back to Decimal here.
        by_currency.update({code: _money(cents) for code, cents in others.items() if code != currency})
        every = sum(slot[0] for pair in slots.values() for slot in pair if slot is not None)
        by_currency[currency] = _money(every) - sum(by_currency.values(), ZERO)
        out.by_account = {code: _money(cents) for code, cents in by_account.items()}
        in_money = {kind: {okey: _money(cents) for okey, cents in kept.items()} for kind, kept in by_kind.items()}
        by_code = out.by_code
        for pair in slots.values():
            for cents, code, month, *_ in (slot for slot in pair if slot is not None):
                by_code[(code, month)] = by_code.get((code, month), ZERO) + _money(cents)
        out.categories = {(code, key[3]): kind for key, (code, kind) in codes.items()}
        posted = sorted(d for _, d in months.values())
        out.first_posted, out.last_posted = (posted[0], posted[-1]) if posted else (None, None)
        out.by_kind = _stripped(in_money) if out.marketplaces.pop(_UNCLEAN, None) is not None else in_money
        return out

    def _padded(self, classify: Classify, sales: str, refunds: str) -> Sums:
        """A file without some optional columns: the same loop, each line given empty cells there."""
        at = dict(self._at)
        for offset, name in enumerate(("shipment_id", "adjustment_id", "currency", "marketplace_name")):
            at.setdefault(name, self._width + offset)
        lines = (line.rstrip("\r\n") + "\t\t\t\t" if line.strip() else line for line in self._lines)
        return Body(lines, at, self._width + 4, self.head)._sums(classify, sales, refunds)

    def _other_settlement(self, row: list[str], at: int, line: int) -> None:
        if row[at].strip() != self.head.settlement_id:
            raise BadRow(line, "settlement-id", row[at], f"is not this report's settlement ({self.head.settlement_id})")

    @staticmethod
    def _amount(text: str, line: int) -> Decimal:
        amount = amount_of(text)
        if amount is None:
            raise BadRow(line, "amount", text, "is not an amount (1234.56 or 1.234,56)")
        return amount

    def _slot(self, slots: dict[tuple[str, str, str, str], list[Any]], key: tuple[str, str, str, str],
              with_order: bool, codes: dict[tuple[str, str, str, bool], tuple[Code, str]],
              months: dict[str, tuple[str, date]], classify: Classify, subs: tuple[Any, Any, Any],
              line: int) -> list[Any]:
        code_key = (key[0], key[1], key[2], with_order)
        found = codes.get(code_key)
        if found is None:
            found = codes[code_key] = self._code(code_key, classify, line)
        month = months.get(key[3])
        if month is None:
            month = months[key[3]] = self._month(key[3], line)
        code, kind = found
        by_kind, keys, by_order_only = subs
        slot = [0, code, month[0], kind, by_kind.setdefault(kind, {}), keys.get(kind, by_order_only)]
        slots.setdefault(key, [None, None])[with_order] = slot
        return slot

    def _month(self, text: str, line: int) -> tuple[str, date]:
        found = moment_of(text) if text.strip() else self.head.end
        if found is None:
            raise BadRow(line, "posted-date", text, "is not a date (2026-11-03 or 03.11.2026)")
        return found.strftime("%Y-%m"), found.date()

    @staticmethod
    def _code(key: tuple[str, str, str, bool], classify: Classify, line: int) -> tuple[Code, str]:
        code = (key[0].strip(), key[1].strip(), key[2].strip())
        for name, word in zip(("transaction-type", "amount-type", "amount-description"), code, strict=True):
            if not _CODE.fullmatch(word):
                raise BadRow(line, name, word, "holds control characters or is longer than 120 characters")
        if not code[0] and not code[1]:
            raise BadRow(line, "transaction-type", "", "is empty: every row after the totals row names its "
                                                      "transaction type and amount type")
        return code, classify(*code, key[3])

    @staticmethod
    def _order(row: list[str], at: int, market_at: int, marketplaces: dict[str, str], line: int) -> None:
        order_id = row[at].strip()
        if order_id != row[at]:
            marketplaces[_UNCLEAN] = ""
        if not ORDER_ID.fullmatch(order_id):
            raise BadRow(line, "order-id", row[at], "is not an order id")
        marketplaces.setdefault(order_id, row[market_at].strip())

    def _currency(self, text: str, cents: int, others: dict[str, int], line: int) -> None:
        code = text.strip().upper()
        if code not in CURRENCIES:
            raise BadRow(line, "currency", text, "is not an ISO 4217 currency code")
        others[code] = others.get(code, 0) + cents


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


_UNCLEAN = "\x00"  # marks, among the marketplaces, that some order id had spaces around it


def _stripped(by_kind: dict[str, dict[Any, Decimal]]) -> dict[str, dict[Any, Decimal]]:
    """The orders' sums keyed by order ids without the spaces around them."""
    out: dict[str, dict[Any, Decimal]] = {}
    for kind, kept in by_kind.items():
        clean = out.setdefault(kind, {})
        for okey, amount in kept.items():
            key = (okey[0].strip(), okey[1].strip()) if isinstance(okey, tuple) else okey.strip()
            clean[key] = clean.get(key, ZERO) + amount
    return out
