"""The base every flow's Amazon adapter stands on: python-amazon-sp-api clients per seller and
region (reused for the container's life), the sellers' credentials from Secrets Manager, the
local simulator's endpoints, and Amazon's errors translated: 429, 5xx and network trouble →
`RetryLater`; a refused or malformed request → `PermanentError`.

Imported only where Amazon is called (task ports): sp_api costs ~0.35 s to import, which
intake never pays.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from sp_api.auth import AccessTokenClient
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import Client, Marketplaces
from sp_api.base.exceptions import (
    SellingApiBadRequestException,
    SellingApiException,
    SellingApiForbiddenException,
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
)

from chalicelib import config
from chalicelib.core import aws
from chalicelib.core.errors import PermanentError, RetryLater
from chalicelib.core.limits import limit_for

_CREDENTIALS_TTL = 300.0

C = TypeVar("C", bound=Client)
T = TypeVar("T")


@cache
def _marketplaces() -> dict[str, Marketplaces]:
    return {m.marketplace_id: m for m in Marketplaces}


@cache
def token_client_class(lwa_endpoint: str | None) -> type[AccessTokenClient]:
    """python-amazon-sp-api's LWA client, pointed at `lwa_endpoint` (the local simulator)."""
    if not lwa_endpoint:
        return AccessTokenClient  # type: ignore[no-any-return]  # sp_api has no type hints: its classes are Any
    parts = urlsplit(lwa_endpoint)

    class LocalAccessTokenClient(AccessTokenClient):
        scheme = f"{parts.scheme}://"
        host = parts.netloc

    return LocalAccessTokenClient


class SecretCredentials:
    """LWA app credentials and each seller's refresh token, from one Secrets Manager secret:
    `{"lwa_app_id": ..., "lwa_client_secret": ..., "sellers": {"<sellerId>": {"refresh_token": ...}}}`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._value: dict[str, Any] | None = None
        self._loaded_at = 0.0

    def _secret(self) -> dict[str, Any]:
        if self._value is None or self._clock() - self._loaded_at > _CREDENTIALS_TTL:
            raw = aws.client("secretsmanager").get_secret_value(SecretId=config.spapi_secret_id())["SecretString"]
            self._value, self._loaded_at = json.loads(raw), self._clock()
        return self._value

    def for_seller(self, seller_id: str) -> dict[str, str]:
        secret = self._secret()
        seller = (secret.get("sellers") or {}).get(seller_id)
        if not seller or not seller.get("refresh_token"):
            raise PermanentError(f"no SP-API refresh token stored for seller {seller_id} (see README: add a seller)")
        if not secret.get("lwa_app_id") or not secret.get("lwa_client_secret"):
            raise PermanentError("the SP-API secret has no LWA client id/secret (see README: connect to Amazon)")
        return {"refresh_token": seller["refresh_token"], "lwa_app_id": secret["lwa_app_id"],
                "lwa_client_secret": secret["lwa_client_secret"]}


def _reason(exc: SellingApiException) -> str:
    errors = exc.error if isinstance(getattr(exc, "error", None), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return f"{first.get('code', type(exc).__name__)}: {first.get('message', '')}".strip(": ")


class SpApi:
    """Clients for one seller and one of Amazon's APIs, and calls with Amazon's errors translated."""

    def __init__(self, credentials: SecretCredentials | None = None):
        self._credentials = credentials or SecretCredentials()
        self._clients: dict[tuple[Any, ...], Client] = {}

    def client(self, api: type[C], seller_id: str, marketplace_id: str | None) -> C:
        """One client per API, seller, region and credentials, kept for the container's life:
        building one costs two HTTP clients and a certificate store (~60 ms), and reuse keeps
        connections."""
        marketplace = _marketplaces().get(marketplace_id or "", Marketplaces.DE)
        credentials = self._credentials.for_seller(seller_id)
        key = (api, seller_id, marketplace.endpoint, tuple(sorted(credentials.items())), config.spapi_endpoint())
        client = self._clients.get(key)
        if client is None:
            client = api(
                marketplace,
                credentials=credentials,
                refresh_token=credentials["refresh_token"],
                auth_token_client_class=token_client_class(config.lwa_endpoint()),
                timeout=10,
            )
            if config.spapi_endpoint():
                client.endpoint = config.spapi_endpoint()
            self._clients[key] = client
        client.marketplace_id = marketplace.marketplace_id
        return client  # type: ignore[no-any-return]  # sp_api has no type hints: Client is Any (this is an `api`)

    @staticmethod
    def call(operation: str, seller_id: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except SellingApiRequestThrottledException:
            raise RetryLater(f"Amazon throttled {operation}",
                             delay_seconds=limit_for(operation, config.rate_scale()).interval) from None
        except SellingApiNotFoundException as exc:
            raise PermanentError(f"{operation}: Amazon does not know it ({_reason(exc)})") from None
        except SellingApiForbiddenException as exc:
            raise PermanentError(f"{operation}: Amazon refused access for seller {seller_id} ({_reason(exc)}); "
                                 "check the app's roles and the seller's authorization") from None
        except SellingApiBadRequestException as exc:
            raise PermanentError(f"{operation}: Amazon rejected the request ({_reason(exc)})") from None
        except SellingApiException as exc:  # 5xx, gateway timeouts
            raise RetryLater(f"Amazon failed {operation} ({_reason(exc)})", delay_seconds=30) from None
        except AuthorizationError as exc:
            if getattr(exc, "status_code", 500) in (400, 401, 403):
                raise PermanentError(f"LWA refused the credentials of seller {seller_id}: {exc.args[0]}") from None
            raise RetryLater(f"LWA token call failed for seller {seller_id}", delay_seconds=30) from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise RetryLater(f"{operation}: network error talking to Amazon ({type(exc).__name__})",
                             delay_seconds=10) from None


def feed_document_text(spapi: SpApi, client: Any, seller_id: str, document_id: str, what: str) -> str:
    """A feed's processing report as text (python-amazon-sp-api un-gzips it), through getFeedDocument;
    the download's network trouble is a RetryLater naming `what`."""
    def read() -> str:
        try:
            return str(client.get_feed_document(document_id))
        except httpx.HTTPError as exc:
            raise RetryLater(f"{what} could not be read ({type(exc).__name__})", delay_seconds=10) from None

    return spapi.call("getFeedDocument", seller_id, read)
