"""What `python -m infra.connect` decides, without any I/O: endpoints, what to create given what
exists, and Amazon's errors in plain words. Also the list of subscribed types against Amazon's
notification schemas and the simulator's table of Amazon's rules."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib import subscriptions
from infra import connect
from infra.connect import (
    CREATE,
    ELSEWHERE,
    KEEP,
    REPLACE,
    AmazonError,
    endpoints_for,
    explain,
    plan_destinations,
    plan_subscription,
    plan_unsubscribe,
    wanted_subscriptions,
)
from infra.sellers import CommandError, check_seller_id, marketplace_warnings, parse_marketplaces

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "spapi" / "notifications"
QUEUE = "arn:aws:sqs:eu-west-1:123456789012:sellerops-prod-intake"
ACCOUNT = "123456789012"
DE, FR, US, JP = "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "ATVPDKIKX0DER", "A1VC38T7YXB528"
EU_ENDPOINT = "https://sellingpartnerapi-eu.amazon.com"
NA_ENDPOINT = "https://sellingpartnerapi-na.amazon.com"


def sqs_destination(destination_id: str, arn: str = QUEUE) -> dict:
    return {"destinationId": destination_id, "name": "q", "resource": {"sqs": {"arn": arn}}}


def eventbridge_destination(destination_id: str, account: str = ACCOUNT, region: str = "eu-west-1") -> dict:
    name = f"aws.partner/sellingpartnerapi.amazon.com/{account}/amzn1.sp.solution.x"
    return {
        "destinationId": destination_id,
        "name": "eb",
        "resource": {"eventBridge": {"name": name, "region": region, "accountId": account}},
    }


# --- the subscribed types ------------------------------------------------------------------


def _schema_versions() -> dict[str, set[str]]:
    """Notification type -> payload versions, from the examples in Amazon's schemas."""
    versions: dict[str, set[str]] = {}
    for path in FIXTURES.glob("*.json"):
        schema = json.loads(path.read_text())
        props = schema.get("properties") or {}
        type_spec = props.get("NotificationType") or props.get("notificationType") or {}
        version_spec = props.get("PayloadVersion") or props.get("payloadVersion") or {}
        for example in schema.get("examples") or []:
            name = example.get("NotificationType") or example.get("notificationType")
            version = example.get("PayloadVersion") or example.get("payloadVersion")
            versions.setdefault(name, set()).add(version)
        for name in type_spec.get("enum") or []:
            versions.setdefault(name, set()).update(version_spec.get("examples") or [])
    return versions


def test_the_subscribed_types_are_the_designs_and_each_has_one_channel():
    assert subscriptions.SQS_TYPES == (
        "ORDER_CHANGE", "FBA_INVENTORY_AVAILABILITY_CHANGES", "FULFILLMENT_ORDER_STATUS",
        "FBA_OUTBOUND_SHIPMENT_STATUS", "REPORT_PROCESSING_FINISHED", "FEED_PROCESSING_FINISHED",
        "TRANSACTION_UPDATE", "ANY_OFFER_CHANGED", "ACCOUNT_STATUS_CHANGED",
    )
    assert subscriptions.EVENTBRIDGE_TYPES == (
        "LISTINGS_ITEM_MFN_QUANTITY_CHANGE", "LISTINGS_ITEM_STATUS_CHANGE",
    )
    assert not set(subscriptions.SQS_TYPES) & set(subscriptions.EVENTBRIDGE_TYPES)
    assert set(subscriptions.PAYLOAD_VERSIONS) == set(subscriptions.ALL_TYPES)
    assert set(subscriptions.ROLES) == set(subscriptions.ALL_TYPES)


@pytest.mark.parametrize(
    "notification_type", [t for t in subscriptions.ALL_TYPES if t != "ACCOUNT_STATUS_CHANGED"]
)
def test_each_payload_version_is_the_one_in_amazons_schema(notification_type):
    # ACCOUNT_STATUS_CHANGED has no schema among Amazon's published ones.
    assert _schema_versions()[notification_type] == {subscriptions.payload_version(notification_type)}


@pytest.mark.parametrize("notification_type", subscriptions.ALL_TYPES)
def test_the_simulator_plays_amazon_accepting_each_type_on_its_channel(notification_type):
    from infra.local.amazon import NOTIFICATION_TYPES

    versions, channel = NOTIFICATION_TYPES[notification_type]
    assert subscriptions.payload_version(notification_type) in versions
    assert channel == subscriptions.delivery(notification_type)


def test_wanted_subscriptions_carry_version_and_channel():
    wanted = wanted_subscriptions(["S1", "S2"], ["REPORT_PROCESSING_FINISHED", "LISTINGS_ITEM_STATUS_CHANGE"])

    assert [(w.seller_id, w.notification_type, w.payload_version, w.delivery) for w in wanted] == [
        ("S1", "REPORT_PROCESSING_FINISHED", "2020-09-04", "sqs"),
        ("S1", "LISTINGS_ITEM_STATUS_CHANGE", "1.0", "eventBridge"),
        ("S2", "REPORT_PROCESSING_FINISHED", "2020-09-04", "sqs"),
        ("S2", "LISTINGS_ITEM_STATUS_CHANGE", "1.0", "eventBridge"),
    ]


def test_types_are_parsed_from_commas_or_spaces_and_unknown_ones_refused():
    assert connect.parse_types(None) == subscriptions.ALL_TYPES
    assert connect.parse_types(["order_change,ANY_OFFER_CHANGED", "LISTINGS_ITEM_STATUS_CHANGE"]) == (
        "ORDER_CHANGE", "ANY_OFFER_CHANGED", "LISTINGS_ITEM_STATUS_CHANGE",
    )
    with pytest.raises(CommandError, match="ORDER_STATUS_CHANGE"):
        connect.parse_types(["ORDER_STATUS_CHANGE"])


# --- endpoints -----------------------------------------------------------------------------


def test_aws_regions_and_endpoints_fall_in_region_groups():
    assert connect.aws_region_group("eu-central-1") == "eu"
    assert connect.aws_region_group("us-east-1") == "na"
    assert connect.aws_region_group("ap-southeast-2") == "fe"
    assert connect.aws_region_group("xx-nowhere-1") is None
    assert connect.endpoint_group(EU_ENDPOINT) == "eu"
    assert connect.endpoint_group("http://127.0.0.1:4599") is None


def test_each_seller_goes_to_the_endpoint_of_its_marketplaces():
    sellers = {"EU1": [DE, FR], "US1": [US], "BOTH": [DE, US], "JP1": [JP], "NEW": []}

    assert endpoints_for(sellers, fallback_group="eu") == {
        EU_ENDPOINT: ["BOTH", "EU1", "NEW"],
        "https://sellingpartnerapi-fe.amazon.com": ["JP1"],
        NA_ENDPOINT: ["BOTH", "US1"],
    }


def test_a_local_endpoint_takes_every_seller():
    assert endpoints_for({"A": [US], "B": [DE]}, "eu", override="http://127.0.0.1:9") == {
        "http://127.0.0.1:9": ["A", "B"]
    }


# --- destinations --------------------------------------------------------------------------


def test_nothing_there_creates_both_destinations():
    plan = plan_destinations([], QUEUE, ACCOUNT, "eu-west-1")

    assert (plan.create_sqs, plan.create_eventbridge, plan.problems) == (True, True, [])


def test_existing_destinations_are_found_not_created():
    existing = [sqs_destination("other", arn=QUEUE.replace("prod", "test")), sqs_destination("d1"),
                eventbridge_destination("e1")]

    plan = plan_destinations(existing, QUEUE, ACCOUNT, "eu-west-1")

    assert plan.sqs["destinationId"] == "d1" and plan.eventbridge["destinationId"] == "e1"
    assert (plan.create_sqs, plan.create_eventbridge) == (False, False)


def test_another_accounts_eventbridge_destination_is_not_ours():
    theirs = eventbridge_destination("e1", account="999999999999")

    plan = plan_destinations([theirs], QUEUE, ACCOUNT, "eu-west-1")

    assert plan.eventbridge is None and plan.create_eventbridge


def test_an_eventbridge_destination_of_our_account_in_another_region_is_a_problem_not_a_second_one():
    plan = plan_destinations([eventbridge_destination("e1", region="us-east-1")], QUEUE, ACCOUNT, "eu-west-1")

    assert not plan.create_eventbridge and plan.eventbridge is None
    assert "one EventBridge destination per account" in plan.problems[0]


def test_only_the_needed_destinations_are_created():
    plan = plan_destinations([], QUEUE, ACCOUNT, "eu-west-1", need_eventbridge=False)

    assert (plan.create_sqs, plan.create_eventbridge) == (True, False)


# --- subscriptions -------------------------------------------------------------------------


def test_a_subscription_is_created_kept_or_left_where_it_delivers():
    ours = {"subscriptionId": "s1", "payloadVersion": "1.0", "destinationId": "d1"}
    theirs = {"subscriptionId": "s2", "payloadVersion": "1.0", "destinationId": "elsewhere"}

    assert plan_subscription(None, "d1") == CREATE
    assert plan_subscription(ours, "d1") == KEEP
    assert plan_subscription(theirs, "d1") == ELSEWHERE
    assert plan_subscription(theirs, "d1", replace=True) == REPLACE


def test_disconnect_deletes_only_subscriptions_to_our_destinations():
    assert plan_unsubscribe({"subscriptionId": "s", "destinationId": "d1"}, {"d1", "e1"})
    assert not plan_unsubscribe({"subscriptionId": "s", "destinationId": "x"}, {"d1", "e1"})
    assert not plan_unsubscribe(None, {"d1"})


# --- Amazon's errors in plain words --------------------------------------------------------


def plain(error: AmazonError, endpoint: str = EU_ENDPOINT, queue: str = QUEUE) -> str:
    return explain(error, stage="prod", queue_arn=queue, endpoint=endpoint)


def test_a_refused_sqs_destination_points_at_the_queue_policy():
    error = AmazonError("createDestination", 403, "Unauthorized", "Access to requested resource is denied.",
                        resource="sqs")

    text = plain(error)

    assert "the intake queue's policy must allow account 437568002678 to sqs:SendMessage" in text
    assert "deploy the stack's IntakeQueuePolicy" in text and "make deploy STAGE=prod" in text


def test_a_queue_in_the_wrong_part_of_the_world_names_the_endpoint_and_regions():
    error = AmazonError("createDestination", 400, "InvalidInput", "Request has missing or invalid parameters",
                        "", resource="sqs")

    text = plain(error, endpoint=NA_ENDPOINT)

    assert "it is in eu-west-1" in text and NA_ENDPOINT in text
    assert "NA endpoint delivers only to queues in its part of the world (us-*, ca-*" in text
    assert "AWS_REGION=us-east-1" in text


def test_a_missing_role_names_the_role_for_the_type():
    error = AmazonError("createSubscription", 403, "Unauthorized", "Access to requested resource is denied.",
                        seller_id="A1SELLER", notification_type="TRANSACTION_UPDATE")

    text = plain(error)

    assert "role 'Finance and Accounting'" in text and "seller A1SELLER" in text
    assert "authorise the app again" in text


def test_throttling_advises_to_wait_and_run_again():
    text = plain(AmazonError("getSubscription", 429, "QuotaExceeded", rate=1.0))

    assert "about 1 request/s" in text and "run the same command again" in text


def test_lwa_refusals_say_which_credential():
    seller = AmazonError("LWA token", 400, "invalid_grant", "The request has an invalid grant parameter",
                         seller_id="A1SELLER")
    app = AmazonError("LWA token", 401, "invalid_client", "Client authentication failed")

    assert "refresh token of seller A1SELLER" in plain(seller) and "--seller-id A1SELLER" in plain(seller)
    assert "client id or secret" in plain(app) and "set-app" in plain(app)


def test_a_destination_with_subscriptions_cannot_be_deleted():
    error = AmazonError("deleteDestination", 403, "Unauthorized", "The requested action is forbidden.",
                        "Destination has subscriptions")

    assert "still holds subscriptions" in plain(error)


def test_the_raw_answer_stays_available_but_holds_no_credentials():
    error = AmazonError("createDestination", 409, "Conflict", "conflict", "A destination with arn x exists")

    assert str(error) == (
        "createDestination answered 409: Conflict: conflict (A destination with arn x exists)"
    )


# --- sellers' input ------------------------------------------------------------------------


def test_seller_ids_and_marketplaces_are_checked():
    assert check_seller_id(" A2EUQ1WTGCTBG2 ") == "A2EUQ1WTGCTBG2"
    with pytest.raises(CommandError, match="merchant token"):
        check_seller_id("my shop")
    assert parse_marketplaces(f"{FR}, {DE} {FR}") == sorted([DE, FR])
    with pytest.raises(CommandError):
        parse_marketplaces(" , ")
    assert marketplace_warnings([DE]) == []
    assert "NOTAMARKET" in marketplace_warnings(["NOTAMARKET"])[0]
