"""The Canvas API scopes "Connect with Canvas" asks for, and the words for a key's refusals.

Canvas's scope format is ``url:<VERB>|<route path>`` (canvas-lms ``lib/token_scopes.rb``
``TokenScopes.api_routes`` builds one per API route, the path without ``(.:format)``; the
generated API docs print it under each endpoint as "Scope:"). A key that enforces scopes
(``require_scopes``, Canvas's recommended setting) refuses an authorization request whose
``scope`` is missing or asks for one the key does not allow (canvas-lms
``OAuth2ProviderController#auth`` -> ``Canvas::OAuth::Provider#valid_scopes?``, which needs
``@scopes.present?``); a key that does not enforce them ignores the list, so it is always sent.

Every scope here is a read (GET); GradeSync never writes to Canvas.
"""

from __future__ import annotations

import re

# What the sync reads (app/canvas/client.py), one scope per endpoint, in Canvas's spelling.
DEFAULT_SCOPES: tuple[str, ...] = (
    "url:GET|/api/v1/users/:id",  # /users/self: whose token it is
    "url:GET|/api/v1/users/:user_id/profile",  # the student's time zone
    "url:GET|/api/v1/users/:user_id/enrollments",  # grades of completed enrollments
    "url:GET|/api/v1/courses",  # the course lists
    "url:GET|/api/v1/courses/:id",  # one course (a one-course sync, a dropped course)
    "url:GET|/api/v1/courses/:course_id/assignment_groups",  # the gradebook
    "url:GET|/api/v1/courses/:course_id/grading_periods",  # period weights and close dates
    "url:GET|/api/v1/courses/:course_id/grading_standards/:grading_standard_id",  # letters
)

_SCOPE = re.compile(r"url:(GET|HEAD|POST|PUT|PATCH|DELETE)\|/api/[A-Za-z0-9_/:.()*-]+")
MAX_SCOPES = 200


def parse_scopes(text: str) -> tuple[str, ...]:
    """Scopes from an operator's list (spaces, commas or new lines between them), checked.

    Raises ``ValueError`` naming the first one not in Canvas's ``url:GET|/api/v1/...`` form.
    """
    scopes: list[str] = []
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        if not _SCOPE.fullmatch(item):
            raise ValueError(
                f"{item[:80]!r} is not a Canvas scope: write them as Canvas shows them, "
                "e.g. url:GET|/api/v1/courses"
            )
        if item not in scopes:
            scopes.append(item)
    if len(scopes) > MAX_SCOPES:
        raise ValueError(f"give at most {MAX_SCOPES} scopes")
    return tuple(scopes)


def scopes_of(stored: str | None) -> tuple[str, ...]:
    """A key's scopes as stored (NULL or empty: :data:`DEFAULT_SCOPES`)."""
    if not stored or not stored.strip():
        return DEFAULT_SCOPES
    return tuple(stored.split())


# --- Canvas's ``error=`` redirects, in words a student can pass on ---------------------------
# canvas-lms lib/canvas/oauth/request_error.rb (RequestError#redirect_uri appends only
# ``error`` and ``error_description``: no ``state``) and OAuth2ProviderController#auth (its
# own ``final_redirect`` answers carry ``state``).
KEY_SETTING_HELP = {
    "invalid_scope": (
        "Canvas refused the sign-in because the school's developer key does not allow the "
        "scopes GradeSync asks for: ask your Canvas admin to enable them on the key "
        "(Developer Keys → the key → Enforce Scopes), or to turn Enforce Scopes off"
    ),
    "unauthorized_client": (
        "Canvas refused the sign-in because the school's developer key is not turned on for "
        "this Canvas account: ask your Canvas admin to set the key's state to On"
    ),
    "invalid_client": (
        "Canvas does not know the developer key registered here for this Canvas: ask the "
        "operator to check the client id ('flask canvas oauth-client add')"
    ),
    "invalid_request": (
        "Canvas refused the sign-in: the developer key's Redirect URIs must include this "
        "site's /oauth/canvas/callback address; ask your Canvas admin"
    ),
    "unsupported_response_type": (
        "Canvas refused the sign-in request (unsupported response type): please report it"
    ),
}


def refusal_message(error: str) -> str:
    """One line for an ``error=`` redirect from Canvas's authorization endpoint."""
    known = KEY_SETTING_HELP.get(error)
    if known:
        return f"{known}."
    safe = re.sub(r"[^a-z_]", "", error.lower())[:40] or "unknown"
    return (f"Canvas refused the sign-in ({safe}): start again from Settings, or ask your "
            "Canvas admin.")
