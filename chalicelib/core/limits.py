"""SP-API rate limits and the shared limiter's arithmetic (GCRA), pure.

Amazon meters each operation per seller and application with a token bucket: `burst` tokens,
refilled at `rate` per second. GCRA tracks the same bucket with one number, the theoretical
arrival time (TAT) of the next call: a call may go at `slot = max(tat, now) + interval - tolerance`,
where `interval = 1 / rate` and `tolerance = burst * interval`.

Callers *reserve* a slot even when it lies in the future and come back at that time (the task
is re-queued with a delay), so waiting tasks do not poll the bucket and each gets its turn.
"""
from __future__ import annotations

from dataclasses import dataclass

# Amazon's default usage plans, read from the API models: (requests per second, burst).
DEFAULT_LIMITS: dict[str, tuple[float, int]] = {
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "createFulfillmentOrder": (2.0, 30),
    "getFulfillmentOrder": (2.0, 30),
    "cancelFulfillmentOrder": (2.0, 30),
    "patchListingsItem": (5.0, 5),
    "getInventorySummaries": (2.0, 2),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    # UPLOAD_VAT_INVOICE feeds have their own plan: Amazon's documentation allows about one every 3 s.
    "createFeed#UPLOAD_VAT_INVOICE": (1 / 3, 15),
    "getFeed": (2.0, 15),
    "getFeeds": (0.0222, 10),
    "getFeedDocument": (0.0222, 10),
    "listTransactions": (0.5, 10),
    "getReports": (0.0222, 10),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
}

# We run a little under Amazon's plan: its clock and ours differ by network jitter, and a
# request that arrives a few milliseconds early against an empty bucket is a 429.
RATE_MARGIN = 0.97
BURST_MARGIN = 1


@dataclass(frozen=True)
class Limit:
    rate: float  # requests per second, after scaling and margin
    burst: int

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    @property
    def tolerance(self) -> float:
        return self.burst * self.interval


def limit_for(operation: str, scale: float = 1.0) -> Limit:
    try:
        rate, burst = DEFAULT_LIMITS[operation]
    except KeyError:
        raise ValueError(f"no rate limit known for SP-API operation {operation!r}") from None
    return Limit(rate=rate * scale * RATE_MARGIN, burst=max(1, burst - BURST_MARGIN))


def reserve(tat: float | None, now: float, limit: Limit) -> tuple[float, float]:
    """Reserve the next call: returns (new TAT, seconds to wait before calling)."""
    new_tat, waits = reserve_block(tat, now, limit, 1)
    return new_tat, waits[0]


def reserve_block(tat: float | None, now: float, limit: Limit, count: int) -> tuple[float, list[float]]:
    """Reserve the next `count` calls at once: (new TAT, each call's wait), the same slots as
    `count` reservations one after the other."""
    start = now if tat is None or tat < now else tat
    waits = [start + i * limit.interval - limit.tolerance - now for i in range(1, count + 1)]
    return start + count * limit.interval, [w if w > 1e-6 else 0.0 for w in waits]  # float noise is not a wait


def release(tat: float, limit: Limit, count: int) -> float:
    """The TAT as if the last `count` calls booked had never been: a block's unused tail."""
    return tat - count * limit.interval


def queued(tat: float | None, now: float, limit: Limit) -> float:
    """How many calls are booked beyond what the bucket lets go at once (0: none wait)."""
    return 0.0 if tat is None else max(0.0, (tat - now - limit.tolerance) * limit.rate)
