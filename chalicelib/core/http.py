"""The HTTPS edge, shared by every flow's views: one error shape, typed errors mapped to it once.

Views raise `HttpError` (or a subclass); `respond` turns it, and a `PermanentError` from a store
(a page token it cannot read), into `{"error": ..., "message": ...}` with its status.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.core.errors import PermanentError


class HttpError(Exception):
    status = 500
    code = "InternalError"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(HttpError, ValueError):
    """A request parameter is wrong; the message says which and why (HTTP 400)."""

    status, code = 400, "BadRequest"


class NotFound(HttpError):
    status, code = 404, "NotFound"


def error(status: int, code: str, message: str) -> Response:
    return Response(body={"error": code, "message": message}, status_code=status,
                    headers={"Content-Type": "application/json"})


def respond(view: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return view(*args, **kwargs)
    except HttpError as exc:
        return error(exc.status, exc.code, exc.message)
    except PermanentError as exc:
        return error(400, "BadRequest", exc.reason)


def query(request: Any) -> dict[str, str]:
    return dict(getattr(request, "query_params", None) or {})
