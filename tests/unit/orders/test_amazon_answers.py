"""Amazon's getOrder answers, validated at the edge: money exact or the order "needs attention"
with the reason, anything else malformed a typed refusal; never an untyped crash, never a
figure silently changed, never buyer data in a reason.

The example cases are the audit's; the fuzz test mutates a well-formed Orders API v2026-01-01
Order (tests/builders.py) the way the notification fuzz does (tests/unit/test_intake_fuzz.py).
"""
from __future__ import annotations

import copy
import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import PermanentError
from chalicelib.core.tasks import Outcome
from chalicelib.flows.orders import service
from tests.builders import amazon_order
from tests.fakes import FakeAmazon, FakeBuyerData, FakeLimiter, FakeOrders, FakePollState, FakeTasks
from tests.unit.test_intake_fuzz import MARKER, ODD_VALUES, REASON_LIMIT, _paths, _set

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
ORDER_ID = "028-1234567-1234567"
PERSONAL = ("Erika Mustermann", "Musterstr", "abc123@marketplace", "+49 30")
SCALE = int(os.environ.get("SELLEROPS_FUZZ_EXAMPLES", "10000")) // 4


def fetch(order: dict):
    ports = service.TaskPorts(orders=FakeOrders(strict=True), tasks=FakeTasks(), slots=service.Slots(FakeLimiter()),
                              amazon=FakeAmazon({ORDER_ID: order}), buyer_data=FakeBuyerData(),
                              poll_state=FakePollState())
    task = service.fetch_task("A2EUQ1WTGCTBG2", ORDER_ID, "A1PA6795UKMFR9", "order changed")
    return service.fetch_order_details(task, ports, NOW), ports


def with_amount(path: tuple, amount, currency="EUR") -> dict:
    return _set(amazon_order(), path, {"amount": amount, "currencyCode": currency})


GRAND_TOTAL = ("proceeds", "grandTotal")
UNIT_PRICE = ("orderItems", 0, "product", "price", "unitPrice")


@pytest.mark.parametrize(("order", "mentions"), [
    (with_amount(GRAND_TOTAL, "1e3"), "not a plain decimal"),
    (with_amount(GRAND_TOTAL, "1" + "0" * 26), "not a plain decimal"),
    (with_amount(GRAND_TOTAL, "NaN"), "not a plain decimal"),
    (with_amount(GRAND_TOTAL, "Infinity"), "not a plain decimal"),
    (with_amount(UNIT_PRICE, "12.345"), "more decimals than EUR has (2)"),
    (with_amount(GRAND_TOTAL, "43.97", "XYZ"), "currency 'XYZ' is not an ISO 4217 code"),
    (with_amount(GRAND_TOTAL, 43.97), "must be a decimal string"),
    (with_amount(UNIT_PRICE, "19.99", "GBP"), "its amounts mix EUR, GBP"),
])
def test_money_that_is_not_exact_makes_the_order_need_attention(order, mentions):
    result, ports = fetch(order)
    assert result.outcome is Outcome.ATTENTION
    stored, details_status, _ = ports.orders.get(ORDER_ID)
    assert stored.details is None and details_status is None, "no figure is kept, none is changed"
    assert mentions in stored.attention.reason and len(stored.attention.reason) <= REASON_LIMIT
    assert stored.status.value == "UNSHIPPED", "its status (and buyer data) are still kept"
    assert ORDER_ID in ports.buyer_data.saved


def test_exact_money_clears_a_past_attention():
    _, ports = fetch(with_amount(GRAND_TOTAL, "1e3"))
    later = amazon_order(updated="2026-11-01T11:00:00Z", status="SHIPPED")
    ports.amazon.orders[ORDER_ID] = later
    task = service.fetch_task("A2EUQ1WTGCTBG2", ORDER_ID, "A1PA6795UKMFR9", "order changed")
    assert service.fetch_order_details(task, ports, NOW).outcome is Outcome.DONE
    stored = ports.orders.get(ORDER_ID)[0]
    assert stored.attention is None and str(stored.details.grand_total) == "43.97 EUR"


@pytest.mark.parametrize("programs", ["NOT_PRIME", "PRIME", {"PRIME": True}])
def test_programs_that_are_not_a_list_are_refused_not_read_as_prime(programs):
    order = amazon_order()
    order["programs"] = programs
    with pytest.raises(PermanentError, match="programs must be a list"):
        fetch(order)


def test_amounts_in_yen_take_no_decimals_and_in_dinar_three():
    yen = with_amount(GRAND_TOTAL, "4397", "JPY")
    for path in (("proceeds", "breakdowns"), ("orderItems",)):
        yen = _set(yen, path, [])
    result, ports = fetch(yen)
    assert result.outcome is Outcome.CREATED and str(ports.orders.get(ORDER_ID)[0].details.grand_total) == "4397 JPY"


def _amounts(value) -> list[tuple[str, str]]:
    found = []
    if isinstance(value, dict):
        if isinstance(value.get("amount"), str) and isinstance(value.get("currencyCode"), str):
            found.append((value["amount"], value["currencyCode"]))
        for item in value.values():
            found += _amounts(item)
    elif isinstance(value, list):
        for item in value:
            found += _amounts(item)
    return found


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except ArithmeticError:
        return None


@st.composite
def mutated_orders(draw):
    order = amazon_order()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(order)))
        if path and path[-1] == "amount":
            value = draw(st.one_of(ODD_VALUES, st.sampled_from(["1e3", "12.345", "0.001", "-5.00", "1" * 30]),
                                   st.decimals(allow_nan=True, places=None).map(str)))
        elif path and path[-1] == "currencyCode":
            value = draw(st.one_of(ODD_VALUES, st.sampled_from(["GBP", "JPY", "XYZ", "eur", "KWD"])))
        else:
            value = draw(ODD_VALUES)
        order = _set(order, path, copy.deepcopy(value))
    return order


@settings(max_examples=SCALE, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(mutated_orders())
def test_every_answer_is_stored_exactly_needs_attention_or_is_a_typed_refusal(order):
    try:
        result, ports = fetch(order)
    except PermanentError as refused:
        assert len(refused.reason) <= REASON_LIMIT and MARKER[:41] not in refused.reason
        assert not any(p in refused.reason for p in PERSONAL), refused.reason
        return
    stored = ports.orders.get(ORDER_ID)[0]
    if result.outcome is Outcome.ATTENTION:
        assert stored.details is None and stored.attention is not None
        assert not any(p in stored.attention.reason for p in PERSONAL)
        return
    # Stored: every figure is Amazon's, to the digit.
    details = stored.details
    single = [details.grand_total]  # figures read as they are (breakdowns of one type are summed)
    for line in details.lines:
        single += [line.unit_price, line.item_tax, line.shipping_tax, line.total]
    sent = {(_decimal(a), c) for a, c in _amounts(order)}
    assert all((m.amount, m.currency) in sent for m in single if m is not None)
    everything = single + list(details.breakdown.values())
    assert len({m.currency for m in everything if m is not None}) <= 1
