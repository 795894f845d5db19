"""Page tokens: opaque, tamper-proof, and good only for the query that produced them.

A list's `nextToken` carries where the next page starts (a DynamoDB key, or a cursor per queue)
sealed with AES-GCM under the deployment's page-token key (an SSM SecureString, created by
`make deploy`). What it is bound to (the route, the seller, every filter) is the cipher's
associated data, so the same token with other filters fails to open; anything that was not
sealed by this deployment fails too; both are a 400, never a 500. Tokens last a day. Nothing of
the table's keys or values can be read from one.
"""
from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Mapping
from typing import Any

from chalicelib import config
from chalicelib.core import aws
from chalicelib.core.http import BadRequest

LIFETIME_SECONDS = 24 * 3600
_CACHE_SECONDS = 300.0
_cached: tuple[float, bytes] | None = None


def _key() -> bytes:
    global _cached
    moment = time.monotonic()
    if _cached is None or moment - _cached[0] > _CACHE_SECONDS:
        value = aws.client("ssm").get_parameter(Name=config.page_token_key_parameter(), WithDecryption=True)
        _cached = (moment, base64.b64decode(str(value["Parameter"]["Value"])))
    return _cached[1]


def forget() -> None:
    global _cached
    _cached = None


def new_key() -> str:
    """A fresh key, as the SSM parameter stores it (base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(32)).decode()


def _binding(bound_to: Mapping[str, Any]) -> bytes:
    return json.dumps(bound_to, sort_keys=True, separators=(",", ":"), default=str).encode()


def seal(position: Any, bound_to: Mapping[str, Any]) -> str | None:
    """A token for `position` (None: there is no next page), good only with `bound_to`."""
    if position is None:
        return None
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    plaintext = json.dumps({"p": position, "t": int(time.time())}, separators=(",", ":")).encode()
    sealed = AESGCM(_key()).encrypt(nonce, plaintext, _binding(bound_to))
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_(token: str | None, bound_to: Mapping[str, Any]) -> Any:
    """The position a token holds, or None without a token; BadRequest for any other token."""
    if token is None:
        return None
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    refused = BadRequest("nextToken is not one this API returned for this query: repeat the first request's "
                         "parameters, or start again without nextToken")
    if len(token) > 4096:
        raise refused
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        plaintext = AESGCM(_key()).decrypt(raw[:12], raw[12:], _binding(bound_to))
        content = json.loads(plaintext)
    except (ValueError, InvalidTag, TypeError):
        raise refused from None
    if not isinstance(content, dict) or "p" not in content or not isinstance(content.get("t"), int):
        raise refused
    if time.time() - content["t"] > LIFETIME_SECONDS:
        raise BadRequest("nextToken has expired (page tokens last a day): start again without nextToken")
    return content["p"]
