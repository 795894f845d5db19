"""Login with Amazon, as SP-API callers meet it: a seller's refresh token (or the application's
client credentials, for grantless operations) exchanged for a one-hour access token."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from infra.local.amazon.core import GRANTLESS, LWA_OPERATION, SELLER, Caller, Operation, Reply

ACCESS_TOKEN_LIFETIME = 3600  # seconds, as LWA
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
# Scopes LWA grants with client_credentials (grantless operations).
GRANTLESS_SCOPES = (NOTIFICATIONS_SCOPE, "sellingpartnerapi::client_credential:rotation")
TOKEN_PATH = "/auth/o2/token"


@dataclass(frozen=True)
class IssuedToken:
    refresh_token: str | None  # None for grantless (client_credentials) tokens
    expires_at: float  # monotonic
    client_id: str = ""
    scope: str | None = None  # grantless tokens only


class Lwa:
    """The token endpoint, and who holds each access token it issued."""

    def __init__(self) -> None:
        self.sellers_by_token: dict[str, str] = {}
        self._tokens: dict[str, IssuedToken] = {}

    def load_world(self, world: Mapping[str, Any]) -> None:
        self.sellers_by_token = {s["refreshToken"]: s["sellerId"] for s in world.get("sellers", [])}

    def add_seller(self, seller_id: str, refresh_token: str) -> None:
        self.sellers_by_token[refresh_token] = seller_id

    def issue(self, body: bytes) -> Reply:
        # parse_qs drops blank values, so an empty field counts as missing, as at LWA
        fields = parse_qs(body.decode("utf-8", "replace"))
        form = {key: values[-1] for key, values in fields.items()}
        grant_type = form.get("grant_type")
        needed = {
            "refresh_token": ("client_id", "client_secret", "refresh_token"),
            "client_credentials": ("client_id", "client_secret", "scope"),
        }
        if grant_type is None:
            return _error("invalid_request", "The request is missing a required parameter : grant_type")
        if grant_type not in needed:
            return _error("unsupported_grant_type",
                          "The authorization grant type is not supported by the authorization server")
        for name in needed[grant_type]:
            if name not in form:
                return _error("invalid_request", f"The request is missing a required parameter : {name}")
        scope = None
        if grant_type == "client_credentials":
            scope = form["scope"]
            if scope not in GRANTLESS_SCOPES:
                return _error("invalid_scope", "An unknown scope was requested")
        refresh_token = form.get("refresh_token") if grant_type == "refresh_token" else None
        access_token = ("Atza|sim-" if refresh_token else "Atc|sim-") + secrets.token_urlsafe(32)
        self._tokens[access_token] = IssuedToken(refresh_token, time.monotonic() + ACCESS_TOKEN_LIFETIME,
                                                 form["client_id"], scope)
        answer: dict[str, Any] = {"access_token": access_token, "token_type": "bearer",
                                  "expires_in": ACCESS_TOKEN_LIFETIME}
        if refresh_token:
            answer["refresh_token"] = refresh_token
        return Reply(200, answer, LWA_OPERATION)

    def authenticate(self, access_token: str | None, operation: Operation,
                     scoped_models: Mapping[str, str]) -> tuple[Caller | None, str]:
        """Who calls, or None and why not. `scoped_models`: model → the grantless scope its
        grantless operations need."""
        issued = self._tokens.get(access_token or "")
        if issued is None:
            return None, ""
        if issued.expires_at < time.monotonic():
            return None, "The access token you provided has expired."
        if issued.refresh_token is None:
            if operation.auth == SELLER:
                return None, "A grantless access token cannot call this operation."
            needed = scoped_models.get(operation.model)
            if needed and issued.scope != needed:
                return None, f"This operation needs a grantless token for {needed}."
            return Caller(None, None, issued.client_id), ""
        if operation.auth == GRANTLESS:
            # Amazon answers a seller's token on a grantless operation with a bare 403.
            return None, ""
        seller_id = self.sellers_by_token.get(issued.refresh_token)
        return Caller(issued.refresh_token, seller_id, issued.client_id), ""


def _error(code: str, description: str) -> Reply:
    return Reply(400, {"error_description": description, "error": code}, LWA_OPERATION)
