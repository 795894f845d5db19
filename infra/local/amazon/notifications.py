"""The Notifications API v1: destinations (the application's, with grantless tokens) and
subscriptions (a seller's and the application's), and the pushing of notifications to the
destinations of the sellers subscribed, as Amazon does after an order changes, a feed is
processed or a report is ready.

One simulator plays one regional endpoint (`region`: na, eu or fe). Amazon checks an SQS queue's
policy when the destination is created; the simulator cannot read the policy, so
`sqs_policy_ok` says what Amazon would find (the world key "sqsPolicyOk" sets it too).
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from infra.local.amazon.core import Api, Caller, InvalidInput, Reply, errors, one
from infra.local.amazon.tokens import NOTIFICATIONS_SCOPE

if TYPE_CHECKING:
    from infra.local.amazon import Simulator

MODEL = "notifications.json"
SQS, EVENTBRIDGE = "sqs", "eventBridge"

# Notification types Amazon accepts: their payload versions (oldest first, as in the "examples"
# of Amazon's notification schemas) and the one kind of destination Amazon delivers them to
# (Amazon's "Set up notifications" guides: the EventBridge workflow lists the listings, item and
# product-type types; every other type goes to SQS). REPORT_ and FEED_PROCESSING_FINISHED
# payloads are version 2020-09-04, but Amazon has been seen accepting subscriptions at "1.0"
# (python-amazon-sp-api's default), so both are accepted.
NOTIFICATION_TYPES: dict[str, tuple[tuple[str, ...], str]] = {
    "ACCOUNT_STATUS_CHANGED": (("1.0",), SQS),
    "ANY_OFFER_CHANGED": (("1.0",), SQS),
    "B2B_ANY_OFFER_CHANGED": (("1.0",), SQS),
    "BRANDED_ITEM_CONTENT_CHANGE": (("1.0",), EVENTBRIDGE),
    "DATA_KIOSK_QUERY_PROCESSING_FINISHED": (("2023-11-15",), SQS),
    "DETAIL_PAGE_TRAFFIC_EVENT": (("2020-09-04",), SQS),
    "FBA_INVENTORY_AVAILABILITY_CHANGES": (("1.0",), SQS),
    "FBA_OUTBOUND_SHIPMENT_STATUS": (("1.0",), SQS),
    "FEE_PROMOTION": (("1.0",), SQS),
    "FEED_PROCESSING_FINISHED": (("1.0", "2020-09-04"), SQS),
    "FULFILLMENT_ORDER_STATUS": (("1.0",), SQS),
    "ITEM_INVENTORY_EVENT_CHANGE": (("2020-09-04",), SQS),
    "ITEM_PRODUCT_TYPE_CHANGE": (("1.0",), EVENTBRIDGE),
    "ITEM_SALES_EVENT_CHANGE": (("2020-09-04",), SQS),
    "LISTINGS_ITEM_ISSUES_CHANGE": (("1.0", "2023-12-13"), EVENTBRIDGE),
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": (("1.0",), EVENTBRIDGE),
    "LISTINGS_ITEM_STATUS_CHANGE": (("1.0",), EVENTBRIDGE),
    "ORDER_CHANGE": (("1.0",), SQS),
    "PRICING_HEALTH": (("1.0",), SQS),
    "PRODUCT_TYPE_DEFINITIONS_CHANGE": (("1.0",), EVENTBRIDGE),
    "REPORT_PROCESSING_FINISHED": (("1.0", "2020-09-04"), SQS),
    "SHIPMENT_TRACKING_MILESTONE_CHANGED": (("2026-01-30",), SQS),
    "TRANSACTION_UPDATE": (("1.0",), SQS),
}
# Types whose envelope Amazon writes in camelCase (report, feed, item notifications); the others
# in PascalCase (orders, inventory, fulfillment, transactions, listings).
CAMEL_CASE_TYPES = frozenset({"REPORT_PROCESSING_FINISHED", "FEED_PROCESSING_FINISHED", "ITEM_INVENTORY_EVENT_CHANGE",
                              "ITEM_SALES_EVENT_CHANGE", "DETAIL_PAGE_TRAFFIC_EVENT", "PRICING_HEALTH",
                              "DATA_KIOSK_QUERY_PROCESSING_FINISHED"})

# The SP-API endpoints, and which AWS regions count as the same part of the world. Amazon
# delivers to a queue from the endpoint's region group only (us-east-1 hosts the NA endpoint,
# eu-west-1 the EU one, us-west-2 the FE one); this grouping by AWS region prefix is the
# simulator's reading of that rule.
ENDPOINT_HOSTS = {
    "na": "sellingpartnerapi-na.amazon.com",
    "eu": "sellingpartnerapi-eu.amazon.com",
    "fe": "sellingpartnerapi-fe.amazon.com",
}
REGION_GROUP_PREFIXES = {
    "na": ("us-", "ca-", "sa-", "mx-"),
    "eu": ("eu-", "me-", "af-", "il-"),
    "fe": ("ap-",),
}

# The wording of Amazon's Notifications API errors, as developers have reported them.
INVALID_INPUT_MESSAGE = "Request has missing or invalid parameters and cannot be parsed."
_NOT_FOUND_MESSAGE = "The resource specified does not exist."
_CONFLICT_MESSAGE = "The requested resource conflict with a resource in the server."
_STATE_CONFLICT_MESSAGE = "The resource specified conflicts with the current state."


def region_group_of(aws_region: str) -> str | None:
    """The SP-API region group (na, eu, fe) an AWS region belongs to, or None."""
    for group, prefixes in REGION_GROUP_PREFIXES.items():
        if aws_region.startswith(prefixes):
            return group
    return None


@dataclass
class Destination:
    destination_id: str
    name: str
    resource: dict[str, Any]  # {"sqs": {"arn"}} or {"eventBridge": {"name", "region", "accountId"}}

    @property
    def kind(self) -> str:
        return SQS if SQS in self.resource else EVENTBRIDGE

    def as_payload(self) -> dict[str, Any]:
        return {"destinationId": self.destination_id, "name": self.name, "resource": copy.deepcopy(self.resource)}


@dataclass
class Subscription:
    subscription_id: str
    owner: str  # the seller's identity (see Caller.identity)
    seller_id: str | None
    notification_type: str
    payload_version: str
    destination_id: str
    processing_directive: dict[str, Any] | None = None

    def as_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"subscriptionId": self.subscription_id, "payloadVersion": self.payload_version,
                   "destinationId": self.destination_id}
        if self.processing_directive:
            payload["processingDirective"] = copy.deepcopy(self.processing_directive)
        return payload


@dataclass(frozen=True)
class Delivery:
    """One notification Amazon sends: to an SQS queue (`target` its ARN) or to an EventBridge
    partner event source (`target` "<account>/<region>"), with the whole notification."""

    kind: str
    target: str
    notification: dict[str, Any]
    seller_id: str | None
    notification_type: str


def envelope(notification_type: str, payload: dict[str, Any], *, application_id: str, subscription_id: str,
             payload_version: str, at: datetime | None = None) -> dict[str, Any]:
    """A notification as Amazon writes it: the envelope's casing depends on the type."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    document = {
        "NotificationVersion": "1.0", "NotificationType": notification_type, "PayloadVersion": payload_version,
        "EventTime": stamp, "Payload": payload,
        "NotificationMetadata": {"ApplicationId": application_id, "SubscriptionId": subscription_id,
                                 "PublishTime": stamp, "NotificationId": str(uuid.uuid4())},
    }
    if notification_type in CAMEL_CASE_TYPES:
        return _camel(document)
    return document


def _camel(document: dict[str, Any]) -> dict[str, Any]:
    def key(name: str) -> str:
        return name[:1].lower() + name[1:]

    result = {key(k): v for k, v in document.items() if k != "NotificationMetadata"}
    result["notificationMetadata"] = {key(k): v for k, v in document["NotificationMetadata"].items()}
    return result


class NotificationsApi(Api):
    name = "notifications"
    models = (MODEL,)
    # getSubscriptionById and deleteSubscriptionById are grantless in the model, but
    # python-amazon-sp-api 2.1.35 calls them with the seller's token. Both identify the
    # subscription by its id, which belongs to the application either way.
    either_token = frozenset({"getSubscriptionById", "deleteSubscriptionById"})
    grantless_scope = NOTIFICATIONS_SCOPE

    def __init__(self, simulator: Simulator, region: str = "eu", sqs_policy_ok: bool = True) -> None:
        super().__init__(simulator)
        if region not in ENDPOINT_HOSTS:
            raise ValueError(f"region must be one of {', '.join(ENDPOINT_HOSTS)}")
        self.region = region
        self.sqs_policy_ok = sqs_policy_ok
        self.application_id: str | None = None  # None: derived from each LWA client id
        # Per application (LWA client id): kept across load_world.
        self.destinations: dict[str, dict[str, Destination]] = {}
        self.subscriptions: dict[str, dict[str, Subscription]] = {}
        self.pushed: list[dict[str, Any]] = []
        self.deliver: Callable[[Delivery], None] | None = None  # set by the local stack

    def load_world(self, world: Mapping[str, Any]) -> None:
        if "sqsPolicyOk" in world:
            self.sqs_policy_ok = bool(world["sqsPolicyOk"])
        if world.get("applicationId"):
            self.application_id = str(world["applicationId"])

    def handlers(self) -> dict[str, Callable[[Caller, dict[str, Any]], Reply]]:
        return {
            "getDestinations": self._get_destinations,
            "getDestination": self._get_destination,
            "createDestination": self._create_destination,
            "deleteDestination": self._delete_destination,
            "getSubscription": self._get_subscription,
            "getSubscriptionById": self._get_subscription_by_id,
            "createSubscription": self._create_subscription,
            "deleteSubscriptionById": self._delete_subscription_by_id,
        }

    def views(self) -> dict[str, Callable[[Mapping[str, list[str]]], Any]]:
        return {"destinations": self._view_destinations, "subscriptions": self._view_subscriptions,
                "notifications": self._view_pushed}

    # --- what the local stack and tests see and do -----------------------------------------

    def every_destination(self) -> list[dict[str, Any]]:
        return [d.as_payload() for per_app in self.destinations.values() for d in per_app.values()]

    def every_subscription(self) -> list[dict[str, Any]]:
        return [{**s.as_payload(), "notificationType": s.notification_type, "sellerId": s.seller_id}
                for per_app in self.subscriptions.values() for s in per_app.values()]

    def connect(self, client_id: str, queue_arn: str, seller_ids: list[str], types: list[str],
                eventbridge: tuple[str, str] | None = None) -> None:
        """What `make connect` makes: an SQS destination for the queue, an EventBridge one for
        the (account, region) when given, and each seller's subscriptions to `types` on the
        destination of their kind (as if each seller's token had asked)."""
        mine = self.destinations.setdefault(client_id, {})
        destination = next((d for d in mine.values() if d.resource.get(SQS, {}).get("arn") == queue_arn), None)
        if destination is None:
            destination = Destination(str(uuid.uuid4()), "sellerops-local-intake", {SQS: {"arn": queue_arn}})
            mine[destination.destination_id] = destination
        by_kind = {SQS: destination}
        if eventbridge is not None:
            account, region = eventbridge
            bridge = next((d for d in mine.values() if d.resource.get(EVENTBRIDGE, {}).get("accountId") == account),
                          None)
            if bridge is None:
                bridge = Destination(str(uuid.uuid4()), "sellerops-local-eventbridge", {EVENTBRIDGE: {
                    "name": f"aws.partner/sellingpartnerapi.amazon.com/{account}/{client_id}", "region": region,
                    "accountId": account}})
                mine[bridge.destination_id] = bridge
            by_kind[EVENTBRIDGE] = bridge
        subscriptions = self.subscriptions.setdefault(client_id, {})
        for seller_id in seller_ids:
            for notification_type in types:
                versions, delivery = NOTIFICATION_TYPES[notification_type]
                if delivery not in by_kind or any(s.owner == f"seller:{seller_id}"
                                                  and s.notification_type == notification_type
                                                  for s in subscriptions.values()):
                    continue
                subscription = Subscription(str(uuid.uuid4()), f"seller:{seller_id}", seller_id, notification_type,
                                            versions[-1], by_kind[delivery].destination_id)
                subscriptions[subscription.subscription_id] = subscription

    def push(self, seller_id: str, notification_type: str, payload: dict[str, Any]) -> int:
        """Send a notification to every destination whose seller subscribed to the type, as
        Amazon does; returns how many were sent."""
        sent = 0
        for client_id, subscriptions in self.subscriptions.items():
            for subscription in subscriptions.values():
                if subscription.seller_id != seller_id or subscription.notification_type != notification_type:
                    continue
                destination = self.destinations.get(client_id, {}).get(subscription.destination_id)
                if destination is None:
                    continue
                document = envelope(notification_type, copy.deepcopy(payload),
                                    application_id=self._application_id(client_id),
                                    subscription_id=subscription.subscription_id,
                                    payload_version=subscription.payload_version)
                if destination.kind == SQS:
                    target = destination.resource[SQS]["arn"]
                else:
                    bridge = destination.resource[EVENTBRIDGE]
                    target = f"{bridge['accountId']}/{bridge['region']}"
                self.pushed.append({"notificationType": notification_type, "sellerId": seller_id,
                                    "destinationId": destination.destination_id, "target": target,
                                    "notification": document})
                if self.deliver is not None:
                    self.deliver(Delivery(destination.kind, target, document, seller_id, notification_type))
                sent += 1
        return sent

    # --- views --------------------------------------------------------------------------------

    def _view_destinations(self, query: Mapping[str, list[str]]) -> Any:
        """Every application's destinations."""
        with self.simulator.lock:
            return {"destinations": self.every_destination()}

    def _view_subscriptions(self, query: Mapping[str, list[str]]) -> Any:
        """Every subscription, with its type and seller (?sellerId=)."""
        seller_id = one(query, "sellerId")
        with self.simulator.lock:
            found = [s for s in self.every_subscription() if seller_id is None or s["sellerId"] == seller_id]
        return {"subscriptions": found}

    def _view_pushed(self, query: Mapping[str, list[str]]) -> Any:
        """The notifications Amazon pushed (?notificationType=&sellerId=), oldest first."""
        kind, seller_id = one(query, "notificationType"), one(query, "sellerId")
        with self.simulator.lock:
            found = [p for p in self.pushed if (kind is None or p["notificationType"] == kind)
                     and (seller_id is None or p["sellerId"] == seller_id)]
        return {"notifications": copy.deepcopy(found)}

    # --- the operations ---------------------------------------------------------------------

    def _application_id(self, client_id: str) -> str:
        """The SP-API application id Amazon names in its answers (the world's, or one derived
        from the LWA client id)."""
        if self.application_id:
            return self.application_id
        return "amzn1.sp.solution." + str(uuid.uuid5(uuid.NAMESPACE_URL, client_id))

    def _no_destination(self, caller: Caller, destination_id: str) -> str:
        return f"No destination with id {destination_id} for applicationId {self._application_id(caller.client_id)}"

    @staticmethod
    def _notification_type(notification_type: str) -> tuple[tuple[str, ...], str]:
        known = NOTIFICATION_TYPES.get(notification_type)
        if known is None:
            raise InvalidInput(f"{notification_type} is not a valid notification type.")
        return known

    def _mine(self, caller: Caller) -> dict[str, Destination]:
        return self.destinations.setdefault(caller.client_id, {})

    def _subscriptions(self, caller: Caller) -> dict[str, Subscription]:
        return self.subscriptions.setdefault(caller.client_id, {})

    def _get_destinations(self, caller: Caller, params: dict[str, Any]) -> Reply:
        payload = [destination.as_payload() for destination in self._mine(caller).values()]
        return Reply(200, {"payload": payload}, "getDestinations")

    def _get_destination(self, caller: Caller, params: dict[str, Any]) -> Reply:
        destination = self._mine(caller).get(params["destinationId"])
        if destination is None:
            details = self._no_destination(caller, params["destinationId"])
            return Reply(404, errors("NotFound", _NOT_FOUND_MESSAGE, details), "getDestination")
        return Reply(200, {"payload": destination.as_payload()}, "getDestination")

    def _create_destination(self, caller: Caller, params: dict[str, Any]) -> Reply:
        body = params["body"]
        name, spec = body["name"], body["resourceSpecification"]
        kinds = [kind for kind in (SQS, EVENTBRIDGE) if spec.get(kind) is not None]
        if len(kinds) != 1:
            raise InvalidInput("resourceSpecification must hold exactly one resource type: sqs or eventBridge.")
        if len(name) > 256:
            raise InvalidInput("name is longer than 256 characters.")
        app = self._application_id(caller.client_id)
        mine = self._mine(caller)

        if kinds == [SQS]:
            arn = spec[SQS]["arn"]
            _, _, _, region, _, queue = arn.split(":", 5)
            if region_group_of(region) != self.region:
                raise InvalidInput(
                    f"The SQS queue {arn} is in AWS region {region}, which the {self.region.upper()} endpoint "
                    f"({ENDPOINT_HOSTS[self.region]}) does not deliver to.")
            if queue.endswith(".fifo"):
                raise InvalidInput(f"The SQS queue {arn} is a FIFO queue; use a standard queue.")
            for existing in mine.values():
                if existing.resource.get(SQS, {}).get("arn") == arn:
                    details = (f"A destination with arn {arn} already exists for the application {app}"
                               f" (destinationId {existing.destination_id})")
                    return Reply(409, errors("Conflict", _CONFLICT_MESSAGE, details), "createDestination")
            if not self.sqs_policy_ok:
                # What Amazon answers when the queue's policy does not let account
                # 437568002678 send messages: a bare refusal, with no details.
                denied = errors("Unauthorized", "Access to requested resource is denied.", "")
                return Reply(403, denied, "createDestination")
            resource: dict[str, Any] = {SQS: {"arn": arn}}
        else:
            account, region = spec[EVENTBRIDGE]["accountId"], spec[EVENTBRIDGE]["region"]
            if not re.fullmatch(r"\d{12}", account):
                raise InvalidInput(
                    f"resourceSpecification.eventBridge.accountId: {account!r} is not an AWS account id (12 digits).")
            if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
                raise InvalidInput(f"resourceSpecification.eventBridge.region: {region!r} is not an AWS region.")
            for existing in mine.values():
                if existing.resource.get(EVENTBRIDGE, {}).get("accountId") == account:
                    # Amazon: "You can only create one EventBridge destination per AWS account."
                    details = (f"An EventBridge destination for AWS account {account} already exists "
                               f"for the application {app} (destinationId {existing.destination_id})")
                    return Reply(409, errors("Conflict", _CONFLICT_MESSAGE, details), "createDestination")
            # The partner event source Amazon creates in that account and region, named as in
            # Amazon's EventBridge workflow guide.
            source = f"aws.partner/sellingpartnerapi.amazon.com/{account}/{app}"
            resource = {EVENTBRIDGE: {"name": source, "region": region, "accountId": account}}

        destination = Destination(str(uuid.uuid4()), name, resource)
        mine[destination.destination_id] = destination
        return Reply(200, {"payload": destination.as_payload()}, "createDestination")

    def _delete_destination(self, caller: Caller, params: dict[str, Any]) -> Reply:
        destination_id = params["destinationId"]
        mine = self._mine(caller)
        if destination_id not in mine:
            details = self._no_destination(caller, destination_id)
            return Reply(404, errors("NotFound", _NOT_FOUND_MESSAGE, details), "deleteDestination")
        if any(sub.destination_id == destination_id for sub in self._subscriptions(caller).values()):
            refused = errors("Unauthorized", "The requested action is forbidden.", "Destination has subscriptions")
            return Reply(403, refused, "deleteDestination")
        del mine[destination_id]
        return Reply(200, {}, "deleteDestination")

    def _get_subscription(self, caller: Caller, params: dict[str, Any]) -> Reply:
        notification_type = params["notificationType"]
        versions, _ = self._notification_type(notification_type)
        version = params.get("payloadVersion")
        if version is not None and version not in versions:
            raise InvalidInput(f"payloadVersion {version} is not a version of {notification_type} "
                               f"(versions: {', '.join(versions)}).")
        found = [sub for sub in self._subscriptions(caller).values()
                 if sub.owner == caller.identity and sub.notification_type == notification_type
                 and (version is None or sub.payload_version == version)]
        if not found:
            details = f"No subscription for notification type {notification_type}" + (
                f" and payload version {version}" if version else "")
            return Reply(404, errors("NotFound", _NOT_FOUND_MESSAGE, details), "getSubscription")
        # Without payloadVersion, the latest version's subscription.
        latest = max(found, key=lambda sub: versions.index(sub.payload_version))
        return Reply(200, {"payload": latest.as_payload()}, "getSubscription")

    def _create_subscription(self, caller: Caller, params: dict[str, Any]) -> Reply:
        notification_type, body = params["notificationType"], params["body"]
        versions, delivery = self._notification_type(notification_type)
        version, destination_id = body["payloadVersion"], body["destinationId"]
        if version not in versions:
            raise InvalidInput(f"payloadVersion {version} is not a version of {notification_type} "
                               f"(versions: {', '.join(versions)}).")
        destination = self._mine(caller).get(destination_id)
        if destination is None:
            raise InvalidInput(self._no_destination(caller, destination_id))
        if destination.kind != delivery:
            where = "an Amazon SQS" if delivery == SQS else "an Amazon EventBridge"
            raise InvalidInput(f"{notification_type} notifications can only be delivered to {where} destination.")
        directive = body.get("processingDirective")
        if directive:
            if directive.get("eventFilter") and directive.get("filterExpression"):
                raise InvalidInput("eventFilter and filterExpression are mutually exclusive.")
            event_filter = directive.get("eventFilter") or {}
            if event_filter and event_filter.get("eventFilterType") != notification_type:
                raise InvalidInput(f"processingDirective.eventFilter.eventFilterType must be {notification_type}.")
        mine = self._subscriptions(caller)
        for existing in mine.values():
            if (existing.owner, existing.notification_type, existing.payload_version) == (
                    caller.identity, notification_type, version):
                details = (f"Subscription already exist for notification type {notification_type}"
                           f" (subscriptionId {existing.subscription_id})")
                return Reply(409, errors("StateConflict", _STATE_CONFLICT_MESSAGE, details), "createSubscription")
        subscription = Subscription(str(uuid.uuid4()), caller.identity, caller.seller_id, notification_type, version,
                                    destination_id, copy.deepcopy(directive) if directive else None)
        mine[subscription.subscription_id] = subscription
        return Reply(200, {"payload": subscription.as_payload()}, "createSubscription")

    def _find_subscription_by_id(self, caller: Caller, params: dict[str, Any],
                                 operation: str) -> tuple[Subscription | None, Reply | None]:
        self._notification_type(params["notificationType"])
        found = self._subscriptions(caller).get(params["subscriptionId"])
        if found is None or found.notification_type != params["notificationType"]:
            details = (f"No subscription with id {params['subscriptionId']} for notification type "
                       f"{params['notificationType']}")
            return None, Reply(404, errors("NotFound", _NOT_FOUND_MESSAGE, details), operation)
        return found, None

    def _get_subscription_by_id(self, caller: Caller, params: dict[str, Any]) -> Reply:
        found, missing = self._find_subscription_by_id(caller, params, "getSubscriptionById")
        if found is None:
            return missing  # type: ignore[return-value]
        return Reply(200, {"payload": found.as_payload()}, "getSubscriptionById")

    def _delete_subscription_by_id(self, caller: Caller, params: dict[str, Any]) -> Reply:
        found, missing = self._find_subscription_by_id(caller, params, "deleteSubscriptionById")
        if found is None:
            return missing  # type: ignore[return-value]
        del self._subscriptions(caller)[found.subscription_id]
        return Reply(200, {}, "deleteSubscriptionById")
