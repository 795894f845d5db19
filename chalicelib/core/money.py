"""Exact money. Amounts are `Decimal` (never float) with an ISO 4217 currency."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# ISO 4217 active codes (list one, as of 2025) and their minor units: the cent unless listed.
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = ("AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
        "CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL "
        "GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR "
        "LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD "
        "PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC "
        "SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG")
CURRENCIES: dict[str, int] = {
    **dict.fromkeys(_TWO.split(), 2), **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_THREE.split(), 3), **dict.fromkeys(_FOUR.split(), 4)}
_EXPONENT = CURRENCIES
# An amount as Amazon writes one: digits, at most the currency's decimals, no sign but a minus,
# no exponent, no NaN or Infinity, below 10^15 (a trillion, a thousand times over).
_AMOUNT = re.compile(r"-?(0|[1-9][0-9]{0,14})(\.[0-9]+)?")


class MoneyError(ValueError):
    """An amount that is not exact money (not a decimal, no currency, mixed currencies)."""


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise MoneyError(f"amount must be a Decimal, got {type(self.amount).__name__}")
        if not self.amount.is_finite():
            raise MoneyError(f"amount {self.amount} is not finite")
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise MoneyError(f"currency {self.currency!r} is not an ISO 4217 code")

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        if isinstance(amount, float):
            raise MoneyError("money is never built from a float")
        try:
            return cls(Decimal(str(amount)), currency.upper())
        except InvalidOperation as exc:
            raise MoneyError(f"{amount!r} is not a decimal amount") from exc

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal("0"), currency.upper())

    @classmethod
    def from_amazon(cls, value: Any) -> Money | None:
        """Amazon's `{"amount": "12.34", "currencyCode": "EUR"}` (also `CurrencyCode`/`Amount`),
        checked at the edge: an ISO 4217 currency, the amount a decimal string with at most the
        currency's decimals, bounded. Anything else is a MoneyError saying what (never an
        amount silently changed: "1e3" is not 1000, "12.345" EUR is not 12.35)."""
        if value is None:
            return None
        if not isinstance(value, dict):
            raise MoneyError("money must be an object with amount and currencyCode")
        amount = value.get("amount", value.get("Amount"))
        currency = value.get("currencyCode", value.get("CurrencyCode"))
        if amount is None or currency is None:
            raise MoneyError("money needs an amount and a currencyCode")
        if not isinstance(currency, str) or currency not in CURRENCIES:
            raise MoneyError(f"currency {_quote(currency)} is not an ISO 4217 code")
        if not isinstance(amount, str):
            raise MoneyError(f"amount must be a decimal string, not a JSON {type(amount).__name__}")
        found = _AMOUNT.fullmatch(amount)
        if found is None:
            raise MoneyError(f"amount {_quote(amount)} is not a plain decimal below 10^15 (no exponent, NaN or "
                             "Infinity)")
        exact = Decimal(amount)
        if exact != exact.quantize(Decimal(1).scaleb(-CURRENCIES[currency])):  # "12.340" is fine, "12.345" not
            raise MoneyError(f"amount {_quote(amount)} has more decimals than {currency} has "
                             f"({CURRENCIES[currency]})")
        return cls(exact, currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    def _same_currency(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise MoneyError(f"cannot combine money with {type(other).__name__}")
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    @property
    def exponent(self) -> int:
        return _EXPONENT.get(self.currency, 2)

    def to_minor_units(self) -> int:
        """Integer minor units; refuses amounts finer than the currency's minor unit."""
        scaled = self.amount.scaleb(self.exponent)
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"{self} has more decimals than {self.currency} allows")
        return int(scaled)

    def formatted(self) -> str:
        """The amount with exactly the currency's decimals, as a string ("12.30")."""
        quantum = Decimal(1).scaleb(-self.exponent)
        return str(self.amount.quantize(quantum)) if self.amount == self.amount.quantize(quantum) else str(self.amount)

    def to_dict(self) -> dict[str, str]:
        return {"amount": self.formatted(), "currency": self.currency}

    @classmethod
    def from_dict(cls, value: dict[str, str]) -> Money:
        return cls.of(value["amount"], value["currency"])

    def __str__(self) -> str:
        return f"{self.formatted()} {self.currency}"


def _quote(value: Any) -> str:
    return repr(value[:20]) if isinstance(value, str) else f"a JSON {type(value).__name__}"


def total(values: Iterable[Money], currency: str) -> Money:
    result = Money.zero(currency)
    for value in values:
        result = result + value
    return result
