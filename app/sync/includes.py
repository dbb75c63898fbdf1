"""A gradebook that arrives without what the request included is an error, never "no data".

A developer key that enforces scopes but does not "Allow Include Parameters" makes Canvas drop
every ``include[]`` but ``uuid`` from the request (canvas-lms ``lib/authentication_methods.rb``
``AuthenticationMethods#validate_scopes`` -> ``#filter_includes``, ``ALLOWED_SCOPE_INCLUDES``).
``assignment_groups`` then answers groups without ``assignments`` and assignments without
``submission``. Read as they are, that would be "this course has no assignments" and the writer
would delete every stored one. Canvas emits ``assignments`` on every group whenever the include
was given (``Api::V1::AssignmentGroup#assignment_group_json``), so a group without the key
means the include was stripped. A submission may be missing for one assignment, so only a
gradebook where *no* assignment carries ``submission`` counts as stripped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.canvas.errors import BadResponse

INCLUDES_HELP = (
    "the school's developer key for Canvas must allow include parameters: ask your Canvas "
    "admin to turn on \"Allow Include Parameters\" on the key (Developer Keys → the key); "
    "nothing was changed here"
)


def check_gradebook_includes(
    canvas_course_id: int, groups: Any, *, host: str, assignments: bool, submission: bool
) -> None:
    """Raise ``BadResponse`` when Canvas left out what ``include[]`` asked for."""
    rows = [g for g in groups if isinstance(g, Mapping)] if isinstance(groups, list) else []
    if not assignments or not rows:
        return
    endpoint = f"/api/v1/courses/{canvas_course_id}/assignment_groups"
    if any("assignments" not in group for group in rows):
        missing = "assignments"
    else:
        items = [a for g in rows if isinstance(g.get("assignments"), list)
                 for a in g["assignments"] if isinstance(a, Mapping)]
        if not submission or not items or any("submission" in a for a in items):
            return
        missing = "your submissions"
    raise BadResponse(
        f"Canvas at {host} sent course {canvas_course_id}'s gradebook without {missing}: "
        f"{INCLUDES_HELP}.",
        host=host, endpoint=endpoint,
    )
