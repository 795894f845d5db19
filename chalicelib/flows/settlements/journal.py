"""A settlement as the books see it (pure): each row's code mapped to an account and a tax code,
and one summary journal entry per settlement, balanced, split at month end.

A code is Amazon's (transaction-type, amount-type, amount-description). The seller's mapping
names an account for codes, `*` matching any word: the most precise rule wins, in this order:
(t, a, d), (t, a, *), (*, a, d), (*, a, *), (*, *, d), (t, *, *). A code no rule matches is
unmapped, and an unmapped code blocks posting: it is listed with its amount, never guessed.

The entry, in debits positive: each account the negated sum of its rows (money Amazon paid the
seller is income, a credit; a fee is a debit), the deposit a debit on the clearing account
where the bank's payout meets it, and an explicit rounding line, zero whenever the control total
holds. A settlement that crosses a month end is split: each month but the last gets its own
entry, dated the month's last day, balanced through the carried-forward account; the last month
takes the carry back and the deposit. Reserves are on a balance-sheet account, tax withheld by
Amazon on its own.
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from chalicelib.core.errors import PermanentError
from chalicelib.core.fields import quote
from chalicelib.flows.settlements.parsing import Head

ZERO = Decimal(0)
NOTHING = Decimal("0.00")
ANY = "*"
Code = tuple[str, str, str]


class MappingError(PermanentError):
    """A mapping that cannot be used: which rule, and why."""


@dataclass(frozen=True)
class Account:
    code: str  # the account's number in the seller's chart (FEC: CompteNum; Xero: AccountCode)
    name: str  # its name (QuickBooks Online imports by name)
    tax_code: str = "No VAT"  # Xero's TaxRate, a tax code elsewhere: VAT is posted on its own lines

    def to_dict(self) -> dict[str, str]:
        return {"account": self.code, "name": self.name, "taxCode": self.tax_code}


def _a(code: str, name: str) -> Account:
    return Account(code, name)


SALES_ACCOUNT = _a("707000", "Amazon sales")
SHIPPING_ACCOUNT = _a("708500", "Amazon shipping charged")
GIFT_WRAP_ACCOUNT = _a("708800", "Amazon gift wrap charged")
VAT_ACCOUNT = _a("445710", "VAT collected")
REFUNDS_ACCOUNT = _a("709000", "Amazon refunds")
PROMOTIONS_ACCOUNT = _a("709700", "Amazon promotions")
FEES_ACCOUNT = _a("622200", "Amazon selling fees")
FBA_ACCOUNT = _a("624100", "Amazon fulfilment fees (FBA)")
WITHHELD_ACCOUNT = _a("445800", "Tax withheld by Amazon")
RESERVE_ACCOUNT = _a("467100", "Amazon reserve held")
STORAGE_ACCOUNT = _a("613200", "Amazon FBA storage")
ADVERTISING_ACCOUNT = _a("623000", "Amazon advertising")
SUBSCRIPTION_ACCOUNT = _a("627000", "Amazon subscription")
REIMBURSEMENT_ACCOUNT = _a("791000", "Amazon reimbursements")

DEFAULT_RULES: dict[Code, Account] = {
    (ANY, "ItemPrice", "Principal"): SALES_ACCOUNT,
    (ANY, "ItemPrice", "Shipping"): SHIPPING_ACCOUNT,
    (ANY, "ItemPrice", "GiftWrap"): GIFT_WRAP_ACCOUNT,
    (ANY, "ItemPrice", "Tax"): VAT_ACCOUNT,
    (ANY, "ItemPrice", "ShippingTax"): VAT_ACCOUNT,
    (ANY, "ItemPrice", "GiftWrapTax"): VAT_ACCOUNT,
    ("Refund", "ItemPrice", "Principal"): REFUNDS_ACCOUNT,
    ("Refund", "ItemPrice", "Shipping"): REFUNDS_ACCOUNT,
    ("Refund", "ItemPrice", "GiftWrap"): REFUNDS_ACCOUNT,
    ("Chargeback Refund", "ItemPrice", ANY): REFUNDS_ACCOUNT,
    ("A-to-z Guarantee Claim", "ItemPrice", ANY): REFUNDS_ACCOUNT,
    (ANY, "Promotion", ANY): PROMOTIONS_ACCOUNT,
    (ANY, "ItemFees", ANY): FEES_ACCOUNT,
    (ANY, "ItemFees", "FBAPerUnitFulfillmentFee"): FBA_ACCOUNT,
    (ANY, "ItemFees", "FBAPerOrderFulfillmentFee"): FBA_ACCOUNT,
    (ANY, "ItemFees", "FBAWeightBasedFee"): FBA_ACCOUNT,
    (ANY, "ItemFees", "ShippingChargeback"): FBA_ACCOUNT,
    (ANY, "ItemWithheldTax", ANY): WITHHELD_ACCOUNT,
    (ANY, ANY, "Previous Reserve Amount Balance"): RESERVE_ACCOUNT,
    (ANY, ANY, "Current Reserve Amount"): RESERVE_ACCOUNT,
    (ANY, ANY, "Storage Fee"): STORAGE_ACCOUNT,
    (ANY, ANY, "StorageRenewalBilling"): STORAGE_ACCOUNT,
    (ANY, ANY, "FBA Long-Term Storage Fee"): STORAGE_ACCOUNT,
    (ANY, ANY, "RemovalComplete"): STORAGE_ACCOUNT,
    (ANY, ANY, "DisposalComplete"): STORAGE_ACCOUNT,
    (ANY, ANY, "Subscription Fee"): SUBSCRIPTION_ACCOUNT,
    ("Cost of Advertising", ANY, ANY): ADVERTISING_ACCOUNT,
    (ANY, "Cost of Advertising", ANY): ADVERTISING_ACCOUNT,
    (ANY, "FBA Inventory Reimbursement", ANY): REIMBURSEMENT_ACCOUNT,
    ("FBA Inventory Reimbursement", ANY, ANY): REIMBURSEMENT_ACCOUNT,
}


@dataclass(frozen=True)
class Chart:
    """A seller's mapping: the rules, and the accounts the entry itself needs."""

    rules: Mapping[Code, Account] = field(default_factory=lambda: dict(DEFAULT_RULES))
    clearing: Account = _a("467000", "Amazon clearing (payouts)")  # the deposit meets the bank's payout here
    carried: Account = _a("471000", "Amazon settlement carried forward")  # across a month end
    rounding: Account = _a("658000", "Rounding differences")
    journal_code: str = "AMZ"
    journal_name: str = "Amazon settlements"
    updated_at: str | None = None

    def account_for(self, code: Code) -> Account | None:
        t, a, d = code
        for key in ((t, a, d), (t, a, ANY), (ANY, a, d), (ANY, a, ANY), (ANY, ANY, d), (t, ANY, ANY)):
            found = self.rules.get(key)
            if found is not None:
                return found
        return None


DEFAULT_CHART = Chart()


# ------------------------------------------------------------------------------- the entry

@dataclass(frozen=True)
class Line:
    account: Account
    amount: Decimal  # a debit is positive, a credit negative
    label: str

    @property
    def debit(self) -> Decimal:
        return self.amount if self.amount > 0 else NOTHING

    @property
    def credit(self) -> Decimal:
        return -self.amount if self.amount < 0 else NOTHING

    def to_dict(self) -> dict[str, Any]:
        return {**self.account.to_dict(), "label": self.label, "debit": str(self.debit), "credit": str(self.credit)}


@dataclass(frozen=True)
class Entry:
    index: int  # 1, 2, ... within the settlement
    on: date
    label: str
    lines: tuple[Line, ...]
    number: int | None = None  # in the seller's journal, once posted (without a gap, in posting order)

    @property
    def debits(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def credits(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)

    @property
    def balanced(self) -> bool:
        return self.debits == self.credits

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "number": self.number, "date": self.on.isoformat(), "label": self.label,
                "debits": str(self.debits), "credits": str(self.credits), "balanced": self.balanced,
                "lines": [line.to_dict() for line in self.lines]}


@dataclass(frozen=True)
class Unmapped:
    code: Code
    amount: Decimal

    def to_dict(self) -> dict[str, str]:
        return {"transactionType": self.code[0], "amountType": self.code[1], "amountDescription": self.code[2],
                "amount": str(self.amount)}


@dataclass(frozen=True)
class Journal:
    currency: str
    entries: tuple[Entry, ...]
    unmapped: tuple[Unmapped, ...]

    @property
    def rounding(self) -> Decimal:
        return sum((line.amount for e in self.entries for line in e.lines if line.label == ROUNDING), ZERO)

    @property
    def balanced(self) -> bool:
        return all(e.balanced for e in self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {"currency": self.currency, "balanced": self.balanced, "rounding": str(self.rounding),
                "unmapped": [u.to_dict() for u in self.unmapped], "entries": [e.to_dict() for e in self.entries]}


ROUNDING = "Rounding (zero when the rows sum to the deposit)"


def journal_of(value: Mapping[str, Any]) -> Journal:
    """A journal as `Journal.to_dict` stored it."""
    entries = tuple(
        Entry(int(e["index"]), date.fromisoformat(e["date"]), str(e["label"]), tuple(
            Line(Account(line["account"], line["name"], line["taxCode"]),
                 Decimal(line["debit"]) - Decimal(line["credit"]), str(line["label"])) for line in e["lines"]),
            e.get("number"))
        for e in value["entries"])
    unmapped = tuple(Unmapped((u["transactionType"], u["amountType"], u["amountDescription"]), Decimal(u["amount"]))
                     for u in value.get("unmapped") or [])
    return Journal(str(value["currency"]), entries, unmapped)


def _month_end(month: str) -> date:
    year, number = int(month[:4]), int(month[5:7])
    return date(year, number, calendar.monthrange(year, number)[1])


def journal(head: Head, by_code: Mapping[tuple[Code, str], Decimal], chart: Chart) -> Journal:
    """The settlement's entries (one per month it spans), from its sums per code and month."""
    unmapped: dict[Code, Decimal] = {}
    per_month: dict[str, dict[Account, Decimal]] = {}
    last_month = head.end.strftime("%Y-%m")
    for (code, month), amount in by_code.items():
        account = chart.account_for(code)
        if account is None:
            unmapped[code] = unmapped.get(code, ZERO) + amount
            continue
        month = min(month, last_month)  # a row posted after the end belongs to the settlement's last entry
        accounts = per_month.setdefault(month, {})
        accounts[account] = accounts.get(account, ZERO) - amount
    per_month.setdefault(last_month, {})
    entries: list[Entry] = []
    carried_in = ZERO  # what the earlier months left on the carried-forward account (a debit)
    months = sorted(per_month)
    label = f"Amazon settlement {head.settlement_id}"
    for index, month in enumerate(months, start=1):
        lines = [Line(account, amount, account.name) for account, amount in
                 sorted(per_month[month].items(), key=lambda kv: kv[0].code) if amount]
        if carried_in:
            lines.append(Line(chart.carried, -carried_in, f"Carried from {months[index - 2]}"))
        if month != last_month:
            carried_in = -sum((line.amount for line in lines), ZERO)
            lines.append(Line(chart.carried, carried_in, f"Carried forward to {months[index]}"))
            entries.append(Entry(index, _month_end(month), f"{label} ({month}, carried forward)", tuple(lines)))
            continue
        lines.append(Line(chart.clearing, head.total, "Deposit" if head.total >= 0 else
                          "Owed to Amazon (negative settlement: nothing deposited)"))
        lines.append(Line(chart.rounding, -sum((line.amount for line in lines), ZERO), ROUNDING))
        entries.append(Entry(index, head.end.date(), label, tuple(lines)))
    return Journal(head.currency, tuple(entries),
                   tuple(Unmapped(c, v) for c, v in sorted(unmapped.items())))


# ------------------------------------------------------------------------------ the mapping

_ACCOUNT_CODE = re.compile(r"[0-9A-Za-z.:_-]{1,20}")
_WORD = re.compile(r"[^\x00-\x1f\x7f]{1,120}")


def _account(value: Any, where: str) -> Account:
    if not isinstance(value, dict):
        raise MappingError(f"{where} must be an object with account and name")
    code, name, tax = value.get("account"), value.get("name"), value.get("taxCode", "No VAT")
    if not isinstance(code, str) or not _ACCOUNT_CODE.fullmatch(code):
        raise MappingError(f"{where}.account {quote(code)} is not an account code (1 to 20 letters, digits, . : _ -)")
    for label, text in (("name", name), ("taxCode", tax)):
        if not isinstance(text, str) or not _WORD.fullmatch(text):
            raise MappingError(f"{where}.{label} {quote(text)} must be 1 to 120 printable characters")
    return Account(code, str(name), str(tax))


def chart_of(body: Mapping[str, Any], updated_at: str | None = None) -> Chart:
    """A chart from `PUT /accounts/mapping`'s body (its schema checked it; this checks the
    words). Rules the body does not name keep their defaults unless `replaceDefaults`."""
    rules: dict[Code, Account] = {} if body.get("replaceDefaults") else dict(DEFAULT_RULES)
    for i, rule in enumerate(body.get("rules") or []):
        where = f"rules[{i}]"
        code = (rule.get("transactionType", ANY), rule.get("amountType", ANY), rule.get("amountDescription", ANY))
        for part in code:
            if not isinstance(part, str) or not _WORD.fullmatch(part):
                raise MappingError(f"{where}: {quote(part)} is not a code word (1 to 120 printable characters, or *)")
        if code == (ANY, ANY, ANY):
            raise MappingError(f"{where}: a rule must name at least one of transactionType, amountType, "
                               "amountDescription (a catch-all would hide Amazon's new codes)")
        rules[code] = _account(rule, where)
    defaults = DEFAULT_CHART
    journal_code = body.get("journalCode", defaults.journal_code)
    if not isinstance(journal_code, str) or not re.fullmatch(r"[0-9A-Za-z]{1,10}", journal_code):
        raise MappingError(f"journalCode {quote(journal_code)} must be 1 to 10 letters or digits")
    return Chart(rules,
                 _account(body["clearing"], "clearing") if "clearing" in body else defaults.clearing,
                 _account(body["carried"], "carried") if "carried" in body else defaults.carried,
                 _account(body["rounding"], "rounding") if "rounding" in body else defaults.rounding,
                 journal_code, str(body.get("journalName") or defaults.journal_name)[:100], updated_at)


def chart_json(chart: Chart) -> dict[str, Any]:
    return {"rules": [{"transactionType": t, "amountType": a, "amountDescription": d, **account.to_dict()}
                      for (t, a, d), account in sorted(chart.rules.items())],
            "replaceDefaults": True,
            "clearing": chart.clearing.to_dict(), "carried": chart.carried.to_dict(),
            "rounding": chart.rounding.to_dict(), "journalCode": chart.journal_code,
            "journalName": chart.journal_name, "updatedAt": chart.updated_at}
