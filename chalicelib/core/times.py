"""Time, one way everywhere: aware datetimes in UTC, written as fixed-width ISO 8601 strings so
that string order is time order (DynamoDB sort keys and conditions compare strings)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO 8601, so that string order is time order."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_seconds(moment: datetime) -> str:
    """As `iso`, without the fraction when it is zero (`2026-11-20T14:30:00Z`): what Amazon's
    APIs and our answers write."""
    return iso(moment).replace(".000000Z", "Z")


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def now() -> datetime:
    return datetime.now(UTC)


_DURATION = re.compile(r"P(?:(\d{1,4})D)?(?:T(?:(\d{1,5})H)?(?:(\d{1,6})M)?(?:(\d{1,7})S)?)?")


def parse_duration(text: str | None) -> timedelta | None:
    """An ISO 8601 duration in days, hours, minutes and seconds (`PT24H`, `P2D`, `PT90M`,
    `P1DT12H`); None when `text` is not one (years and months have no fixed length)."""
    found = _DURATION.fullmatch(text or "")
    if found is None or not any(found.groups()) or (text or "").endswith("T"):
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(span: timedelta) -> str:
    """The ISO 8601 duration `parse_duration` reads back (`PT12H`, `P1DT6H`)."""
    days, rest = divmod(int(span.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if value)
    if not days and not time:
        return "PT0S"
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
