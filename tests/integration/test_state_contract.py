"""The state table's call records behave like the fake the unit tests of core/once.py use."""
import uuid

import pytest

from chalicelib.core.once import Call, call_once
from tests.fakes import FakeCallLedger


@pytest.fixture(params=["fake", "dynamodb"])
def ledger(request):
    if request.param == "fake":
        return FakeCallLedger()
    request.getfixturevalue("aws_stack")
    from chalicelib.core.state import DynamoState

    return DynamoState()


@pytest.fixture
def name():
    return f"confirmShipment#{uuid.uuid4().hex}"


def test_only_one_attempt_takes_the_lease_until_it_runs_out(ledger, name):
    assert ledger.call("S1", name) is None
    assert ledger.lease_call("S1", name, "f1", "a", 1000.0, 60.0, 1)
    assert not ledger.lease_call("S1", name, "f1", "b", 1030.0, 60.0, 2)
    record = ledger.call("S1", name)
    assert (record.status, record.owner, record.fingerprint, record.attempts) == ("intent", "a", "f1", 1)
    assert ledger.lease_call("S1", name, "f1", "b", 1061.0, 60.0, 2)
    assert ledger.call("S1", name).owner == "b"


def test_only_the_lease_holder_settles_and_a_settled_call_stays_settled(ledger, name):
    ledger.lease_call("S1", name, "f1", "a", 1000.0, 60.0, 1)
    assert not ledger.settle_call("S1", name, "someone-else", "done", "f1", {"x": 1})
    assert ledger.settle_call("S1", name, "a", "done", "f1", {"packageReferenceId": "1"}, attempts=1)
    record = ledger.call("S1", name)
    assert (record.status, record.result, record.lease_until) == ("done", {"packageReferenceId": "1"}, None)
    assert not ledger.lease_call("S1", name, "f1", "c", 9999.0, 60.0, 2)
    assert not ledger.settle_call("S1", name, None, "refused", "f1")


def test_a_released_lease_lets_the_next_attempt_reconcile_at_once(ledger, name):
    ledger.lease_call("S1", name, "f1", "a", 1000.0, 60.0, 1)
    ledger.release_call("S1", name, "a")
    assert ledger.call("S1", name).lease_until == 0
    assert ledger.lease_call("S1", name, "f1", "b", 1001.0, 60.0, 2)


def test_call_once_over_the_table(ledger, name):
    sent = []
    call = Call("S1", "createFeed", name, {"feedType": "UPLOAD_VAT_INVOICE"})
    first = call_once(ledger, call, lambda: sent.append(1) or {"feedId": "F1"}, lambda: None)
    again = call_once(ledger, call, lambda: sent.append(1) or {"feedId": "F2"}, lambda: None)
    assert first == again == {"feedId": "F1"} and sent == [1]
