"""The calendar feed: a student's assignments with due dates as a private iCalendar feed.

- :mod:`app.calendar.ics`: writing RFC 5545 text (escaping, line folding, dates)
- :mod:`app.calendar.feed`: the student's assignments as events
- :mod:`app.calendar.tokens`: the feed's secret address (random, stored only as a hash)
"""

from app.calendar.feed import build_feed
from app.calendar.tokens import feed_user, new_feed_secret, revoke_feed

__all__ = ["build_feed", "feed_user", "new_feed_secret", "revoke_feed"]
