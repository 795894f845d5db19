"""Amazon's side of SP-API, played locally, one module per API over a shared core:

    core.py           models, request validation, usage plans, faults, the journal, HTTP
    tokens.py         Login with Amazon (seller and grantless tokens)
    orders.py         Orders API v2026-01-01 (searchOrders, getOrder) and v0 confirmShipment
    notifications.py  Notifications API v1 (destinations, subscriptions) and pushing notifications
    fulfillment_outbound.py  Fulfillment Outbound 2020-07-01 (Multi-Channel Fulfillment), on its clock
    feeds.py          Feeds 2021-06-30 for UPLOAD_VAT_INVOICE (documents, feeds, processing reports,
                      FEED_PROCESSING_FINISHED), on its clock
    finances.py       Finances 2024-06-19 listTransactions (refunds; TRANSACTION_UPDATE)
    listings.py       Listings Items 2021-08-01 (getListingsItem, patchListingsItem;
                      LISTINGS_ITEM_MFN_QUANTITY_CHANGE through EventBridge)
    fba_inventory.py  FBA Inventory v1 getInventorySummaries (FBA_INVENTORY_AVAILABILITY_CHANGES)
    reports.py        Reports 2021-06-30 for the settlements flow (getReports, getReport,
                      getReportDocument with its gzip-compressed document; REPORT_PROCESSING_FINISHED)

The embedded stack, the e2e tests and the benchmarks point python-amazon-sp-api at this server
instead of Amazon. It answers like Amazon where our code can tell the difference: requests
checked against Amazon's own models (models/, with their licence), per-seller data, the usage
plans of the models with 429s, injected faults (a status, or a call applied and then left
unanswered), and the notifications Amazon would push. A second, read-only port shows what
Amazon received and holds: GET /_simulator/calls?operation=NAME&sellerId=ID, and one view per
kind of state (/_simulator/ lists them).

Run by hand::

    python -m infra.local.amazon --world WORLD.json --port 4599 [--rate-scale N]
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from infra.local.amazon.core import (
    APPLY_THEN_500,
    APPLY_THEN_DROP,
    LWA_OPERATION,
    Api,
    ApiServer,
    Faults,
    InvalidInput,
    Journal,
    Operation,
    Reply,
    RequestRecord,
    TokenBucket,
    errors,
    fault_body,
    load_model,
    one,
    parse_parameters,
    validate_body,
)
from infra.local.amazon.fba_inventory import FbaInventoryApi
from infra.local.amazon.feeds import DOCUMENTS_PATH, VAT_FEED, FeedsApi
from infra.local.amazon.finances import FinancesApi
from infra.local.amazon.fulfillment_outbound import FulfillmentOutboundApi
from infra.local.amazon.listings import ListingsApi
from infra.local.amazon.notifications import (
    ENDPOINT_HOSTS,
    INVALID_INPUT_MESSAGE,
    NOTIFICATION_TYPES,
    Delivery,
    NotificationsApi,
    region_group_of,
)
from infra.local.amazon.orders import DATASETS, OrdersApi
from infra.local.amazon.reports import REPORT_DOCUMENTS_PATH, ReportsApi
from infra.local.amazon.tokens import TOKEN_PATH, Lwa

VAT_FEED_RATE, VAT_FEED_BURST = 1 / 3, 15

__all__ = ["Simulator", "DATASETS", "DEFAULT_RATE_LIMITS", "NOTIFICATION_TYPES", "ENDPOINT_HOSTS", "Delivery",
           "load_model", "region_group_of", "APPLY_THEN_DROP", "APPLY_THEN_500"]


class Simulator:
    """Amazon's side of LWA, the Orders API and the Notifications API, over HTTP.

    `rate_scale` multiplies every refill rate (not the bursts) so demos and benchmarks can run
    time-scaled. `search_lag_seconds` is how far behind "now" searchOrders may look: Amazon
    refuses a createdBefore/lastUpdatedBefore later than two minutes before the request and
    uses that as the default upper bound, so fresh changes show up late. Set it to 0 for tests
    that must see an order the moment it is upserted.

    `region` is the SP-API endpoint played (na, eu or fe): an SQS destination in an AWS region
    of another part of the world is refused. `sqs_policy_ok` is what Amazon finds when it checks
    an SQS queue's policy on createDestination: False refuses every queue, as Amazon does when
    the policy does not let account 437568002678 send messages.
    """

    def __init__(self, world: Mapping[str, Any] | None = None, *, rate_scale: float = 1.0,
                 search_lag_seconds: float = 120.0, region: str = "eu", sqs_policy_ok: bool = True) -> None:
        if rate_scale <= 0:
            raise ValueError("rate_scale must be positive")
        self.rate_scale = rate_scale
        self.lock = threading.RLock()
        self.lwa = Lwa()
        self.orders = OrdersApi(self, search_lag_seconds)
        self.notifications = NotificationsApi(self, region, sqs_policy_ok)
        self.fulfillment = FulfillmentOutboundApi(self)
        self.feeds = FeedsApi(self)
        self.finances = FinancesApi(self)
        self.listings = ListingsApi(self)
        self.fba_inventory = FbaInventoryApi(self)
        self.reports = ReportsApi(self)
        self.apis: tuple[Api, ...] = (self.orders, self.notifications, self.fulfillment, self.feeds, self.finances,
                                      self.listings, self.fba_inventory, self.reports)
        self.journal = Journal()
        self.faults = Faults()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._handlers: dict[str, tuple[Api, Callable[..., Reply]]] = {
            name: (api, handler) for api in self.apis for name, handler in api.handlers().items()}
        self._operations: tuple[Operation, ...] = tuple(op for api in self.apis for op in api.operations())
        self._scopes = {model: scope for api in self.apis if (scope := getattr(api, "grantless_scope", None))
                        for model in api.models}
        self._servers: list[tuple[ApiServer, threading.Thread]] = []
        self._ticking = threading.Event()
        self._clock: threading.Thread | None = None
        self.load_world(world or {})

    # lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0, views_port: int = 0) -> str:
        """Serve the SP-API endpoint and the read-only views, in daemon threads; port 0 picks a
        free port. Returns the endpoint's base URL."""
        if self._servers:
            raise RuntimeError("the simulator is already running")
        for bind, views in ((port, False), (views_port, True)):
            server = ApiServer((host, bind), self, views=views)
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name="amazon-simulator" + ("-views" if views else ""), daemon=True)
            thread.start()
            self._servers.append((server, thread))
        self._ticking.clear()
        self._clock = threading.Thread(target=self._tick_until_stopped, name="amazon-simulator-clock", daemon=True)
        self._clock.start()
        return self.url

    def _tick_until_stopped(self) -> None:
        """Amazon's own doings over time (a fulfillment order moving through its steps)."""
        while not self._ticking.wait(0.2):
            try:
                self.fulfillment.tick()
                self.feeds.tick()
            except Exception:  # a simulator bug must not stop its clock
                import logging

                logging.getLogger(__name__).exception("the simulator's clock failed")

    def stop(self) -> None:
        self._ticking.set()
        if self._clock is not None:
            self._clock.join()
            self._clock = None
        for server, thread in self._servers:
            server.shutdown()
            server.server_close()
            thread.join()
        self._servers = []

    def _address(self, index: int) -> str:
        if not self._servers:
            raise RuntimeError("the simulator is not running")
        host, port = self._servers[index][0].server_address[:2]
        assert isinstance(host, str)  # a TCP server bound to a str host (start)
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The SP-API (and LWA) endpoint."""
        return self._address(0)

    @property
    def views_url(self) -> str:
        """Where GET /_simulator/... answers."""
        return self._address(1)

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Amazon's state

    @property
    def _lock(self) -> threading.RLock:
        return self.lock

    @property
    def sqs_policy_ok(self) -> bool:
        return self.notifications.sqs_policy_ok

    @sqs_policy_ok.setter
    def sqs_policy_ok(self, value: bool) -> None:
        self.notifications.sqs_policy_ok = value

    def load_world(self, world: Mapping[str, Any]) -> None:
        """Replace Amazon's orders and sellers. Issued access tokens stay valid, and so do the
        destinations and subscriptions made through the API."""
        with self.lock:
            self.lwa.load_world(world)
            for api in self.apis:
                api.load_world(world)

    def add_seller(self, seller_id: str, refresh_token: str) -> None:
        """Let Amazon know whose refresh token this is (a seller authorising the app)."""
        with self.lock:
            self.lwa.add_seller(seller_id, refresh_token)

    def upsert_order(self, seller_id: str, order: Mapping[str, Any]) -> None:
        """Add or replace an order as Amazon would now return it (times are taken as given)."""
        with self.lock:
            self.orders.upsert(seller_id, order)

    def destinations(self) -> list[dict[str, Any]]:
        """Every application's destinations, as getDestinations returns them."""
        with self.lock:
            return self.notifications.every_destination()

    def subscriptions(self) -> list[dict[str, Any]]:
        """Every subscription, as getSubscription returns it, with its notificationType and
        sellerId (None when the world does not know the seller's token)."""
        with self.lock:
            return self.notifications.every_subscription()

    def connect(self, client_id: str, queue_arn: str, seller_ids: list[str], types: list[str],
                eventbridge: tuple[str, str] | None = None) -> None:
        """As if `make connect` had run: the queue is a destination (and EventBridge in the
        (account, region) for the listings types), the sellers subscribed."""
        with self.lock:
            self.notifications.connect(client_id, queue_arn, seller_ids, types, eventbridge)

    def deliver_to(self, deliver: Callable[[Delivery], None]) -> None:
        """Where pushed notifications go (the local stack sends them to its intake queue)."""
        self.notifications.deliver = deliver

    def inject_faults(self, operation: str, statuses: Iterable[int | str], *, with_error_body: bool = True) -> None:
        """Answer the next calls to `operation` with these faults, one call each: an HTTP status
        (the call does not take effect), or APPLY_THEN_DROP / APPLY_THEN_500 (it takes effect,
        then the connection drops unanswered, or Amazon answers 500).

        Without an error body, python-amazon-sp-api does not raise at all: it returns an empty
        ApiResponse. `with_error_body=False` lets tests check our code copes with that.
        """
        if operation not in self._handlers:
            raise ValueError(f"the simulator does not serve {operation!r}")
        with self.lock:
            self.faults.add(operation, statuses, with_error_body)

    def inject_fault_share(self, operation: str, fault: int | str, share: float, seed: int = 0) -> None:
        """Answer a share of the calls to `operation` with `fault` (drawn with `seed`), for as long
        as the simulator runs: the benchmarks' steady failure rate."""
        if operation not in self._handlers:
            raise ValueError(f"the simulator does not serve {operation!r}")
        with self.lock:
            self.faults.add_share(operation, fault, share, seed)

    # counters and the journal

    def stats(self) -> dict[str, dict[str, int]]:
        """Per operation: calls, 2xx, 429, 4xx (other than 429) and 5xx answers."""
        with self.lock:
            return self.journal.stats()

    def request_log(self) -> list[RequestRecord]:
        with self.lock:
            return self.journal.records()

    def reset_stats(self) -> None:
        with self.lock:
            self.journal.clear()

    def calls(self, operation: str | None = None, seller_id: str | None = None) -> list[dict[str, Any]]:
        """Every call received, as GET /_simulator/calls lists it."""
        with self.lock:
            return [r.as_dict() for r in self.journal.records()
                    if operation in (None, r.operation) and seller_id in (None, r.seller_id)]

    def views(self) -> dict[str, Callable[[Mapping[str, list[str]]], Any]]:
        def calls(query: Mapping[str, list[str]]) -> Any:
            """Every call Amazon received (?operation=&sellerId=): operation, seller, time, method, path
            and query, request body, status answered."""
            return {"calls": self.calls(one(query, "operation"), one(query, "sellerId"))}

        found: dict[str, Callable[[Mapping[str, list[str]]], Any]] = {"calls": calls}
        for api in self.apis:
            found.update(api.views())
        return found

    # request handling (called by the HTTP handler; no I/O here)

    def respond(self, method: str, target: str, headers: Message[str, str], body: bytes) -> Reply:
        url = urlsplit(target)
        with self.lock:
            record_body: Any = None
            seller_id: str | None = None
            try:
                reply, seller_id, record_body = self._route(method, url, headers, body)
            except Exception:  # a simulator bug must not look like a dropped connection
                import logging

                logging.getLogger(__name__).exception("simulator failed on %s %s", method, url.path)
                reply = Reply(500, fault_body(500), "unknown")
            reply.headers["x-amzn-RequestId"] = str(uuid.uuid4())
            self.journal.record(RequestRecord(time.time(), method, url.path, reply.operation, reply.status,
                                              seller_id, url.query if reply.operation != LWA_OPERATION else "",
                                              record_body))
        return reply

    def _route(self, method: str, url: Any, headers: Message[str, str],
               body: bytes) -> tuple[Reply, str | None, Any]:
        if url.path.startswith(DOCUMENTS_PATH):  # a feed document's presigned URL (S3 at Amazon)
            status, raw, content_type = self.feeds.raw(method, url.path, body, headers.get("Content-Type"))
            return Reply(status, None, "feedDocumentContent", {"Content-Type": content_type}, raw=raw), None, None
        if url.path.startswith(REPORT_DOCUMENTS_PATH):  # a report document's presigned URL (S3 at Amazon)
            status, raw, raw_headers = self.reports.raw(method, url.path, url.query)
            return Reply(status, None, "reportDocumentContent", raw_headers, raw=raw), None, None
        if url.path == TOKEN_PATH:
            if method != "POST":
                return Reply(405, {"error": "invalid_request"}, LWA_OPERATION), None, None
            return self.lwa.issue(body), None, None  # the form holds secrets: not journaled
        found = self._match(method, url.path)
        if found is None:
            return Reply(404, errors("NotFound", f"No resource at {method} {url.path}."), "unknown"), None, None
        operation, path_params = found
        name = operation.operation_id
        recorded = _json_or_none(body)
        if name not in self._handlers:
            unserved = errors("NotImplemented", f"The simulator does not serve {name}.")
            return Reply(501, unserved, name), None, recorded

        caller, refusal = self.lwa.authenticate(headers.get("x-amz-access-token"), operation, self._scopes)
        if caller is None:
            denied = errors("Unauthorized", "Access to requested resource is denied.", refusal)
            return Reply(403, denied, name), None, recorded

        rate = operation.rate * self.rate_scale
        limit_header = {"x-amzn-RateLimit-Limit": f"{rate:.10g}"}
        fault = self.faults.take(name)
        if isinstance(fault, tuple) and isinstance(fault[0], int):
            status, with_body = fault[0], fault[1]
            reply = Reply(status, fault_body(status) if with_body else None, name, limit_header)
            return reply, caller.seller_id, recorded
        bucket, burst = name, operation.burst
        if name == "createFeed" and isinstance(recorded, dict) and recorded.get("feedType") == VAT_FEED:
            # Amazon's documentation allows UPLOAD_VAT_INVOICE about one feed every 3 seconds.
            bucket, rate, burst = f"createFeed#{VAT_FEED}", VAT_FEED_RATE * self.rate_scale, VAT_FEED_BURST
            limit_header = {"x-amzn-RateLimit-Limit": f"{rate:.10g}"}
        if not self._bucket(caller.identity, bucket, rate, burst).take(time.monotonic()):
            return Reply(429, fault_body(429), name, limit_header), caller.seller_id, recorded

        api, handler = self._handlers[name]
        try:
            params = parse_parameters(operation, path_params, parse_qs(url.query))
            if operation.body_schema is not None:
                params["body"] = _read_body(operation, body)
            reply = handler(caller, params)
        except InvalidInput as problem:
            if isinstance(api, NotificationsApi):
                # The Notifications API puts the reason in details (seen in Amazon's answers).
                invalid = errors("InvalidInput", INVALID_INPUT_MESSAGE, str(problem))
            else:
                invalid = errors("InvalidInput", str(problem))
            reply = Reply(400, invalid, name)
        if fault is not None and 200 <= reply.status < 300:
            # The call took effect; the caller never learns it.
            if fault[0] == APPLY_THEN_DROP:
                reply = Reply(0, None, name, drop=True)
            else:
                reply = Reply(500, fault_body(500), name)
        reply.headers.update(limit_header)
        return reply, caller.seller_id, recorded

    def _match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for operation in self._operations:
            found = operation.path.match(path)
            if found and operation.method == method:
                return operation, {name: unquote(value) for name, value in found.groupdict().items()}
        return None

    def _bucket(self, identity: str, operation: str, rate: float, burst: int) -> TokenBucket:
        key = (identity, operation)
        if key not in self._buckets:
            self._buckets[key] = TokenBucket(rate, burst, time.monotonic())
        return self._buckets[key]


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {"unreadable": len(body)}


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


def default_rate_limits() -> dict[str, tuple[float, int]]:
    """The usage plan of every operation the simulator serves, as its model prints it."""
    simulator = Simulator()
    return {op.operation_id: (op.rate, op.burst) for op in simulator._operations
            if op.operation_id in simulator._handlers}


DEFAULT_RATE_LIMITS = default_rate_limits()
