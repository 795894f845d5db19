"""Buyer data on moto and on the fake: sealed under data keys (any size, few KMS calls, older
KMS-encrypted items still readable), never returned once expired, deleted by the purge 30 days
after delivery, whatever DynamoDB's TTL does."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.flows.orders import service
from chalicelib.flows.orders.rules import buyer_data_expiry
from tests.fakes import FakeBuyerData, FakePollState

SELLER = "A2EUQ1WTGCTBG2"
PERSONAL = {"buyer": {"buyerName": "Erika Mustermann", "buyerEmail": "abc123@marketplace.amazon.de"},
            "delivery_address": {"city": "Berlin", "postalCode": "10115"}, "tax_registrations": []}


def real_now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def order_id():
    return f"998-{uuid.uuid4().int % 10**7:07d}-{uuid.uuid4().int % 10**7:07d}"


@pytest.fixture(params=["fake", "dynamodb"])
def store(request):
    if request.param == "fake":
        return FakeBuyerData()
    request.getfixturevalue("aws_stack")
    from chalicelib.flows.orders import wiring

    wiring.buyer_data.cache_clear()
    return wiring.buyer_data()


def test_saved_data_reads_back_and_expired_data_is_never_returned(store, order_id):
    delivered = real_now() - timedelta(days=29)
    expires = buyer_data_expiry(delivered, None, None, real_now())
    store.save(SELLER, order_id, PERSONAL, real_now(), expires, delivered)
    assert store.get(order_id) == PERSONAL
    assert store.get(order_id, now=expires + timedelta(seconds=1)) is None, "expired: gone for every reader"


def test_data_delivered_more_than_30_days_ago_is_not_kept_at_all(store, order_id):
    delivered = real_now() - timedelta(days=31)
    store.save(SELLER, order_id, PERSONAL, real_now(), buyer_data_expiry(delivered, None, None, real_now()), delivered)
    assert store.get(order_id, now=real_now() - timedelta(days=5)) is None


def test_a_delivery_brings_the_expiry_forward_and_a_later_promise_never_pushes_it_back(store, order_id):
    promised = real_now() + timedelta(days=10)
    store.save(SELLER, order_id, PERSONAL, real_now(), buyer_data_expiry(None, promised, None, real_now()))
    delivered = real_now() - timedelta(days=2)
    assert store.shorten(order_id, buyer_data_expiry(delivered, None, None, real_now()), delivered)
    later_promise = buyer_data_expiry(None, promised + timedelta(days=20), None, real_now())
    store.save(SELLER, order_id, PERSONAL, real_now() + timedelta(seconds=1), later_promise)
    assert store.get(order_id, now=delivered + timedelta(days=30, seconds=1)) is None


def test_the_purge_leaves_nothing_30_days_past_delivery(store, order_id):
    """Orders delivered 29.5, 20 and 2 days ago; the purge runs now, then a day later."""
    ids = {age: f"{order_id[:-2]}{age:02d}" for age in (29, 20, 2)}
    for age, an_id in ids.items():
        delivered = real_now() - timedelta(days=age, hours=12 if age == 29 else 0)
        store.save(SELLER, an_id, PERSONAL, real_now(), buyer_data_expiry(delivered, None, None, real_now()), delivered)
    state = FakePollState()
    service.purge_buyer_data(store, state, real_now())
    assert all(store.get(an_id) is not None for an_id in ids.values()), "nothing is due yet"
    tomorrow = real_now() + timedelta(days=1)
    result = service.purge_buyer_data(store, state, tomorrow)
    assert result["deleted"] >= 1
    assert store.get(ids[29], now=real_now()) is None, "deleted, not only hidden"
    assert store.get(ids[20]) is not None and store.get(ids[2]) is not None
    # 31 days on, nothing of the three is left.
    service.purge_buyer_data(store, state, real_now() + timedelta(days=31))
    assert all(store.get(an_id, now=real_now()) is None for an_id in ids.values())


# --- on DynamoDB only: what is stored, and how -------------------------------------------------

@pytest.fixture
def dynamo(aws_stack):
    from chalicelib.flows.orders import wiring

    wiring.buyer_data.cache_clear()
    return wiring.buyer_data(), aws_stack


def _item(aws_stack, order_id):
    return aws_stack.client("dynamodb").get_item(TableName=aws_stack.outputs["BuyerDataTableName"],
                                                 Key={"order_id": {"S": order_id}}).get("Item")


def test_an_item_is_sealed_under_a_data_key_and_holds_nothing_readable(dynamo, order_id):
    store, aws_stack = dynamo
    store.save(SELLER, order_id, PERSONAL, real_now(), real_now() + timedelta(days=30))
    item = _item(aws_stack, order_id)
    assert item["ciphertext"]["S"].startswith("v2.")
    assert "Erika" not in json.dumps(item) and "Berlin" not in json.dumps(item)


def test_size_is_no_limit_and_kms_is_called_once_for_many_items(dynamo, order_id):
    """A business order's buyer data of 6.5 KB (over KMS Encrypt's 4 KB), then 50 more orders."""
    store, _ = dynamo
    big = {**PERSONAL, "tax_registrations": [{"taxRegistrationId": "DE" + "1" * 500} for _ in range(13)]}
    assert len(json.dumps(big)) > 6500
    before = store._keys.kms_calls
    store.save(SELLER, order_id, big, real_now(), real_now() + timedelta(days=30))
    others = [f"{order_id[:-3]}{n:03d}" for n in range(51)]
    for other in [o for o in others if o != order_id][:50]:  # never the big one's id
        store.save(SELLER, other, PERSONAL, real_now(), real_now() + timedelta(days=30))
    assert store._keys.kms_calls - before <= 1, "one data key for them all"
    assert store.get(order_id) == big


def test_an_item_encrypted_by_kms_before_envelope_encryption_still_opens(dynamo, order_id):
    store, aws_stack = dynamo
    from chalicelib import config

    context = {"table": "buyer-data", "seller_id": SELLER, "order_id": order_id}
    blob = aws_stack.client("kms").encrypt(KeyId=config.data_key_id(), Plaintext=json.dumps(PERSONAL).encode(),
                                           EncryptionContext=context)["CiphertextBlob"]
    expires = int((real_now() + timedelta(days=3)).timestamp())
    aws_stack.client("dynamodb").put_item(TableName=aws_stack.outputs["BuyerDataTableName"], Item={
        "order_id": {"S": order_id}, "seller_id": {"S": SELLER}, "ciphertext": {"S": base64.b64encode(blob).decode()},
        "as_of": {"S": "2026-11-01T00:00:00.000000Z"}, "expires_at": {"N": str(expires)}})
    assert store.get(order_id) == PERSONAL


def test_a_sealed_item_moved_to_another_order_does_not_open(dynamo, order_id):
    store, aws_stack = dynamo
    store.save(SELLER, order_id, PERSONAL, real_now(), real_now() + timedelta(days=30))
    other = f"{order_id[:-1]}{(int(order_id[-1]) + 1) % 10}"
    store.save(SELLER, other, {"buyer": {}}, real_now(), real_now() + timedelta(days=30))
    item = _item(aws_stack, order_id)
    client = aws_stack.client("dynamodb")
    client.update_item(TableName=aws_stack.outputs["BuyerDataTableName"], Key={"order_id": {"S": other}},
                       UpdateExpression="SET ciphertext = :c", ExpressionAttributeValues={":c": item["ciphertext"]})
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        store.get(other)
