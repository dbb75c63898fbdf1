"""A gradebook that arrives without what the request included is an error, never "no data".

A developer key that enforces scopes but does not "Allow Include Parameters" makes Canvas drop
every ``include[]`` but ``uuid`` from the request (canvas-lms ``lib/authentication_methods.rb``
``AuthenticationMethods#validate_scopes`` -> ``#filter_includes``, ``ALLOWED_SCOPE_INCLUDES``).
``assignment_groups`` then answers groups without ``assignments`` (and so without any
``submission``). Read as they are, that would be "this course has no assignments" and the
writer would delete every stored one. Canvas emits ``assignments`` on every group whenever the
include was given (``Api::V1::AssignmentGroup#assignment_group_json``), so groups that all
lack the key mean the include was stripped. The includes go together (the filter keeps none of
them), so a missing ``assignments`` is the witness for ``submission`` too; one assignment
without a ``submission`` is ordinary data (nothing graded or submitted yet) and is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.canvas.errors import BadResponse
from app.sync.coerce import parse_id

INCLUDES_HELP = (
    "the school's developer key for Canvas must allow include parameters: ask your Canvas "
    "admin to turn on \"Allow Include Parameters\" on the key (Developer Keys → the key); "
    "nothing was changed here"
)


def check_gradebook_includes(canvas_course_id: int, groups: Any, *, host: str) -> None:
    """Raise ``BadResponse`` when Canvas left out the ``assignments`` that ``include[]`` asked
    for (groups with a usable id, none of them carrying the key)."""
    rows = [g for g in groups if isinstance(g, Mapping) and parse_id(g.get("id")) is not None] \
        if isinstance(groups, list) else []
    if not rows or any("assignments" in group for group in rows):
        return
    raise BadResponse(
        f"Canvas at {host} sent course {canvas_course_id}'s gradebook without its "
        f"assignments: {INCLUDES_HELP}.",
        host=host, endpoint=f"/api/v1/courses/{canvas_course_id}/assignment_groups",
    )
