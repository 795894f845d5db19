"""The HTTPS edge, shared by every flow's views: one error shape, typed errors mapped to it once.

Every error the API answers is `{"error": <code>, "message": <a sentence>}` (plus `details` where
useful), whoever answers it:
- our views raise `HttpError` (or a subclass); `respond` turns it, a `PermanentError` from a store
  and any other exception into that shape (a bug is a 500 in the same shape, logged by type);
- Chalice's own answers (405, 415, its 500) are rewritten by the `error_shape` middleware;
- API Gateway's own answers (no token, a token the authorizer refused, unknown routes, a body
  too large, ...) are its gateway responses, declared in GATEWAY_RESPONSES and applied by
  infra/deploy.py and infra/package.py (the local server answers the same, infra/local/api.py).
Nothing a caller sent (a token, a header) is ever repeated in an answer.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalice import Response

from chalicelib.core.errors import PermanentError, RetryLater
from chalicelib.core.openapi import DATE_TIME_FILTER, ORDER_ID, SELLER_ID
from chalicelib.core.times import iso

JSON = {"Content-Type": "application/json"}


class HttpError(Exception):
    status = 500
    code = "InternalError"

    def __init__(self, message: str, details: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})


class BadRequest(HttpError, ValueError):
    """A request parameter is wrong; the message says which and why (HTTP 400)."""

    status, code = 400, "BadRequest"


class Forbidden(HttpError):
    status, code = 403, "Forbidden"


class NotFound(HttpError):
    status, code = 404, "NotFound"


class MethodNotAllowed(HttpError):
    status, code = 405, "MethodNotAllowed"


class Conflict(HttpError):
    status, code = 409, "Conflict"


class PayloadTooLarge(HttpError):
    status, code = 413, "PayloadTooLarge"


class UnsupportedMediaType(HttpError):
    status, code = 415, "UnsupportedMediaType"


def error(status: int, code: str, message: str, details: Mapping[str, Any] | None = None,
          headers: Mapping[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": code, "message": message}
    if details:
        body["details"] = dict(details)
    return Response(body=body, status_code=status, headers={**JSON, **(headers or {})})


def respond(view: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A view's answer; any failure in the one shape, never a traceback."""
    try:
        return view(*args, **kwargs)
    except HttpError as exc:
        return error(exc.status, exc.code, exc.message, exc.details, exc.headers)
    except PermanentError as exc:
        return error(400, "BadRequest", exc.reason)
    except RetryLater as exc:  # several requests changing one record at once
        return error(409, "Conflict", f"{exc.reason}; try again", headers={"Retry-After": str(
            max(1, int(exc.delay_seconds or 1)))})
    except Exception as exc:  # a bug, or an outage of a store: logged by type, never by content
        from chalicelib.core.observability import logger

        logger().error("request failed", extra={"error": type(exc).__name__})
        return error(500, "InternalError", "the request could not be answered; it is logged, try again later")


# --- what Chalice answers itself -------------------------------------------------------------

# Chalice's error codes (its {"Code", "Message"} bodies) → ours, with a message that repeats
# nothing of the request.
_CHALICE_CODES = {
    "MethodNotAllowedError": ("MethodNotAllowed",
                              "this route does not take that method; the Allow header lists those it takes"),
    "UnsupportedMediaType": ("UnsupportedMediaType", "send the body as application/json"),
    "BadRequestError": ("BadRequest", "the request could not be read"),
    "BadRequest": ("BadRequest", "the request could not be read"),
    "InternalServerError": ("InternalError", "the request could not be answered; it is logged, try again later"),
}


def error_shape(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for the HTTP routes: Chalice's own answers in our shape, and anything
    that escaped (another middleware) a 500 in it."""
    try:
        response = get_response(event)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: logged by type, answered in our shape
        from chalicelib.core.observability import logger

        logger().error("request failed outside a view", extra={"error": type(exc).__name__})
        return error(500, "InternalError", "the request could not be answered; it is logged, try again later")
    body = getattr(response, "body", None)
    if isinstance(body, dict) and "Code" in body and "error" not in body:
        code, message = _CHALICE_CODES.get(str(body.get("Code")), ("BadRequest", "the request could not be read"))
        if response.status_code >= 500:
            code, message = _CHALICE_CODES["InternalServerError"]
        response.body = {"error": code, "message": message}
        response.headers = {**(response.headers or {}), **JSON}
    return response


# --- what API Gateway answers itself (its gateway responses) ---------------------------------

@dataclass(frozen=True)
class GatewayResponse:
    """One of API Gateway's own answers. `status` is the status it answers with; a DEFAULT_*
    type keeps the status of whatever it stands for (`keeps_status`): a status given there
    would rewrite every type not listed (a 403 WAF_FILTERED would become a 400)."""

    kind: str  # API Gateway's response type
    status: int
    code: str
    message: str
    keeps_status: bool = False

    def body(self) -> str:
        return json.dumps({"error": self.code, "message": self.message}, separators=(",", ":"))


GATEWAY_RESPONSES: tuple[GatewayResponse, ...] = (
    GatewayResponse("UNAUTHORIZED", 401, "Unauthorized", "send a bearer token: Authorization: Bearer <token>"),
    GatewayResponse("ACCESS_DENIED", 403, "Forbidden",
                    "this token is not valid, or may not use this route (its scopes or its sellers)"),
    GatewayResponse("MISSING_AUTHENTICATION_TOKEN", 404, "NotFound", "no such route; /openapi.json lists the routes"),
    GatewayResponse("RESOURCE_NOT_FOUND", 404, "NotFound", "no such route; /openapi.json lists the routes"),
    GatewayResponse("REQUEST_TOO_LARGE", 413, "PayloadTooLarge", "the request is too large"),
    GatewayResponse("UNSUPPORTED_MEDIA_TYPE", 415, "UnsupportedMediaType", "send the body as application/json"),
    GatewayResponse("BAD_REQUEST_BODY", 400, "BadRequest", "the request body does not match the route's schema"),
    GatewayResponse("BAD_REQUEST_PARAMETERS", 400, "BadRequest", "a request parameter is missing or invalid"),
    GatewayResponse("INVALID_SIGNATURE", 403, "Forbidden", "this token is not valid"),
    GatewayResponse("EXPIRED_TOKEN", 403, "Forbidden", "this token is not valid"),
    GatewayResponse("THROTTLED", 429, "TooManyRequests", "too many requests: slow down and try again"),
    GatewayResponse("QUOTA_EXCEEDED", 429, "TooManyRequests", "too many requests: slow down and try again"),
    GatewayResponse("AUTHORIZER_FAILURE", 500, "InternalError", "the token could not be checked; try again later"),
    GatewayResponse("AUTHORIZER_CONFIGURATION_ERROR", 500, "InternalError",
                    "the token could not be checked; try again later"),
    GatewayResponse("INTEGRATION_FAILURE", 502, "BadGateway", "the request could not be answered; try again later"),
    GatewayResponse("INTEGRATION_TIMEOUT", 504, "GatewayTimeout", "the request took too long; try again later"),
    GatewayResponse("WAF_FILTERED", 403, "Forbidden", "the request was refused by the firewall"),
    GatewayResponse("API_CONFIGURATION_ERROR", 500, "InternalError",
                    "the request could not be answered; try again later"),
    GatewayResponse("DEFAULT_4XX", 400, "BadRequest", "the request could not be answered as sent", keeps_status=True),
    GatewayResponse("DEFAULT_5XX", 500, "InternalError", "the request could not be answered; try again later",
                    keeps_status=True),
)


def gateway_response(kind: str) -> GatewayResponse:
    for candidate in GATEWAY_RESPONSES:
        if candidate.kind == kind:
            return candidate
    raise KeyError(kind)


# --- reading a request --------------------------------------------------------------------

def query(request: Any) -> dict[str, str]:
    return dict(getattr(request, "query_params", None) or {})


def only(params: Mapping[str, str], allowed: set[str]) -> None:
    """Refuse parameters the route does not know (a typo would otherwise be silently ignored)."""
    unknown = set(params) - allowed
    if unknown:
        raise BadRequest(f"{len(unknown)} query parameter(s) this route does not take; "
                         f"it takes: {', '.join(sorted(allowed))}")


_WHOLE_NUMBER = re.compile(r"0|[1-9][0-9]{0,5}")


def whole_number(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole number written in ASCII digits and nothing else (no sign, space, underscore or
    other script's digits, all of which Python's int() accepts)."""
    text = params.get(name)
    if text is None:
        return default
    if not _WHOLE_NUMBER.fullmatch(text) or not low <= int(text) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return int(text)


_ORDER_ID = re.compile(ORDER_ID["pattern"].strip("^$"))
_SELLER_ID = re.compile(SELLER_ID["pattern"].strip("^$"))


def order_id(value: str | None) -> str:
    """An order id from a path, as the OpenAPI's ORDER_ID pattern writes it."""
    if not _ORDER_ID.fullmatch(value or ""):
        raise BadRequest("orderId must be 5–40 letters, digits or hyphens, like 028-1234567-1234567")
    return str(value)


def is_order_id(value: str) -> bool:
    return bool(_ORDER_ID.fullmatch(value))


def seller_id(params: Mapping[str, str], lists: str, served: Iterable[str]) -> str:
    """The required `sellerId` of a list route: one of `served` (the sellers this deployment
    serves and the caller may see; another is a 404 either way, so a token limited to some
    sellers cannot tell which others exist)."""
    value = params.get("sellerId")
    if not value:
        raise BadRequest(f"sellerId is required: {lists}")
    if not _SELLER_ID.fullmatch(value):
        raise BadRequest("sellerId must be 6 to 32 capital letters and digits, like A2EUQ1WTGCTBG2")
    if value not in set(served):
        raise NotFound(f"no seller {value} is served by this deployment")
    return value


def one_seller(params: Mapping[str, str], served: Iterable[str]) -> str:
    """The `sellerId` of a route where it is optional for a one-seller deployment: the one
    seller when absent (with several, its absence is a conflict with this deployment, not a
    malformed request), else one of `served` (the sellers the caller may see)."""
    served = list(served)
    value = params.get("sellerId")
    if value is None:
        if len(served) == 1:
            return served[0]
        raise Conflict("sellerId is required: this deployment serves more than one seller" if served
                       else "sellerId is required: no seller is served yet")
    if not _SELLER_ID.fullmatch(value):
        raise BadRequest("sellerId must be 6 to 32 capital letters and digits, like A2EUQ1WTGCTBG2")
    if value not in served:
        raise NotFound(f"no seller {value} is served by this deployment")
    return value


# A filter's moment as the OpenAPI's DATE_TIME_FILTER pattern writes it.
_DATE_TIME_FILTER = re.compile(DATE_TIME_FILTER["pattern"].strip("^$"))


def date_time(params: Mapping[str, str], name: str) -> datetime | None:
    """A filter's moment, written as the OpenAPI's pattern says: date, T, time, zone."""
    text = params.get(name)
    if text is None:
        return None
    example = "e.g. 2026-11-01T00:00:00Z"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date-time, {example}") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{name} needs a time zone, {example}")
    try:
        in_range = 2000 <= moment.year <= 2199 and bool(iso(moment))
    except OverflowError:
        in_range = False
    if not in_range:
        raise BadRequest(f"{name} must be a date-time in the years 2000 to 2199, {example}")
    if not _DATE_TIME_FILTER.fullmatch(text):
        raise BadRequest(f"{name} must be an ISO 8601 date-time written in full (YYYY-MM-DDThh:mm:ss and a zone), "
                         f"{example}")
    return moment
