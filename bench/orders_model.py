"""One seller's orders against Amazon's limits, a simulated day in a few seconds: the details
rule, the doors and the shared limiter's arithmetic are the code's own (flows/orders/rules.py,
core/limits.py); what is modelled is only time: Lambda takes each task at once, and Amazon
answers at the slot the limiter booked.

Each order is placed (PENDING), paid for 5 minutes later (UNSHIPPED), ships in two parcels
(PARTIALLY_SHIPPED after 2 hours, SHIPPED after 4); 70% are fulfilled by Amazon. An order's
wait is from the change that made its details due until a read (a getOrder call, or the
searchOrders page that carried it) brought them.

`before` is the rule and the single door of the previous release: a read on every status move,
through getOrder only. 90% of merchant parcels are confirmed through sellerops (whose packages
need no read), the rest in Seller Central. The ceiling is the highest rate (bisected, in orders a day) at which
every order waits less than 15 minutes over the second half of the day.
"""
from __future__ import annotations

import bisect
import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core.limits import limit_for, queued, reserve
from chalicelib.flows.orders import rules
from chalicelib.flows.orders.rules import Door, OrderStatus

DAY = 86_400.0
LIFE = ((0.0, OrderStatus.PENDING), (300.0, OrderStatus.UNSHIPPED), (7_200.0, OrderStatus.PARTIALLY_SHIPPED),
        (14_400.0, OrderStatus.SHIPPED))
AFN_SHARE = 0.7
OURS_SHARE = 0.9  # merchant parcels the warehouse confirms through sellerops (the rest: in Seller Central)
SEARCH_LAG = 120.0  # searchOrders looks no later than 2 minutes before the request (its model)
PAGE = 100
PARK = 300.0
LEASE = 900.0
OVERLAP = 30.0  # TaskPorts.search_overlap
LOOKBACK = 300.0
TARGET_WAIT = 15 * 60.0
EPOCH = datetime(2026, 12, 1, tzinfo=UTC)


def old_rule(status: OrderStatus, read_at: OrderStatus | None, channel: str | None) -> rules.Read | None:
    """The previous release: every status word makes the details stale."""
    return rules.Read.FIRST if read_at is None or read_at != status else None


@dataclass
class _Order:
    index: int
    channel: str
    ours: bool = False  # its parcels are confirmed through sellerops (rules.packages_known)
    status: OrderStatus | None = None  # Amazon's, now
    updated: float = -1.0  # Amazon's lastUpdatedTime
    read_at: OrderStatus | None = None  # the status our details were read at
    due_since: float | None = None  # when its details became due and no read has brought them


@dataclass
class Run:
    per_day: float
    new_rule: bool = True
    search_door: bool = True
    hours: float = 24.0
    seed: int = 5
    waits: list[tuple[float, float]] = field(default_factory=list)  # (when read, seconds waited)
    reads: dict[str, int] = field(default_factory=lambda: {"getOrder": 0, "searchOrders": 0, "ours": 0})
    calls: dict[str, int] = field(default_factory=lambda: {"getOrder": 0, "searchOrders": 0})
    backlog: list[tuple[float, int]] = field(default_factory=list)

    def simulate(self) -> Run:
        rule: Callable[..., rules.Read | None] = rules.details_due if self.new_rule else old_rule
        rng = random.Random(self.seed)
        get_limit, search_limit = limit_for("getOrder"), limit_for("searchOrders")
        tats: dict[str, float | None] = {"getOrder": None, "searchOrders": None}
        events: list[tuple[float, int, str, Any]] = []
        seq = itertools.count()

        def at(moment: float, kind: str, what: Any = None) -> None:
            heapq.heappush(events, (moment, next(seq), kind, what))

        horizon = self.hours * 3600.0
        n = int(self.per_day * self.hours / 24.0)
        orders = [_Order(i, "AFN" if rng.random() < AFN_SHARE else "MFN", rng.random() < OURS_SHARE)
                  for i in range(n)]
        for order in orders:
            start = rng.uniform(0.0, horizon)
            for offset, status in LIFE:
                if start + offset < horizon:
                    at(start + offset, "change", (order, status))
        for sample in range(0, int(horizon) + 1, 300):
            at(float(sample), "sample")
        search: dict[str, Any] = {"since": None, "lease": 0.0}
        due_now: set[int] = set()
        log: list[tuple[float, int]] = []  # every update, in time order (changes are simulated in order)

        def book(operation: str, now: float) -> float:
            limit = get_limit if operation == "getOrder" else search_limit
            tats[operation], wait = reserve(tats[operation], now, limit)
            return wait

        def read(order: _Order, now: float, door: Door | None) -> None:
            self.reads[door.value if door else "ours"] += 1
            if order.due_since is not None:
                self.waits.append((now, now - order.due_since))
            order.read_at, order.due_since = order.status, None
            due_now.discard(order.index)

        def is_due(order: _Order) -> bool:
            return order.status is not None and rule(order.status, order.read_at, order.channel) is not None

        def take(order: _Order, changed: float, now: float, booked: bool, parked: bool = False) -> None:
            """A fetch task runs: the door, as service.fetch_order_details chooses it."""
            if not is_due(order):
                return
            if (self.new_rule and order.ours and order.status is not None
                    and rule(order.status, order.read_at, order.channel) is rules.Read.PACKAGES):
                read(order, now, None)  # the packages are ours: no call (service.fetch_order_details)
                return
            since = search["since"] if search["lease"] > now else None
            due = rule(order.status, order.read_at, order.channel) if order.status is not None else None
            if self.search_door and rules.door(EPOCH + timedelta(seconds=changed),
                                               EPOCH + timedelta(seconds=since) if since is not None else None,
                                               booked, order.channel, due) is Door.SEARCH:
                at(now + PARK, "task", (order, changed, False, True))
                return
            if booked:
                self.calls["getOrder"] += 1
                read(order, now, Door.GET_ORDER)
                return
            wait = book("getOrder", now)
            if self.search_door and rules.opens_search(wait * get_limit.rate) and search["lease"] <= now:
                search.update(since=changed - LOOKBACK, lease=now + LEASE, window=None, due=0)
                at(now, "page")
            at(now + wait, "task", (order, changed, True, False))

        while events:
            now, _, kind, what = heapq.heappop(events)
            if now > horizon + 6 * 3600:
                break
            if kind == "change":
                order, status = what
                order.status, order.updated = status, now
                log.append((now, order.index))
                if order.due_since is None and is_due(order):
                    order.due_since = now
                    due_now.add(order.index)
                if is_due(order):
                    take(order, now, now, booked=False)
            elif kind == "task":
                order, changed, booked, parked = what
                take(order, changed, now, booked, parked)
            elif kind == "sample":
                self.backlog.append((now, len(due_now)))
            elif kind == "page":
                wait = book("searchOrders", now)
                if wait > 0:
                    at(now + wait, "page_call")
                else:
                    at(now, "page_call")
            elif kind == "page_call":
                self.calls["searchOrders"] += 1
                if search.get("window") is None:
                    search["window"] = (search["since"], now - SEARCH_LAG,
                                        bisect.bisect_left(log, (search["since"], -1)))
                low, high, position = search["window"]
                page: list[tuple[float, int]] = []
                while position < len(log) and log[position][0] <= high and len(page) <= PAGE:
                    updated, index = log[position]
                    o = orders[index]
                    # Amazon lists an order once, at its latest update, if the page's filters match.
                    if (o.updated == updated and o.status is not None and o.status.value in rules.SEARCH_STATUSES
                            and o.channel == "AFN"):  # rules.SEARCH_FULFILLED_BY
                        page.append((updated, index))
                    position += 1
                more = len(page) > PAGE
                if more:
                    position -= 1
                for _updated, index in page[:PAGE]:
                    if is_due(orders[index]):
                        read(orders[index], now, Door.SEARCH)
                        search["due"] += 1
                search["lease"] = now + LEASE
                if more:
                    search["window"] = (low, high, position)
                    at(now, "page")
                elif rules.keeps_searching(search["due"], high - low, get_limit.rate,
                                           queued(tats["getOrder"], now, get_limit)):
                    search.update(since=high - OVERLAP, window=None, due=0)
                    at(now, "page")
                else:
                    search.update(since=None, lease=0.0, window=None)
        return self

    def summary(self) -> dict[str, Any]:
        second_half = [w for t, w in self.waits if t >= self.hours * 3600.0 / 2]
        late = [w for _, w in self.waits]
        tail = [b for t, b in self.backlog if self.hours * 3600.0 / 2 <= t <= self.hours * 3600.0]
        orders = int(self.per_day * self.hours / 24.0)
        return {
            "orders_per_day": round(self.per_day), "orders": orders,
            "reads": dict(self.reads), "reads_per_order": round(sum(self.reads.values()) / max(1, orders), 3),
            "calls": dict(self.calls),
            "max_wait_seconds": round(max(second_half, default=0.0)),
            "p99_wait_seconds": round(sorted(late)[int(0.99 * (len(late) - 1))] if late else 0.0),
            "backlog_max_second_half": max(tail, default=0),
            "backlog_at_end": tail[-1] if tail else 0,
            "keeps_up": max(second_half, default=0.0) < TARGET_WAIT,
        }


def ceiling(new_rule: bool, search_door: bool, low: float = 2_000, high: float = 200_000,
            hours: float = 24.0) -> float:
    """The highest orders a day that keep every wait under 15 minutes (bisected to 3%)."""
    if not Run(low, new_rule, search_door, hours).simulate().summary()["keeps_up"]:
        return 0.0
    while high / low > 1.03:
        middle = (low * high) ** 0.5
        if Run(middle, new_rule, search_door, hours).simulate().summary()["keeps_up"]:
            low = middle
        else:
            high = middle
    return low


def figures(rate: float = 50_000, hours: float = 24.0) -> dict[str, Any]:
    sustained = Run(rate, True, True, hours).simulate().summary()
    return {
        "sustained": sustained,
        "getorder_door_only": Run(rate, True, False, hours).simulate().summary(),
        "before": Run(rate, False, False, hours).simulate().summary(),
        "ceiling_orders_per_day": {
            "before (a read per status move, getOrder only)": round(ceiling(False, False, hours=hours)),
            "details rule, getOrder only": round(ceiling(True, False, hours=hours)),
            "after (details rule, both doors)": round(ceiling(True, True, hours=hours)),
        },
    }
