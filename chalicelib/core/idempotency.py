"""Write requests are safe to retry: a client may send an `Idempotency-Key` header; the same key
with the same body gets the same answer (the first one, replayed), the same key with another
body is a 409, and a request still being answered under that key is a 409 too. A request that
fails (any error) releases its key: nothing was written, it may be sent again. Keys are kept a
day, per token."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from chalice import Response

from chalicelib.core.http import BadRequest, Conflict
from chalicelib.core.times import now

KEEP = timedelta(days=1)
_KEY = re.compile(r"^[A-Za-z0-9._:~-]{1,128}$")


class RequestLedger(Protocol):
    def claim_request(self, caller: str, name: str, fingerprint: str, at: Any,
                      keep: timedelta) -> dict[str, Any] | None: ...
    def answer_request(self, caller: str, name: str, fingerprint: str, answer: dict[str, Any]) -> None: ...
    def release_request(self, caller: str, name: str) -> None: ...


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def once(ledger: RequestLedger, caller: str, route: str, key: str, print_: str,
         answer: Callable[[], Response]) -> Response:
    """The answer to a request sent with an Idempotency-Key: computed once, then replayed."""
    if not _KEY.match(key):
        raise BadRequest("Idempotency-Key must be 1 to 128 letters, digits or . _ : ~ -")
    name = f"{route}#{key}"
    existing = ledger.claim_request(caller, name, print_, now(), KEEP)
    if existing is not None:
        if existing.get("fingerprint") != print_:
            raise Conflict("this Idempotency-Key was used for another request; use a new key for a new request")
        stored = existing.get("answer")
        if not stored:
            raise Conflict("a request with this Idempotency-Key is still being answered; try again in a moment")
        return Response(body=stored["body"], status_code=int(stored["status"]),
                        headers={**stored.get("headers", {}), "Idempotent-Replayed": "true"})
    try:
        response = answer()
    except BaseException:
        ledger.release_request(caller, name)
        raise
    if response.status_code >= 400:
        ledger.release_request(caller, name)  # nothing was written: the key may be used again
    else:
        ledger.answer_request(caller, name, print_, {"status": response.status_code, "body": response.body,
                                                    "headers": dict(response.headers or {})})
    return response
