from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.money import Money, MoneyError, total


def test_amazon_money_is_read_exactly_from_its_string():
    assert Money.from_amazon({"amount": "29.99", "currencyCode": "GBP"}) == Money(Decimal("29.99"), "GBP")


def test_money_is_never_built_from_a_float():
    with pytest.raises(MoneyError):
        Money.of(0.1, "EUR")


def test_currencies_do_not_mix():
    with pytest.raises(MoneyError, match="EUR with GBP"):
        Money.of("1", "EUR") + Money.of("1", "GBP")


def test_minor_units_follow_the_currency():
    assert Money.of("12.30", "EUR").to_minor_units() == 1230
    assert Money.of("1200", "JPY").to_minor_units() == 1200
    with pytest.raises(MoneyError):
        Money.of("0.001", "EUR").to_minor_units()


@given(st.lists(st.integers(min_value=-10**9, max_value=10**9), max_size=50))
def test_sums_of_cents_are_exact(cents):
    amounts = [Money(Decimal(c).scaleb(-2), "EUR") for c in cents]
    assert total(amounts, "EUR").to_minor_units() == sum(cents)


def test_amounts_are_shown_with_the_currency_decimals():
    assert Money.of("5", "EUR").to_dict() == {"amount": "5.00", "currency": "EUR"}
