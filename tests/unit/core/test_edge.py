"""The HTTPS edge, pure: strict whole numbers, page tokens, token parsing and scopes, the
Idempotency-Key rules (on the fake ledger the state contract pins to DynamoDB) and the body
schema checker."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from chalice import Response
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core import pages
from chalicelib.core.http import BadRequest, Conflict, error_shape, only, whole_number
from chalicelib.core.idempotency import fingerprint, once
from chalicelib.core.schema import SchemaError, validate
from chalicelib.core.times import now
from chalicelib.core.tokens import ALL, InvalidScopes, Principal, matches, new_token, parse, parse_scopes
from tests.fakes import FakeRequestLedger

# --- whole numbers --------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["\u0665", " 5", "5 ", "1_0", "+5", "-1", "5.0", "0x10", "", "5\n", "1e2",
                                  "\uff15", "0", "101", "9" * 20, "0050", "05"])
def test_only_ascii_digits_in_range_are_a_whole_number(text):
    with pytest.raises(BadRequest, match="limit must be a whole number from 1 to 100"):
        whole_number({"limit": text}, "limit", 50, 1, 100)


@given(st.integers(1, 100))
def test_every_number_in_range_written_plainly_is_read_as_itself(n):
    assert whole_number({"limit": str(n)}, "limit", 50, 1, 100) == n
    assert whole_number({}, "limit", 50, 1, 100) == 50


def test_unknown_parameters_are_counted_not_repeated():
    with pytest.raises(BadRequest, match=r"1 query parameter\(s\) this route does not take; it takes: limit") as raised:
        only({"colour": "blue", "limit": "1"}, {"limit"})
    assert "colour" not in raised.value.message
    with pytest.raises(BadRequest) as raised:
        only({"x" * 500: "1"}, {"limit"})
    assert "xxx" not in raised.value.message


# --- page tokens ----------------------------------------------------------------------------

@pytest.fixture
def page_key(monkeypatch):
    monkeypatch.setattr(pages, "_cached", (float("inf"), base64.b64decode(pages.new_key())))
    monkeypatch.setattr(pages.time, "monotonic", lambda: 0.0)
    yield
    pages.forget()


QUERY = {"route": "list_orders", "seller_id": "A1", "status": None}


@given(st.recursive(st.none() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=10))
def test_a_sealed_position_opens_to_itself_with_its_query(position):
    pages._cached = (float("inf"), b"k" * 32)
    try:
        token = pages.seal(position, QUERY)
        if position is None:
            assert token is None
        else:
            assert pages.open_(token, QUERY) == position
    finally:
        pages.forget()


def test_a_token_opens_only_for_the_query_that_made_it(page_key):
    token = pages.seal({"pk": {"S": "ORDER#028-1"}}, QUERY)
    assert "ORDER" not in token and "pk" not in base64.urlsafe_b64decode(token + "==").decode("latin-1")
    for other in ({**QUERY, "seller_id": "A2"}, {**QUERY, "status": "SHIPPED"}, {"route": "list_failures"}):
        with pytest.raises(BadRequest, match="nextToken is not one this API returned"):
            pages.open_(token, other)


@pytest.mark.parametrize("forged", ["", "x", "eyJhIjoxfQ", base64.urlsafe_b64encode(b"\0" * 40).decode(),
                                    "%%%%", "a" * 5000, "é"])
def test_anything_but_a_sealed_token_is_a_400(page_key, forged):
    with pytest.raises(BadRequest):
        pages.open_(forged, QUERY)


def test_a_tampered_token_is_a_400(page_key):
    token = pages.seal([1, 2, 3], QUERY)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for index in (0, 12, len(raw) - 1):
        changed = bytearray(raw)
        changed[index] ^= 1
        with pytest.raises(BadRequest):
            pages.open_(base64.urlsafe_b64encode(bytes(changed)).decode().rstrip("="), QUERY)


def test_a_token_older_than_a_day_has_expired(page_key, monkeypatch):
    token = pages.seal([1], QUERY)
    later = pages.time.time() + pages.LIFETIME_SECONDS + 1
    monkeypatch.setattr(pages.time, "time", lambda: later)
    with pytest.raises(BadRequest, match="expired"):
        pages.open_(token, QUERY)


# --- tokens and scopes ----------------------------------------------------------------------

def test_a_new_token_parses_to_its_id_and_its_secret_matches_only_its_hash():
    token, token_id, secret_hash = new_token()
    parsed = parse(token)
    assert parsed is not None and parsed[0] == token_id
    assert matches(parsed[1], secret_hash) and not matches(parsed[1] + "x", secret_hash)
    assert parsed[1] not in secret_hash


@pytest.mark.parametrize("text", ["root-token", "so_short_secret", "so_ABCDEFGHIJKL_" + "a" * 40, ""])
def test_anything_else_is_not_a_named_token(text):
    assert parse(text) is None


def test_scopes_are_checked_sorted_and_deduplicated():
    assert parse_scopes("orders:read, failures:read,orders:read") == ("failures:read", "orders:read")
    assert parse_scopes("*") == (ALL,)
    with pytest.raises(InvalidScopes, match="unknown scope\\(s\\) orders:write"):
        parse_scopes("orders:write")
    with pytest.raises(InvalidScopes, match="name at least one scope"):
        parse_scopes(" , ")


def test_a_principal_may_what_its_scopes_say_and_see_its_sellers_only():
    warehouse = Principal("warehouse", ("orders:read",), ("A1",), "abc")
    assert warehouse.may("orders:read") and not warehouse.may("failures:read") and warehouse.may(None)
    assert warehouse.may_see("A1") and not warehouse.may_see("A2")
    assert Principal.from_context(warehouse.context()) == warehouse
    root = Principal("root", (ALL,))
    assert root.may("stock:write") and root.may_see("ANY") and Principal.from_context(root.context()) == root


# --- Idempotency-Key --------------------------------------------------------------------------

def test_the_same_key_and_body_replays_the_first_answer():
    ledger, calls = FakeRequestLedger(), []

    def answer():
        calls.append(1)
        return Response(body={"n": len(calls)}, status_code=201, headers={"Content-Type": "application/json"})

    print_ = fingerprint("POST", "/counts", {}, {}, b'{"a":1}')
    first = once(ledger, "root", "post_count", "k1", print_, answer)
    again = once(ledger, "root", "post_count", "k1", print_, answer)
    assert (first.status_code, first.body) == (again.status_code, again.body) == (201, {"n": 1})
    assert again.headers["Idempotent-Replayed"] == "true" and calls == [1]
    with pytest.raises(Conflict, match="used for another request"):
        once(ledger, "root", "post_count", "k1", fingerprint("POST", "/counts", {}, {}, b'{"a":2}'), answer)
    with pytest.raises(Conflict, match="used for another request"):  # the same body to another thing
        once(ledger, "root", "post_count", "k1", fingerprint("POST", "/counts", {"sku": "B"}, {}, b'{"a":1}'), answer)


def test_an_error_answer_frees_the_key():
    ledger = FakeRequestLedger()
    refused = once(ledger, "root", "r", "k", "fp", lambda: Response(body={"error": "x"}, status_code=400))
    assert refused.status_code == 400
    assert once(ledger, "root", "r", "k", "fp", lambda: Response(body={}, status_code=200)).status_code == 200


def test_a_key_still_being_answered_is_a_409():
    ledger = FakeRequestLedger()
    ledger.claim_request("root", "r#k", "fp", now(), timedelta(days=1), "someone")
    with pytest.raises(Conflict, match="still being answered"):
        once(ledger, "root", "r", "k", "fp", lambda: Response(body={}, status_code=200))


def test_an_answer_that_could_not_be_kept_is_still_the_caller_s():
    class Failing(FakeRequestLedger):
        def answer_request(self, *args):
            raise RuntimeError("throttled")

    answered = once(Failing(), "root", "r", "k", "fp", lambda: Response(body={"n": 1}, status_code=201))
    assert answered.status_code == 201 and answered.body == {"n": 1}


def test_an_answer_too_large_to_keep_is_not_replayed_but_refused():
    ledger = FakeRequestLedger()
    big = "x" * 70_000
    assert once(ledger, "root", "r", "k", "fp", lambda: Response(body={"b": big}, status_code=200)).status_code == 200
    with pytest.raises(Conflict, match="too large to keep"):
        once(ledger, "root", "r", "k", "fp", lambda: Response(body={}, status_code=200))


@pytest.mark.parametrize("key", ["", "a b", "ü", "x" * 129, "a/b", "k\n"])
def test_a_malformed_key_is_a_400(key):
    with pytest.raises(BadRequest, match="Idempotency-Key must be"):
        once(FakeRequestLedger(), "root", "r", key, "fp", lambda: Response(body={}, status_code=200))


# --- Chalice's own answers, in our shape --------------------------------------------------------

def test_chalice_s_own_errors_are_rewritten_without_repeating_the_request():
    def chalice_answer(_event):
        return Response(body={"Code": "MethodNotAllowedError", "Message": "Unsupported method: TRACE /x?t=SECRET"},
                        status_code=405)

    response = error_shape(None, chalice_answer)
    assert response.body["error"] == "MethodNotAllowed" and "SECRET" not in json.dumps(response.body)
    crashed = error_shape(None, lambda _e: Response(body={"Code": "InternalServerError", "Message": "boom"},
                                                    status_code=500))
    assert crashed.body["error"] == "InternalError" and "boom" not in json.dumps(crashed.body)


# --- body schemas ---------------------------------------------------------------------------

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["lines"], "properties": {
    "lines": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"$ref": "#/components/schemas/Line"}},
    "shippedAt": {"type": "string", "format": "date-time"}}}
COMPONENTS = {"Line": {"type": "object", "required": ["sku", "quantity"], "properties": {
    "sku": {"type": "string", "pattern": "^[A-Za-z0-9-]+$"}, "quantity": {"type": "integer", "minimum": 1},
    "price": {"type": "string", "format": "decimal", "nullable": True}}}}


@pytest.mark.parametrize(("body", "path", "problem"), [
    ({}, "lines", "is required"),
    ({"lines": []}, "lines", "at least 1"),
    ({"lines": [{"sku": "A", "quantity": 1}] * 4}, "lines", "at most 3"),
    ({"lines": [{"sku": "A", "quantity": 0}]}, "lines[0].quantity", "at least 1"),
    ({"lines": [{"sku": "A B", "quantity": 1}]}, "lines[0].sku", "must match"),
    ({"lines": [{"sku": "A", "quantity": 1, "price": "1e3"}]}, "lines[0].price", "not a valid decimal"),
    ({"lines": [{"sku": "A", "quantity": 1}], "shippedAt": "2026-12-01T10:00:00"}, "shippedAt", "time zone"),
    ({"lines": [{"sku": "A", "quantity": 1}], "shippedAt": "soon"}, "shippedAt", "not a valid date-time"),
    ({"lines": [{"sku": "A", "quantity": 1}], "extra": 1}, "$", "holds a field it does not take"),
    ({"lines": [{"sku": "A\n", "quantity": 1}]}, "lines[0].sku", "must match"),
    ({"lines": [{"sku": "A", "quantity": 1, "price": "\u0661\u0662"}]}, "lines[0].price", "not a valid decimal"),
])
def test_a_body_is_refused_at_the_first_wrong_field_named_by_its_path(body, path, problem):
    with pytest.raises(SchemaError) as raised:
        validate(body, SCHEMA, COMPONENTS)
    assert raised.value.path == path and problem in raised.value.problem


def test_a_nullable_reference_takes_null():
    validate({"total": None}, {"type": "object", "properties": {"total": {"allOf": [{"$ref": "#/components/schemas/M"}],
                                                                          "nullable": True}}},
             {"M": {"type": "object", "required": ["amount"]}})
    with pytest.raises(SchemaError, match="must not be null"):
        validate({"total": None}, {"type": "object", "properties": {"total": {"allOf": [{"$ref": "#/c/M"}]}}},
                 {"M": {"type": "object"}})


def test_a_valid_body_passes():
    validate({"lines": [{"sku": "MUG-1", "quantity": 2, "price": "9.99"}, {"sku": "B", "quantity": 1, "price": None}],
              "shippedAt": "2026-12-01T10:00:00Z"}, SCHEMA, COMPONENTS)
