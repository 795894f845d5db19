"""Amazon's side of SP-API, played locally: LWA tokens and the Orders API v2026-01-01.

The embedded stack, the e2e tests and the benchmarks point python-amazon-sp-api at this server
instead of Amazon. It answers like Amazon where our code can tell the difference: request
validation from Amazon's own model (``spapi_models/``), per-seller data, rate limits with 429s,
and injected 5xx faults.

Run by hand::

    python -m infra.local.simulator --world WORLD.json --port 4599 [--rate-scale N]

A world is ``{"orders": [{"sellerId": ..., "order": <Order v2026-01-01>}],
"sellers": [{"sellerId": ..., "refreshToken": ..., "marketplaceIds": [...]}]}``; other keys
are ignored so the world can grow with the simulator.
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


class InvalidInput(Exception):
    """A request Amazon would refuse with 400 InvalidInput; the message says why."""


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: re.Pattern[str]
    parameters: tuple[dict[str, Any], ...]


@functools.cache
def load_model(name: str) -> dict[str, Any]:
    return json.loads((MODELS_DIR / name).read_text(encoding="utf-8"))


@functools.cache
def orders_operations() -> tuple[Operation, ...]:
    """The Orders API operations, with their routes and parameters taken from the model."""
    operations = []
    for template, methods in load_model(ORDERS_MODEL)["paths"].items():
        shared = methods.get("parameters", [])
        for method, spec in methods.items():
            if method == "parameters":
                continue
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            operations.append(
                Operation(
                    operation_id=spec["operationId"],
                    method=method.upper(),
                    path=re.compile(pattern + "$"),
                    parameters=tuple(shared) + tuple(spec.get("parameters", [])),
                )
            )
    return tuple(operations)


def match_operation(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    for operation in orders_operations():
        found = operation.path.match(path)
        if found and operation.method == method:
            return operation, {name: unquote(value) for name, value in found.groupdict().items()}
    return None


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
    refresh_token: str
    seller_id: str | None  # None: the world does not say whose token this is; any seller's

    @property
    def identity(self) -> str:
        """Key for rate limits and pagination tokens; never logged."""
        if self.seller_id is not None:
            return "seller:" + self.seller_id
        return "token:" + hashlib.sha256(self.refresh_token.encode()).hexdigest()[:16]

    def may_see(self, seller_id: str) -> bool:
        return self.seller_id is None or self.seller_id == seller_id


@dataclass(frozen=True)
class _IssuedToken:
    refresh_token: str | None  # None for grantless (client_credentials) tokens
    expires_at: float  # monotonic


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


# --- the simulator -------------------------------------------------------------------------


class Simulator:
    """Amazon's side of LWA and the Orders API v2026-01-01, served over HTTP.

    `rate_scale` multiplies every refill rate (not the bursts) so demos and benchmarks can run
    time-scaled. `search_lag_seconds` is how far behind "now" searchOrders may look: Amazon
    refuses a createdBefore/lastUpdatedBefore later than two minutes before the request and
    uses that as the default upper bound, so fresh changes show up late. Set it to 0 for tests
    that must see an order the moment it is upserted.
    """

    def __init__(
        self,
        world: Mapping[str, Any] | None = None,
        *,
        rate_scale: float = 1.0,
        search_lag_seconds: float = 120.0,
    ) -> None:
        if rate_scale <= 0:
            raise ValueError("rate_scale must be positive")
        self.rate_scale = rate_scale
        self.search_lag = timedelta(seconds=search_lag_seconds)
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
        """Replace Amazon's state. Issued access tokens stay valid."""
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

        caller, refusal = self._authenticate(headers.get("x-amz-access-token"))
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
            reply = self._handlers[name](caller, params)
        except InvalidInput as problem:
            reply = Reply(400, _errors("InvalidInput", str(problem)), name)
        reply.headers.update(limit_header)
        return reply

    def _authenticate(self, access_token: str | None) -> tuple[_Caller | None, str]:
        issued = self._tokens.get(access_token or "")
        if issued is None:
            return None, ""
        if issued.expires_at < time.monotonic():
            return None, "The access token you provided has expired."
        if issued.refresh_token is None:
            return None, "A grantless access token cannot call this operation."
        seller_id = self._sellers_by_token.get(issued.refresh_token)
        return _Caller(issued.refresh_token, seller_id), ""

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

        refresh_token = form.get("refresh_token")
        prefix = "Atza|sim-" if refresh_token else "Atc|sim-"
        access_token = prefix + secrets.token_urlsafe(32)
        self._tokens[access_token] = _IssuedToken(
            refresh_token, time.monotonic() + ACCESS_TOKEN_LIFETIME
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
        description="Serve Amazon's side of LWA and the Orders API locally.",
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
    args = parser.parse_args(argv)
    world = json.loads(args.world.read_text(encoding="utf-8")) if args.world else {}
    simulator = Simulator(world, rate_scale=args.rate_scale, search_lag_seconds=args.search_lag)
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
