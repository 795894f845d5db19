"""The Amazon simulator, driven the way our code drives Amazon: through python-amazon-sp-api."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

import httpx
import pytest
from sp_api.api import OrdersV20260101
from sp_api.auth import AccessTokenClient
from sp_api.auth import access_token_client as lwa_client_module
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import Marketplaces
from sp_api.base.exceptions import (
    SellingApiBadRequestException,
    SellingApiException,
    SellingApiForbiddenException,
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
    SellingApiServerException,
    SellingApiTemporarilyUnavailableException,
)

from infra.local.amazon import DATASETS, DEFAULT_RATE_LIMITS, Simulator, load_model

SELLER = "A1SELLERONE"
OTHER_SELLER = "A2SELLERTWO"
SELLER_TOKEN = "Atzr|seller-one"
OTHER_TOKEN = "Atzr|seller-two"
UK = "A1F83G8C2ARO7P"
DE = "A1PA6795UKMFR9"
CREDENTIALS = {"lwa_app_id": "amzn1.application-oa2-client.sim", "lwa_client_secret": "sim-secret"}
ORDER_PATH = "/orders/2026-01-01/orders/{orderId}"


# --- builders ------------------------------------------------------------------------------


def example_order() -> dict[str, Any]:
    """The Order in the model's getOrder 200 example: a shipped UK merchant-fulfilled order."""
    model = load_model("orders_2026-01-01.json")
    response = model["paths"][ORDER_PATH]["get"]["responses"]["200"]
    return copy.deepcopy(response["examples"]["application/json"]["order"])


def order_like(
    order_id: str,
    *,
    updated: str = "2024-12-25T16:30:00Z",
    created: str = "2024-12-25T09:15:00Z",
    marketplace: str = UK,
    status: str = "SHIPPED",
    fulfilled_by: str = "MERCHANT",
) -> dict[str, Any]:
    order = example_order()
    order.update(orderId=order_id, createdTime=created, lastUpdatedTime=updated)
    order["salesChannel"]["marketplaceId"] = marketplace
    order["fulfillment"].update(fulfillmentStatus=status, fulfilledBy=fulfilled_by)
    return order


def world(*orders: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "orders": [{"sellerId": seller, "order": order} for seller, order in orders],
        "sellers": [
            {"sellerId": SELLER, "refreshToken": SELLER_TOKEN, "marketplaceIds": [UK, DE]},
            {"sellerId": OTHER_SELLER, "refreshToken": OTHER_TOKEN, "marketplaceIds": [UK]},
        ],
        "somethingForLater": {"ignored": True},
    }


def orders_client(
    simulator: Simulator, refresh_token: str = SELLER_TOKEN, **options: Any
) -> OrdersV20260101:
    """An Orders client pointed at the simulator, as our adapter will build it."""

    class SimulatorTokenClient(AccessTokenClient):
        scheme = "http://"
        host = simulator.url.removeprefix("http://")

    client = OrdersV20260101(
        Marketplaces.UK,
        refresh_token=refresh_token,
        credentials=CREDENTIALS,
        auth_token_client_class=SimulatorTokenClient,
        **options,
    )
    client.endpoint = simulator.url
    return client


@pytest.fixture(autouse=True)
def fresh_lwa_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # python-amazon-sp-api caches access tokens per refresh token for the whole process, so a
    # token from an earlier simulator would be presented to a new one that never issued it.
    lwa_client_module.cache.clear()
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)


@pytest.fixture
def simulator():
    sim = Simulator(
        world(
            (SELLER, example_order()),
            (OTHER_SELLER, order_like("026-0000000-0000001")),
        )
    )
    sim.start()
    yield sim
    sim.stop()


# --- LWA -----------------------------------------------------------------------------------


def test_a_refresh_token_is_exchanged_for_an_access_token(simulator: Simulator) -> None:
    client = orders_client(simulator)

    auth = client.auth

    assert auth.access_token.startswith("Atza|sim-")
    assert auth.token_type == "bearer" and auth.expires_in == 3600
    assert auth.refresh_token == SELLER_TOKEN
    assert simulator.stats()["lwaToken"]["2xx"] == 1


def test_lwa_refuses_a_token_request_without_a_refresh_token(simulator: Simulator) -> None:
    client = orders_client(simulator, refresh_token=None)

    with pytest.raises(AuthorizationError) as refused:
        client.get_order("202-1234567-8901234")

    assert refused.value.status_code == 400
    assert refused.value.error_code == "invalid_request"
    assert "refresh_token" in refused.value.message


def test_lwa_refuses_a_token_request_without_client_credentials(simulator: Simulator) -> None:
    answer = httpx.post(
        simulator.url + "/auth/o2/token",
        data={"grant_type": "refresh_token", "client_id": "x", "refresh_token": SELLER_TOKEN},
    )

    assert answer.status_code == 400
    assert answer.json() == {
        "error_description": "The request is missing a required parameter : client_secret",
        "error": "invalid_request",
    }


def test_a_call_without_an_access_token_the_simulator_issued_is_answered_403(
    simulator: Simulator,
) -> None:
    # restricted_data_token is sent as-is in x-amz-access-token: a handy way to send a bad one
    client = orders_client(simulator, restricted_data_token="Atza|made-up")

    with pytest.raises(SellingApiForbiddenException) as refused:
        client.get_order("202-1234567-8901234")

    assert refused.value.error == [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "",
        }
    ]


# --- getOrder ------------------------------------------------------------------------------


def test_get_order_leaves_out_every_dataset_not_asked_for(simulator: Simulator) -> None:
    order = orders_client(simulator).get_order("202-1234567-8901234").payload["order"]

    assert set(order) == {
        "orderId", "orderAliases", "createdTime", "lastUpdatedTime", "programs",
        "salesChannel", "orderItems",
    }
    assert set(order["orderItems"][0]) == {"orderItemId", "quantityOrdered", "programs", "product"}


def test_get_order_returns_the_datasets_asked_for(simulator: Simulator) -> None:
    client = orders_client(simulator)

    order = client.get_order(
        "202-1234567-8901234", includedData=["BUYER", "PROCEEDS", "FULFILLMENT"]
    ).payload["order"]

    expected = example_order()
    assert order["buyer"] == expected["buyer"]
    assert order["proceeds"] == expected["proceeds"]
    assert order["fulfillment"] == expected["fulfillment"]
    assert "recipient" not in order and "packages" not in order
    item, expected_item = order["orderItems"][0], expected["orderItems"][0]
    assert item["proceeds"] == expected_item["proceeds"]
    assert item["fulfillment"] == expected_item["fulfillment"]
    assert "promotion" not in item


def test_get_order_with_every_dataset_returns_the_order_as_amazon_holds_it(
    simulator: Simulator,
) -> None:
    response = orders_client(simulator).get_order(
        "202-1234567-8901234", includedData=list(DATASETS)
    )

    assert response.payload == {"order": example_order()}
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert response.headers["x-amzn-RequestId"]


def test_an_unknown_order_is_answered_404(simulator: Simulator) -> None:
    with pytest.raises(SellingApiNotFoundException) as missing:
        orders_client(simulator).get_order("999-0000000-0000000")

    assert missing.value.amzn_code == "NotFound"


def test_orders_of_another_seller_are_invisible(simulator: Simulator) -> None:
    client = orders_client(simulator)

    with pytest.raises(SellingApiNotFoundException):
        client.get_order("026-0000000-0000001")
    found = client.search_orders(lastUpdatedAfter="2024-01-01T00:00:00Z").payload["orders"]

    assert [order["orderId"] for order in found] == ["202-1234567-8901234"]
    other = orders_client(simulator, refresh_token=OTHER_TOKEN)
    assert other.get_order("026-0000000-0000001").payload["order"]["orderId"]


def test_a_refresh_token_the_world_does_not_know_sees_every_seller(simulator: Simulator) -> None:
    client = orders_client(simulator, refresh_token="Atzr|not-in-the-world")

    found = client.search_orders(lastUpdatedAfter="2024-01-01T00:00:00Z").payload["orders"]

    assert {order["orderId"] for order in found} == {"202-1234567-8901234", "026-0000000-0000001"}


# --- searchOrders --------------------------------------------------------------------------


def test_search_orders_filters_by_update_time_marketplace_status_and_fulfiller() -> None:
    with Simulator(
        world(
            (SELLER, order_like("1-old", updated="2024-01-01T00:00:00Z")),
            (SELLER, order_like("2-uk-shipped")),
            (SELLER, order_like("3-de", marketplace=DE)),
            (SELLER, order_like("4-uk-unshipped", status="UNSHIPPED")),
            (SELLER, order_like("5-uk-fba", fulfilled_by="AMAZON")),
        )
    ) as simulator:
        client = orders_client(simulator)

        def ids(**filters: Any) -> list[str]:
            response = client.search_orders(lastUpdatedAfter="2024-06-01T00:00:00Z", **filters)
            return [order["orderId"] for order in response.payload["orders"]]

        # the client adds the UK marketplace id unless told otherwise
        assert ids() == ["2-uk-shipped", "4-uk-unshipped", "5-uk-fba"]
        assert ids(marketplaceIds=[UK, DE]) == [
            "2-uk-shipped", "3-de", "4-uk-unshipped", "5-uk-fba"
        ]
        assert ids(fulfillmentStatuses=["UNSHIPPED", "PENDING"]) == ["4-uk-unshipped"]
        assert ids(fulfilledBy="AMAZON") == ["5-uk-fba"]
        assert ids(lastUpdatedBefore="2024-12-25T16:29:59Z") == []


def test_search_orders_by_creation_time_reports_the_bound_it_used(simulator: Simulator) -> None:
    response = orders_client(simulator).search_orders(
        createdAfter="2024-12-25T09:15:00Z", createdBefore="2024-12-31T00:00:00Z"
    )

    assert [order["orderId"] for order in response.payload["orders"]] == ["202-1234567-8901234"]
    assert response.payload["createdBefore"] == "2024-12-31T00:00:00Z"


def test_search_orders_paginates_with_an_opaque_token() -> None:
    orders = [
        (SELLER, order_like(f"{n}-order", updated=f"2024-12-2{n}T00:00:00Z")) for n in range(5)
    ]
    with Simulator(world(*orders)) as simulator:
        client = orders_client(simulator)
        pages, tokens = [], []
        while True:
            extra = {"paginationToken": tokens[-1]} if tokens else {}
            response = client.search_orders(
                lastUpdatedAfter="2024-01-01T00:00:00Z", maxResultsPerPage=2, **extra
            )
            pages.append([order["orderId"] for order in response.payload["orders"]])
            if not response.next_token:
                break
            tokens.append(response.next_token)

    assert pages == [["0-order", "1-order"], ["2-order", "3-order"], ["4-order"]]
    assert len(tokens) == 2 and "1-order" not in tokens[0]


def test_a_pagination_token_only_works_with_the_parameters_it_was_issued_for() -> None:
    orders = [(SELLER, order_like(f"{n}-order")) for n in range(3)]
    with Simulator(world(*orders)) as simulator:
        client = orders_client(simulator)
        first = client.search_orders(lastUpdatedAfter="2024-01-01T00:00:00Z", maxResultsPerPage=1)

        with pytest.raises(SellingApiBadRequestException) as refused:
            client.search_orders(
                lastUpdatedAfter="2024-02-01T00:00:00Z", paginationToken=first.next_token
            )

    assert "paginationToken was issued for other parameters" in refused.value.error[0]["message"]


def test_an_order_updated_within_the_settlement_lag_is_not_yet_searchable() -> None:
    just_now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with Simulator(world((SELLER, order_like("fresh", updated=just_now)))) as simulator:
        found = orders_client(simulator).search_orders(lastUpdatedAfter="2024-01-01T00:00:00Z")
    lwa_client_module.cache.clear()  # the cached token belongs to the first simulator
    with Simulator(
        world((SELLER, order_like("fresh", updated=just_now))), search_lag_seconds=0
    ) as simulator:
        found_without_lag = orders_client(simulator).search_orders(
            lastUpdatedAfter="2024-01-01T00:00:00Z"
        )

    assert found.payload["orders"] == []
    assert found.payload["lastUpdatedBefore"] < just_now
    assert [order["orderId"] for order in found_without_lag.payload["orders"]] == ["fresh"]


def test_upserted_orders_are_visible_at_once(simulator: Simulator) -> None:
    client = orders_client(simulator)
    shipped = order_like("202-1234567-8901234", status="SHIPPED", updated="2024-12-26T08:00:00Z")

    simulator.upsert_order(SELLER, order_like("203-0000000-0000000"))
    simulator.upsert_order(SELLER, shipped)

    assert client.get_order("203-0000000-0000000").payload["order"]["orderId"]
    again = client.get_order("202-1234567-8901234", includedData="FULFILLMENT").payload["order"]
    assert again["lastUpdatedTime"] == "2024-12-26T08:00:00Z"


# --- validation against the model ----------------------------------------------------------


def test_a_bad_included_data_value_is_answered_400_with_a_clear_reason(
    simulator: Simulator,
) -> None:
    with pytest.raises(SellingApiBadRequestException) as refused:
        orders_client(simulator).get_order("202-1234567-8901234", includedData=["BUYER", "ITEMS"])

    assert refused.value.amzn_code == "InvalidInput"
    assert refused.value.message.startswith("includedData: 'ITEMS' is not one of BUYER, RECIPIENT")


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"lastUpdatedAfter": "yesterday"}, "lastUpdatedAfter: 'yesterday' is not an ISO 8601"),
        ({"createdAfter": "2024-01-01", "maxResultsPerPage": 101}, "between 1 and 100; got 101"),
        ({"createdAfter": "2024-01-01", "maxResultsPerPage": 0}, "between 1 and 100; got 0"),
        ({"createdAfter": "2024-01-01", "fulfilledBy": "SELLER"}, "fulfilledBy: 'SELLER'"),
        ({}, "exactly one of createdAfter and lastUpdatedAfter"),
        (
            {"createdAfter": "2024-01-01", "lastUpdatedAfter": "2024-01-01"},
            "exactly one of createdAfter and lastUpdatedAfter",
        ),
        (
            {"createdAfter": "2024-01-01", "lastUpdatedBefore": "2024-02-01"},
            "lastUpdatedBefore cannot be combined with createdAfter",
        ),
        (
            {"lastUpdatedAfter": "2024-02-01", "lastUpdatedBefore": "2024-01-01"},
            "lastUpdatedBefore must be equal to or after lastUpdatedAfter",
        ),
        (
            {"lastUpdatedAfter": "2024-02-01", "lastUpdatedBefore": "2999-01-01T00:00:00Z"},
            "lastUpdatedBefore must be at least 120 seconds before the time of the request",
        ),
        ({"createdAfter": "2024-01-01", "paginationToken": "garbage"}, "paginationToken is not"),
    ],
)
def test_a_search_the_model_forbids_is_answered_400_with_the_reason(
    simulator: Simulator, params: dict[str, Any], reason: str
) -> None:
    with pytest.raises(SellingApiBadRequestException) as refused:
        orders_client(simulator).search_orders(**params)

    assert refused.value.amzn_code == "InvalidInput"
    assert reason in refused.value.message


def test_unknown_query_parameters_are_tolerated(simulator: Simulator) -> None:
    response = orders_client(simulator).search_orders(
        createdAfter="2024-01-01T00:00:00Z", MarketplaceId=UK, somethingNew="yes"
    )

    assert response.payload["orders"]


def test_every_included_data_value_governs_fields_the_model_defines() -> None:
    model = load_model("orders_2026-01-01.json")
    parameters = model["paths"][ORDER_PATH]["get"]["parameters"]
    included_data = next(p for p in parameters if p["name"] == "includedData")
    order_fields = set(model["definitions"]["Order"]["properties"])
    item_fields = set(model["definitions"]["OrderItem"]["properties"])

    assert set(DATASETS) == set(included_data["items"]["enum"])
    for dataset, (on_order, on_items) in DATASETS.items():
        assert set(on_order) <= order_fields, dataset
        assert set(on_items) <= item_fields, dataset


@pytest.mark.parametrize(
    "model_name, path, method, operation",
    [
        ("orders_2026-01-01.json", "/orders/2026-01-01/orders", "get", "searchOrders"),
        ("orders_2026-01-01.json", ORDER_PATH, "get", "getOrder"),
        (
            "ordersV0.json",
            "/orders/v0/orders/{orderId}/shipmentConfirmation",
            "post",
            "confirmShipment",
        ),
    ],
)
def test_the_rate_limits_are_the_usage_plans_printed_in_the_models(
    model_name: str, path: str, method: str, operation: str
) -> None:
    description = load_model(model_name)["paths"][path][method]["description"]
    rate, burst = re.search(r"\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|", description).groups()

    assert DEFAULT_RATE_LIMITS[operation] == (float(rate), int(burst))


# --- rate limits and faults ----------------------------------------------------------------


def test_a_burst_beyond_the_limit_is_answered_429(simulator: Simulator) -> None:
    client = orders_client(simulator)
    for _ in range(30):
        client.get_order("202-1234567-8901234")

    with pytest.raises(SellingApiRequestThrottledException) as throttled:
        client.get_order("202-1234567-8901234")

    assert throttled.value.amzn_code == "QuotaExceeded"
    assert throttled.value.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert simulator.stats()["getOrder"] == {"calls": 31, "2xx": 30, "429": 1, "4xx": 0, "5xx": 0}


def test_each_seller_has_its_own_rate_limit(simulator: Simulator) -> None:
    client = orders_client(simulator)
    for _ in range(30):
        client.get_order("202-1234567-8901234")

    other = orders_client(simulator, refresh_token=OTHER_TOKEN)

    assert other.get_order("026-0000000-0000001").payload["order"]


def test_rate_scale_makes_tokens_refill_faster() -> None:
    # getOrder refills 0.5/s; scaled by 200 that is 100/s, so 50 ms brings back a few calls
    with Simulator(world((SELLER, example_order())), rate_scale=200) as simulator:
        client = orders_client(simulator)
        answers = []
        for _ in range(100):
            try:
                answers.append(client.get_order("202-1234567-8901234"))
            except SellingApiRequestThrottledException:
                break
        else:
            pytest.fail("the burst never ran out")
        time.sleep(0.05)

        refilled = client.get_order("202-1234567-8901234")

    assert refilled.headers["x-amzn-RateLimit-Limit"] == "100"
    assert len(answers) >= 30


def test_injected_faults_answer_5xx_then_the_operation_recovers(simulator: Simulator) -> None:
    client = orders_client(simulator)
    simulator.inject_faults("getOrder", statuses=[500, 503, 502])

    with pytest.raises(SellingApiServerException):
        client.get_order("202-1234567-8901234")
    with pytest.raises(SellingApiTemporarilyUnavailableException):
        client.get_order("202-1234567-8901234")
    with pytest.raises(SellingApiException) as bad_gateway:  # no dedicated class for 502
        client.get_order("202-1234567-8901234")
    recovered = client.get_order("202-1234567-8901234")

    assert type(bad_gateway.value) is SellingApiException
    assert recovered.payload["order"]
    assert simulator.stats()["getOrder"]["5xx"] == 3


def test_a_5xx_without_an_error_body_is_not_raised_by_the_client(simulator: Simulator) -> None:
    # Worth knowing for the adapter: python-amazon-sp-api only raises when the body has "errors".
    simulator.inject_faults("getOrder", statuses=[502], with_error_body=False)

    response = orders_client(simulator).get_order("202-1234567-8901234")

    assert response.payload == {}


def test_the_request_log_holds_no_tokens_or_buyer_data(simulator: Simulator) -> None:
    client = orders_client(simulator)
    client.get_order("202-1234567-8901234", includedData=list(DATASETS))
    client.search_orders(createdAfter="2024-01-01T00:00:00Z", includedData="BUYER,RECIPIENT")

    records = simulator.request_log()
    text = repr(records)

    assert [(r.method, r.operation, r.status) for r in records] == [
        ("POST", "lwaToken", 200),
        ("GET", "getOrder", 200),
        ("GET", "searchOrders", 200),
    ]
    assert records[2].path == "/orders/2026-01-01/orders"
    secrets = (client.auth.access_token, SELLER_TOKEN, "sim-secret", "James Wilson", "M1 2AB")
    for secret in secrets:
        assert secret not in text


# --- the journal and the views ---------------------------------------------------------------


def _view(simulator: Simulator, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{simulator.views_url}{path}", params=params, timeout=10)


def test_every_call_is_journaled_with_its_query_and_readable_on_the_views_port(simulator: Simulator) -> None:
    client = orders_client(simulator)
    client.get_order("202-1234567-8901234", includedData=["PACKAGES"])
    orders_client(simulator, refresh_token=OTHER_TOKEN).get_order("026-0000000-0000001")

    calls = _view(simulator, "/_simulator/calls", operation="getOrder", sellerId=SELLER).json()["calls"]

    assert [(c["operation"], c["sellerId"], c["method"], c["path"], c["status"]) for c in calls] == [
        ("getOrder", SELLER, "GET", "/orders/2026-01-01/orders/202-1234567-8901234", 200)]
    assert "includedData=PACKAGES" in calls[0]["query"]
    assert calls[0]["time"].endswith("+00:00")
    everyone = _view(simulator, "/_simulator/calls", operation="getOrder").json()["calls"]
    assert {c["sellerId"] for c in everyone} == {SELLER, OTHER_SELLER}


def test_the_views_are_read_only_and_list_themselves(simulator: Simulator) -> None:
    index = _view(simulator, "/_simulator/").json()["views"]
    assert {"/_simulator/calls", "/_simulator/orders", "/_simulator/packages", "/_simulator/destinations",
            "/_simulator/subscriptions", "/_simulator/notifications"} <= set(index)
    assert httpx.post(f"{simulator.views_url}/_simulator/calls", timeout=10).status_code == 405
    assert _view(simulator, "/_simulator/nothing").status_code == 404
    # The views are not on the SP-API endpoint, and the endpoint is not on the views port.
    assert httpx.get(f"{simulator.url}/_simulator/calls", timeout=10).status_code == 404


def test_the_orders_view_shows_no_buyer_data(simulator: Simulator) -> None:
    text = _view(simulator, "/_simulator/orders").text
    assert "202-1234567-8901234" in text and "James Wilson" not in text and "M1 2AB" not in text


# --- confirmShipment (Orders API v0) ------------------------------------------------------------


def _unshipped(order_id: str) -> dict[str, Any]:
    order = order_like(order_id, status="UNSHIPPED")
    order.pop("packages", None)
    for item in order["orderItems"]:
        item["fulfillment"] = {"quantityFulfilled": 0, "quantityUnfulfilled": item["quantityOrdered"]}
    return order


def _v0_client(simulator: Simulator):
    from sp_api.api import OrdersV0

    class SimulatorTokenClient(AccessTokenClient):
        scheme = "http://"
        host = simulator.url.removeprefix("http://")

    client = OrdersV0(Marketplaces.UK, refresh_token=SELLER_TOKEN, credentials=CREDENTIALS,
                      auth_token_client_class=SimulatorTokenClient, timeout=5)
    client.endpoint = simulator.url
    return client


def _package(order: dict[str, Any], reference: str = "1", quantity: int | None = None) -> dict[str, Any]:
    item = order["orderItems"][0]
    return {"marketplaceId": UK, "packageDetail": {
        "packageReferenceId": reference, "carrierCode": "Royal Mail", "trackingNumber": "RM123456789GB",
        "shipDate": "2024-12-26T10:00:00Z", "shippingMethod": "Tracked 48",
        "orderItems": [{"orderItemId": item["orderItemId"], "quantity": quantity or item["quantityOrdered"]}]}}


def test_a_confirmed_shipment_becomes_the_orders_package_and_moves_its_status(simulator: Simulator) -> None:
    order = _unshipped("026-1111111-1111111")
    simulator.upsert_order(SELLER, order)
    simulator.connect("amzn1.application-oa2-client.sim", "arn:aws:sqs:eu-west-1:000000000000:intake", [SELLER],
                      ["ORDER_CHANGE"])
    delivered = []
    simulator.deliver_to(delivered.append)

    response = _v0_client(simulator).confirm_shipment("026-1111111-1111111", **_package(order))

    assert simulator.stats()["confirmShipment"]["2xx"] == 1 and response.payload == {"status_code": 204}
    shown = orders_client(simulator).get_order("026-1111111-1111111", includedData=["PACKAGES", "FULFILLMENT"])
    amazon = shown.payload["order"]
    assert amazon["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert [(p["packageReferenceId"], p["trackingNumber"], p["carrier"]) for p in amazon["packages"]] == [
        ("1", "RM123456789GB", "Royal Mail")]
    (pushed,) = delivered
    change = pushed.notification["Payload"]["OrderChangeNotification"]
    assert (pushed.kind, pushed.target, pushed.notification_type) == (
        "sqs", "arn:aws:sqs:eu-west-1:000000000000:intake", "ORDER_CHANGE")
    assert (change["AmazonOrderId"], change["SellerId"], change["Summary"]["OrderStatus"]) == (
        "026-1111111-1111111", SELLER, "Shipped")
    confirmed = _view(simulator, "/_simulator/packages", orderId="026-1111111-1111111").json()["packages"]
    assert confirmed[0]["packageDetail"]["trackingNumber"] == "RM123456789GB"
    assert (_view(simulator, "/_simulator/notifications").json()["notifications"][0]["notificationType"]
            == "ORDER_CHANGE")


@pytest.mark.parametrize(("change", "reason"), [
    (lambda body: body["packageDetail"].update(packageReferenceId="1"), "already confirmed"),
    (lambda body: body["packageDetail"]["orderItems"][0].update(quantity=99), "still to ship"),
    (lambda body: body["packageDetail"]["orderItems"][0].update(orderItemId="nope"), "is not an item"),
    (lambda body: body["packageDetail"].update(carrierCode="Other"), "carrierName is required"),
    (lambda body: body["packageDetail"].update(shipDate="02/21/2022"), "is not an ISO 8601 date-time"),
    (lambda body: body["packageDetail"].pop("trackingNumber"), "trackingNumber is required"),
])
def test_a_shipment_amazon_would_refuse_is_answered_400_and_changes_nothing(simulator, change, reason) -> None:
    order = _unshipped("026-2222222-2222222")
    order["orderItems"][0]["quantityOrdered"] = 2
    order["orderItems"][0]["fulfillment"] = {"quantityFulfilled": 0, "quantityUnfulfilled": 2}
    simulator.upsert_order(SELLER, order)
    client = _v0_client(simulator)
    client.confirm_shipment("026-2222222-2222222", **_package(order, "1", quantity=1))
    body = _package(order, "2", quantity=1)
    change(body)

    with pytest.raises(SellingApiBadRequestException) as refused:
        client.confirm_shipment("026-2222222-2222222", **body)

    assert reason in refused.value.error[0]["message"]
    packages = orders_client(simulator).get_order("026-2222222-2222222", includedData=["PACKAGES"]).payload["order"]
    assert len(packages["packages"]) == 1


def test_an_amazon_fulfilled_order_cannot_be_confirmed(simulator: Simulator) -> None:
    order = _unshipped("026-3333333-3333333")
    order["fulfillment"]["fulfilledBy"] = "AMAZON"
    simulator.upsert_order(SELLER, order)
    with pytest.raises(SellingApiBadRequestException, match="fulfilled by Amazon"):
        _v0_client(simulator).confirm_shipment("026-3333333-3333333", **_package(order))


def test_a_call_can_be_applied_and_then_left_unanswered(simulator: Simulator) -> None:
    from infra.local.amazon import APPLY_THEN_DROP

    order = _unshipped("026-4444444-4444444")
    simulator.upsert_order(SELLER, order)
    simulator.inject_faults("confirmShipment", [APPLY_THEN_DROP])

    with pytest.raises((httpx.TransportError, httpx.TimeoutException)):
        _v0_client(simulator).confirm_shipment("026-4444444-4444444", **_package(order))

    amazon = orders_client(simulator).get_order("026-4444444-4444444", includedData=["PACKAGES"]).payload["order"]
    assert [p["packageReferenceId"] for p in amazon["packages"]] == ["1"]  # it took effect all the same
