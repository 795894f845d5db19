"""The stock flow's calls to Amazon, through the shared SP-API base: the Listings Items API
2021-08-01 (patchListingsItem of `fulfillment_availability`), the Feeds API 2021-06-30
(JSON_LISTINGS_FEED: its document, the feed, its processing report) and the FBA Inventory API v1
(getInventorySummaries)."""
from __future__ import annotations

import io
from typing import Any

import httpx
from sp_api.api import FeedsV20210630, Inventories, ListingsItems

from chalicelib.core.errors import RetryLater
from chalicelib.core.spapi import SpApi, feed_document_text
from chalicelib.flows.stock.parsing import LISTINGS_FEED, PRODUCT_TYPE, quantity_patch


class SpApiStock:
    def __init__(self, spapi: SpApi | None = None):
        self._spapi = spapi or SpApi()

    def patch_quantity(self, seller_id: str, marketplace_ids: list[str], sku: str, quantity: int) -> dict[str, Any]:
        """The merchant listing's quantity; Amazon's ListingsItemSubmissionResponse."""
        client = self._spapi.client(ListingsItems, seller_id, marketplace_ids[0])
        response = self._spapi.call("patchListingsItem", seller_id, lambda: client.patch_listings_item(
            seller_id, sku, marketplaceIds=",".join(marketplace_ids),
            body={"productType": PRODUCT_TYPE, "patches": quantity_patch(quantity)}))
        return dict(response.payload or {})

    def upload_feed(self, seller_id: str, marketplace_id: str, document: bytes) -> str:
        client = self._spapi.client(FeedsV20210630, seller_id, marketplace_id)

        def create() -> Any:
            try:
                return client.create_feed_document(io.BytesIO(document), "application/json; charset=UTF-8")
            except httpx.HTTPError as exc:
                raise RetryLater(f"the listings feed could not be put to Amazon ({type(exc).__name__})",
                                 delay_seconds=10) from None
            except ValueError:  # the storage refused the PUT with a body that is not JSON (S3's XML)
                raise RetryLater("Amazon's document storage refused the listings feed's upload",
                                 delay_seconds=30) from None

        return str(self._spapi.call("createFeedDocument", seller_id, create).payload["feedDocumentId"])

    def create_feed(self, seller_id: str, marketplace_ids: list[str], document_id: str) -> str:
        client = self._spapi.client(FeedsV20210630, seller_id, marketplace_ids[0])
        response = self._spapi.call("createFeed", seller_id, lambda: client.create_feed(
            LISTINGS_FEED, document_id, marketplaceIds=marketplace_ids))
        return str(response.payload["feedId"])

    def feed_report(self, seller_id: str, marketplace_id: str | None, document_id: str) -> str:
        client = self._spapi.client(FeedsV20210630, seller_id, marketplace_id)
        return feed_document_text(self._spapi, client, seller_id, document_id, "the listings feed's report")

    def inventory_summaries(self, seller_id: str, marketplace_id: str,
                            next_token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        client = self._spapi.client(Inventories, seller_id, marketplace_id)
        params: dict[str, Any] = {"details": True, "granularityType": "Marketplace", "granularityId": marketplace_id,
                                  "marketplaceIds": [marketplace_id]}
        if next_token:
            params["nextToken"] = next_token
        response = self._spapi.call("getInventorySummaries", seller_id,
                                    lambda: client.get_inventory_summary_marketplace(**params))
        payload = response.payload or {}
        return list(payload.get("inventorySummaries") or []), response.next_token
