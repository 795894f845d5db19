"""The invoices flow's calls to Amazon: the Feeds API 2021-06-30 (UPLOAD_VAT_INVOICE: a feed
document with the PDF, the feed, its processing report) and the Finances API 2024-06-19
(listTransactions, for refunds), through the shared SP-API base.

python-amazon-sp-api puts the PDF to the document's URL and reads (and un-gzips) the report
with its own HTTP client; network trouble there is a RetryLater like any other.
"""
from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import httpx
from sp_api.api import FeedsV20210630, FinancesV20240619

from chalicelib.core.errors import RetryLater
from chalicelib.core.spapi import SpApi, feed_document_text
from chalicelib.core.times import iso_seconds
from chalicelib.flows.invoices.upload import FEED_TYPE


class SpApiInvoices:
    def __init__(self, spapi: SpApi | None = None):
        self._spapi = spapi or SpApi()

    def _feeds(self, seller_id: str, marketplace_id: str | None) -> Any:
        return self._spapi.client(FeedsV20210630, seller_id, marketplace_id)

    def upload_document(self, seller_id: str, marketplace_id: str | None, pdf: bytes) -> str:
        """createFeedDocument, then the PUT of the PDF to its URL: the document's id."""
        client = self._feeds(seller_id, marketplace_id)

        def create() -> Any:
            try:
                return client.create_feed_document(io.BytesIO(pdf), "application/pdf")
            except httpx.HTTPError as exc:  # the PUT to the document's URL
                raise RetryLater(f"the PDF could not be put to Amazon's feed document ({type(exc).__name__})",
                                 delay_seconds=10) from None

        response = self._spapi.call("createFeedDocument", seller_id, create)
        return str(response.payload["feedDocumentId"])

    def create_feed(self, seller_id: str, marketplace_id: str, document_id: str, options: dict[str, str]) -> str:
        client = self._feeds(seller_id, marketplace_id)
        response = self._spapi.call("createFeed", seller_id, lambda: client.create_feed(
            FEED_TYPE, document_id, marketplaceIds=[marketplace_id], feedOptions=options))
        return str(response.payload["feedId"])

    def recent_feeds(self, seller_id: str, marketplace_id: str, since: datetime) -> list[dict[str, Any]]:
        """The seller's UPLOAD_VAT_INVOICE feeds created since `since` (one page, the latest first)."""
        client = self._feeds(seller_id, marketplace_id)
        response = self._spapi.call("getFeeds", seller_id, lambda: client.get_feeds(
            feedTypes=[FEED_TYPE], marketplaceIds=[marketplace_id], createdSince=iso_seconds(since), pageSize=100))
        return list((response.payload or {}).get("feeds") or [])

    def feed(self, seller_id: str, marketplace_id: str | None, feed_id: str) -> dict[str, Any]:
        client = self._feeds(seller_id, marketplace_id)
        response = self._spapi.call("getFeed", seller_id, lambda: client.get_feed(feed_id))
        return dict(response.payload or {})

    def report(self, seller_id: str, marketplace_id: str | None, document_id: str) -> str:
        """A feed's processing report, as text (un-gzipped when Amazon compressed it)."""
        return feed_document_text(self._spapi, self._feeds(seller_id, marketplace_id), seller_id, document_id,
                                  "the processing report")

    def transactions(self, seller_id: str, marketplace_id: str | None, order_id: str, posted_after: datetime,
                     next_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the order's transactions posted after `posted_after`."""
        client = self._spapi.client(FinancesV20240619, seller_id, marketplace_id)
        params: dict[str, Any] = {"postedAfter": iso_seconds(posted_after), "relatedIdentifierName": "ORDER_ID",
                                  "relatedIdentifierValue": order_id}
        if next_token:
            params["nextToken"] = next_token
        response = self._spapi.call("listTransactions", seller_id, lambda: client.list_transactions(**params))
        payload = response.payload or {}
        return list(payload.get("transactions") or []), payload.get("nextToken")
