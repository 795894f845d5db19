"""The Finances API 2024-06-19 `listTransactions` over the world's transactions.

A world's `transactions` are `[{"sellerId", "transaction": <a Finances 2024-06-19 Transaction>}]`:
what Amazon posted for the seller's orders (refunds among them). Amazon announced each with a
TRANSACTION_UPDATE notification when it was posted (the scenario's notifications carry them);
transactions added while the simulator runs (`post`) are notified then.

Filters as the model names them: postedAfter (required by Amazon, at most 2 years back),
postedBefore, marketplaceId, transactionStatus, relatedIdentifierName with
relatedIdentifierValue (ORDER_ID, ...), and a nextToken for pages of PAGE_SIZE.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from infra.local.amazon.core import Api, Caller, InvalidInput, Reply, one, parse_time

if TYPE_CHECKING:
    from infra.local.amazon import Simulator

MODEL = "finances_2024-06-19.json"
PAGE_SIZE = 10


def _order_ids(transaction: Mapping[str, Any]) -> set[str]:
    return {str(r.get("relatedIdentifierValue")) for r in transaction.get("relatedIdentifiers") or []
            if str(r.get("relatedIdentifierName", "")).upper() in ("ORDER_ID", "ORDERID")}


def notification_of(seller_id: str, transaction: Mapping[str, Any]) -> dict[str, Any]:
    """The TRANSACTION_UPDATE payload Amazon pushes for a posted transaction (PascalCase)."""
    marketplace = (transaction.get("marketplaceDetails") or {}).get("marketplaceId")
    total = transaction.get("totalAmount") or {}
    return {"TransactionUpdateNotification": {
        "SellingPartnerMetadata": {"SellingPartnerId": seller_id, "MarketplaceId": marketplace,
                                   "AccountType": "PAYABLE"},
        "RelatedIdentifiers": [{"RelatedIdentifierName": "OrderId", "RelatedIdentifierValue": order_id}
                               for order_id in sorted(_order_ids(transaction))],
        "TransactionType": transaction.get("transactionType"),
        "TransactionId": transaction.get("transactionId"),
        "PostedDate": transaction.get("postedDate"),
        "TotalAmount": {"CurrencyAmount": total.get("currencyAmount"), "CurrencyCode": total.get("currencyCode")}}}


def _moment(value: Any) -> datetime:
    """A date-time parameter (already parsed by the model's format, or still text)."""
    return value if isinstance(value, datetime) else parse_time(str(value))


class FinancesApi(Api):
    name = "finances"
    models = (MODEL,)

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.transactions: list[tuple[str, dict[str, Any]]] = []

    def load_world(self, world: Mapping[str, Any]) -> None:
        found = []
        for index, entry in enumerate(world.get("transactions") or []):
            transaction = entry.get("transaction")
            if not entry.get("sellerId") or not isinstance(transaction, Mapping) or not transaction.get("postedDate"):
                raise ValueError(f"transactions[{index}]: a sellerId and a transaction with its postedDate are needed")
            found.append((str(entry["sellerId"]), copy.deepcopy(dict(transaction))))
        self.transactions = found

    def handlers(self) -> dict[str, Callable[[Caller, dict[str, Any]], Reply]]:
        return {"listTransactions": self._list}

    def views(self) -> dict[str, Callable[[Mapping[str, list[str]]], Any]]:
        return {"transactions": self._view}

    def post(self, seller_id: str, transaction: Mapping[str, Any]) -> None:
        """Amazon posts a transaction now (tests): listed from now on, and notified."""
        with self.simulator.lock:
            self.transactions.append((seller_id, copy.deepcopy(dict(transaction))))
        self.simulator.notifications.push(seller_id, "TRANSACTION_UPDATE", notification_of(seller_id, transaction))

    def _list(self, caller: Caller, params: dict[str, Any]) -> Reply:
        now = datetime.now(UTC)
        if not params.get("postedAfter") and not params.get("nextToken"):
            raise InvalidInput("postedAfter is required.")
        after = _moment(params["postedAfter"]) if params.get("postedAfter") else now - timedelta(days=730)
        before = _moment(params["postedBefore"]) if params.get("postedBefore") else now
        if after < now - timedelta(days=730):
            raise InvalidInput("postedAfter can be at most 2 years ago.")
        if before < after:
            raise InvalidInput("postedBefore must be after postedAfter.")
        name = str(params.get("relatedIdentifierName") or "").upper()
        value = params.get("relatedIdentifierValue")
        if bool(name) != bool(value):
            raise InvalidInput("relatedIdentifierName and relatedIdentifierValue go together.")
        found = [t for seller, t in self.transactions
                 if caller.may_see(seller) and after <= parse_time(t["postedDate"]) <= before
                 and (not params.get("marketplaceId")
                      or (t.get("marketplaceDetails") or {}).get("marketplaceId") == params["marketplaceId"])
                 and (not params.get("transactionStatus") or t.get("transactionStatus") == params["transactionStatus"])
                 and (not name or any(str(r.get("relatedIdentifierName", "")).upper() == name
                                      and r.get("relatedIdentifierValue") == value
                                      for r in t.get("relatedIdentifiers") or []))]
        found.sort(key=lambda t: (t["postedDate"], str(t.get("transactionId"))))
        start = int(params["nextToken"]) if str(params.get("nextToken") or "").isdigit() else 0
        page = found[start:start + PAGE_SIZE]
        payload: dict[str, Any] = {"transactions": copy.deepcopy(page)}
        if start + PAGE_SIZE < len(found):
            payload["nextToken"] = str(start + PAGE_SIZE)
        return Reply(200, {"payload": payload}, "listTransactions")

    def _view(self, query: Mapping[str, list[str]]) -> Any:
        """The transactions Amazon posted (?sellerId=)."""
        seller_id = one(query, "sellerId")
        with self.simulator.lock:
            return {"transactions": [{"sellerId": s, **copy.deepcopy(t)} for s, t in self.transactions
                                     if seller_id in (None, s)]}
