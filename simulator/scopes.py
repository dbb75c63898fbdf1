"""Developer-key scopes on API requests, as canvas-lms enforces them.

- ``AccessToken#url_scopes_for_method`` (app/models/access_token.rb): a scope
  ``url:GET|/api/v1/courses/:course_id/assignment_groups`` becomes a regexp of its route path:
  ``:name`` segments match ``[^/]+``, ``*name`` globs ``.+``, ``(...)`` is optional, and an
  optional ``.format`` may follow. HEAD counts as GET.
- ``AuthenticationMethods#validate_scopes`` (lib/authentication_methods.rb): with a key that
  ``require_scopes``, a request whose path matches none of the token's scopes for its method
  (nor ``AccessToken.always_allowed_scopes``: ``/login/oauth2/token``) raises
  ``AccessTokenScopeError``, which ``ApplicationController#api_error_json`` answers 401
  "Insufficient scopes on access token." *without* ``WWW-Authenticate``. A matching request on a
  key without ``allow_includes`` keeps only ``uuid`` of ``include[]``/``includes[]``
  (``#filter_includes``, ``ALLOWED_SCOPE_INCLUDES``; a non-array ``include`` is dropped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALLOWED_SCOPE_INCLUDES = ("uuid",)
ALWAYS_ALLOWED = (re.compile(r"^/login/oauth2/token$"),)
INSUFFICIENT_SCOPES = {"errors": [{"message": "Insufficient scopes on access token."}]}


@dataclass(frozen=True)
class KeyPolicy:
    """What a developer key imposes on the API requests of the tokens it issued."""

    require_scopes: bool
    scopes: tuple[str, ...]  # the token's scopes (those the student approved)
    allow_includes: bool


def scope_patterns(scopes: tuple[str, ...], method: str) -> list[re.Pattern[str]]:
    """``AccessToken#url_scopes_for_method``: the regexps of the scopes for ``method``."""
    method = "GET" if method.upper() == "HEAD" else method.upper()
    prefix = f"url:{method}|"
    patterns = []
    for scope in scopes:
        if not scope.startswith(prefix):
            continue
        path = scope.split("|")[-1]
        path = re.sub(r":[^/)]+", "[^/]+", path)
        path = re.sub(r"\*[^/)]+", ".+", path)
        path = path.replace("(", "(?:").replace(")", "|)")
        patterns.append(re.compile(f"^{path}(?:\\.[^/]+|)$"))
    return patterns


def apply_key_policy(policy: KeyPolicy, method: str, path: str,
                     pairs: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """The request's query pairs as the controller sees them; None: insufficient scopes."""
    if not policy.require_scopes:
        return pairs
    patterns = scope_patterns(policy.scopes, method) + list(ALWAYS_ALLOWED)
    if not any(pattern.search(path) for pattern in patterns):
        return None
    if policy.allow_includes:
        return pairs
    kept = []
    for key, value in pairs:
        if key in ("include", "includes"):
            continue  # not an array: deleted
        if key in ("include[]", "includes[]") and value not in ALLOWED_SCOPE_INCLUDES:
            continue
        kept.append((key, value))
    return kept
