"""The student's time zone: which names are valid, and a moment shown in that zone.

Canvas sends every date in UTC (``Z``). A 23:59 deadline in America/Chicago arrives as 05:59Z
the next day, so a date printed as a UTC date is a day late for a student in the Americas.
Pages show dates in ``users.time_zone`` (an IANA name, from the student's Canvas profile or
chosen in Settings); without one, in UTC, labelled as such.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_ZONE = "UTC"
MAX_ZONE_LENGTH = 64  # the column's width; the longest IANA name is ~32 characters


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone this machine knows, sorted (the Settings select offers these)."""
    return tuple(
        sorted(
            name
            for name in available_timezones()
            if len(name) <= MAX_ZONE_LENGTH and not name.startswith(("posix/", "right/"))
            and name != "localtime"
        )
    )


def valid_zone(name: object) -> str | None:
    """``name`` when it is a known IANA zone, else None (Canvas or a form may send anything)."""
    if not isinstance(name, str) or name not in zone_names():
        return None
    return name


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def in_zone(value: datetime, zone: str | None) -> datetime:
    """``value`` (naive means UTC, as the database stores it) as a time in ``zone``."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return aware.astimezone(_zone(valid_zone(zone) or DEFAULT_ZONE))
