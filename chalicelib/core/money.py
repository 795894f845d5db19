"""Exact money. Amounts are `Decimal` (never float) with an ISO 4217 currency."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# Currencies whose minor unit is not the cent (ISO 4217 exponents).
_EXPONENT = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "HUF": 2, "KWD": 3, "BHD": 3, "JOD": 3}


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
        """Amazon's `{"amount": "12.34", "currencyCode": "EUR"}` (also `CurrencyCode`/`Amount`)."""
        if value is None:
            return None
        if not isinstance(value, dict):
            raise MoneyError(f"money must be an object, got {type(value).__name__}")
        amount = value.get("amount", value.get("Amount"))
        currency = value.get("currencyCode", value.get("CurrencyCode"))
        if amount is None or not currency:
            raise MoneyError("money needs an amount and a currencyCode")
        if isinstance(amount, float):
            # JSON numbers reach us as float only if someone parsed without Decimal.
            amount = repr(amount)
        return cls.of(amount, str(currency))

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


def total(values: Iterable[Money], currency: str) -> Money:
    result = Money.zero(currency)
    for value in values:
        result = result + value
    return result
