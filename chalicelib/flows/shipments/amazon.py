"""The shipments flow's calls to Amazon (python-amazon-sp-api, through the shared SP-API base):
Orders API v0 `confirmShipment`, and the order's packages from v2026-01-01 `getOrder`, which
tells after a timeout whether a confirmation took effect."""
from __future__ import annotations

from typing import Any

from sp_api.api import OrdersV0, OrdersV20260101

from chalicelib.core.spapi import SpApi


class SpApiShipments:
    def __init__(self, spapi: SpApi | None = None):
        self._spapi = spapi or SpApi()

    def confirm_shipment(self, seller_id: str, marketplace_id: str | None, order_id: str,
                         body: dict[str, Any]) -> None:
        client = self._spapi.client(OrdersV0, seller_id, marketplace_id)
        self._spapi.call("confirmShipment", seller_id, lambda: client.confirm_shipment(order_id, **body))

    def package_references(self, seller_id: str, marketplace_id: str | None, order_id: str) -> set[str]:
        client = self._spapi.client(OrdersV20260101, seller_id, marketplace_id)
        found = self._spapi.call("getOrder", seller_id,
                                 lambda: client.get_order(order_id, includedData=["PACKAGES"]))
        order = found.payload.get("order") if isinstance(found.payload, dict) else None
        packages = (order or {}).get("packages") or []
        return {str(p.get("packageReferenceId")) for p in packages if isinstance(p, dict)}
