"""The Orders API v2026-01-01 calls of the orders flow (getOrder, searchOrders), through the
shared SP-API base (clients per seller and region, Amazon's errors translated)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sp_api.api import OrdersV20260101

from chalicelib.core.errors import RetryLater
from chalicelib.core.spapi import SpApi
from chalicelib.core.times import iso_seconds


class SpApiOrders:
    def __init__(self, spapi: SpApi | None = None):
        self._spapi = spapi or SpApi()

    def get_order(self, seller_id: str, marketplace_id: str | None, order_id: str,
                  included_data: Iterable[str]) -> dict[str, Any]:
        client = self._spapi.client(OrdersV20260101, seller_id, marketplace_id)
        response = self._spapi.call("getOrder", seller_id,
                                    lambda: client.get_order(order_id, includedData=list(included_data)))
        order = response.payload.get("order") if isinstance(response.payload, dict) else None
        if not isinstance(order, dict):
            raise RetryLater("getOrder answered without an order", delay_seconds=30)
        return order

    def search_orders(self, seller_id: str, marketplace_id: str, last_updated_after: datetime,
                      next_token: str | None = None, included_data: Iterable[str] = ("FULFILLMENT",),
                      statuses: Iterable[str] = (), fulfilled_by: str | None = None,
                      ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        """A page of orders updated from `last_updated_after`: the backstop asks for FULFILLMENT
        (the order status; without it searchOrders omits it), the search door for every dataset
        getOrder's details use."""
        client = self._spapi.client(OrdersV20260101, seller_id, marketplace_id)
        params: dict[str, Any] = {"marketplaceIds": [marketplace_id], "maxResultsPerPage": 100,
                                  "includedData": list(included_data)}
        if next_token:
            params["paginationToken"] = next_token
        params["lastUpdatedAfter"] = iso_seconds(last_updated_after)
        if statuses:
            params["fulfillmentStatuses"] = list(statuses)
        if fulfilled_by:
            params["fulfilledBy"] = [fulfilled_by]
        response = self._spapi.call("searchOrders", seller_id, lambda: client.search_orders(**params))
        payload = response.payload if isinstance(response.payload, dict) else {}
        if "orders" not in payload:
            raise RetryLater("searchOrders answered without orders", delay_seconds=60)
        return payload["orders"], response.next_token, payload.get("lastUpdatedBefore")
