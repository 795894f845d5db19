"""API tokens, pure: their format, their scopes, and what a holder may call.

A named token is `so_<id>_<secret>`: the id finds its record (pk TOKEN, sk <id> in the state
table), which holds the SHA-256 of the secret (never the secret), its name, its scopes and,
optionally, the sellers it is limited to. The secret's hash is compared in constant time. The
deployment's root token (created by `make deploy`, `SELLEROPS_API_TOKEN` locally) is checked
against the hash in SSM and has every scope for every seller.

Each route names the scope it needs (chalicelib/core/flow.py `Route.scope`); the authorizer
allows a token exactly the routes its scopes cover, and views check its sellers.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ALL = "*"

# Every scope a token can hold. A flow adds its own here when it adds routes that need one.
SCOPES: dict[str, str] = {
    "orders:read": "read orders and their status, money and timeline",
    "failures:read": "read why messages failed (GET /failures)",
    "shipments:write": "record shipments (warehouse systems)",
    "fulfillment:write": "send orders of other channels to Amazon's warehouses, and cancel them (MCF)",
    "stock:read": "read stock balances, states and the ledger",
    "stock:write": "set stock counts, post adjustments, import counts, change a SKU's settings",
    "invoices:read": "read and download invoices and credit notes, and the sellers' invoicing profiles",
    "sellers:write": "set the sellers' invoicing profiles (legal identity, VAT numbers, series)",
    "invoices:write": "send an invoice or credit note to Amazon again",
    "books:read": "read settlements and accounting exports",
    "books:write": "import settlement files and set the account mapping",
}

_TOKEN = re.compile(r"^so_([a-z0-9]{12})_([A-Za-z0-9_-]{32,64})$")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class InvalidScopes(ValueError):
    pass


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> tuple[str, str, str]:
    """(token, its id, the hash of its secret): the token is shown once, the rest is stored."""
    token_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    return f"so_{token_id}_{secret}", token_id, secret_hash(secret)


def parse(token: str) -> tuple[str, str] | None:
    """(id, secret) of a named token, None for anything else (the root token, or garbage)."""
    found = _TOKEN.match(token)
    return (found.group(1), found.group(2)) if found else None


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(secret_hash(secret), stored_hash)


def parse_scopes(text: str | Iterable[str]) -> tuple[str, ...]:
    names = re.split(r"[,\s]+", text) if isinstance(text, str) else list(text)
    scopes = tuple(sorted({n.strip() for n in names if n.strip()}))
    if not scopes:
        raise InvalidScopes(f"name at least one scope: {', '.join(SCOPES)} (or * for all)")
    unknown = [s for s in scopes if s != ALL and s not in SCOPES]
    if unknown:
        raise InvalidScopes(f"unknown scope(s) {', '.join(unknown)}; scopes are {', '.join(SCOPES)} (or * for all)")
    return scopes


@dataclass(frozen=True)
class Principal:
    """Who calls: a token's name, scopes and sellers (None: every seller)."""

    name: str
    scopes: tuple[str, ...]
    sellers: tuple[str, ...] | None = None
    token_id: str | None = None

    def may(self, scope: str | None) -> bool:
        return scope is None or ALL in self.scopes or scope in self.scopes

    def may_see(self, seller_id: str) -> bool:
        return self.sellers is None or seller_id in self.sellers

    def context(self) -> dict[str, str]:
        """What the authorizer hands to the views (API Gateway passes strings only)."""
        return {"tokenName": self.name, "tokenId": self.token_id or "", "scopes": " ".join(self.scopes),
                "sellers": ALL if self.sellers is None else " ".join(self.sellers)}

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None) -> Principal:
        context = context or {}
        scopes = tuple(str(context.get("scopes") or "").split())
        sellers_text = str(context.get("sellers") or "")
        sellers = None if sellers_text == ALL else tuple(sellers_text.split())
        return cls(str(context.get("tokenName") or ""), scopes, sellers, str(context.get("tokenId") or "") or None)


ROOT = Principal("root", (ALL,), None)
NOBODY = Principal("", (), ())


@dataclass(frozen=True)
class TokenRecord:
    token_id: str
    name: str
    secret_hash: str
    scopes: tuple[str, ...]
    sellers: tuple[str, ...] | None
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def principal(self) -> Principal:
        return Principal(self.name, self.scopes, self.sellers, self.token_id)
