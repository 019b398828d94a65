"""Small helpers shared by the generators: the reference time and even splits."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from lake.config import DEFAULT_TIMEZONE

#: The sample data's wall-clock zone: the lake's default source zone.
TIMEZONE = DEFAULT_TIMEZONE


def resolve_now(now: datetime | None) -> datetime:
    """The reference time as a naive Sao Paulo wall-clock datetime, to the second.

    ``None`` is the current time; an aware value is converted; a naive one is kept.
    """
    zone = ZoneInfo(TIMEZONE)
    if now is None:
        return datetime.now(zone).replace(tzinfo=None, microsecond=0)
    if now.tzinfo is not None:
        return now.astimezone(zone).replace(tzinfo=None, microsecond=0)
    return now.replace(microsecond=0)


def epoch_seconds(wall: datetime) -> int:
    """Seconds since 1970-01-01 00:00 of a naive wall-clock datetime (no zone applied)."""
    return int((wall - datetime(1970, 1, 1)).total_seconds())


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers differing by at most one, larger first."""
    base, rest = divmod(total, parts)
    return [base + (1 if i < rest else 0) for i in range(parts)]
