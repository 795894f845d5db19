"""End to end: the HTTPS API as a stranger meets it, on `replay --serve` (chalice local behind the
local gateway, which answers as API Gateway's gateway responses do).

- every error, whoever answers it (our views, Chalice, the gateway, the HTTP server), is JSON
  {"error", "message"}, and repeats nothing the caller sent;
- page tokens are opaque, bound to their query, and every list pages to its end;
- named tokens (`python -m infra.tokens`) carry scopes and sellers, are stored as hashes, note
  their last use and can be revoked.
"""
from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest

from infra.local.scenario import build_scenario
from tests.e2e.harness import serve_scenario

pytestmark = pytest.mark.e2e

TOKEN = "e2e-api-token-not-a-secret"
JUNK = ["not json at all", '{"NotificationType": "ORDER_CHANGE"}', "[1, 2, 3]", '{"Payload": 7}']


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    directory = tmp_path_factory.mktemp("api")
    start = (datetime.now(UTC) - timedelta(days=5)).replace(microsecond=0)
    scenario = build_scenario(seed=21, orders=14, sellers=2, start=start, lost=0, malformed=0, unhandled=0)
    served = serve_scenario(directory, scenario, "--rate-scale", "100", token=TOKEN, extra_messages=tuple(JUNK))
    served.scenario = scenario  # type: ignore[attr-defined]
    try:
        yield served
    finally:
        served.stop()


def sellers(api) -> list[str]:
    return sorted({o["sellerId"] for o in api.scenario.expected["orders"].values()})


def orders_of(api, seller: str) -> list[str]:
    return sorted(i for i, o in api.scenario.expected["orders"].items() if o["sellerId"] == seller)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["error"] == code and isinstance(body["message"], str) and body["message"], body
    assert set(body) <= {"error", "message", "details"}, body
    return body


def raw(api, request: bytes) -> tuple[str, str]:
    """Send bytes as they are (what requests would not send), read the answer to its end."""
    host = urlparse(api.api)
    chunks = []
    with socket.create_connection((host.hostname, host.port), timeout=10) as connection:
        connection.sendall(request)
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).decode().partition("\r\n\r\n")
    return head, body


def create_token(api, *options: str) -> tuple[str, str]:
    done = api.command("tokens", "create", *options)
    assert done.returncode == 0, done.stderr
    token = re.search(r"\b(so_[a-z0-9]{12}_\S+)", done.stdout).group(1)
    token_id = re.search(r"Created token ([a-z0-9]{12})", done.stdout).group(1)
    return token, token_id


# ------------------------------------------------------------------------------------ one error shape


def test_a_method_a_route_does_not_take_is_a_405_naming_those_it_takes(api):
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        response = api.request(method, "/orders", params={"sellerId": sellers(api)[0]}, data=b"{}")
        assert_error(response, 405, "MethodNotAllowed")
        assert response.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("method", ["TRACE", "CONNECT"])
def test_methods_the_api_never_takes_are_a_405_in_the_same_shape(api, method):
    head, body = raw(api, f"{method} /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    assert head.startswith("HTTP/1.1 405"), head
    assert "Allow: GET, HEAD" in head and "application/json" in head
    assert json.loads(body)["error"] == "MethodNotAllowed" and TOKEN not in head + body
    head, body = raw(api, f"{method} /nowhere HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert head.startswith("HTTP/1.1 404") and json.loads(body)["error"] == "NotFound"


def test_head_answers_as_get_without_a_body(api):
    got = api.request("GET", "/orders", params={"sellerId": sellers(api)[0]})
    head = api.request("HEAD", "/orders", params={"sellerId": sellers(api)[0]})
    assert head.status_code == got.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    assert api.request("HEAD", "/health", token=None).status_code == 200
    missing = api.request("HEAD", "/orders/028-0000000-0000000")
    assert missing.status_code == 404 and missing.content == b""


def test_a_get_with_any_content_type_is_answered_not_refused(api):
    for path, token in (("/health", None), ("/orders", "default")):
        response = api.request("GET", path, token=token, params={"sellerId": sellers(api)[0]},
                               headers={"Content-Type": "text/plain"})
        assert response.status_code == 200, response.text
    refused = api.request("POST", "/orders", headers={"Content-Type": "text/plain"}, data=b"x")
    assert_error(refused, 405, "MethodNotAllowed")


def test_an_unknown_route_is_a_404_that_does_not_repeat_the_token(api):
    for token in (TOKEN, None, "so_aaaaaaaaaaaa_" + "x" * 40):
        body = assert_error(api.request("GET", "/no/such/route", token=token), 404, "NotFound")
        assert "Bearer" not in json.dumps(body) and (token is None or token not in json.dumps(body))


def test_headers_too_large_are_a_431_in_json(api):
    response = api.request("GET", "/health", token=None, headers={"X-Big": "a" * 70_000})
    assert_error(response, 431, "RequestHeaderFieldsTooLarge")
    assert "aaaa" not in response.text


def test_a_body_larger_than_the_gateway_takes_is_a_413_unread(api):
    head, body = raw(api, b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 20000000\r\n\r\n{")
    assert head.startswith("HTTP/1.1 413"), head
    assert json.loads(body)["error"] == "PayloadTooLarge"


@pytest.mark.parametrize(("path", "params"), [
    ("/orders", {"sellerId": "A1", "limit": "1"}),
    ("/orders", {"storedSince": "0001-01-01T00:00:00+14:00"}),
    ("/orders", {"amazonUpdatedSince": "9999-12-31T23:59:59-14:00"}),
    ("/orders", {"limit": "\u0665"}),
    ("/orders", {"nextToken": "eyJhIjoxfQ"}),
    ("/failures", {"nextToken": "eyJhIjoxfQ"}),
    ("/failures", {"queue": "intake", "nextToken": "eyJhIjoxfQ"}),
    ("/failures", {"colour": "blue"}),
    ("/failures", {"limit": "1_0"}),
    ("/failures", {"limit": "0050"}),
    ("/orders", {"storedSince": "2026-W44-1T00:00:00Z"}),
    ("/orders", {"storedSince": "20261101T000000Z"}),
    ("/orders", {"amazonUpdatedSince": "2026-11-01 00:00:00+00:00"}),
    ("/orders/%3Cscript%3E", {}),
])
def test_bad_input_is_a_400_never_a_500(api, path, params):
    query = {"sellerId": sellers(api)[0], **params} if path == "/orders" else params
    assert_error(api.request("GET", path, params=query), 400, "BadRequest")


def test_an_unknown_seller_is_a_404_not_an_empty_list(api):
    assert_error(api.request("GET", "/orders", params={"sellerId": "AUNKNOWNSELLER1"}), 404, "NotFound")


def test_health_shows_counts_and_names_no_seller_or_order(api):
    health = api.request("GET", "/health", token=None)
    assert health.status_code == 200
    text = health.text
    assert not any(seller in text for seller in sellers(api))
    assert not any(order_id in text for order_id in api.scenario.expected["orders"])
    assert set(health.json()) == {"status", "time", "queues", "deadLetters", "lastNotification", "schedules",
                                  "applicationCheck", "sellers", "flows"}
    shipments = health.json()["flows"]["shipments"]
    assert set(health.json()["flows"]) == {"orders", "shipments", "fulfillment", "invoices", "stock",
                                                   "settlements"}
    assert set(health.json()["flows"]["orders"]) == {"detailsQueued", "detailsOldestWaitSeconds", "searchDoorsOpen"}
    assert set(health.json()["flows"]["invoices"]) == {"waitingForProfile", "open", "late"}
    assert set(shipments) == {"pending", "refused", "due", "late"}
    assert health.json()["flows"]["fulfillment"] == {"pending": 0}
    assert shipments["pending"] == shipments["refused"] == 0 and shipments["due"] >= shipments["late"] >= 0
    assert health.json()["applicationCheck"] is True and health.json()["sellers"] == 2


def test_each_seller_s_backlog_is_its_own_and_what_health_sums(api):
    """The orders waiting for their details, per seller (behind a token: /health is open and
    names no seller), in the contract's shape; /health's figures are their sum."""
    spec = api.request("GET", "/openapi.json").json()
    shape = spec["components"]["schemas"]["Backlog"]
    assert "/sellers/{sellerId}/backlog" in spec["paths"]
    found = {}
    for seller in sellers(api):
        answer = api.request("GET", f"/sellers/{seller}/backlog")
        assert answer.status_code == 200, answer.text
        found[seller] = answer.json()
        assert set(found[seller]) == set(shape["properties"]) and found[seller]["sellerId"] == seller
        assert found[seller]["alertAfterSeconds"] == 900 and found[seller]["searching"] is False
    orders = api.request("GET", "/health", token=None).json()["flows"]["orders"]
    assert orders["detailsQueued"] == sum(b["detailsQueued"] for b in found.values())
    assert orders["searchDoorsOpen"] == 0


# ------------------------------------------------------------------------------------ paging


def _walk(api, path: str, params: dict, key: str) -> list[dict]:
    found, token = [], None
    for _ in range(200):
        page = api.request("GET", path, params={**params, **({"nextToken": token} if token else {})})
        assert page.status_code == 200, page.text
        found += page.json()[key]
        token = page.json()["nextToken"]
        if token is None:
            return found
    raise AssertionError("the pages never ended")


def test_failures_of_every_queue_page_to_the_end_one_at_a_time(api):
    everything = api.request("GET", "/failures", params={"limit": "100"}).json()
    assert everything["nextToken"] is None and len(everything["failures"]) >= len(JUNK)
    walked = _walk(api, "/failures", {"limit": "1"}, "failures")
    assert [f["messageId"] for f in walked] == [f["messageId"] for f in everything["failures"]]
    assert all(set(f) >= {"messageId", "bodySha256", "deadLettered", "receiveCount"} for f in walked)


def test_a_page_token_is_opaque_and_good_only_for_its_query(api):
    seller = sellers(api)[0]
    first = api.request("GET", "/orders", params={"sellerId": seller, "limit": "2"}).json()
    token = first["nextToken"]
    assert token and seller not in token and "order" not in token.lower()
    again = api.request("GET", "/orders", params={"sellerId": seller, "limit": "2", "nextToken": token})
    assert again.status_code == 200
    for other in ({"sellerId": sellers(api)[1]}, {"sellerId": seller, "status": "SHIPPED"}):
        assert_error(api.request("GET", "/orders", params={**other, "limit": "2", "nextToken": token}),
                     400, "BadRequest")
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert_error(api.request("GET", "/orders", params={"sellerId": seller, "nextToken": tampered}), 400, "BadRequest")
    failures = api.request("GET", "/failures", params={"queue": "intake", "limit": "1"}).json()["nextToken"]
    assert_error(api.request("GET", "/failures", params={"queue": "tasks", "nextToken": failures}), 400, "BadRequest")
    assert_error(api.request("GET", "/orders", params={"sellerId": seller, "nextToken": failures}), 400, "BadRequest")


# ------------------------------------------------------------------------------------ named tokens


def test_a_named_token_reads_only_its_scope_and_its_sellers_then_is_revoked(api):
    mine, other = sellers(api)
    token, token_id = create_token(api, "--name", "warehouse", "--scopes", "orders:read", "--sellers", mine)

    listed = api.request("GET", "/orders", token=token, params={"sellerId": mine, "limit": "100"})
    assert listed.status_code == 200 and {o["orderId"] for o in listed.json()["orders"]} == set(orders_of(api, mine))
    assert api.request("GET", f"/orders/{orders_of(api, mine)[0]}", token=token).status_code == 200
    # Another seller and its orders are as if they did not exist (404 like an unknown seller's).
    unknown = assert_error(api.request("GET", "/orders", token=token, params={"sellerId": "AUNKNOWNSELLER1"}),
                           404, "NotFound")
    hidden = assert_error(api.request("GET", "/orders", token=token, params={"sellerId": other}), 404, "NotFound")
    assert hidden["message"].replace(other, "X") == unknown["message"].replace("AUNKNOWNSELLER1", "X")
    assert_error(api.request("GET", f"/orders/{orders_of(api, other)[0]}", token=token), 404, "NotFound")
    assert api.request("GET", f"/sellers/{mine}/backlog", token=token).json()["sellerId"] == mine
    hidden = assert_error(api.request("GET", f"/sellers/{other}/backlog", token=token), 404, "NotFound")
    unknown = assert_error(api.request("GET", "/sellers/AUNKNOWNSELLER1/backlog", token=token), 404, "NotFound")
    assert hidden["message"].replace(other, "X") == unknown["message"].replace("AUNKNOWNSELLER1", "X")
    # A route outside its scopes: refused by the authorizer, in the same shape.
    assert_error(api.request("GET", "/failures", token=token), 403, "Forbidden")
    assert api.request("GET", "/openapi.json", token=token).status_code == 200, "any valid token reads the contract"

    shown = api.command("tokens", "list")
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith(token_id))
    assert "warehouse" in row and "orders:read" in row and mine in row and "active" in row
    assert "never" not in row, "its last use is noted"
    assert token.split("_", 2)[2] not in shown.stdout, "the secret is stored nowhere"

    assert api.command("tokens", "revoke", "--id", token_id).returncode == 0
    assert_error(api.request("GET", "/orders", token=token, params={"sellerId": mine}), 403, "Forbidden")
    assert "revoked" in api.command("tokens", "list").stdout


def test_a_token_with_a_wrong_secret_is_refused(api):
    token, _ = create_token(api, "--name", "accountant", "--scopes", "orders:read,failures:read")
    prefix, secret = token.rsplit("_", 1)[0], token.rsplit("_", 1)[1]
    forged = f"{prefix}_{'A' * len(secret)}"
    assert_error(api.request("GET", "/failures", token=forged), 403, "Forbidden")
    assert api.request("GET", "/failures", token=token).status_code == 200


@pytest.mark.parametrize(("options", "mentions"), [
    (["--name", "x", "--scopes", "orders:write"], "unknown scope(s) orders:write"),
    (["--name", "x", "--scopes", ""], "name at least one scope"),
    (["--name", "x", "--scopes", "orders:read", "--sellers", "lower-case"], "seller"),
    (["--name", "x", "--scopes", "orders:read,failures:read", "--sellers", "A2EUQ1WTGCTBG2"],
     "cannot have failures:read"),
])
def test_creating_a_token_with_bad_options_says_why(api, options, mentions):
    done = api.command("tokens", "create", *options)
    assert done.returncode != 0 and mentions in (done.stderr + done.stdout), (done.stdout, done.stderr)
