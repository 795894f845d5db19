"""The ports services depend on. Adapters implement them; tests pass in-memory fakes."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.orders import Order, OrderChange, OrderDetails, OrderStatus, TimelineEntry


class Applied(Protocol):
    order: Order
    created: bool
    details_status: OrderStatus | None


class OrderRepository(Protocol):
    def apply_change(self, change: OrderChange, now: datetime) -> Applied | None: ...
    def get(self, order_id: str, *, consistent: bool = False) -> tuple[Order, OrderStatus | None, frozenset[str]] | None: ...
    def add_to_timeline(self, order_id: str, entry: TimelineEntry) -> bool: ...
    def save_details(self, order_id: str, details: OrderDetails) -> bool: ...


class TaskQueue(Protocol):
    def enqueue(self, task: dict[str, Any], delay: float = 0) -> None: ...


class BuyerDataStore(Protocol):
    def save(self, seller_id: str, order_id: str, personal: dict[str, Any], as_of: datetime,
             expires_at: datetime) -> None: ...


class RateLimiter(Protocol):
    def reserve(self, seller_id: str, operation: str) -> float: ...
    def lateness_allowed(self, operation: str) -> float: ...


class AmazonOrders(Protocol):
    def get_order(self, seller_id: str, marketplace_id: str | None, order_id: str, included_data) -> dict[str, Any]: ...
    def search_orders(self, seller_id: str, marketplace_id: str, last_updated_after: datetime,
                      next_token: str | None = None) -> tuple[list[dict[str, Any]], str | None, str | None]: ...


class PollState(Protocol):
    def watermark(self, seller_id: str, marketplace_id: str) -> datetime | None: ...
    def set_watermark(self, seller_id: str, marketplace_id: str, value: datetime) -> None: ...
    def sellers(self) -> list[dict[str, Any]]: ...
