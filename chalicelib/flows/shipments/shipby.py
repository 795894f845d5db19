"""Ship-by alerts (pure): which alert a merchant order Amazon still waits for has earned, and the
digest a person reads.

Amazon counts a shipment confirmed after the order's latest ship date in the seller's Late
Shipment Rate. Two thresholds, each alerted at most once per order and latest ship date: `due`
(the latest ship date is within the alert window) and `late` (it has passed). An order first
seen already late gets only the `late` alert; an order whose latest ship date Amazon moves is
alerted again for the new date.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

DIGEST_LINES = 50  # orders named per seller in one digest; the rest are counted
MAX_ALERTS_PER_RUN = 200  # marked then sent in one digest; more wait for the next run


class Threshold(str, Enum):
    DUE = "due"
    LATE = "late"


@dataclass(frozen=True)
class Alert:
    seller_id: str
    order_id: str
    latest_ship_date: datetime
    threshold: Threshold


def threshold(latest_ship_date: datetime, now: datetime, window: timedelta) -> Threshold | None:
    if latest_ship_date <= now:
        return Threshold.LATE
    return Threshold.DUE if latest_ship_date - now <= window else None


def mark(threshold: Threshold, latest_ship_date: datetime) -> str:
    """How an alert sent is noted on the order: the threshold and the date it was about."""
    return f"{threshold.value}@{latest_ship_date.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def sent_for(alerted: frozenset[str], latest_ship_date: datetime) -> list[str]:
    """The thresholds already alerted for this latest ship date."""
    return sorted(t.value for t in Threshold if mark(t, latest_ship_date) in alerted)


def to_alert(seller_id: str, order_id: str, latest_ship_date: datetime, alerted: frozenset[str],
             now: datetime, window: timedelta) -> Alert | None:
    """The alert the order has earned and not yet had for its latest ship date, if any."""
    crossed = threshold(latest_ship_date, now, window)
    if crossed is None or mark(crossed, latest_ship_date) in alerted:
        return None
    return Alert(seller_id, order_id, latest_ship_date, crossed)


def span(delta: timedelta) -> str:
    """A duration as a person says it: `3 h 05 min`, `12 h`, `2 d 4 h`, `12 min`."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def digest(alerts: Sequence[Alert], now: datetime, window: timedelta) -> tuple[str, str]:
    """(subject, text) of one e-mail for the alerts of a run, late orders first, then by urgency.
    Order ids and dates only: no buyer data."""
    late = [a for a in alerts if a.threshold is Threshold.LATE]
    due = [a for a in alerts if a.threshold is Threshold.DUE]
    parts = [f"{len(late)} order{'s' * (len(late) != 1)} late to ship"] if late else []
    if due:
        parts.append(f"{len(due)} due to ship within {span(window)}")
    subject = f"sellerops: {', '.join(parts)}"
    lines = [f"Merchant orders Amazon is waiting for, as of {_when(now)}.",
             "Amazon counts a confirmation after the latest ship date in your Late Shipment Rate.", ""]
    ordered = sorted(alerts, key=lambda a: (a.threshold is not Threshold.LATE, a.latest_ship_date, a.order_id))
    for seller_id in sorted({a.seller_id for a in ordered}):
        theirs = [a for a in ordered if a.seller_id == seller_id]
        lines.append(f"Seller {seller_id}:")
        for alert in theirs[:DIGEST_LINES]:
            delta = alert.latest_ship_date - now
            when = f"{span(delta)} ago" if alert.threshold is Threshold.LATE else f"in {span(delta)}"
            lines.append(f"  {alert.threshold.value.upper():4}  {alert.order_id}  latest ship date "
                         f"{_when(alert.latest_ship_date)} ({when})")
        more = len(theirs) - DIGEST_LINES
        if more > 0:
            lines.append(f"  ... and {more} more: GET /shipments/due?sellerId={seller_id}")
        lines.append("")
    lines.append("Each order is named once per threshold. The full list: GET /shipments/due?within=PT24H")
    return subject[:100], "\n".join(lines)
