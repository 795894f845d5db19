"""The state table's records behave like the fakes the unit tests use: calls made at most once
(core/once.py), Idempotency-Keys (core/idempotency.py) and named tokens (core/tokens.py)."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.once import Call, call_once
from chalicelib.core.tokens import TokenRecord
from tests.fakes import FakeCallLedger, FakeRequestLedger, FakeTokens


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


# --- Idempotency-Key records (core/idempotency.py) and named tokens (core/tokens.py) ---------

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(params=["fake", "dynamodb"])
def requests_ledger(request):
    if request.param == "fake":
        return FakeRequestLedger()
    request.getfixturevalue("aws_stack")
    from chalicelib.core.state import DynamoState

    return DynamoState()


@pytest.fixture(params=["fake", "dynamodb"])
def token_store(request):
    if request.param == "fake":
        return FakeTokens()
    request.getfixturevalue("aws_stack")
    from chalicelib.core.state import DynamoState

    return DynamoState()


def test_a_key_is_claimed_once_then_answers_with_what_was_stored(requests_ledger, name):
    assert requests_ledger.claim_request("root", name, "fp1", AT, DAY, "o1") is None
    assert requests_ledger.claim_request("root", name, "fp1", AT, DAY, "o2") == {"fingerprint": "fp1", "answer": None}
    requests_ledger.answer_request("root", name, "fp1", {"status": 201, "body": {"id": 1}, "headers": {}}, "o1")
    later = AT + timedelta(hours=2)
    assert requests_ledger.claim_request("root", name, "fp2", later, DAY, "o3") == {
        "fingerprint": "fp1", "answer": {"status": 201, "body": {"id": 1}, "headers": {}}}
    # Keys are per caller.
    assert requests_ledger.claim_request("tok123", name, "fp2", AT, DAY, "o4") is None


def test_a_released_key_or_one_whose_answer_never_came_may_be_claimed_again(requests_ledger, name):
    requests_ledger.claim_request("root", name, "fp1", AT, DAY, "o1")
    requests_ledger.release_request("root", name, "o1")
    assert requests_ledger.claim_request("root", name, "fp2", AT, DAY, "o2") is None
    # Claimed and never answered (the function died): free once the lease (120 s) has run out.
    assert requests_ledger.claim_request("root", name, "fp2", AT + timedelta(seconds=100), DAY, "o3") is not None
    assert requests_ledger.claim_request("root", name, "fp3", AT + timedelta(seconds=121), DAY, "o4") is None


def test_only_the_claim_s_owner_answers_or_releases_it(requests_ledger, name):
    requests_ledger.claim_request("root", name, "fp1", AT, DAY, "first")
    later = AT + timedelta(seconds=121)
    assert requests_ledger.claim_request("root", name, "fp1", later, DAY, "second") is None
    # The first request, back late, can neither release nor answer the second's claim.
    requests_ledger.release_request("root", name, "first")
    requests_ledger.answer_request("root", name, "fp1", {"status": 200, "body": {"by": "first"}, "headers": {}},
                                   "first")
    assert requests_ledger.claim_request("root", name, "fp1", later, DAY, "third") == {"fingerprint": "fp1",
                                                                                       "answer": None}
    requests_ledger.answer_request("root", name, "fp1", {"status": 200, "body": {"by": "second"}, "headers": {}},
                                   "second")
    assert requests_ledger.claim_request("root", name, "fp1", later, DAY, "x")["answer"]["body"] == {"by": "second"}


def test_an_answered_key_is_never_released(requests_ledger, name):
    requests_ledger.claim_request("root", name, "fp1", AT, DAY, "o1")
    requests_ledger.answer_request("root", name, "fp1", {"status": 200, "body": {}, "headers": {}}, "o1")
    requests_ledger.release_request("root", name, "o1")
    assert requests_ledger.claim_request("root", name, "fp1", AT + timedelta(minutes=5), DAY, "o2")["answer"]


def test_tokens_are_stored_once_noted_when_used_and_revoked_once(token_store):
    token_id = uuid.uuid4().hex[:12]
    record = TokenRecord(token_id, "warehouse", "ab" * 32, ("orders:read",), ("A2EUQ1WTGCTBG2",),
                         "2026-12-01T12:00:00Z")
    assert token_store.put_token(record) is True
    other = TokenRecord(token_id, "other", "cd" * 32, ("*",), None, "2026-12-01T12:00:00Z")
    assert token_store.put_token(other) is False
    stored = token_store.token(token_id)
    assert (stored.name, stored.secret_hash, stored.scopes, stored.sellers) == (
        "warehouse", "ab" * 32, ("orders:read",), ("A2EUQ1WTGCTBG2",)), "an id is never overwritten"
    assert stored.last_used_at is None and stored.active
    token_store.touch_token(token_id, AT)
    assert token_store.token(token_id).last_used_at is not None
    assert token_store.revoke_token(token_id, AT) is True
    assert token_store.revoke_token(token_id, AT) is False
    assert not token_store.token(token_id).active
    assert token_id in {r.token_id for r in token_store.tokens()}
    assert token_store.token("nosuchtoken1") is None
