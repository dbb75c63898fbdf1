"""Just enough RFC 5545 to publish a calendar of events that Google, Apple and Outlook accept.

Text values are escaped (backslash, semicolon, comma, newline; RFC 5545 §3.3.11) and every
content line is folded at 75 octets without splitting a UTF-8 character (§3.1). Lines end
with CRLF. Times are written in UTC (``...Z``); an all-day event uses ``VALUE=DATE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app.safe_text import strip_format

MAX_OCTETS = 75


@dataclass(frozen=True)
class Event:
    uid: str
    start: datetime
    summary: str
    description: str
    url: str | None = None
    all_day: bool = False
    last_modified: datetime | None = None


def escape_text(value: str) -> str:
    """A TEXT value: backslash first, then the separators, newlines as ``\\n``.

    Format characters (bidi controls) and the Unicode line separators go first
    (:func:`app.safe_text.strip_format`): a calendar app shows them raw.
    """
    value = strip_format(value)
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold one content line into 75-octet pieces joined by CRLF + space."""
    pieces: list[str] = []
    current, size = "", 0
    limit = MAX_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append(current)
            # Continuation lines start with a space, which counts toward their 75 octets.
            current, size, limit = "", 0, MAX_OCTETS - 1
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def date_stamp(day: date) -> str:
    return day.strftime("%Y%m%d")


def _event_lines(event: Event, stamp: datetime) -> list[str]:
    lines = ["BEGIN:VEVENT", f"UID:{escape_text(event.uid)}", f"DTSTAMP:{utc_stamp(stamp)}"]
    if event.all_day:
        day = event.start.astimezone(UTC).date()
        lines += [
            f"DTSTART;VALUE=DATE:{date_stamp(day)}",
            f"DTEND;VALUE=DATE:{date_stamp(day + timedelta(days=1))}",
        ]
    else:
        # A deadline is a moment: start and end at the due time, as Canvas's own feed does.
        lines += [f"DTSTART:{utc_stamp(event.start)}", f"DTEND:{utc_stamp(event.start)}"]
    lines += [
        f"SUMMARY:{escape_text(event.summary)}",
        f"DESCRIPTION:{escape_text(event.description)}",
        "TRANSP:TRANSPARENT",  # a due date does not make the student busy
    ]
    if event.url:
        lines.append(f"URL:{event.url}")
    if event.last_modified is not None:
        lines.append(f"LAST-MODIFIED:{utc_stamp(event.last_modified)}")
    lines.append("END:VEVENT")
    return lines


def render_calendar(name: str, events: Iterable[Event], now: datetime) -> bytes:
    """The whole ``VCALENDAR`` as UTF-8 bytes, CRLF line endings."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//GradeSync//Assignment calendar//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
        # How often subscribers should refresh (Apple/Outlook, and the RFC 7986 property).
        "X-PUBLISHED-TTL:PT1H",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
    ]
    for event in events:
        lines += _event_lines(event, now)
    lines.append("END:VCALENDAR")
    return ("\r\n".join(fold(line) for line in lines) + "\r\n").encode("utf-8")
