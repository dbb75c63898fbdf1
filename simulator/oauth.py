"""Canvas's OAuth2 endpoints, as a web app meets them (CANVAS_API.md, "Read first", Tokens).

- ``GET /login/oauth2/auth?client_id&response_type=code&redirect_uri&state``: the page where
  the signed-in student approves or denies the app (two forms posting to
  ``/login/oauth2/auth/decision``); approving redirects to ``redirect_uri?code=..&state=..``,
  denying to ``redirect_uri?error=access_denied&state=..``.
- ``POST /login/oauth2/token`` (form parameters): ``grant_type=authorization_code`` (with
  ``client_id``, ``client_secret``, ``redirect_uri``, ``code``; a code works once) or
  ``grant_type=refresh_token``. The answer carries ``access_token``, ``token_type``,
  ``user{id,name}``, ``expires_in``, and ``refresh_token`` on the first exchange only.
- ``DELETE /login/oauth2/token`` with the access token as bearer: logs out (the access token
  and its refresh token stop working).

Access tokens expire after ``access_token_seconds`` (an hour, as on hosted Canvas; tests set
seconds); an expired one gets the same 401 as an invalid one. ``revoke_refresh`` makes a
refresh token refused, as when a student removes the app in Canvas.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

ACCESS_TOKEN_SECONDS = 3600.0


@dataclass
class _Client:
    secret: str
    redirect_uri: str


@dataclass
class _Grant:
    client_id: str
    student_token: str


class OAuthProvider:
    """The OAuth2 side of one simulated Canvas (thread-safe; the server calls it per request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, _Client] = {}
        self._codes: dict[str, tuple[_Grant, str]] = {}  # code -> (grant, redirect_uri)
        self._refresh: dict[str, _Grant] = {}
        self._access: dict[str, tuple[str, float]] = {}  # token -> (refresh token, deadline)
        self.signed_in: str | None = None  # the student (their API token) using the browser
        self.access_token_seconds = ACCESS_TOKEN_SECONDS
        self.exchanges: list[str] = []  # grant types seen at the token endpoint, in order

    # -- set-up by tests ----------------------------------------------------------------------
    def register_client(self, client_id: str, secret: str, redirect_uri: str) -> None:
        """A developer key, as a Canvas admin creates it."""
        with self._lock:
            self._clients[client_id] = _Client(secret, redirect_uri)

    def sign_in(self, student_token: str) -> None:
        """The student whose browser session approves the app."""
        self.signed_in = student_token

    def revoke_refresh(self, refresh_token: str | None = None) -> None:
        """Refuse a refresh token from now on (every one when None)."""
        with self._lock:
            for token in [refresh_token] if refresh_token else list(self._refresh):
                self._refresh.pop(token, None)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now."""
        with self._lock:
            for token, (refresh, _deadline) in self._access.items():
                self._access[token] = (refresh, 0.0)

    # -- what the server asks -----------------------------------------------------------------
    def student_for(self, access_token: str) -> tuple[str | None, bool]:
        """(student token, expired?) for an access token; (None, False) if unknown."""
        with self._lock:
            entry = self._access.get(access_token)
            if entry is None:
                return None, False
            refresh, deadline = entry
            grant = self._refresh.get(refresh)  # a revoked refresh token ends its access tokens
        if grant is None:
            return None, False
        return grant.student_token, time.monotonic() >= deadline

    def authorize_page(self, query: dict[str, str]) -> tuple[int, str]:
        client = self._clients.get(query.get("client_id", ""))
        if client is None or query.get("redirect_uri") != client.redirect_uri:
            return 400, "<p>invalid client_id or redirect_uri</p>"
        if query.get("response_type") != "code":
            return 400, "<p>unsupported response_type</p>"
        fields = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(query.get(name, ""))}">'
            for name in ("client_id", "redirect_uri", "state")
        )
        form = '<form method="post" action="/login/oauth2/auth/decision">{}{}</form>'
        return 200, (
            "<!doctype html><html><body><h1>Authorize app</h1>"
            + form.format(fields, '<button name="decision" value="approve">Authorize</button>')
            + form.format(fields, '<button name="decision" value="deny">Cancel</button>')
            + "</body></html>"
        )

    def decide(self, form: dict[str, str]) -> tuple[int, str]:
        """Approve or deny: (status, Location or error text)."""
        client = self._clients.get(form.get("client_id", ""))
        redirect_uri = form.get("redirect_uri", "")
        if client is None or redirect_uri != client.redirect_uri:
            return 400, "invalid client_id or redirect_uri"
        state = form.get("state", "")
        if form.get("decision") != "approve" or self.signed_in is None:
            return 302, f"{redirect_uri}?{urlencode({'error': 'access_denied', 'state': state})}"
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = (_Grant(form["client_id"], self.signed_in), redirect_uri)
        return 302, f"{redirect_uri}?{urlencode({'code': code, 'state': state})}"

    def exchange(self, form: dict[str, str], user: dict[str, object] | None
                 ) -> tuple[int, dict[str, object]]:
        """The token endpoint: (status, JSON body). ``user`` is filled in by the server."""
        grant_type = form.get("grant_type", "")
        self.exchanges.append(grant_type)
        client = self._clients.get(form.get("client_id", ""))
        if client is None or not secrets.compare_digest(form.get("client_secret", ""),
                                                        client.secret):
            return 401, {"error": "invalid_client",
                         "error_description": "unknown client or wrong secret"}
        with self._lock:
            if grant_type == "authorization_code":
                entry = self._codes.pop(form.get("code", ""), None)  # a code works once
                if entry is None or entry[1] != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant",
                                 "error_description": "authorization_code not found"}
                grant, refresh = entry[0], secrets.token_urlsafe(24)
                self._refresh[refresh] = grant
            elif grant_type == "refresh_token":
                refresh = form.get("refresh_token", "")
                found = self._refresh.get(refresh)
                if found is None or found.client_id != form["client_id"]:
                    return 400, {"error": "invalid_grant",
                                 "error_description": "refresh_token not found"}
                grant = found
            else:
                return 400, {"error": "unsupported_grant_type"}
            access = f"sim~{secrets.token_urlsafe(24)}"
            self._access[access] = (refresh, time.monotonic() + self.access_token_seconds)
        body: dict[str, object] = {
            "access_token": access,
            "token_type": "Bearer",
            "user": user or {},
            "expires_in": int(self.access_token_seconds),
        }
        if grant_type == "authorization_code":
            body["refresh_token"] = refresh
        return 200, body

    def grant_student(self, form: dict[str, str]) -> str | None:
        """The student a token-endpoint request is about (to fill in ``user``)."""
        with self._lock:
            if form.get("grant_type") == "authorization_code":
                entry = self._codes.get(form.get("code", ""))
                return entry[0].student_token if entry else None
            grant = self._refresh.get(form.get("refresh_token", ""))
            return grant.student_token if grant else None

    def log_out(self, access_token: str | None) -> bool:
        """``DELETE /login/oauth2/token``: the access token and its refresh token end."""
        with self._lock:
            entry = self._access.pop(access_token or "", None)
            if entry is None:
                return False
            self._refresh.pop(entry[0], None)
            return True
