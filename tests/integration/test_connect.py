"""`python -m infra.connect` and `python -m infra.sellers` end to end, in process: a moto server
provisioned from infra/template.yaml (stage "connect", used by no other test) and the Amazon
simulator playing the Notifications API. Also the simulator's Notifications API itself, driven
through python-amazon-sp-api the way the connect command drives Amazon."""
from __future__ import annotations

import io
import json
import re
import sys
from typing import Any

import pytest
from sp_api.api import Notifications
from sp_api.auth import AccessTokenClient
from sp_api.auth import access_token_client as lwa_client_module
from sp_api.base import Marketplaces
from sp_api.base.exceptions import (
    SellingApiBadRequestException,
    SellingApiForbiddenException,
    SellingApiStateConflictException,
)

from chalicelib import subscriptions
from infra import connect, sellers
from infra.local.amazon import DEFAULT_RATE_LIMITS, Simulator, load_model
from infra.local.stack import (
    FAKE_ACCESS_KEY_ID,
    FAKE_SECRET_ACCESS_KEY,
    provision,
    start_moto,
    stop_moto,
    write_secret,
)

STAGE = "connect"
APP_ID = "amzn1.application-oa2-client.connecttest"
APP_SECRET = "connect-test-client-secret"
SELLER_ONE, TOKEN_ONE = "A1SELLERONE", "Atzr|connect-seller-one-refresh"
SELLER_TWO, TOKEN_TWO = "A2SELLERTWO", "Atzr|connect-seller-two-refresh"
DE, FR = "A1PA6795UKMFR9", "A13V1IB3VIYZZH"
TYPES_PER_SELLER = len(subscriptions.ALL_TYPES)


@pytest.fixture(scope="module")
def stack():
    endpoint = start_moto(0)
    provisioned = provision(endpoint, stage=STAGE)
    yield provisioned
    stop_moto(endpoint)


def clear_token_caches() -> None:
    # python-amazon-sp-api caches access tokens per refresh token (and grantless ones per scope)
    # for the whole process: a token from an earlier simulator would reach one that never issued it.
    lwa_client_module.cache.clear()
    lwa_client_module.grantless_cache.clear()


@pytest.fixture
def aws(stack, monkeypatch):
    """The environment the commands run in: AWS is the moto server; stdin is not a terminal."""
    for name, value in {
        "AWS_ENDPOINT_URL": stack.endpoint_url,
        "AWS_DEFAULT_REGION": stack.region,
        "AWS_REGION": stack.region,
        "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    write_secret(stack, APP_ID, APP_SECRET, {SELLER_ONE: {"refresh_token": TOKEN_ONE}})
    with sellers.registry(sellers.load_stage(STAGE)) as state:
        state.put_seller(SELLER_ONE, [DE, FR])
    clear_token_caches()
    yield stack
    clear_token_caches()


def amazon(monkeypatch, **options: Any) -> Simulator:
    simulator = Simulator(
        {"sellers": [
            {"sellerId": SELLER_ONE, "refreshToken": TOKEN_ONE, "marketplaceIds": [DE, FR]},
            {"sellerId": SELLER_TWO, "refreshToken": TOKEN_TWO, "marketplaceIds": [DE]},
        ]},
        rate_scale=200,  # Amazon's 1 request/s per operation, 200 times faster
        **options,
    )
    url = simulator.start()
    monkeypatch.setenv("SPAPI_ENDPOINT", url)
    monkeypatch.setenv("LWA_ENDPOINT", url)
    return simulator


@pytest.fixture
def simulator(aws, monkeypatch):
    sim = amazon(monkeypatch)
    yield sim
    sim.stop()


def run(module, *argv: str, stdin: str = "") -> int:
    sys.stdin = io.StringIO(stdin)  # restored by the aws fixture's monkeypatch
    return module.main(list(argv))


def secret(stack) -> dict[str, Any]:
    raw = stack.client("secretsmanager").get_secret_value(SecretId=stack.outputs["SpApiSecretName"])
    return json.loads(raw["SecretString"])


def registry(stack) -> dict[str, list[str]]:
    return sellers.registered_sellers(sellers.load_stage(STAGE))


def created(simulator: Simulator, operation: str) -> int:
    return simulator.stats().get(operation, {}).get("2xx", 0)


def subscriptions_by_seller(simulator: Simulator) -> dict[str, dict[str, dict]]:
    found: dict[str, dict[str, dict]] = {}
    for sub in simulator.subscriptions():
        found.setdefault(sub["sellerId"], {})[sub["notificationType"]] = sub
    return found


# --- connect -------------------------------------------------------------------------------


def test_first_connect_creates_both_destinations_and_every_subscription(simulator, aws, capsys):
    write_secret(aws, APP_ID, APP_SECRET, {SELLER_ONE: {"refresh_token": TOKEN_ONE},
                                          SELLER_TWO: {"refresh_token": TOKEN_TWO}})

    assert run(connect, "connect", "--stage", STAGE) == 0

    destinations = simulator.destinations()
    sqs = [d for d in destinations if "sqs" in d["resource"]]
    eventbridge = [d for d in destinations if "eventBridge" in d["resource"]]
    assert len(destinations) == 2 and len(sqs) == 1 and len(eventbridge) == 1
    assert sqs[0]["resource"]["sqs"]["arn"] == aws.outputs["IntakeQueueArn"]
    source = eventbridge[0]["resource"]["eventBridge"]
    assert (source["accountId"], source["region"]) == (aws.outputs["IntakeQueueArn"].split(":")[4], aws.region)
    assert created(simulator, "createDestination") == 2

    by_seller = subscriptions_by_seller(simulator)
    assert set(by_seller) == {SELLER_ONE, SELLER_TWO}
    for seller_id in (SELLER_ONE, SELLER_TWO):
        assert set(by_seller[seller_id]) == set(subscriptions.ALL_TYPES)
        for notification_type, sub in by_seller[seller_id].items():
            assert sub["payloadVersion"] == subscriptions.payload_version(notification_type)
            expected = sqs if notification_type in subscriptions.SQS_TYPES else eventbridge
            assert sub["destinationId"] == expected[0]["destinationId"]
    assert created(simulator, "createSubscription") == 2 * TYPES_PER_SELLER

    out = capsys.readouterr().out
    assert source["name"] in out and "ListingsEventBusName" in out
    assert source["name"].startswith("aws.partner/sellingpartnerapi.amazon.com/")
    assert f"subscriptions {2 * TYPES_PER_SELLER} created" in out


def test_connect_again_finds_everything_and_creates_nothing(simulator, aws, capsys):
    assert run(connect, "connect", "--stage", STAGE) == 0
    before = (simulator.destinations(), simulator.subscriptions())
    simulator.reset_stats()

    assert run(connect, "connect", "--stage", STAGE) == 0

    stats = simulator.stats()
    assert "createDestination" not in stats and "createSubscription" not in stats
    assert stats["getDestinations"]["2xx"] == 1
    assert stats["getSubscription"]["2xx"] == TYPES_PER_SELLER
    assert (simulator.destinations(), simulator.subscriptions()) == before
    assert "destinations 0 created, 2 found; subscriptions 0 created, 11 found" in capsys.readouterr().out


def test_status_lists_destinations_and_each_subscription(simulator, aws, capsys):
    assert run(connect, "status", "--stage", STAGE) == 0
    assert "Subscriptions delivering to this stage: 0 of 11." in capsys.readouterr().out

    run(connect, "connect", "--stage", STAGE)
    capsys.readouterr()
    simulator.reset_stats()
    assert run(connect, "status", "--stage", STAGE) == 0

    out = capsys.readouterr().out
    assert aws.outputs["IntakeQueueArn"] in out and out.count("[this stage]") == 2
    for notification_type in subscriptions.ALL_TYPES:
        assert re.search(rf"{notification_type}\s+\S+\s+subscribed ", out), notification_type
    assert "Subscriptions delivering to this stage: 11 of 11." in out
    assert set(simulator.stats()) == {"getDestinations", "getSubscription"}  # status changes nothing


def test_disconnect_removes_subscriptions_then_destinations(simulator, aws, capsys):
    run(connect, "connect", "--stage", STAGE)

    assert run(connect, "disconnect", "--stage", STAGE) == 0

    assert simulator.subscriptions() == [] and simulator.destinations() == []
    assert "11 subscription(s) and 2 destination(s) deleted" in capsys.readouterr().out
    assert run(connect, "disconnect", "--stage", STAGE) == 0  # nothing left: nothing to do


def test_a_subscription_to_another_destination_is_reported_and_moved_only_when_asked(simulator, aws, capsys):
    run(connect, "connect", "--stage", STAGE, "--types", "ORDER_CHANGE")
    # Someone else's destination takes the seller's ORDER_CHANGE subscription.
    client = notifications_client(simulator)
    other = client.create_destination(name="old", arn="arn:aws:sqs:eu-west-1:111111111111:old").payload
    seller = notifications_client(simulator, TOKEN_ONE)
    old = seller.get_subscription("ORDER_CHANGE").payload
    seller.delete_notification_subscription("ORDER_CHANGE", old["subscriptionId"])
    seller.create_subscription("ORDER_CHANGE", destination_id=other["destinationId"])
    capsys.readouterr()

    assert run(connect, "connect", "--stage", STAGE, "--types", "ORDER_CHANGE") == 1
    assert "delivers to another destination" in capsys.readouterr().err
    assert run(connect, "connect", "--stage", STAGE, "--types", "ORDER_CHANGE", "--replace") == 0

    [sub] = [s for s in simulator.subscriptions() if s["notificationType"] == "ORDER_CHANGE"]
    assert sub["destinationId"] != other["destinationId"]


# --- Amazon refusing -----------------------------------------------------------------------


def test_a_queue_policy_amazon_cannot_send_through_is_explained_and_fails(aws, monkeypatch, capsys):
    simulator = amazon(monkeypatch, sqs_policy_ok=False)
    try:
        status = run(connect, "connect", "--stage", STAGE)
    finally:
        simulator.stop()

    assert status == 1
    err = capsys.readouterr().err
    assert "the intake queue's policy must allow account 437568002678 to sqs:SendMessage" in err
    assert "deploy the stack's IntakeQueuePolicy" in err
    assert not [d for d in simulator.destinations() if "sqs" in d["resource"]]
    # The listings still go through EventBridge; nothing was subscribed to a missing queue.
    assert {s["notificationType"] for s in simulator.subscriptions()} == set(subscriptions.EVENTBRIDGE_TYPES)


def test_a_queue_outside_the_endpoints_part_of_the_world_is_explained(aws, monkeypatch, capsys):
    simulator = amazon(monkeypatch, region="na")  # the stack's queue is in eu-west-1
    try:
        status = run(connect, "connect", "--stage", STAGE, "--types", "ORDER_CHANGE")
    finally:
        simulator.stop()

    assert status == 1
    err = capsys.readouterr().err
    assert "Amazon will not deliver to the intake queue: it is in eu-west-1" in err
    assert "does not deliver to" in err  # Amazon's own words follow the plain ones


def test_throttling_is_waited_out_at_amazons_pace(aws, monkeypatch):
    simulator = amazon(monkeypatch)
    simulator.rate_scale = 1  # Amazon's real pace: 1 request/s after a burst of 5
    waits: list[float] = []
    try:
        status = connect.main(["connect", "--stage", STAGE, "--types", *subscriptions.SQS_TYPES],
                              sleep=lambda seconds: (waits.append(seconds), time_travel(simulator, seconds)))
    finally:
        simulator.stop()

    assert status == 0
    assert simulator.stats()["getSubscription"]["429"] > 0 and waits
    assert all(0.9 <= wait <= 60 for wait in waits)
    assert len(simulator.subscriptions()) == len(subscriptions.SQS_TYPES)


def test_what_another_run_made_meanwhile_is_read_back_after_amazons_409(simulator, aws, monkeypatch):
    # A first run makes everything; the second one sees a stale "nothing there" once per read,
    # as if another run had made it in between: Amazon answers 409 and nothing is duplicated.
    assert run(connect, "connect", "--stage", STAGE) == 0
    stale: set[str] = set()
    real_destinations, real_subscription = connect.Amazon.destinations, connect.Amazon.subscription

    def destinations_once_stale(self):
        if "destinations" not in stale:
            stale.add("destinations")
            return []
        return real_destinations(self)

    def subscription_once_stale(self, want):
        if want.notification_type not in stale:
            stale.add(want.notification_type)
            return None
        return real_subscription(self, want)

    monkeypatch.setattr(connect.Amazon, "destinations", destinations_once_stale)
    monkeypatch.setattr(connect.Amazon, "subscription", subscription_once_stale)
    simulator.reset_stats()

    assert run(connect, "connect", "--stage", STAGE) == 0

    assert simulator.stats()["createDestination"] == {"calls": 2, "2xx": 0, "429": 0, "4xx": 2, "5xx": 0}
    assert simulator.stats()["createSubscription"]["4xx"] == TYPES_PER_SELLER
    assert len(simulator.destinations()) == 2 and len(simulator.subscriptions()) == TYPES_PER_SELLER


def test_amazons_passing_failures_are_retried(simulator, aws):
    simulator.inject_faults("getDestinations", [503])
    simulator.inject_faults("createSubscription", [500, 503])
    waits: list[float] = []

    assert connect.main(["connect", "--stage", STAGE, "--types", "ORDER_CHANGE"], sleep=waits.append) == 0

    assert simulator.stats()["createSubscription"]["5xx"] == 2 and len(simulator.subscriptions()) == 1
    assert len([w for w in waits if w >= 2]) == 3


def time_travel(simulator: Simulator, seconds: float) -> None:
    """Let the simulator's token buckets refill as if `seconds` had passed."""
    with simulator._lock:
        for bucket in simulator._buckets.values():
            bucket.stamp -= seconds


def test_missing_app_credentials_stop_before_calling_amazon(simulator, aws, capsys):
    write_secret(aws, "", "", {SELLER_ONE: {"refresh_token": TOKEN_ONE}})

    assert run(connect, "connect", "--stage", STAGE) == 1
    assert "set-app --stage connect" in capsys.readouterr().err
    assert simulator.stats() == {}


def test_an_unknown_stage_is_explained(aws, capsys):
    assert run(connect, "status", "--stage", "nosuchstage") == 1
    assert "no stack sellerops-nosuchstage" in capsys.readouterr().err


# --- sellers -------------------------------------------------------------------------------


def test_set_app_reads_stdin_keeps_the_sellers_and_prints_no_secret(aws, capsys):
    status = run(sellers, "set-app", "--stage", STAGE,
                 stdin="amzn1.application-oa2-client.newapp\nnew-client-secret\n")

    assert status == 0
    stored = secret(aws)
    assert (stored["lwa_app_id"], stored["lwa_client_secret"]) == (
        "amzn1.application-oa2-client.newapp", "new-client-secret"
    )
    assert stored["sellers"] == {SELLER_ONE: {"refresh_token": TOKEN_ONE}}
    out, err = capsys.readouterr()
    assert "new-client-secret" not in out + err and "newapp" not in out + err
    assert "must authorise this app again" in out
    assert "the intake admits every SP-API application's notifications" in err


def test_set_app_with_the_application_id_makes_the_intake_admit_only_it(aws, capsys):
    status = run(sellers, "set-app", "--stage", STAGE, "--application-id", "amzn1.sellerapps.app.0000-ours",
                 stdin="amzn1.application-oa2-client.newapp\nnew-client-secret\n")
    assert status == 0
    assert "admits only notifications of application amzn1.sellerapps.app.0000-ours" in capsys.readouterr().out
    with sellers.registry(sellers.load_stage(STAGE)) as state:
        assert state.application_id() == "amzn1.sellerapps.app.0000-ours"
    with pytest.raises(SystemExit):
        run(sellers, "set-app", "--stage", STAGE, "--application-id", "not an id", stdin="a\nb\n")


def test_adding_a_second_seller_keeps_the_first_and_connect_subscribes_it(simulator, aws, capsys):
    assert run(connect, "connect", "--stage", STAGE) == 0
    simulator.reset_stats()

    status = run(sellers, "add", "--stage", STAGE, "--seller-id", SELLER_TWO,
                 "--marketplaces", f"{DE},{FR}", stdin=TOKEN_TWO + "\n")

    assert status == 0
    assert secret(aws)["sellers"] == {SELLER_ONE: {"refresh_token": TOKEN_ONE},
                                      SELLER_TWO: {"refresh_token": TOKEN_TWO}}
    assert registry(aws)[SELLER_TWO] == sorted([DE, FR])
    assert SELLER_ONE in registry(aws)
    assert simulator.stats() == {}  # adding talks to AWS only

    assert run(connect, "connect", "--stage", STAGE) == 0

    assert created(simulator, "createSubscription") == TYPES_PER_SELLER
    assert "createDestination" not in simulator.stats()
    by_seller = subscriptions_by_seller(simulator)
    assert set(by_seller[SELLER_TWO]) == set(subscriptions.ALL_TYPES)
    out, err = capsys.readouterr()
    for token in (TOKEN_ONE, TOKEN_TWO, APP_SECRET):
        assert token not in out and token not in err


def test_add_with_connect_subscribes_the_new_seller_only(simulator, aws, capsys):
    status = run(sellers, "add", "--stage", STAGE, "--seller-id", SELLER_TWO,
                 "--marketplaces", DE, "--connect", stdin=TOKEN_TWO + "\n")

    assert status == 0
    assert set(subscriptions_by_seller(simulator)) == {SELLER_TWO}
    assert TOKEN_TWO not in "".join(capsys.readouterr())


def test_add_without_a_terminal_needs_the_seller_id_and_a_token_on_stdin(simulator, aws, capsys):
    assert run(sellers, "add", "--stage", STAGE, "--marketplaces", DE, stdin=TOKEN_TWO + "\n") == 1
    assert "--seller-id is required when stdin is not a terminal" in capsys.readouterr().err
    assert run(sellers, "add", "--stage", STAGE, "--seller-id", SELLER_TWO, "--marketplaces", DE) == 1
    assert "expected the refresh token on stdin" in capsys.readouterr().err
    assert SELLER_TWO not in secret(aws)["sellers"]


def test_add_from_a_terminal_asks_for_what_is_missing_and_reads_the_token_without_echo(
    simulator, aws, monkeypatch, capsys
):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter([SELLER_TWO, f"{DE}, {FR}"])
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: (prompts.append(prompt), next(answers))[1])
    monkeypatch.setattr(sellers.getpass, "getpass", lambda prompt: (prompts.append(prompt), TOKEN_TWO)[1])
    monkeypatch.setattr(sys, "stdin", Terminal())

    assert sellers.main(["add", "--stage", STAGE]) == 0  # what `make add-seller STAGE=x` runs

    assert [p.split(" ")[0] for p in prompts] == ["Seller", "Marketplace", "Refresh"]
    assert secret(aws)["sellers"][SELLER_TWO] == {"refresh_token": TOKEN_TWO}
    assert registry(aws)[SELLER_TWO] == sorted([DE, FR])
    assert TOKEN_TWO not in "".join(capsys.readouterr())


def test_list_shows_sellers_and_marketplaces_without_secrets(simulator, aws, capsys):
    assert run(sellers, "list", "--stage", STAGE) == 0

    out = capsys.readouterr().out
    assert SELLER_ONE in out and f"{DE} (DE)" in out and f"{FR} (FR)" in out and "stored" in out
    assert TOKEN_ONE not in out and APP_SECRET not in out


def test_remove_unsubscribes_the_seller_then_forgets_it(simulator, aws, capsys):
    write_secret(aws, APP_ID, APP_SECRET, {SELLER_ONE: {"refresh_token": TOKEN_ONE},
                                          SELLER_TWO: {"refresh_token": TOKEN_TWO}})
    with sellers.registry(sellers.load_stage(STAGE)) as state:
        state.put_seller(SELLER_TWO, [DE])
    run(connect, "connect", "--stage", STAGE)

    assert run(sellers, "remove", "--stage", STAGE, "--seller-id", SELLER_TWO) == 0

    assert set(subscriptions_by_seller(simulator)) == {SELLER_ONE}
    assert len(simulator.destinations()) == 2  # still used by the other seller
    assert set(secret(aws)["sellers"]) == {SELLER_ONE}
    assert SELLER_TWO not in registry(aws)


# --- the simulator's Notifications API -----------------------------------------------------


def notifications_client(simulator: Simulator, refresh_token: str | None = None) -> Notifications:
    class SimulatorTokenClient(AccessTokenClient):
        scheme = "http://"
        host = simulator.url.removeprefix("http://")

    client = Notifications(
        Marketplaces.DE,
        refresh_token=refresh_token,
        credentials={"lwa_app_id": APP_ID, "lwa_client_secret": APP_SECRET},
        auth_token_client_class=SimulatorTokenClient,
    )
    client.endpoint = simulator.url
    return client


QUEUE = "arn:aws:sqs:eu-west-1:123456789012:some-queue"


def test_destinations_need_a_grantless_token(simulator):
    seller = notifications_client(simulator, TOKEN_ONE)
    with pytest.raises(SellingApiForbiddenException):  # python-amazon-sp-api would go grantless
        seller._request("/notifications/v1/destinations", add_marketplace=False)
    client = notifications_client(simulator)

    assert client.get_destinations().payload == {}  # python-amazon-sp-api: an empty list becomes {}
    assert simulator.stats()["lwaToken"]["2xx"] == 2


def test_creating_what_exists_is_a_409_naming_the_existing_id(simulator):
    grantless = notifications_client(simulator)
    destination = grantless.create_destination(name="q", arn=QUEUE).payload
    seller = notifications_client(simulator, TOKEN_ONE)
    subscription = seller.create_subscription("ORDER_CHANGE", destination_id=destination["destinationId"]).payload

    with pytest.raises(SellingApiStateConflictException) as same_queue:
        grantless.create_destination(name="again", arn=QUEUE)
    with pytest.raises(SellingApiStateConflictException) as same_type:
        seller.create_subscription("ORDER_CHANGE", destination_id=destination["destinationId"])

    assert same_queue.value.amzn_code == "Conflict"
    assert f"A destination with arn {QUEUE} already exists" in same_queue.value.error[0]["details"]
    assert destination["destinationId"] in same_queue.value.error[0]["details"]
    assert same_type.value.amzn_code == "StateConflict"
    assert "Subscription already exist for notification type ORDER_CHANGE" in same_type.value.error[0]["details"]
    assert subscription["subscriptionId"] in same_type.value.error[0]["details"]
    # Another seller may subscribe to the same type.
    assert notifications_client(simulator, TOKEN_TWO).create_subscription(
        "ORDER_CHANGE", destination_id=destination["destinationId"]
    ).payload["subscriptionId"]


def test_one_eventbridge_destination_per_account_named_after_the_partner_source(simulator):
    grantless = notifications_client(simulator)
    made = grantless.create_destination(name="eb", account_id="123456789012", region="eu-west-1").payload

    with pytest.raises(SellingApiStateConflictException):
        grantless.create_destination(name="eb2", account_id="123456789012", region="eu-central-1")

    name = made["resource"]["eventBridge"]["name"]
    assert re.fullmatch(r"aws\.partner/sellingpartnerapi\.amazon\.com/123456789012/amzn1\.sp\.solution\.\S+", name)


@pytest.mark.parametrize(
    "notification_type, version, destination, reason",
    [
        ("LISTINGS_ITEM_STATUS_CHANGE", "1.0", "sqs", "can only be delivered to an Amazon EventBridge"),
        ("ORDER_CHANGE", "1.0", "eventBridge", "can only be delivered to an Amazon SQS"),
        ("ORDER_CHANGE", "2.0", "sqs", "payloadVersion 2.0 is not a version of ORDER_CHANGE"),
        ("ORDER_CHANGE", "1.0", "unknown", "No destination with id unknown for applicationId"),
        ("ORDER_STATUS_CHANGE", "1.0", "sqs", "ORDER_STATUS_CHANGE is not a valid notification type"),
    ],
)
def test_a_subscription_amazon_cannot_deliver_is_refused_with_the_reason(
    simulator, notification_type, version, destination, reason
):
    grantless = notifications_client(simulator)
    ids = {
        "sqs": grantless.create_destination(name="q", arn=QUEUE).payload["destinationId"],
        "eventBridge": grantless.create_destination(
            name="eb", account_id="123456789012", region="eu-west-1"
        ).payload["destinationId"],
        "unknown": "unknown",
    }

    with pytest.raises(SellingApiBadRequestException) as refused:
        notifications_client(simulator, TOKEN_ONE).create_subscription(
            notification_type, destination_id=ids[destination], payload_version=version
        )

    assert refused.value.amzn_code == "InvalidInput"
    assert refused.value.message == "Request has missing or invalid parameters and cannot be parsed."
    assert reason in refused.value.error[0]["details"]


def test_bodies_are_checked_against_the_model(simulator):
    client = notifications_client(simulator)
    with pytest.raises(SellingApiBadRequestException) as bad_arn:
        client.create_destination(name="q", arn="not-an-arn")
    with pytest.raises(SellingApiBadRequestException) as no_name:
        client._request_grantless_operation(
            "/notifications/v1/destinations",
            data={"resourceSpecification": {"sqs": {"arn": QUEUE}}, "method": "POST"},
        )

    assert "resourceSpecification.sqs.arn: 'not-an-arn' does not match" in bad_arn.value.error[0]["details"]
    assert no_name.value.error[0]["details"] == "name is required."


def test_a_destination_with_subscriptions_cannot_be_deleted(simulator):
    grantless = notifications_client(simulator)
    destination_id = grantless.create_destination(name="q", arn=QUEUE).payload["destinationId"]
    seller = notifications_client(simulator, TOKEN_ONE)
    subscription_id = seller.create_subscription("ORDER_CHANGE", destination_id=destination_id).payload[
        "subscriptionId"
    ]

    with pytest.raises(SellingApiForbiddenException) as refused:
        grantless.delete_destination(destination_id)
    seller.delete_notification_subscription("ORDER_CHANGE", subscription_id)
    grantless.delete_destination(destination_id)

    assert refused.value.error[0]["details"] == "Destination has subscriptions"
    assert simulator.destinations() == []


@pytest.mark.parametrize(
    "path, method, operation",
    [
        ("/notifications/v1/destinations", "get", "getDestinations"),
        ("/notifications/v1/destinations", "post", "createDestination"),
        ("/notifications/v1/destinations/{destinationId}", "delete", "deleteDestination"),
        ("/notifications/v1/subscriptions/{notificationType}", "get", "getSubscription"),
        ("/notifications/v1/subscriptions/{notificationType}", "post", "createSubscription"),
        ("/notifications/v1/subscriptions/{notificationType}/{subscriptionId}", "delete", "deleteSubscriptionById"),
    ],
)
def test_the_notifications_rate_limits_are_the_models_usage_plans(path, method, operation):
    description = load_model("notifications.json")["paths"][path][method]["description"]
    rate, burst = re.search(r"\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|", description).groups()

    assert DEFAULT_RATE_LIMITS[operation] == (float(rate), int(burst))
