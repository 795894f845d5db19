"""Write requests are safe to retry: a client may send an `Idempotency-Key` header; the same key
with the same request (method, route, path parameters, query, body) gets the same answer (the
first one, replayed), the same key with another request is a 409, and a request still being
answered under that key is a 409 too. A request that fails (any error) releases its key:
nothing was written, it may be sent again. Keys are kept a day, per token.

The route's checks (scope, body size and schema) run before a key is claimed (chalicelib/
handlers.py), so a refused request writes nothing at all. Each claim has an owner: only the
request that claimed a key answers or releases it; a claim whose request died lapses after the
ledger's lease (longer than the function's timeout).
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Protocol

from chalice import Response

from chalicelib.core.http import BadRequest, Conflict
from chalicelib.core.times import now

KEEP = timedelta(days=1)
MAX_STORED_ANSWER = 64 * 1024  # bytes of JSON: a larger answer is not kept (see `once`)
_KEY = re.compile(r"[A-Za-z0-9._:~-]{1,128}")


class RequestLedger(Protocol):
    def claim_request(self, caller: str, name: str, fingerprint: str, at: Any, keep: timedelta,
                      owner: str) -> dict[str, Any] | None: ...
    def answer_request(self, caller: str, name: str, fingerprint: str, answer: dict[str, Any], owner: str) -> None: ...
    def release_request(self, caller: str, name: str, owner: str) -> None: ...


def fingerprint(method: str, route: str, uri_params: Mapping[str, Any], query: Mapping[str, Any], body: bytes) -> str:
    request = json.dumps([method, route, dict(uri_params), dict(query)], sort_keys=True, default=str)
    return hashlib.sha256(request.encode() + b"\n" + body).hexdigest()


def once(ledger: RequestLedger, caller: str, route: str, key: str, print_: str,
         answer: Callable[[], Response]) -> Response:
    """The answer to a request sent with an Idempotency-Key: computed once, then replayed."""
    if not _KEY.fullmatch(key):
        raise BadRequest("Idempotency-Key must be 1 to 128 letters, digits or . _ : ~ -")
    name, owner = f"{route}#{key}", uuid.uuid4().hex
    existing = ledger.claim_request(caller, name, print_, now(), KEEP, owner)
    if existing is not None:
        if existing.get("fingerprint") != print_:
            raise Conflict("this Idempotency-Key was used for another request; use a new key for a new request")
        stored = existing.get("answer")
        if not stored:
            raise Conflict("a request with this Idempotency-Key is still being answered; try again in a moment")
        if stored.get("body") is None and stored.get("tooLarge"):
            raise Conflict("this request was answered, with an answer too large to keep; read the result "
                           "back instead of sending the request again")
        return Response(body=stored["body"], status_code=int(stored["status"]),
                        headers={**stored.get("headers", {}), "Idempotent-Replayed": "true"})
    try:
        response = answer()
    except BaseException:
        ledger.release_request(caller, name, owner)
        raise
    if response.status_code >= 400:
        ledger.release_request(caller, name, owner)  # nothing was written: the key may be used again
        return response
    kept: dict[str, Any] = {"status": response.status_code, "body": response.body,
                            "headers": dict(response.headers or {})}
    if len(json.dumps(kept, default=str)) > MAX_STORED_ANSWER:
        kept = {"status": response.status_code, "body": None, "tooLarge": True, "headers": {}}
    try:
        ledger.answer_request(caller, name, print_, kept, owner)
    except Exception as exc:  # noqa: BLE001 - the write happened: its answer is still the caller's
        from chalicelib.core.observability import logger

        logger().warning("an idempotent answer could not be kept", extra={"route": route, "error": type(exc).__name__})
    return response
