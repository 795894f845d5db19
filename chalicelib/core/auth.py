"""Bearer-token check for the API: the token's SHA-256 is compared, in constant time, with
the hash stored as an SSM SecureString (the token itself is stored nowhere)."""
from __future__ import annotations

import hashlib
import hmac
import time

from chalicelib import config
from chalicelib.core import aws

_CACHE_SECONDS = 60.0
_cached: tuple[float, str] | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _stored_hash() -> str:
    global _cached
    now = time.monotonic()
    if _cached is None or now - _cached[0] > _CACHE_SECONDS:
        value = aws.client("ssm").get_parameter(Name=config.api_token_hash_parameter(), WithDecryption=True)
        _cached = (now, value["Parameter"]["Value"].strip())
    return _cached[1]


def is_valid(authorization: str | None) -> bool:
    if not authorization:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    return hmac.compare_digest(token_hash(token.strip()), _stored_hash())


def forget() -> None:
    global _cached
    _cached = None
