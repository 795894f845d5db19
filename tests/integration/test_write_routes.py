"""The rules every write route gets from chalicelib/handlers.py `view`, shown on a route declared
the way a flow declares one, served by Chalice's test client with the same authorizer logic as
app.py, on moto: its scope, its body checked against its schema before the view runs (so an
error writes nothing), its size limit, and Idempotency-Key (same key and body: the same answer,
replayed; same key, other body: 409; a failed request frees its key)."""
from __future__ import annotations

import json
import uuid

import pytest
from chalice import AuthResponse, AuthRoute, Chalice
from chalice.test import Client

from chalicelib import handlers
from chalicelib.core import auth
from chalicelib.core.flow import Route
from chalicelib.core.http import Conflict, error_shape
from chalicelib.core.times import iso, now
from chalicelib.core.tokens import TokenRecord, new_token
from tests.integration.conftest import API_TOKEN

COUNT_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["sku", "quantity"],
                "properties": {"sku": {"type": "string", "minLength": 1, "maxLength": 40},
                               "quantity": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
                               "note": {"type": "string", "nullable": True}}}


class Counts:
    """What the view wrote: each accepted count, in order."""

    def __init__(self):
        self.written: list[dict] = []
        self.refuse_next = False

    def post(self, request, body):
        if self.refuse_next:
            self.refuse_next = False
            raise Conflict("the count is being changed by another request")
        self.written.append(body)
        return {"accepted": body, "number": len(self.written)}

    def put(self, request, body, sku):
        self.written.append({"sku": sku, **body})
        return {"sku": sku, "number": len(self.written)}


@pytest.fixture
def served(aws_stack):
    counts = Counts()
    route = Route("POST", "/counts", counts.post, "post_count", scope="stock:write", body_schema=COUNT_SCHEMA,
                  max_body_bytes=1024)
    put_route = Route("PUT", "/counts/{sku}", counts.put, "put_count", scope="stock:write",
                      body_schema={"type": "object", "required": ["quantity"], "additionalProperties": False,
                                   "properties": {"quantity": {"type": "integer", "minimum": 0}}})
    app = Chalice(app_name="write-routes")
    app.register_middleware(error_shape, "http")

    @app.authorizer()
    def bearer(auth_request):
        who = auth.principal_of(auth_request.token)
        if who is None:
            return AuthResponse(routes=[], principal_id="anonymous")
        allowed = [AuthRoute(path, [method]) for path, method in auth.allowed_routes(who, [route, put_route])]
        return AuthResponse(routes=allowed, principal_id=who.name, context=who.context())

    app.route("/counts", methods=["POST"], name="post_count", authorizer=bearer)(
        handlers.view(route, lambda: app.current_request))
    app.route("/counts/{sku}", methods=["PUT"], name="put_count", authorizer=bearer)(
        handlers.view(put_route, lambda: app.current_request))
    with Client(app) as client:
        yield client, counts


class FreshKeys(dict):
    """Idempotency-Keys unique to one test (the state table outlives it)."""

    def __missing__(self, name):
        self[name] = f"{name}-{uuid.uuid4().hex[:12]}"
        return self[name]


@pytest.fixture
def keys():
    return FreshKeys()


def post(client, body, token=API_TOKEN, key=None, content_type="application/json"):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    if key is not None:
        headers["Idempotency-Key"] = key
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    response = client.http.post("/counts", headers=headers, body=raw)
    return response.status_code, json.loads(response.body or b"null"), response.headers


def test_a_valid_body_is_written_once_per_idempotency_key_and_the_answer_replayed(keys, served):
    client, counts = served
    first = post(client, {"sku": "MUG-1", "quantity": 12}, key=keys["count-001"])
    again = post(client, {"sku": "MUG-1", "quantity": 12}, key=keys["count-001"])
    assert first[0] == again[0] == 200 and first[1] == again[1]
    assert again[2].get("Idempotent-Replayed") == "true"
    assert counts.written == [{"sku": "MUG-1", "quantity": 12}]
    # Without a key, each request is a new one.
    post(client, {"sku": "MUG-1", "quantity": 12})
    assert len(counts.written) == 2


def test_the_same_key_with_another_body_is_a_409_and_writes_nothing(keys, served):
    client, counts = served
    post(client, {"sku": "MUG-1", "quantity": 12}, key=keys["count-002"])
    status, body, _ = post(client, {"sku": "MUG-1", "quantity": 13}, key=keys["count-002"])
    assert status == 409 and body["error"] == "Conflict" and "another request" in body["message"]
    assert counts.written == [{"sku": "MUG-1", "quantity": 12}]


def test_the_same_key_and_body_to_another_path_is_another_request_a_409(keys, served):
    client, counts = served
    headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json",
               "Idempotency-Key": keys["put"]}
    first = client.http.put("/counts/MUG-1", headers=headers, body=json.dumps({"quantity": 3}))
    other = client.http.put("/counts/MUG-2", headers=headers, body=json.dumps({"quantity": 3}))
    assert first.status_code == 200 and other.status_code == 409
    assert counts.written == [{"sku": "MUG-1", "quantity": 3}]


def test_a_refused_body_claims_no_key_and_writes_nothing(keys, served):
    from chalicelib.core import wiring

    client, counts = served
    post(client, {"sku": "MUG-1"}, key=keys["refused"])
    row = wiring.state()._get("REQUEST#root", f"post_count#{keys['refused']}")
    assert row is None, "the schema refused the body before the key was claimed"
    assert counts.written == []


def test_a_failed_request_frees_its_key(keys, served):
    client, counts = served
    counts.refuse_next = True
    assert post(client, {"sku": "MUG-2", "quantity": 1}, key=keys["count-003"])[0] == 409
    status, body, headers = post(client, {"sku": "MUG-2", "quantity": 1}, key=keys["count-003"])
    assert status == 200 and "Idempotent-Replayed" not in headers
    assert counts.written == [{"sku": "MUG-2", "quantity": 1}]


@pytest.mark.parametrize(("body", "field", "mentions"), [
    ({"sku": "MUG-1"}, "quantity", "is required"),
    ({"sku": "MUG-1", "quantity": "12"}, "quantity", "must be a whole number"),
    ({"sku": "MUG-1", "quantity": 1.5}, "quantity", "must be a whole number"),
    ({"sku": "MUG-1", "quantity": True}, "quantity", "must be a whole number"),
    ({"sku": "MUG-1", "quantity": -1}, "quantity", "must be at least 0"),
    ({"sku": "", "quantity": 1}, "sku", "at least 1 character"),
    ({"sku": "MUG-1", "quantity": 1, "price": "9.99"}, "$", "holds a field it does not take"),
    ([1, 2], "$", "must be an object"),
])
def test_a_body_that_does_not_match_the_schema_is_a_400_naming_the_field_and_writes_nothing(keys,
        served, body, field, mentions):
    client, counts = served
    status, answer, _ = post(client, body, key=keys["count-004"])
    assert status == 400 and answer["error"] == "BadRequest", answer
    assert mentions in answer["message"] and answer["details"] == {"field": field}, answer
    assert counts.written == []
    # The key was not spent on a refused body.
    assert post(client, {"sku": "MUG-1", "quantity": 1}, key=keys["count-004"])[0] == 200


@pytest.mark.parametrize(("raw", "status", "code"), [
    ("not json", 400, "BadRequest"),
    ("[" * 5000 + "]" * 5000, 413, "PayloadTooLarge"),
    ("", 400, "BadRequest"),
    (json.dumps({"sku": "x" * 2000, "quantity": 1}), 413, "PayloadTooLarge"),
])
def test_a_body_that_cannot_be_read_is_refused_before_the_view(served, raw, status, code):
    client, counts = served
    answer = post(client, raw)
    assert answer[0] == status and answer[1]["error"] == code, answer
    assert counts.written == []


def test_a_body_that_is_not_json_by_its_content_type_is_a_415_in_the_error_shape(served):
    client, counts = served
    status, body, _ = post(client, "sku=MUG-1", content_type="application/x-www-form-urlencoded")
    assert status == 415 and set(body) == {"error", "message"} and body["error"] == "UnsupportedMediaType"
    assert counts.written == []


def test_a_malformed_idempotency_key_is_a_400(served):
    client, counts = served
    status, body, _ = post(client, {"sku": "MUG-1", "quantity": 1}, key="with spaces and ünïcode")
    assert status == 400 and "Idempotency-Key" in body["message"]
    assert counts.written == []


def test_a_token_without_the_route_s_scope_is_refused_and_one_with_it_writes(keys, served):
    from chalicelib.core import wiring

    client, counts = served
    reader, reader_id, reader_hash = new_token()
    writer, writer_id, writer_hash = new_token()
    wiring.state().put_token(TokenRecord(reader_id, "reader", reader_hash, ("orders:read",), None, iso(now())))
    wiring.state().put_token(TokenRecord(writer_id, "warehouse", writer_hash, ("stock:write",), None, iso(now())))
    status, body, _ = post(client, {"sku": "MUG-1", "quantity": 1}, token=reader)
    assert status == 403 and counts.written == []
    assert post(client, {"sku": "MUG-1", "quantity": 1}, token=writer, key=keys["k-1"])[0] == 200
    # Keys are per token: another token's identical key is another request.
    assert post(client, {"sku": "MUG-1", "quantity": 1}, key=keys["k-1"])[1].get("number") == 2


@pytest.mark.parametrize("raw", ['{"sku": "MUG-1", "quantity": NaN}', '{"sku": "MUG-1", "quantity": Infinity}'])
def test_nan_and_infinity_are_not_json(served, raw):
    client, counts = served
    status, body, _ = post(client, raw)
    assert status == 400 and "not JSON" in body["message"] and counts.written == []
