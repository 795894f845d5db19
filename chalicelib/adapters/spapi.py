"""Amazon's Selling Partner API through python-amazon-sp-api, with errors translated:
429 and 5xx and network trouble → `RetryLater`; a refused or malformed request → `PermanentError`.

Imported only by the task handler: sp_api costs ~0.35 s to import, which intake never pays.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpx
from sp_api.api import OrdersV20260101
from sp_api.auth import AccessTokenClient
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import Marketplaces
from sp_api.base.exceptions import (
    SellingApiBadRequestException,
    SellingApiException,
    SellingApiForbiddenException,
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
)

from chalicelib import config
from chalicelib.adapters import aws
from chalicelib.domain.limits import limit_for
from chalicelib.domain.orders import iso
from chalicelib.errors import PermanentError, RetryLater

_CREDENTIALS_TTL = 300.0


@cache
def _marketplaces() -> dict[str, Marketplaces]:
    return {m.marketplace_id: m for m in Marketplaces}


@cache
def _token_client_class(lwa_endpoint: str | None) -> type[AccessTokenClient]:
    if not lwa_endpoint:
        return AccessTokenClient
    parts = urlsplit(lwa_endpoint)

    class LocalAccessTokenClient(AccessTokenClient):
        scheme = f"{parts.scheme}://"
        host = parts.netloc

    return LocalAccessTokenClient


class SecretCredentials:
    """LWA app credentials and each seller's refresh token, from one Secrets Manager secret:
    `{"lwa_app_id": ..., "lwa_client_secret": ..., "sellers": {"<sellerId>": {"refresh_token": ...}}}`."""

    def __init__(self, clock=time.monotonic):
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
    first = errors[0] if errors else {}
    return f"{first.get('code', type(exc).__name__)}: {first.get('message', '')}".strip(": ")


class SpApiOrders:
    def __init__(self, credentials: SecretCredentials | None = None):
        self._credentials = credentials or SecretCredentials()
        self._clients: dict[tuple, OrdersV20260101] = {}

    def _client(self, seller_id: str, marketplace_id: str | None) -> OrdersV20260101:
        """One client per seller, region and credentials, kept for the container's life: building
        one costs two HTTP clients and a certificate store (~60 ms), and reuse keeps connections."""
        marketplace = _marketplaces().get(marketplace_id or "", Marketplaces.DE)
        credentials = self._credentials.for_seller(seller_id)
        key = (seller_id, marketplace.endpoint, tuple(sorted(credentials.items())), config.spapi_endpoint())
        client = self._clients.get(key)
        if client is None:
            client = OrdersV20260101(
                marketplace,
                credentials=credentials,
                refresh_token=credentials["refresh_token"],
                auth_token_client_class=_token_client_class(config.lwa_endpoint()),
                timeout=10,
            )
            if config.spapi_endpoint():
                client.endpoint = config.spapi_endpoint()
            self._clients[key] = client
        client.marketplace_id = marketplace.marketplace_id
        return client

    def _call(self, operation: str, seller_id: str, fn):
        try:
            return fn()
        except SellingApiRequestThrottledException:
            raise RetryLater(f"Amazon throttled {operation}", delay_seconds=limit_for(operation, config.rate_scale()).interval)
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
            raise RetryLater(f"{operation}: network error talking to Amazon ({type(exc).__name__})", delay_seconds=10) from None

    def get_order(self, seller_id: str, marketplace_id: str | None, order_id: str, included_data) -> dict[str, Any]:
        client = self._client(seller_id, marketplace_id)
        response = self._call("getOrder", seller_id, lambda: client.get_order(order_id, includedData=list(included_data)))
        order = response.payload.get("order") if isinstance(response.payload, dict) else None
        if not isinstance(order, dict):
            raise RetryLater("getOrder answered without an order", delay_seconds=30)
        return order

    def search_orders(self, seller_id: str, marketplace_id: str, last_updated_after: datetime,
                      next_token: str | None = None) -> tuple[list[dict[str, Any]], str | None, str | None]:
        client = self._client(seller_id, marketplace_id)
        # FULFILLMENT carries the order status; without it searchOrders omits it.
        params: dict[str, Any] = {"marketplaceIds": [marketplace_id], "maxResultsPerPage": 100,
                                  "includedData": ["FULFILLMENT"]}
        if next_token:
            params["paginationToken"] = next_token
        params["lastUpdatedAfter"] = iso(last_updated_after).replace(".000000Z", "Z")
        response = self._call("searchOrders", seller_id, lambda: client.search_orders(**params))
        payload = response.payload if isinstance(response.payload, dict) else {}
        if "orders" not in payload:
            raise RetryLater("searchOrders answered without orders", delay_seconds=60)
        return payload["orders"], response.next_token, payload.get("lastUpdatedBefore")
