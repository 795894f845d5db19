"""Amazon's side of SP-API, played locally: LWA tokens, the Orders API v2026-01-01 and the
Notifications API v1 (destinations and subscriptions).

The embedded stack, the e2e tests and the benchmarks point python-amazon-sp-api at this server
instead of Amazon. It answers like Amazon where our code can tell the difference: request
validation from Amazon's own models (``spapi_models/``), per-seller data, rate limits with 429s,
and injected 5xx faults.

Run by hand::

    python -m infra.local.simulator --world WORLD.json --port 4599 [--rate-scale N]

A world is ``{"orders": [{"sellerId": ..., "order": <Order v2026-01-01>}],
"sellers": [{"sellerId": ..., "refreshToken": ..., "marketplaceIds": [...]}]}``, optionally with
``"sqsPolicyOk": false`` (every SQS queue's policy refuses Amazon, see below) and
``"applicationId": "amzn1.sp.solution..."``; other keys are ignored so the world can grow with
the simulator.

Notifications: one simulator plays one regional endpoint (``region``: na, eu or fe). Destinations
belong to the application (the LWA client id) and are managed with grantless tokens
(``client_credentials``, scope ``sellingpartnerapi::notifications``); subscriptions belong to a
seller and the application and are made with the seller's token. Amazon checks an SQS queue's
policy when the destination is created; the simulator cannot read the policy, so
``sqs_policy_ok`` says what Amazon would find.
"""

from __future__ import annotations

import argparse
import base64
import copy
import functools
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).with_name("spapi_models")
ORDERS_MODEL = "orders_2026-01-01.json"
NOTIFICATIONS_MODEL = "notifications.json"
SERVED_MODELS = (ORDERS_MODEL, NOTIFICATIONS_MODEL)

# Amazon's default usage plans (requests per second, burst), as printed in each operation's
# model description. Limits apply per seller and application.
DEFAULT_RATE_LIMITS: dict[str, tuple[float, int]] = {
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "patchListingsItem": (5.0, 5),
    "getInventorySummaries": (2.0, 2),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getReports": (0.0222, 10),
    "getReportDocument": (0.0167, 15),
    # Notifications API v1: every operation with a usage plan prints 1 request/s, burst 5.
    # Grantless operations are limited per application, the others per seller and application.
    "getSubscriptions": (1.0, 5),
    "getSubscription": (1.0, 5),
    "createSubscription": (1.0, 5),
    "getSubscriptionById": (1.0, 5),
    "deleteSubscriptionById": (1.0, 5),
    "getDestinations": (1.0, 5),
    "createDestination": (1.0, 5),
    "getDestination": (1.0, 5),
    "deleteDestination": (1.0, 5),
}

# Which Order / OrderItem fields each includedData value unlocks. The model names the datasets
# but not their fields; this follows each dataset's description there ("... for the order and
# order items"). Fields not listed here (ids, times, programs, salesChannel, items' product...)
# are always returned.
DATASETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # dataset: (order fields, order item fields)
    "BUYER": (("buyer",), ()),
    "RECIPIENT": (("recipient",), ()),
    "PROCEEDS": (("proceeds",), ("proceeds",)),
    "EXPENSE": ((), ("expense",)),
    "PROMOTION": ((), ("promotion",)),
    "CANCELLATION": ((), ("cancellation",)),
    "FULFILLMENT": (("fulfillment",), ("fulfillment",)),
    "PACKAGES": (("packages",), ()),
    "TAX": (("tax",), ("tax",)),
    "PAYMENT": (("payment",), ()),
    "FULFILLMENT_ORDERS": (("fulfillmentOrders",), ()),
}

ACCESS_TOKEN_LIFETIME = 3600  # seconds, as LWA
PAGINATION_TOKEN_LIFETIME = 24 * 3600  # seconds, per the searchOrders model
LWA_OPERATION = "lwaToken"  # how token requests show in stats()

# --- Notifications API facts -----------------------------------------------------------------

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
# Scopes LWA grants with client_credentials (grantless operations).
GRANTLESS_SCOPES = (NOTIFICATIONS_SCOPE, "sellingpartnerapi::client_credential:rotation")
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


def region_group_of(aws_region: str) -> str | None:
    """The SP-API region group (na, eu, fe) an AWS region belongs to, or None."""
    for group, prefixes in REGION_GROUP_PREFIXES.items():
        if aws_region.startswith(prefixes):
            return group
    return None


class InvalidInput(Exception):
    """A request Amazon would refuse with 400 InvalidInput; the message says why."""


# --- the model -----------------------------------------------------------------------------


# How an operation is authorised: with a seller's token (refresh_token grant), with a grantless
# token (client_credentials grant), or either. The model says which operations are grantless.
SELLER, GRANTLESS, EITHER = "seller", "grantless", "either"
# getSubscriptionById and deleteSubscriptionById are grantless in the model, but
# python-amazon-sp-api 2.1.35 calls them with the seller's token. Both identify the subscription
# by its id, which belongs to the application either way, so both kinds of token are accepted.
_EITHER_TOKEN = frozenset({"getSubscriptionById", "deleteSubscriptionById"})
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch"})


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: re.Pattern[str]
    parameters: tuple[dict[str, Any], ...]
    model: str = ORDERS_MODEL
    auth: str = SELLER

    @property
    def body_schema(self) -> dict[str, Any] | None:
        for spec in self.parameters:
            if spec.get("in") == "body":
                return spec.get("schema") or {}
        return None


@functools.cache
def load_model(name: str) -> dict[str, Any]:
    return json.loads((MODELS_DIR / name).read_text(encoding="utf-8"))


@functools.cache
def model_operations(model_name: str) -> tuple[Operation, ...]:
    """One model's operations, with their routes, parameters and authorisation from the model."""
    operations = []
    for template, methods in load_model(model_name)["paths"].items():
        shared = methods.get("parameters", [])
        for method, spec in methods.items():
            if method not in _HTTP_METHODS:  # "parameters", "x-amzn-api-sandbox-only", ...
                continue
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            operation_id = spec["operationId"]
            if operation_id in _EITHER_TOKEN:
                auth = EITHER
            elif "is grantless" in spec.get("description", ""):
                auth = GRANTLESS
            else:
                auth = SELLER
            operations.append(
                Operation(
                    operation_id=operation_id,
                    method=method.upper(),
                    path=re.compile(pattern + "$"),
                    parameters=tuple(shared) + tuple(spec.get("parameters", [])),
                    model=model_name,
                    auth=auth,
                )
            )
    return tuple(operations)


def orders_operations() -> tuple[Operation, ...]:
    """The Orders API operations, with their routes and parameters taken from the model."""
    return model_operations(ORDERS_MODEL)


@functools.cache
def served_operations() -> tuple[Operation, ...]:
    return tuple(op for name in SERVED_MODELS for op in model_operations(name))


def match_operation(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    for operation in served_operations():
        found = operation.path.match(path)
        if found and operation.method == method:
            return operation, {name: unquote(value) for name, value in found.groupdict().items()}
    return None


def validate_body(model_name: str, schema: Mapping[str, Any], value: Any, where: str = "") -> None:
    """Check a JSON body against a Swagger 2.0 schema of the model; raise InvalidInput with the
    first problem. Properties the schema does not name are tolerated: python-amazon-sp-api adds
    marketplace-id keys to every POST body."""
    definitions = load_model(model_name).get("definitions", {})

    def resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def name(path: str) -> str:
        return path or "the request body"

    def check(node: Mapping[str, Any], item: Any, path: str) -> None:
        node = resolve(node)
        for part in node.get("allOf", ()):
            check(part, item, path)
        kind = node.get("type") or ("object" if "properties" in node else None)
        if kind == "object":
            if not isinstance(item, dict):
                raise InvalidInput(f"{name(path)} must be a JSON object.")
            for required in node.get("required", ()):
                if required not in item or item[required] is None:
                    raise InvalidInput(f"{path + '.' if path else ''}{required} is required.")
            for key, child in node.get("properties", {}).items():
                if key in item and item[key] is not None:
                    check(child, item[key], f"{path}.{key}" if path else key)
        elif kind == "array":
            if not isinstance(item, list):
                raise InvalidInput(f"{name(path)} must be a list.")
            if "minItems" in node and len(item) < node["minItems"]:
                raise InvalidInput(f"{name(path)} needs at least {node['minItems']} values.")
            if "maxItems" in node and len(item) > node["maxItems"]:
                raise InvalidInput(f"{name(path)} accepts at most {node['maxItems']} values.")
            for index, element in enumerate(item):
                check(node.get("items", {}), element, f"{path}[{index}]")
        elif kind == "string":
            if not isinstance(item, str):
                raise InvalidInput(f"{name(path)} must be a string.")
            if "enum" in node and item not in node["enum"]:
                raise InvalidInput(f"{path}: {item!r} is not one of {', '.join(node['enum'])}.")
            if "maxLength" in node and len(item) > node["maxLength"]:
                raise InvalidInput(f"{path} is longer than {node['maxLength']} characters.")
            if "minLength" in node and len(item) < node["minLength"]:
                raise InvalidInput(f"{path} is shorter than {node['minLength']} characters.")
            if "pattern" in node and not re.search(node["pattern"], item):
                raise InvalidInput(f"{path}: {item!r} does not match {node['pattern']}.")
        elif kind == "integer":
            if isinstance(item, bool) or not isinstance(item, int):
                raise InvalidInput(f"{name(path)} must be an integer.")
        elif kind == "number":
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise InvalidInput(f"{name(path)} must be a number.")
        elif kind == "boolean":
            if not isinstance(item, bool):
                raise InvalidInput(f"{name(path)} must be true or false.")

    check(schema, value, where)


@functools.cache
def required_order_fields() -> tuple[str, ...]:
    return tuple(load_model(ORDERS_MODEL)["definitions"]["Order"]["required"])


def parse_parameters(
    operation: Operation, path_params: Mapping[str, str], query: Mapping[str, list[str]]
) -> dict[str, Any]:
    """Check path and query parameters against the model and return them typed.

    Query keys the model does not know are ignored: python-amazon-sp-api adds several
    marketplace-id spellings to every request.
    """
    values: dict[str, Any] = {}
    for spec in operation.parameters:
        name = spec["name"]
        if spec["in"] == "path":
            raw = [path_params.get(name, "")]
        elif spec["in"] == "query":
            raw = query.get(name, [])
        else:
            continue  # no implemented operation takes body or header parameters
        raw = [value for value in raw if value != ""]
        if not raw:
            if spec.get("required"):
                raise InvalidInput(f"{name} is required.")
            continue
        values[name] = _parse_value(name, spec, raw)
    return values


def _parse_value(name: str, spec: Mapping[str, Any], raw: list[str]) -> Any:
    if spec.get("type") == "array":
        # python-amazon-sp-api joins lists with commas; plain HTTP clients repeat the key.
        items = [part.strip() for value in raw for part in value.split(",") if part.strip()]
        max_items = spec.get("maxItems")
        if max_items is not None and len(items) > max_items:
            raise InvalidInput(f"{name} accepts at most {max_items} values; got {len(items)}.")
        return [_parse_scalar(name, spec.get("items", {}), item) for item in items]
    if len(raw) > 1:
        raise InvalidInput(f"{name} must be given once.")
    return _parse_scalar(name, spec, raw[0])


def _parse_scalar(name: str, spec: Mapping[str, Any], text: str) -> Any:
    allowed = spec.get("enum")
    if allowed is not None and text not in allowed:
        raise InvalidInput(f"{name}: {text!r} is not one of {', '.join(allowed)}.")
    if spec.get("type") == "integer":
        try:
            number = int(text)
        except ValueError:
            raise InvalidInput(f"{name}: {text!r} is not an integer.") from None
        low, high = integer_bounds(spec)
        if (low is not None and number < low) or (high is not None and number > high):
            raise InvalidInput(f"{name} must be between {low} and {high}; got {number}.")
        return number
    if spec.get("format") == "date-time":
        try:
            return parse_time(text)
        except ValueError:
            raise InvalidInput(f"{name}: {text!r} is not an ISO 8601 date-time.") from None
    return text


def integer_bounds(spec: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """Bounds from minimum/maximum, or from the prose when the model only writes them there."""
    if "minimum" in spec or "maximum" in spec:
        return spec.get("minimum"), spec.get("maximum")
    found = re.search(r"between (\d+) and (\d+)", spec.get("description", ""))
    return (int(found[1]), int(found[2])) if found else (None, None)


def integer_default(spec: Mapping[str, Any]) -> int | None:
    if "default" in spec:
        return spec["default"]
    found = re.search(r"\*\*Default:\*\*\s*(\d+)", spec.get("description", ""))
    return int(found[1]) if found else None


@functools.cache
def default_page_size() -> int:
    for operation in orders_operations():
        for spec in operation.parameters:
            if operation.operation_id == "searchOrders" and spec["name"] == "maxResultsPerPage":
                return integer_default(spec) or 100
    raise LookupError("the model has no searchOrders maxResultsPerPage")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shape_order(order: Mapping[str, Any], included: Iterable[str]) -> dict[str, Any]:
    """The order as Amazon returns it: datasets not asked for are left out."""
    shaped = copy.deepcopy(dict(order))
    wanted = set(included)
    for dataset, (order_fields, item_fields) in DATASETS.items():
        if dataset in wanted:
            continue
        for name in order_fields:
            shaped.pop(name, None)
        for item in shaped.get("orderItems", []):
            for name in item_fields:
                item.pop(name, None)
    return shaped


# --- state ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRecord:
    """One answered request. Holds no token, query string or body: nothing about buyers."""

    time: float  # seconds since the epoch
    method: str
    path: str
    operation: str
    status: int


@dataclass
class _StoredOrder:
    seller_id: str
    order: dict[str, Any]
    created: datetime
    updated: datetime

    @classmethod
    def of(cls, seller_id: str, order: Mapping[str, Any]) -> _StoredOrder:
        if not seller_id:
            raise ValueError("an order needs a sellerId")
        missing = [name for name in required_order_fields() if name not in order]
        if missing:
            raise ValueError(f"order {order.get('orderId')!r} lacks {', '.join(missing)}")
        return cls(
            seller_id=seller_id,
            order=copy.deepcopy(dict(order)),
            created=parse_time(order["createdTime"]),
            updated=parse_time(order["lastUpdatedTime"]),
        )


@dataclass(frozen=True)
class _Caller:
    refresh_token: str | None  # None: a grantless token, the application itself
    seller_id: str | None  # None: the world does not say whose token this is; any seller's
    client_id: str = ""  # the LWA client id: the application

    @property
    def identity(self) -> str:
        """Key for rate limits, pagination tokens and subscriptions; never logged."""
        if self.refresh_token is None:
            return "app:" + self.client_id
        if self.seller_id is not None:
            return "seller:" + self.seller_id
        return "token:" + hashlib.sha256(self.refresh_token.encode()).hexdigest()[:16]

    def may_see(self, seller_id: str) -> bool:
        return self.seller_id is None or self.seller_id == seller_id


@dataclass(frozen=True)
class _IssuedToken:
    refresh_token: str | None  # None for grantless (client_credentials) tokens
    expires_at: float  # monotonic
    client_id: str = ""
    scope: str | None = None  # grantless tokens only


@dataclass
class _Destination:
    destination_id: str
    name: str
    resource: dict[str, Any]  # {"sqs": {"arn"}} or {"eventBridge": {"name", "region", "accountId"}}

    @property
    def kind(self) -> str:
        return SQS if SQS in self.resource else EVENTBRIDGE

    def as_payload(self) -> dict[str, Any]:
        return {
            "destinationId": self.destination_id,
            "name": self.name,
            "resource": copy.deepcopy(self.resource),
        }


@dataclass
class _Subscription:
    subscription_id: str
    owner: str  # the seller's identity (see _Caller.identity)
    seller_id: str | None
    notification_type: str
    payload_version: str
    destination_id: str
    processing_directive: dict[str, Any] | None = None

    def as_payload(self) -> dict[str, Any]:
        payload = {
            "subscriptionId": self.subscription_id,
            "payloadVersion": self.payload_version,
            "destinationId": self.destination_id,
        }
        if self.processing_directive:
            payload["processingDirective"] = copy.deepcopy(self.processing_directive)
        return payload


class _TokenBucket:
    """Amazon's usage plan: up to `burst` requests at once, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None
    operation: str
    headers: dict[str, str] = field(default_factory=dict)


def _errors(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


_FAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("InvalidInput", "Invalid Input"),
    403: ("Unauthorized", "Access to requested resource is denied."),
    404: ("NotFound", "The requested resource was not found."),
    429: ("QuotaExceeded", "You exceeded your quota for the requested resource."),
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again later."),
}


def _fault_body(status: int) -> dict[str, Any]:
    default = ("InternalFailure" if status >= 500 else "InvalidInput", HTTPStatus(status).phrase)
    return _errors(*_FAULT_ERRORS.get(status, default))


# The wording of Amazon's Notifications API errors, as developers have reported them.
_INVALID_INPUT_MESSAGE = "Request has missing or invalid parameters and cannot be parsed."
_NOT_FOUND_MESSAGE = "The resource specified does not exist."
_CONFLICT_MESSAGE = "The requested resource conflict with a resource in the server."
_STATE_CONFLICT_MESSAGE = "The resource specified conflicts with the current state."


def _read_body(operation: Operation, body: bytes) -> dict[str, Any]:
    """The JSON body of a request, checked against the operation's body schema."""
    try:
        value = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("The request body is not JSON.") from None
    if value is None:
        raise InvalidInput("The request body is required.")
    validate_body(operation.model, operation.body_schema or {}, value)
    return value


# --- the simulator -------------------------------------------------------------------------


class Simulator:
    """Amazon's side of LWA, the Orders API v2026-01-01 and the Notifications API v1, over HTTP.

    `rate_scale` multiplies every refill rate (not the bursts) so demos and benchmarks can run
    time-scaled. `search_lag_seconds` is how far behind "now" searchOrders may look: Amazon
    refuses a createdBefore/lastUpdatedBefore later than two minutes before the request and
    uses that as the default upper bound, so fresh changes show up late. Set it to 0 for tests
    that must see an order the moment it is upserted.

    `region` is the SP-API endpoint played (na, eu or fe): an SQS destination in an AWS region
    of another part of the world is refused. `sqs_policy_ok` is what Amazon finds when it checks
    an SQS queue's policy on createDestination: False refuses every queue, as Amazon does when
    the policy does not let account 437568002678 send messages (the world key "sqsPolicyOk"
    sets it too).
    """

    def __init__(
        self,
        world: Mapping[str, Any] | None = None,
        *,
        rate_scale: float = 1.0,
        search_lag_seconds: float = 120.0,
        region: str = "eu",
        sqs_policy_ok: bool = True,
    ) -> None:
        if rate_scale <= 0:
            raise ValueError("rate_scale must be positive")
        if region not in ENDPOINT_HOSTS:
            raise ValueError(f"region must be one of {', '.join(ENDPOINT_HOSTS)}")
        self.rate_scale = rate_scale
        self.search_lag = timedelta(seconds=search_lag_seconds)
        self.region = region
        self.sqs_policy_ok = sqs_policy_ok
        self.application_id: str | None = None  # None: derived from each LWA client id
        # Notifications state, per application (LWA client id): kept across load_world.
        self._destinations: dict[str, dict[str, _Destination]] = defaultdict(dict)
        self._subscriptions: dict[str, dict[str, _Subscription]] = defaultdict(dict)
        self._lock = threading.RLock()
        self._orders: dict[str, _StoredOrder] = {}
        self._sellers_by_token: dict[str, str] = {}
        self._tokens: dict[str, _IssuedToken] = {}
        self._buckets: dict[tuple[str, str], _TokenBucket] = {}
        self._faults: dict[str, deque[tuple[int, bool]]] = defaultdict(deque)
        self._stats: dict[str, dict[str, int]] = {}
        self._log: deque[RequestRecord] = deque(maxlen=10_000)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, Callable[[_Caller, dict[str, Any]], Reply]] = {
            "searchOrders": self._search_orders,
            "getOrder": self._get_order,
            "getDestinations": self._get_destinations,
            "getDestination": self._get_destination,
            "createDestination": self._create_destination,
            "deleteDestination": self._delete_destination,
            "getSubscription": self._get_subscription,
            "getSubscriptionById": self._get_subscription_by_id,
            "createSubscription": self._create_subscription,
            "deleteSubscriptionById": self._delete_subscription_by_id,
        }
        self.load_world(world or {})

    # lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread; port 0 picks a free port. Returns the base URL."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._server = _Server((host, port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so stop() returns quickly
            name="amazon-simulator",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Amazon's state

    def load_world(self, world: Mapping[str, Any]) -> None:
        """Replace Amazon's orders and sellers. Issued access tokens stay valid, and so do the
        destinations and subscriptions made through the API."""
        orders = {}
        for entry in world.get("orders", []):
            stored = _StoredOrder.of(entry.get("sellerId", ""), entry["order"])
            orders[stored.order["orderId"]] = stored
        sellers = {
            seller["refreshToken"]: seller["sellerId"] for seller in world.get("sellers", [])
        }
        with self._lock:
            self._orders = orders
            self._sellers_by_token = sellers
            if "sqsPolicyOk" in world:
                self.sqs_policy_ok = bool(world["sqsPolicyOk"])
            if world.get("applicationId"):
                self.application_id = str(world["applicationId"])

    def add_seller(self, seller_id: str, refresh_token: str) -> None:
        """Let Amazon know whose refresh token this is (a seller authorising the app)."""
        with self._lock:
            self._sellers_by_token[refresh_token] = seller_id

    def destinations(self) -> list[dict[str, Any]]:
        """Every application's destinations, as getDestinations returns them."""
        with self._lock:
            return [
                destination.as_payload()
                for per_app in self._destinations.values()
                for destination in per_app.values()
            ]

    def subscriptions(self) -> list[dict[str, Any]]:
        """Every subscription, as getSubscription returns it, with its notificationType and
        sellerId (None when the world does not know the seller's token)."""
        with self._lock:
            return [
                {
                    **subscription.as_payload(),
                    "notificationType": subscription.notification_type,
                    "sellerId": subscription.seller_id,
                }
                for per_app in self._subscriptions.values()
                for subscription in per_app.values()
            ]

    def upsert_order(self, seller_id: str, order: Mapping[str, Any]) -> None:
        """Add or replace an order as Amazon would now return it (times are taken as given)."""
        stored = _StoredOrder.of(seller_id, order)
        with self._lock:
            self._orders[stored.order["orderId"]] = stored

    def inject_faults(
        self, operation: str, statuses: Iterable[int], *, with_error_body: bool = True
    ) -> None:
        """Answer the next calls to `operation` with these statuses, one call each.

        Without an error body, python-amazon-sp-api does not raise at all: it returns an empty
        ApiResponse. `with_error_body=False` lets tests check our code copes with that.
        """
        if operation not in self._handlers:
            raise ValueError(f"the simulator does not serve {operation!r}")
        with self._lock:
            self._faults[operation].extend((int(status), with_error_body) for status in statuses)

    # counters

    def stats(self) -> dict[str, dict[str, int]]:
        """Per operation: calls, 2xx, 429, 4xx (other than 429) and 5xx answers."""
        with self._lock:
            return copy.deepcopy(self._stats)

    def request_log(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def reset_stats(self) -> None:
        with self._lock:
            self._stats.clear()
            self._log.clear()

    # request handling (called by the HTTP handler; no I/O here)

    def respond(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        path = urlsplit(target).path
        with self._lock:
            try:
                reply = self._route(method, target, headers, body)
            except Exception:  # a simulator bug must not look like a dropped connection
                log.exception("simulator failed on %s %s", method, path)
                reply = Reply(500, _fault_body(500), "unknown")
            reply.headers["x-amzn-RequestId"] = str(uuid.uuid4())
            self._count(method, path, reply)
        return reply

    def _route(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        url = urlsplit(target)
        if url.path == "/auth/o2/token":
            if method != "POST":
                return Reply(405, {"error": "invalid_request"}, LWA_OPERATION)
            return self._issue_token(body)
        found = match_operation(method, url.path)
        if found is None:
            missing = _errors("NotFound", f"No resource at {method} {url.path}.")
            return Reply(404, missing, "unknown")
        operation, path_params = found
        name = operation.operation_id
        if name not in self._handlers:
            unserved = _errors("NotImplemented", f"The simulator does not serve {name}.")
            return Reply(501, unserved, name)

        caller, refusal = self._authenticate(headers.get("x-amz-access-token"), operation)
        if caller is None:
            denied = _errors("Unauthorized", "Access to requested resource is denied.", refusal)
            return Reply(403, denied, name)

        rate, burst = DEFAULT_RATE_LIMITS[name]
        rate *= self.rate_scale
        limit_header = {"x-amzn-RateLimit-Limit": f"{rate:.10g}"}
        if self._faults[name]:
            status, with_body = self._faults[name].popleft()
            return Reply(status, _fault_body(status) if with_body else None, name, limit_header)
        if not self._bucket(caller, name, rate, burst).take(time.monotonic()):
            return Reply(429, _fault_body(429), name, limit_header)

        try:
            params = parse_parameters(operation, path_params, parse_qs(url.query))
            if operation.body_schema is not None:
                params["body"] = _read_body(operation, body)
            reply = self._handlers[name](caller, params)
        except InvalidInput as problem:
            if operation.model == NOTIFICATIONS_MODEL:
                # The Notifications API puts the reason in details (seen in Amazon's answers).
                invalid = _errors("InvalidInput", _INVALID_INPUT_MESSAGE, str(problem))
            else:
                invalid = _errors("InvalidInput", str(problem))
            reply = Reply(400, invalid, name)
        reply.headers.update(limit_header)
        return reply

    def _authenticate(
        self, access_token: str | None, operation: Operation
    ) -> tuple[_Caller | None, str]:
        issued = self._tokens.get(access_token or "")
        if issued is None:
            return None, ""
        if issued.expires_at < time.monotonic():
            return None, "The access token you provided has expired."
        if issued.refresh_token is None:
            if operation.auth == SELLER:
                return None, "A grantless access token cannot call this operation."
            if operation.model == NOTIFICATIONS_MODEL and issued.scope != NOTIFICATIONS_SCOPE:
                return None, f"This operation needs a grantless token for {NOTIFICATIONS_SCOPE}."
            return _Caller(None, None, issued.client_id), ""
        if operation.auth == GRANTLESS:
            # Amazon answers a seller's token on a grantless operation with a bare 403.
            return None, ""
        seller_id = self._sellers_by_token.get(issued.refresh_token)
        return _Caller(issued.refresh_token, seller_id, issued.client_id), ""

    def _bucket(self, caller: _Caller, operation: str, rate: float, burst: int) -> _TokenBucket:
        key = (caller.identity, operation)
        if key not in self._buckets:
            self._buckets[key] = _TokenBucket(rate, burst, time.monotonic())
        return self._buckets[key]

    def _count(self, method: str, path: str, reply: Reply) -> None:
        counts = self._stats.setdefault(
            reply.operation, {"calls": 0, "2xx": 0, "429": 0, "4xx": 0, "5xx": 0}
        )
        counts["calls"] += 1
        status = reply.status
        outcome = "429" if status == 429 else f"{status // 100}xx"
        if outcome in counts:
            counts[outcome] += 1
        self._log.append(RequestRecord(time.time(), method, path, reply.operation, status))

    # LWA

    def _issue_token(self, body: bytes) -> Reply:
        # parse_qs drops blank values, so an empty field counts as missing, as at LWA
        fields = parse_qs(body.decode("utf-8", "replace"))
        form = {key: values[-1] for key, values in fields.items()}
        grant_type = form.get("grant_type")
        needed = {
            "refresh_token": ("client_id", "client_secret", "refresh_token"),
            "client_credentials": ("client_id", "client_secret", "scope"),
        }
        if grant_type is None:
            return self._lwa_error(
                "invalid_request", "The request is missing a required parameter : grant_type"
            )
        if grant_type not in needed:
            return self._lwa_error(
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server",
            )
        for name in needed[grant_type]:
            if name not in form:
                return self._lwa_error(
                    "invalid_request", f"The request is missing a required parameter : {name}"
                )

        scope = None
        if grant_type == "client_credentials":
            scope = form["scope"]
            if scope not in GRANTLESS_SCOPES:
                return self._lwa_error("invalid_scope", "An unknown scope was requested")
        refresh_token = form.get("refresh_token") if grant_type == "refresh_token" else None
        prefix = "Atza|sim-" if refresh_token else "Atc|sim-"
        access_token = prefix + secrets.token_urlsafe(32)
        self._tokens[access_token] = _IssuedToken(
            refresh_token, time.monotonic() + ACCESS_TOKEN_LIFETIME, form["client_id"], scope
        )
        answer: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
        }
        if refresh_token:
            answer["refresh_token"] = refresh_token
        return Reply(200, answer, LWA_OPERATION)

    @staticmethod
    def _lwa_error(code: str, description: str) -> Reply:
        return Reply(400, {"error_description": description, "error": code}, LWA_OPERATION)

    # Orders API v2026-01-01

    def _get_order(self, caller: _Caller, params: dict[str, Any]) -> Reply:
        order_id = params["orderId"]
        stored = self._orders.get(order_id)
        if stored is None or not caller.may_see(stored.seller_id):
            return Reply(404, _errors("NotFound", f"Order {order_id} was not found."), "getOrder")
        order = shape_order(stored.order, params.get("includedData", []))
        return Reply(200, {"order": order}, "getOrder")

    def _search_orders(self, caller: _Caller, params: dict[str, Any]) -> Reply:
        window = _SearchWindow.of(params, datetime.now(timezone.utc), self.search_lag)
        filters = {
            "caller": caller.identity,
            "window": window.key(),
            "marketplaceIds": sorted(params.get("marketplaceIds", [])),
            "fulfillmentStatuses": sorted(params.get("fulfillmentStatuses", [])),
            "fulfilledBy": sorted(params.get("fulfilledBy", [])),
        }
        digest = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:24]

        cursor: tuple[datetime, str] | None = None
        if "paginationToken" in params:
            window.before, cursor = _read_pagination_token(params["paginationToken"], digest)

        page_size = params.get("maxResultsPerPage") or default_page_size()
        matching = sorted(
            (
                (window.time_of(stored), order_id, stored)
                for order_id, stored in self._orders.items()
                if caller.may_see(stored.seller_id) and window.admits(stored)
                and _matches_filters(stored.order, params)
            ),
            key=lambda row: row[:2],
        )
        if cursor is not None:
            matching = [row for row in matching if row[:2] > cursor]
        page = matching[:page_size]

        included = params.get("includedData", [])
        answer: dict[str, Any] = {
            "orders": [shape_order(stored.order, included) for _, _, stored in page],
            window.bound_name: format_time(window.before),
        }
        if len(matching) > page_size:
            last_time, last_id, _ = page[-1]
            answer["pagination"] = {
                "nextToken": _write_pagination_token(digest, window.before, last_time, last_id)
            }
        return Reply(200, answer, "searchOrders")

    # Notifications API v1

    def _application_id(self, client_id: str) -> str:
        """The SP-API application id Amazon names in its answers (the world's, or one derived
        from the LWA client id)."""
        if self.application_id:
            return self.application_id
        return "amzn1.sp.solution." + str(uuid.uuid5(uuid.NAMESPACE_URL, client_id))

    def _no_destination(self, caller: _Caller, destination_id: str) -> str:
        app = self._application_id(caller.client_id)
        return f"No destination with id {destination_id} for applicationId {app}"

    @staticmethod
    def _notification_type(notification_type: str) -> tuple[tuple[str, ...], str]:
        known = NOTIFICATION_TYPES.get(notification_type)
        if known is None:
            raise InvalidInput(f"{notification_type} is not a valid notification type.")
        return known

    def _get_destinations(self, caller: _Caller, params: dict[str, Any]) -> Reply:
        mine = self._destinations[caller.client_id]
        payload = [destination.as_payload() for destination in mine.values()]
        return Reply(200, {"payload": payload}, "getDestinations")

    def _get_destination(self, caller: _Caller, params: dict[str, Any]) -> Reply:
        destination = self._destinations[caller.client_id].get(params["destinationId"])
        if destination is None:
            details = self._no_destination(caller, params["destinationId"])
            return Reply(404, _errors("NotFound", _NOT_FOUND_MESSAGE, details), "getDestination")
        return Reply(200, {"payload": destination.as_payload()}, "getDestination")

    def _create_destination(self, caller: _Caller, params: dict[str, Any]) -> Reply:
        body = params["body"]
        name, spec = body["name"], body["resourceSpecification"]
        kinds = [kind for kind in (SQS, EVENTBRIDGE) if spec.get(kind) is not None]
        if len(kinds) != 1:
            raise InvalidInput(
                "resourceSpecification must hold exactly one resource type: sqs or eventBridge."
            )
        if len(name) > 256:
            raise InvalidInput("name is longer than 256 characters.")
        app = self._application_id(caller.client_id)
        mine = self._destinations[caller.client_id]

        if kinds == [SQS]:
            arn = spec[SQS]["arn"]
            _, _, _, region, _, queue = arn.split(":", 5)
            if region_group_of(region) != self.region:
                raise InvalidInput(
                    f"The SQS queue {arn} is in AWS region {region}, which the "
                    f"{self.region.upper()} endpoint ({ENDPOINT_HOSTS[self.region]}) does not "
                    "deliver to."
                )
            if queue.endswith(".fifo"):
                raise InvalidInput(f"The SQS queue {arn} is a FIFO queue; use a standard queue.")
            for existing in mine.values():
                if existing.resource.get(SQS, {}).get("arn") == arn:
                    details = (
                        f"A destination with arn {arn} already exists for the application {app}"
                        f" (destinationId {existing.destination_id})"
                    )
                    conflict = _errors("Conflict", _CONFLICT_MESSAGE, details)
                    return Reply(409, conflict, "createDestination")
            if not self.sqs_policy_ok:
                # What Amazon answers when the queue's policy does not let account
                # 437568002678 send messages: a bare refusal, with no details.
                denied = _errors("Unauthorized", "Access to requested resource is denied.", "")
                return Reply(403, denied, "createDestination")
            resource: dict[str, Any] = {SQS: {"arn": arn}}
        else:
            account, region = spec[EVENTBRIDGE]["accountId"], spec[EVENTBRIDGE]["region"]
            if not re.fullmatch(r"\d{12}", account):
                raise InvalidInput(
                    f"resourceSpecification.eventBridge.accountId: {account!r} is not an AWS "
                    "account id (12 digits)."
                )
            if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
                raise InvalidInput(
                    f"resourceSpecification.eventBridge.region: {region!r} is not an AWS region."
                )
            for existing in mine.values():
                if existing.resource.get(EVENTBRIDGE, {}).get("accountId") == account:
                    # Amazon: "You can only create one EventBridge destination per AWS account."
                    details = (
                        f"An EventBridge destination for AWS account {account} already exists "
                        f"for the application {app} (destinationId {existing.destination_id})"
                    )
                    conflict = _errors("Conflict", _CONFLICT_MESSAGE, details)
                    return Reply(409, conflict, "createDestination")
            # The partner event source Amazon creates in that account and region, named as in
            # Amazon's EventBridge workflow guide.
            source = f"aws.partner/sellingpartnerapi.amazon.com/{account}/{app}"
            resource = {EVENTBRIDGE: {"name": source, "region": region, "accountId": account}}

        destination = _Destination(str(uuid.uuid4()), name, resource)
        mine[destination.destination_id] = destination
        return Reply(200, {"payload": destination.as_payload()}, "createDestination")

    def _delete_destination(self, caller: _Caller, params: dict[str, Any]) -> Reply:
        destination_id = params["destinationId"]
        mine = self._destinations[caller.client_id]
        if destination_id not in mine:
            details = self._no_destination(caller, destination_id)
            return Reply(404, _errors("NotFound", _NOT_FOUND_MESSAGE, details), "deleteDestination")
        subscriptions = self._subscriptions[caller.client_id].values()
        if any(sub.destination_id == destination_id for sub in subscriptions):
            refused = _errors(
                "Unauthorized",
                "The requested action is forbidden.",
                "Destination has subscriptions",
            )
            return Reply(403, refused, "deleteDestination")
        del mine[destination_id]
        return Reply(200, {}, "deleteDestination")

    def _get_subscription(self, caller: _Caller, params: dict[str, Any]) -> Reply:
        notification_type = params["notificationType"]
        versions, _ = self._notification_type(notification_type)
        version = params.get("payloadVersion")
        if version is not None and version not in versions:
            raise InvalidInput(
                f"payloadVersion {version} is not a version of {notification_type} "
                f"(versions: {', '.join(versions)})."
            )
        found = [
            sub
            for sub in self._subscriptions[caller.client_id].values()
            if sub.owner == caller.identity and sub.notification_type == notification_type
            and (version is None or sub.payload_version == version)
        ]
        if not found:
            details = f"No subscription for notification type {notification_type}" + (
                f" and payload version {version}" if version else ""
            )
            return Reply(404, _errors("NotFound", _NOT_FOUND_MESSAGE, details), "getSubscription")
        # Without payloadVersion, the latest version's subscription.
        latest = max(found, key=lambda sub: versions.index(sub.payload_version))
        return Reply(200, {"payload": latest.as_payload()}, "getSubscription")

    def _create_subscription(self, caller: _Caller, params: dict[str, Any]) -> Reply:
        notification_type, body = params["notificationType"], params["body"]
        versions, delivery = self._notification_type(notification_type)
        version, destination_id = body["payloadVersion"], body["destinationId"]
        if version not in versions:
            raise InvalidInput(
                f"payloadVersion {version} is not a version of {notification_type} "
                f"(versions: {', '.join(versions)})."
            )
        destination = self._destinations[caller.client_id].get(destination_id)
        if destination is None:
            raise InvalidInput(self._no_destination(caller, destination_id))
        if destination.kind != delivery:
            where = "an Amazon SQS" if delivery == SQS else "an Amazon EventBridge"
            raise InvalidInput(
                f"{notification_type} notifications can only be delivered to {where} destination."
            )
        directive = body.get("processingDirective")
        if directive:
            if directive.get("eventFilter") and directive.get("filterExpression"):
                raise InvalidInput("eventFilter and filterExpression are mutually exclusive.")
            event_filter = directive.get("eventFilter") or {}
            if event_filter and event_filter.get("eventFilterType") != notification_type:
                raise InvalidInput(
                    f"processingDirective.eventFilter.eventFilterType must be {notification_type}."
                )
        mine = self._subscriptions[caller.client_id]
        for existing in mine.values():
            if (existing.owner, existing.notification_type, existing.payload_version) == (
                caller.identity, notification_type, version
            ):
                details = (
                    f"Subscription already exist for notification type {notification_type}"
                    f" (subscriptionId {existing.subscription_id})"
                )
                conflict = _errors("StateConflict", _STATE_CONFLICT_MESSAGE, details)
                return Reply(409, conflict, "createSubscription")
        subscription = _Subscription(
            subscription_id=str(uuid.uuid4()),
            owner=caller.identity,
            seller_id=caller.seller_id,
            notification_type=notification_type,
            payload_version=version,
            destination_id=destination_id,
            processing_directive=copy.deepcopy(directive) if directive else None,
        )
        mine[subscription.subscription_id] = subscription
        return Reply(200, {"payload": subscription.as_payload()}, "createSubscription")

    def _find_subscription_by_id(
        self, caller: _Caller, params: dict[str, Any], operation: str
    ) -> tuple[_Subscription | None, Reply | None]:
        self._notification_type(params["notificationType"])
        found = self._subscriptions[caller.client_id].get(params["subscriptionId"])
        if found is None or found.notification_type != params["notificationType"]:
            details = (
                f"No subscription with id {params['subscriptionId']} for notification type "
                f"{params['notificationType']}"
            )
            return None, Reply(404, _errors("NotFound", _NOT_FOUND_MESSAGE, details), operation)
        return found, None

    def _get_subscription_by_id(self, caller: _Caller, params: dict[str, Any]) -> Reply:
        found, missing = self._find_subscription_by_id(caller, params, "getSubscriptionById")
        if found is None:
            return missing  # type: ignore[return-value]
        return Reply(200, {"payload": found.as_payload()}, "getSubscriptionById")

    def _delete_subscription_by_id(self, caller: _Caller, params: dict[str, Any]) -> Reply:
        found, missing = self._find_subscription_by_id(caller, params, "deleteSubscriptionById")
        if found is None:
            return missing  # type: ignore[return-value]
        del self._subscriptions[caller.client_id][found.subscription_id]
        return Reply(200, {}, "deleteSubscriptionById")


@dataclass
class _SearchWindow:
    """The time range of a searchOrders call: by creation or by last update, never both."""

    by: str  # "created" or "lastUpdated"
    after: datetime
    before: datetime
    before_given: bool

    @property
    def bound_name(self) -> str:
        return f"{self.by}Before"

    @classmethod
    def of(cls, params: Mapping[str, Any], now: datetime, lag: timedelta) -> _SearchWindow:
        # These rules are the parameter descriptions of searchOrders in the model.
        created_after, updated_after = params.get("createdAfter"), params.get("lastUpdatedAfter")
        if (created_after is None) == (updated_after is None):
            raise InvalidInput("Provide exactly one of createdAfter and lastUpdatedAfter.")
        if created_after is not None:
            by, after, other = "created", created_after, "lastUpdated"
        else:
            by, after, other = "lastUpdated", updated_after, "created"
        if f"{other}Before" in params:
            raise InvalidInput(f"{other}Before cannot be combined with {by}After.")

        latest = (now - lag).replace(microsecond=0)
        too_late = (
            f"must be at least {lag.total_seconds():g} seconds before the time of the request "
            f"(no later than {format_time(latest)})."
        )
        before = params.get(f"{by}Before")
        if before is not None and before > latest:
            raise InvalidInput(f"{by}Before {too_late}")
        if before is None and after > latest:
            raise InvalidInput(f"{by}After {too_late}")
        if before is not None and before < after:
            raise InvalidInput(f"{by}Before must be equal to or after {by}After.")
        return cls(by, after, before if before is not None else latest, before is not None)

    def key(self) -> list[str | None]:
        """What a pagination token must agree on (the default upper bound travels in it)."""
        given = format_time(self.before) if self.before_given else None
        return [self.by, self.after.isoformat(), given]

    def time_of(self, stored: _StoredOrder) -> datetime:
        return stored.created if self.by == "created" else stored.updated

    def admits(self, stored: _StoredOrder) -> bool:
        return self.after <= self.time_of(stored) <= self.before


def _matches_filters(order: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    fulfillment = order.get("fulfillment") or {}
    checks = (
        ("marketplaceIds", (order.get("salesChannel") or {}).get("marketplaceId")),
        ("fulfillmentStatuses", fulfillment.get("fulfillmentStatus")),
        ("fulfilledBy", fulfillment.get("fulfilledBy")),
    )
    return all(not params.get(name) or value in params[name] for name, value in checks)


def _write_pagination_token(
    digest: str, before: datetime, last_time: datetime, last_id: str
) -> str:
    content = {
        "f": digest,  # the parameters it is good for
        "b": before.isoformat(),  # the upper bound of the first page, kept for every page
        "t": last_time.isoformat(),  # where the last page ended
        "i": last_id,
        "at": time.time(),
    }
    return base64.urlsafe_b64encode(json.dumps(content).encode()).decode().rstrip("=")


def _read_pagination_token(token: str, digest: str) -> tuple[datetime, tuple[datetime, str]]:
    try:
        content = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        issued, before = float(content["at"]), parse_time(content["b"])
        cursor = (parse_time(content["t"]), str(content["i"]))
        token_digest = content["f"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("paginationToken is not a token this API issued.") from None
    if time.time() - issued > PAGINATION_TOKEN_LIFETIME:
        raise InvalidInput("paginationToken has expired (tokens last 24 hours).")
    if token_digest != digest:
        raise InvalidInput(
            "paginationToken was issued for other parameters: repeat every parameter of the "
            "first request (only maxResultsPerPage and includedData may change)."
        )
    return before, cursor


# --- HTTP ----------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as python-amazon-sp-api's httpx client expects
    # Headers and body go out in two writes; with Nagle's algorithm the second one waits for
    # the client's delayed ACK, costing ~40 ms a request.
    disable_nagle_algorithm = True
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.simulator.respond(self.command, self.path, self.headers, body)
        payload = json.dumps(reply.body).encode() if reply.body is not None else b""
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet by default; the default line would also print query strings.
        pass


# --- command line --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.simulator",
        description="Serve Amazon's side of LWA, the Orders and the Notifications API locally.",
    )
    parser.add_argument("--world", type=Path, help="world JSON file: orders and sellers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4599, help="0 picks a free port")
    parser.add_argument(
        "--rate-scale", type=float, default=1.0, help="multiplies every refill rate"
    )
    parser.add_argument(
        "--search-lag", type=float, default=120.0, metavar="SECONDS",
        help="how far behind now searchOrders may look (Amazon: 120)",
    )
    parser.add_argument(
        "--region", choices=sorted(ENDPOINT_HOSTS), default="eu",
        help="the SP-API endpoint played (SQS destinations must be in its part of the world)",
    )
    parser.add_argument(
        "--refuse-sqs-policy", action="store_true",
        help="answer createDestination for SQS as Amazon does when the queue policy refuses it",
    )
    args = parser.parse_args(argv)
    world = json.loads(args.world.read_text(encoding="utf-8")) if args.world else {}
    simulator = Simulator(
        world,
        rate_scale=args.rate_scale,
        search_lag_seconds=args.search_lag,
        region=args.region,
        sqs_policy_ok=not args.refuse_sqs_policy,
    )
    url = simulator.start(args.host, args.port)
    print(f"Amazon simulator at {url} (Ctrl-C stops it)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
