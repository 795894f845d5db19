"""The fulfillment flow's calls to Amazon: Fulfillment Outbound API 2020-07-01
(python-amazon-sp-api's FulfillmentOutbound), through the shared SP-API base."""
from __future__ import annotations

from typing import Any

from sp_api.api import FulfillmentOutbound
from sp_api.base import SellingApiNotFoundException

from chalicelib.core.spapi import SpApi


class SpApiFulfillment:
    def __init__(self, spapi: SpApi | None = None):
        self._spapi = spapi or SpApi()

    def create(self, seller_id: str, marketplace_id: str, body: dict[str, Any]) -> None:
        client = self._spapi.client(FulfillmentOutbound, seller_id, marketplace_id)
        self._spapi.call("createFulfillmentOrder", seller_id, lambda: client.create_fulfillment_order(**body))

    def get(self, seller_id: str, marketplace_id: str, fulfillment_order_id: str) -> dict[str, Any] | None:
        """getFulfillmentOrder's payload, or None when Amazon does not know the order."""
        client = self._spapi.client(FulfillmentOutbound, seller_id, marketplace_id)

        def read() -> Any:
            try:
                return client.get_fulfillment_order(fulfillment_order_id)
            except SellingApiNotFoundException:
                return None

        found = self._spapi.call("getFulfillmentOrder", seller_id, read)
        return found.payload if found is not None and isinstance(found.payload, dict) else None

    def cancel(self, seller_id: str, marketplace_id: str, fulfillment_order_id: str) -> None:
        client = self._spapi.client(FulfillmentOutbound, seller_id, marketplace_id)
        self._spapi.call("cancelFulfillmentOrder", seller_id,
                         lambda: client.cancel_fulfillment_order(fulfillment_order_id))
