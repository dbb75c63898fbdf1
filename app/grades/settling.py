"""Waiting for Canvas: a difference seen right after a grade change may be Canvas catching up.

Canvas does not recompute a student's totals when a grade changes: it queues the work
(canvas-lms ``app/models/enrollment.rb`` ``Enrollment.recompute_final_score_in_singleton``:
``delay_if_production(singleton: "Enrollment.recompute_final_score:<user>:<course>:...")``,
a background job that runs ``GradeCalculator``), so ``computed_current_score`` read in the
seconds or minutes after a change can still be the old total while the assignment already shows
the new grade. Our grade, computed from the assignments, is then "ahead" of Canvas's.

So a difference is *flagged* only when it outlives that lag (``course.difference_status``):

* ``"persisted"``: an earlier sync already saw a difference and no grade changed since: the
  recompute had a whole sync interval to finish;
* ``"aged"``: the newest grade (latest ``graded_at``/``posted_at`` of the course's
  assignments) was already :data:`RECOMPUTE_GRACE` old, by ``clock.now()``, when the sync saw
  the difference (or no assignment has a grade time at all);
* ``"settling"``: neither yet: shown as "Canvas is still updating", not as a difference.

``differs_since`` is when a sync first saw the current difference (a newer grade starts it
again); both columns are NULL when the last sync saw none. Pure functions: the sync calls
:func:`settle` with its rows and the time; :mod:`app.grades.check` wires it in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

# Canvas's recompute job normally runs within seconds; minutes when its job queue is busy.
# A difference whose newest grade is older than this is no longer Canvas catching up.
RECOMPUTE_GRACE = timedelta(minutes=10)

SETTLING = "settling"
PERSISTED = "persisted"
AGED = "aged"
FLAGGED = frozenset({PERSISTED, AGED})


def newest_grade(assignments: Iterable[Mapping[str, Any]]) -> datetime | None:
    """The latest moment a grade changed or was posted in these assignment rows."""
    moments = [row.get(key) for row in assignments for key in ("graded_at", "posted_at")]
    return max((m for m in moments if isinstance(m, datetime)), default=None)


def settle(stored: Mapping[str, Any] | None, differs: bool,
           assignments: Iterable[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """The course row's ``differs_since`` and ``difference_status`` after this sync.

    ``stored``: the course row as stored before this sync (None: new course); ``differs``:
    whether this sync's grade check found ours and Canvas's apart; ``now``: when Canvas's
    totals were read (``clock.now()`` of the sync).
    """
    if not differs:
        return {"differs_since": None, "difference_status": None}
    newest = newest_grade(assignments)
    since = stored.get("differs_since") if stored else None
    status = stored.get("difference_status") if stored else None
    if since is not None and status is not None and (newest is None or newest <= since):
        # Seen by an earlier sync, and no grade changed since: Canvas had its time.
        return {"differs_since": since, "difference_status": status if status in FLAGGED
                else PERSISTED}
    aged = newest is None or now - newest >= RECOMPUTE_GRACE
    return {"differs_since": now, "difference_status": AGED if aged else SETTLING}
