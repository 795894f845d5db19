"""The settlements flow's calls to Amazon, through the shared SP-API base: the Reports API
2021-06-30 (getReports, getReport, getReportDocument, and the document's download: gzip as
Amazon often serves it)."""
from __future__ import annotations

import gzip
from typing import Any

import httpx
from sp_api.api import ReportsV2

from chalicelib.core.errors import PermanentError, RetryLater
from chalicelib.core.spapi import SpApi
from chalicelib.flows.settlements.parsing import REPORT_TYPE

MAX_DOCUMENT_BYTES = 512 * 1024 * 1024  # far above any settlement (200,000 rows are ~40 MB)


class SpApiSettlements:
    def __init__(self, spapi: SpApi | None = None):
        self._spapi = spapi or SpApi()

    def list_reports(self, seller_id: str, created_since: str,
                     next_token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the seller's settlement reports created since then (Amazon keeps 90 days)."""
        client = self._spapi.client(ReportsV2, seller_id, None)
        params: dict[str, Any] = ({"nextToken": next_token} if next_token else
                                  {"reportTypes": [REPORT_TYPE], "processingStatuses": ["DONE"],
                                   "createdSince": created_since, "pageSize": 100})
        response = self._spapi.call("getReports", seller_id, lambda: client.get_reports(**params))
        payload = response.payload or {}
        reports = payload.get("reports") if isinstance(payload, dict) else None
        # python-amazon-sp-api moves the payload's nextToken to the response.
        token = getattr(response, "next_token", None) or (payload.get("nextToken") if isinstance(payload, dict)
                                                          else None)
        return [dict(r) for r in reports or [] if isinstance(r, dict)], token if isinstance(token, str) else None

    def report(self, seller_id: str, report_id: str) -> dict[str, Any]:
        client = self._spapi.client(ReportsV2, seller_id, None)
        return dict(self._spapi.call("getReport", seller_id, lambda: client.get_report(report_id)).payload or {})

    def document(self, seller_id: str, document_id: str) -> bytes:
        """The report's bytes as Amazon wrote them (decompressed)."""
        client = self._spapi.client(ReportsV2, seller_id, None)
        found = self._spapi.call("getReportDocument", seller_id,
                                 lambda: client.get_report_document(document_id, download=False)).payload or {}
        url, compression = found.get("url"), found.get("compressionAlgorithm")
        if not isinstance(url, str):
            raise PermanentError(f"getReportDocument gave no URL for document {document_id[:60]}")
        try:
            with httpx.Client(timeout=60) as http, http.stream("GET", url) as response:
                if response.status_code in (403, 404):  # Amazon's URL lives 5 minutes: ask for a new one
                    raise RetryLater(f"the report document's URL answered {response.status_code}", delay_seconds=60)
                response.raise_for_status()
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise PermanentError(f"the report document is larger than {MAX_DOCUMENT_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise RetryLater(f"the report document could not be downloaded ({type(exc).__name__})",
                             delay_seconds=30) from None
        if compression == "GZIP":
            try:
                return gzip.decompress(bytes(body))
            except (OSError, EOFError):
                raise RetryLater("the report document's download was not valid gzip (cut short?)",
                                 delay_seconds=60) from None
        return bytes(body)
