"""What every simulated Amazon API shares: Amazon's models (operations, parameters, bodies and the
usage plans printed in them), request validation against them, the rate limits with 429s,
injected faults, the journal of every call, notifications pushed to subscribed queues, and the
HTTP servers (the SP-API endpoint, and a read-only view of Amazon's state on its own port).

An API module (orders.py, notifications.py, ...) subclasses `Api`: it names its models and the
operations it serves, handles them over its own state, and may add views under /_simulator/.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import random
import re
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from infra.local.amazon import Simulator

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).with_name("models")
LWA_OPERATION = "lwaToken"  # how token requests show in stats() and the journal

# How an operation is authorised: with a seller's token (refresh_token grant), with a grantless
# token (client_credentials grant), or either. The model says which operations are grantless.
SELLER, GRANTLESS, EITHER = "seller", "grantless", "either"
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch"})

# Faults a test can inject, besides plain HTTP statuses.
APPLY_THEN_DROP = "apply-then-drop"  # the call takes effect, then the connection drops unanswered
APPLY_THEN_500 = "apply-then-500"  # the call takes effect, then Amazon answers 500


class InvalidInput(Exception):
    """A request Amazon would refuse with 400 InvalidInput; the message says why."""


# --- the models --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: re.Pattern[str]
    parameters: tuple[dict[str, Any], ...]
    model: str
    auth: str = SELLER
    rate: float = 1.0  # the default usage plan printed in the model: requests per second
    burst: int = 1

    @property
    def body_schema(self) -> dict[str, Any] | None:
        for spec in self.parameters:
            if spec.get("in") == "body":
                return spec.get("schema") or {}
        return None


@functools.cache
def load_model(name: str) -> dict[str, Any]:
    return json.loads((MODELS_DIR / name).read_text(encoding="utf-8"))


_USAGE_PLAN = re.compile(r"\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|")


def usage_plan(description: str) -> tuple[float, int] | None:
    """(requests per second, burst) from the usage-plan table in an operation's description."""
    found = _USAGE_PLAN.search(description or "")
    return (float(found[1]), int(found[2])) if found else None


@functools.cache
def model_operations(model_name: str, either_token: frozenset[str] = frozenset()) -> tuple[Operation, ...]:
    """One model's operations, with their routes, parameters, authorisation and usage plans."""
    operations = []
    for template, methods in load_model(model_name)["paths"].items():
        shared = methods.get("parameters", [])
        for method, spec in methods.items():
            if method not in _HTTP_METHODS:  # "parameters", "x-amzn-api-sandbox-only", ...
                continue
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            operation_id = spec["operationId"]
            if operation_id in either_token:
                auth = EITHER
            elif "is grantless" in spec.get("description", ""):
                auth = GRANTLESS
            else:
                auth = SELLER
            rate, burst = usage_plan(spec.get("description", "")) or (1.0, 1)
            operations.append(Operation(operation_id, method.upper(), re.compile(pattern + "$"),
                                        tuple(shared) + tuple(spec.get("parameters", [])), model_name, auth,
                                        rate, burst))
    return tuple(operations)


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
            if node.get("format") == "date-time":
                try:
                    parse_time(item)
                except ValueError:
                    raise InvalidInput(f"{path}: {item!r} is not an ISO 8601 date-time.") from None
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
            continue  # bodies are read apart; no served operation takes header parameters
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


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- answers -------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None
    operation: str
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering (the call's outcome is unknown)
    raw: bytes | None = None  # a document's bytes (a presigned URL's answer), sent as they are


def errors(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


_FAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("InvalidInput", "Invalid Input"),
    403: ("Unauthorized", "Access to requested resource is denied."),
    404: ("NotFound", "The requested resource was not found."),
    429: ("QuotaExceeded", "You exceeded your quota for the requested resource."),
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again later."),
}


def fault_body(status: int) -> dict[str, Any]:
    default = ("InternalFailure" if status >= 500 else "InvalidInput", HTTPStatus(status).phrase)
    return errors(*_FAULT_ERRORS.get(status, default))


# --- callers, buckets, the journal -----------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    refresh_token: str | None  # None: a grantless token, the application itself
    seller_id: str | None  # None: the world does not say whose token this is; any seller's
    client_id: str = ""  # the LWA client id: the application

    @property
    def identity(self) -> str:
        """Key for rate limits, pagination tokens and subscriptions; never logged."""
        import hashlib

        if self.refresh_token is None:
            return "app:" + self.client_id
        if self.seller_id is not None:
            return "seller:" + self.seller_id
        return "token:" + hashlib.sha256(self.refresh_token.encode()).hexdigest()[:16]

    def may_see(self, seller_id: str) -> bool:
        return self.seller_id is None or self.seller_id == seller_id


class TokenBucket:
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


@dataclass(frozen=True)
class RequestRecord:
    """One call Amazon received, as the journal keeps it: what was asked (the query and the
    JSON body; never a token or credential: LWA's form is not kept) and what was answered."""

    time: float  # seconds since the epoch
    method: str
    path: str
    operation: str
    status: int
    seller_id: str | None = None
    query: str = ""
    body: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "sellerId": self.seller_id,
                "time": datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds"),
                "method": self.method, "path": self.path, "query": self.query, "body": self.body,
                "status": self.status}


# --- an API --------------------------------------------------------------------------------


class Api:
    """One of Amazon's APIs: the models it reads, the operations it serves over its own state,
    and the views it adds under /_simulator/ (read-only)."""

    name = "api"
    models: tuple[str, ...] = ()  # the first model's unserved operations answer 501
    either_token: frozenset[str] = frozenset()

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def handlers(self) -> dict[str, Callable[[Caller, dict[str, Any]], Reply]]:
        """operationId → handler(caller, params) (params: path and query, and `body`)."""
        return {}

    def views(self) -> dict[str, Callable[[Mapping[str, list[str]]], Any]]:
        """/_simulator/<name> → view(query) returning JSON."""
        return {}

    def load_world(self, world: Mapping[str, Any]) -> None:
        """Take this API's part of a world file (unknown keys are other APIs' business)."""

    def operations(self) -> tuple[Operation, ...]:
        served = set(self.handlers())
        result: list[Operation] = []
        for index, model in enumerate(self.models):
            for operation in model_operations(model, self.either_token):
                if index == 0 or operation.operation_id in served:
                    result.append(operation)
        return tuple(result)


# --- HTTP ----------------------------------------------------------------------------------


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: Simulator, views: bool = False) -> None:
        self.simulator = simulator
        super().__init__(address, ViewsHandler if views else ApiHandler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as python-amazon-sp-api's httpx client expects
    # Headers and body go out in two writes; with Nagle's algorithm the second one waits for
    # the client's delayed ACK, costing ~40 ms a request.
    disable_nagle_algorithm = True
    server: ApiServer

    def _send(self, status: int, body: Any, headers: Mapping[str, str] = {}) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet by default; the default line would also print query strings.
        pass


class ApiHandler(_Handler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.simulator.respond(self.command, self.path, self.headers, body)
        if reply.drop:
            self.close_connection = True
            self.connection.shutdown(2)  # as a timeout looks to the client: no answer at all
            return
        if reply.raw is not None:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.raw)))
            self.end_headers()
            self.wfile.write(reply.raw)
            return
        self._send(reply.status, reply.body, reply.headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer


class ViewsHandler(_Handler):
    """GET /_simulator/...: what Amazon received and holds, as JSON; nothing can be changed."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        views = self.server.simulator.views()
        name = url.path.rstrip("/").removeprefix("/_simulator").lstrip("/")
        if not url.path.startswith("/_simulator") or (name and name not in views):
            self._send(404, {"error": "NotFound", "message": f"no view {url.path}; views: "
                                                             + ", ".join(f"/_simulator/{v}" for v in views)})
            return
        if not name:
            self._send(200, {"views": {f"/_simulator/{v}": (fn.__doc__ or "").strip().split("\n")[0]
                                       for v, fn in views.items()}})
            return
        try:
            self._send(200, views[name](parse_qs(url.query)))
        except InvalidInput as problem:
            self._send(400, {"error": "BadRequest", "message": str(problem)})

    def _refuse(self) -> None:
        self._send(405, {"error": "MethodNotAllowed", "message": "the simulator's views are read-only"})

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse


def one(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name) or []
    return values[-1] if values else None


# --- the shared state of a simulator run -----------------------------------------------------


class Journal:
    """Every call, its answer, and the counters per operation."""

    def __init__(self, size: int = 20_000) -> None:
        self._log: deque[RequestRecord] = deque(maxlen=size)
        self._stats: dict[str, dict[str, int]] = {}

    def record(self, record: RequestRecord) -> None:
        counts = self._stats.setdefault(record.operation, {"calls": 0, "2xx": 0, "429": 0, "4xx": 0, "5xx": 0})
        counts["calls"] += 1
        outcome = "429" if record.status == 429 else f"{record.status // 100}xx"
        if outcome in counts:
            counts[outcome] += 1
        self._log.append(record)

    def records(self) -> list[RequestRecord]:
        return list(self._log)

    def stats(self) -> dict[str, dict[str, int]]:
        return copy.deepcopy(self._stats)

    def clear(self) -> None:
        self._log.clear()
        self._stats.clear()


class Faults:
    """What the next calls of an operation get instead of their answer (tests inject them)."""

    def __init__(self) -> None:
        self._next: dict[str, deque[tuple[int | str, bool]]] = defaultdict(deque)
        self._share: dict[str, tuple[int | str, float, random.Random]] = {}

    def add(self, operation: str, faults: Iterable[int | str], with_error_body: bool) -> None:
        for fault in faults:
            if isinstance(fault, str) and fault not in (APPLY_THEN_DROP, APPLY_THEN_500):
                raise ValueError(f"unknown fault {fault!r}")
            self._next[operation].append((fault if isinstance(fault, str) else int(fault), with_error_body))

    def add_share(self, operation: str, fault: int | str, share: float, seed: int) -> None:
        """Besides the queued ones, this fault on a share of the calls, drawn reproducibly."""
        if isinstance(fault, str) and fault not in (APPLY_THEN_DROP, APPLY_THEN_500):
            raise ValueError(f"unknown fault {fault!r}")
        self._share[operation] = (fault, share, random.Random(seed))

    def take(self, operation: str) -> tuple[int | str, bool] | None:
        queue = self._next.get(operation)
        if queue:
            return queue.popleft()
        share = self._share.get(operation)
        if share is not None and share[2].random() < share[1]:
            return share[0], True
        return None


def new_id() -> str:
    return str(uuid.uuid4())


def now_s() -> float:
    return time.time()
