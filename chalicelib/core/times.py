"""Time, one way everywhere: aware datetimes in UTC, written as fixed-width ISO 8601 strings so
that string order is time order (DynamoDB sort keys and conditions compare strings)."""
from __future__ import annotations

from datetime import UTC, datetime


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO 8601, so that string order is time order."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def now() -> datetime:
    return datetime.now(UTC)
