"""Calls to Amazon that are not idempotent are made at most once: the intent is recorded before
the call, the result after, and an unknown outcome is asked of Amazon before calling again."""
import pytest

from chalicelib.core.errors import PermanentError, RetryLater
from chalicelib.core.once import LEASE_SECONDS, AlreadyRefused, Call, call_once
from tests.fakes import FakeCallLedger

CALL = Call("S1", "confirmShipment", "028-1234567-1234567#1", {"packageReferenceId": "1", "trackingNumber": "T1"})


class Amazon:
    """Applies what it is sent; may time out after applying it, as a real endpoint can."""

    def __init__(self, time_out_after_applying=0):
        self.applied: list[object] = []
        self.sent = 0
        self.time_out_after_applying = time_out_after_applying

    def send(self):
        self.sent += 1
        self.applied.append(CALL.request)
        if self.time_out_after_applying:
            self.time_out_after_applying -= 1
            raise RetryLater("confirmShipment: network error talking to Amazon (ReadTimeout)", 10)
        return {"applied": len(self.applied)}

    def reconcile(self):
        return {"applied": len(self.applied), "found": True} if self.applied else None


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self):
        return self.now


def test_a_call_is_made_once_and_its_result_remembered():
    ledger, amazon = FakeCallLedger(), Amazon()
    assert call_once(ledger, CALL, amazon.send, amazon.reconcile) == {"applied": 1}
    assert call_once(ledger, CALL, amazon.send, amazon.reconcile) == {"applied": 1}
    assert amazon.sent == 1


def test_a_call_applied_then_timed_out_is_found_at_amazon_not_sent_again():
    ledger, amazon, clock = FakeCallLedger(), Amazon(time_out_after_applying=1), Clock()
    with pytest.raises(RetryLater):
        call_once(ledger, CALL, amazon.send, amazon.reconcile, clock=clock)
    clock.now += 10  # the task comes back after its delay
    assert call_once(ledger, CALL, amazon.send, amazon.reconcile, clock=clock) == {"applied": 1, "found": True}
    assert amazon.sent == 1 and len(amazon.applied) == 1
    assert call_once(ledger, CALL, amazon.send, amazon.reconcile, clock=clock) == {"applied": 1, "found": True}


def test_a_call_that_never_reached_amazon_is_sent_again():
    ledger, clock = FakeCallLedger(), Clock()

    def lost():
        raise RetryLater("connection refused", 10)

    amazon = Amazon()
    with pytest.raises(RetryLater):
        call_once(ledger, CALL, lost, amazon.reconcile, clock=clock)
    clock.now += 10
    assert call_once(ledger, CALL, amazon.send, amazon.reconcile, clock=clock) == {"applied": 1}
    assert ledger.call("S1", CALL.name).attempts == 2


def test_while_one_attempt_holds_the_call_another_waits_instead_of_calling():
    ledger, clock, amazon = FakeCallLedger(), Clock(), Amazon()
    assert ledger.lease_call("S1", CALL.name, CALL.fingerprint, "other-attempt", clock.now, LEASE_SECONDS, 1)
    with pytest.raises(RetryLater, match="being sent by another attempt") as waiting:
        call_once(ledger, CALL, amazon.send, amazon.reconcile, clock=clock)
    assert 0 < waiting.value.delay_seconds <= LEASE_SECONDS + 1
    assert amazon.sent == 0
    clock.now += LEASE_SECONDS + 1  # the other attempt crashed: its lease runs out, Amazon is asked
    assert call_once(ledger, CALL, amazon.send, amazon.reconcile, clock=clock) == {"applied": 1}
    assert amazon.sent == 1


def test_a_refused_call_is_recorded_and_never_sent_again_under_the_same_key():
    ledger, amazon = FakeCallLedger(), Amazon()

    def refuse():
        raise PermanentError("confirmShipment: Amazon rejected the request (InvalidInput: carrierCode)")

    with pytest.raises(PermanentError):
        call_once(ledger, CALL, refuse, amazon.reconcile)
    with pytest.raises(AlreadyRefused, match="carrierCode"):
        call_once(ledger, CALL, amazon.send, amazon.reconcile)
    assert amazon.sent == 0


def test_another_request_under_a_key_already_used_is_refused():
    ledger, amazon = FakeCallLedger(), Amazon()
    call_once(ledger, CALL, amazon.send, amazon.reconcile)
    changed = Call(CALL.seller_id, CALL.operation, CALL.key, {**CALL.request, "trackingNumber": "T2"})
    with pytest.raises(PermanentError, match="already sent with other content"):
        call_once(ledger, changed, amazon.send, amazon.reconcile)
    assert amazon.sent == 1
