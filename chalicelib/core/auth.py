"""Who may call the API: the bearer token, checked by the authorizer.

- The deployment's root token: its SHA-256 is compared, in constant time, with the hash stored
  as an SSM SecureString (the token itself is stored nowhere). It has every scope.
- A named token (`so_<id>_<secret>`, core/tokens.py): its record in the state table holds the
  hash of its secret, compared in constant time, its scopes and its sellers. Its last use is
  noted; a revoked token is refused.

The authorizer's answer lists exactly the routes the token's scopes allow (API Gateway refuses
the others with 403 before any view runs) and hands the token's name, scopes and sellers to the
views (`principal`). API Gateway caches the answer for AUTHORIZER_TTL_SECONDS per token, which
is also how long a revoked token may still be honoured.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from chalicelib import config
from chalicelib.core import aws
from chalicelib.core.times import now
from chalicelib.core.tokens import NOBODY, ROOT, Principal, matches, parse, secret_hash

AUTHORIZER_TTL_SECONDS = 60
_CACHE_SECONDS = 60.0
_cached: tuple[float, str] | None = None


def token_hash(token: str) -> str:
    return secret_hash(token)


def _stored_hash() -> str:
    global _cached
    moment = time.monotonic()
    if _cached is None or moment - _cached[0] > _CACHE_SECONDS:
        value = aws.client("ssm").get_parameter(Name=config.api_token_hash_parameter(), WithDecryption=True)
        _cached = (moment, str(value["Parameter"]["Value"]).strip())
    return _cached[1]


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def principal_of(authorization: str | None) -> Principal | None:
    """The caller a bearer token names, or None when it names nobody."""
    token = bearer(authorization)
    if token is None or len(token) > 200:
        return None
    named = parse(token)
    if named is None:
        return ROOT if matches(token, _stored_hash()) else None
    token_id, secret = named
    from chalicelib.core import wiring

    record = wiring.state().token(token_id)
    if record is None or not record.active or not matches(secret, record.secret_hash):
        return None
    try:
        wiring.state().touch_token(token_id, now())
    except Exception:  # noqa: BLE001 - a lost last-used time must not refuse a valid token
        from chalicelib.core.observability import logger

        logger().warning("could not note a token's use", extra={"token": record.name})
    return record.principal()


def is_valid(authorization: str | None) -> bool:
    return principal_of(authorization) is not None


def allowed_routes(principal: Principal, routes: Iterable[Any]) -> list[tuple[str, str]]:
    """(path, method) of every route the principal's scopes allow, a path parameter written `*`
    as the authorizer's policy matches the request's actual path (/orders/{order_id} → /orders/*)."""
    return [(re.sub(r"\{[^}/]+\}", "*", r.path), r.method) for r in routes if r.needs_token and principal.may(r.scope)]


def principal(request: Any) -> Principal:
    """The caller of a request, from the authorizer's context; nobody (no scope, no seller)
    when no authorizer ran, as on the open routes."""
    context = (getattr(request, "context", None) or {}).get("authorizer")
    if not isinstance(context, dict) or "scopes" not in context:
        return NOBODY
    return Principal.from_context(context)


def served_sellers(request: Any) -> list[str]:
    """The sellers this deployment serves that the request's caller may see: any other is a
    404, as an unknown one is, so a token limited to some sellers cannot tell which others exist."""
    from chalicelib.core import wiring

    who = principal(request)
    return [s["seller_id"] for s in wiring.state().sellers() if who.may_see(s["seller_id"])]


def forget() -> None:
    global _cached
    _cached = None
