"""Canvas's OAuth2 endpoints, as a web app meets them (CANVAS_API.md, "Read first", Tokens).

- ``GET /login/oauth2/auth?client_id&response_type=code&redirect_uri&state&scope``: the page
  where the signed-in student approves or denies the app (two forms posting to
  ``/login/oauth2/auth/decision``); approving redirects to ``redirect_uri?code=..&state=..``,
  denying to ``redirect_uri?error=access_denied&state=..``. A key that ``require_scopes``
  refuses a missing scope or one it does not allow with a redirect to
  ``redirect_uri?error=invalid_scope&error_description=..`` that carries *no* ``state``
  (canvas-lms ``OAuth2ProviderController#auth`` raises ``Canvas::OAuth::InvalidScopeError``
  when ``Provider#valid_scopes?`` is false, which needs ``@scopes.present?``; it is answered
  by ``#redirect_oauth_error`` -> ``RequestError#redirect_uri``, which appends only ``error``
  and ``error_description``).
- ``POST /login/oauth2/token`` (form parameters): ``grant_type=authorization_code`` (with
  ``client_id``, ``client_secret``, ``redirect_uri``, ``code``; a code works once) or
  ``grant_type=refresh_token``. The answer carries ``access_token``, ``token_type``,
  ``user{id,name}``, ``expires_in`` (keys with ``auto_expire_tokens``) and ``refresh_token``
  only for a newly created token (``Canvas::OAuth::Token#as_json``). A refresh *replaces* the
  access token (``GrantTypes::RefreshToken#generate_token`` ->
  ``AccessToken#regenerate_access_token``): the previous one stops working. Refusals follow
  ``Canvas::OAuth::RequestError::ERROR_MAP``: an unknown refresh token is 400
  ``invalid_request`` "refresh_token not found", another key's is 400 ``invalid_grant``
  "incorrect client", a used code 400 ``invalid_grant``, a wrong client 401 ``invalid_client``
  (with ``WWW-Authenticate: Canvas OAuth 2.0``, ``OAuth2ProviderController#oauth_error``).
- A key with ``force_token_reuse`` answers a second sign-in with the student's existing token
  record (``Token.find_reusable_access_token``): a regenerated access token, no
  ``refresh_token``, and (such a key cannot ``auto_expire_tokens``,
  ``DeveloperKey#validate_flag_combinations``) no ``expires_in``.
- ``DELETE /login/oauth2/token`` with the access token as bearer: logs out (the record, so the
  access and refresh tokens, end). The token is authenticated like any API request
  (``AuthenticationMethods#load_pseudonym_from_access_token`` runs for
  ``oauth2_provider#destroy``): an expired or unknown one is refused with 401 and
  ``WWW-Authenticate``, and the grant stays in the student's Approved Integrations.

Access tokens expire after ``access_token_seconds`` (an hour, as on hosted Canvas; tests set
seconds); an expired one gets the same 401 as an invalid one. ``revoke_refresh`` ends records,
as when a student removes the app in Canvas. ``fail_token_requests`` makes the next token
requests fail (a 5xx, a throttle) before they reach the endpoint.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlencode

from simulator.scopes import KeyPolicy

ACCESS_TOKEN_SECONDS = 3600.0
Answer = tuple[int, dict[str, object], dict[str, str]]  # status, JSON body, extra headers


@dataclass
class _Client:
    """A developer key (DeveloperKey columns the flow reads)."""

    secret: str
    redirect_uri: str
    require_scopes: bool = False
    scopes: tuple[str, ...] = ()
    allow_includes: bool = True
    force_token_reuse: bool = False


@dataclass
class _Record:
    """One AccessToken row: its current access token and its refresh token."""

    client_id: str
    student_token: str
    scopes: tuple[str, ...]
    refresh: str
    access: str | None = None
    deadline: float | None = None  # None: never expires (no auto_expire_tokens)


def _refusal(status: int, error: str, description: str) -> Answer:
    headers = {"www-authenticate": "Canvas OAuth 2.0"} if status == 401 else {}
    return status, {"error": error, "error_description": description}, headers


class OAuthProvider:
    """The OAuth2 side of one simulated Canvas (thread-safe; the server calls it per request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, _Client] = {}
        self._codes: dict[str, tuple[str, str, tuple[str, ...], str]] = {}
        self._records: dict[str, _Record] = {}  # refresh token -> record
        self._access: dict[str, str] = {}  # access token -> refresh token
        self._faults: deque[int] = deque()
        # The approve page's scopes, as Canvas keeps them in session[:oauth2] until the
        # decision (OAuth2ProviderController#auth -> Provider#session_hash); keyed by key+state.
        self._pending: dict[tuple[str, str], tuple[str, ...]] = {}
        self.signed_in: str | None = None  # the student (their API token) using the browser
        self.access_token_seconds = ACCESS_TOKEN_SECONDS
        self.exchanges: list[str] = []  # grant types that reached the token endpoint, in order

    # -- set-up by tests ----------------------------------------------------------------------
    def register_client(self, client_id: str, secret: str, redirect_uri: str, *,
                        require_scopes: bool = False, scopes: tuple[str, ...] = (),
                        allow_includes: bool = True, force_token_reuse: bool = False) -> None:
        """A developer key, as a Canvas admin creates it ("Enforce Scopes" = require_scopes,
        "Allow Include Parameters" = allow_includes)."""
        with self._lock:
            self._clients[client_id] = _Client(secret, redirect_uri, require_scopes,
                                               tuple(scopes), allow_includes, force_token_reuse)

    def sign_in(self, student_token: str) -> None:
        """The student whose browser session approves the app."""
        self.signed_in = student_token

    def revoke_refresh(self, refresh_token: str | None = None) -> None:
        """End a token record (every one when None), as removing the app in Canvas does."""
        with self._lock:
            for token in [refresh_token] if refresh_token else list(self._records):
                record = self._records.pop(token, None)
                if record is not None and record.access:
                    self._access.pop(record.access, None)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now."""
        with self._lock:
            for record in self._records.values():
                if record.access:
                    record.deadline = 0.0

    def fail_token_requests(self, *statuses: int) -> None:
        """The next token requests are answered with these statuses (5xx, 403/429 throttle)."""
        with self._lock:
            self._faults.extend(statuses)

    def approved_integrations(self, student_token: str) -> int:
        """How many live grants the student's Approved Integrations list shows."""
        with self._lock:
            return sum(r.student_token == student_token for r in self._records.values())

    # -- what the server asks -----------------------------------------------------------------
    def _record_for(self, access_token: str | None) -> _Record | None:
        refresh = self._access.get(access_token or "")
        return self._records.get(refresh) if refresh else None

    def student_for(self, access_token: str) -> tuple[str | None, bool]:
        """(student token, expired?) for an access token; (None, False) if unknown."""
        with self._lock:
            record = self._record_for(access_token)
        if record is None:
            return None, False
        return record.student_token, record.deadline is not None and (
            time.monotonic() >= record.deadline)

    def key_policy(self, access_token: str | None) -> KeyPolicy | None:
        """The scopes and include rule of the key that issued this token (None: not OAuth)."""
        with self._lock:
            record = self._record_for(access_token)
            client = self._clients.get(record.client_id) if record else None
        if record is None or client is None:
            return None
        return KeyPolicy(client.require_scopes, record.scopes, client.allow_includes)

    def next_fault(self) -> int | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def authorize_page(self, query: dict[str, str]) -> tuple[int, str]:
        """(200, page), (400, text) or (302, Location)."""
        client = self._clients.get(query.get("client_id", ""))
        redirect_uri = query.get("redirect_uri", "")
        if client is None or redirect_uri != client.redirect_uri:
            return 400, "<p>invalid client_id or redirect_uri</p>"
        scopes = (query.get("scope") or query.get("scopes") or "").split()
        if client.require_scopes and (not scopes or any(s not in client.scopes for s in scopes)):
            missing = [s for s in scopes if s not in client.scopes]
            description = ("A requested scope is invalid, unknown, malformed, or exceeds the "
                           "scope granted by the resource owner. The following scopes were "
                           f"requested, but not granted: {', '.join(missing)}")
            query_string = urlencode({"error": "invalid_scope", "error_description": description})
            return 302, f"{redirect_uri}?{query_string}"
        if query.get("response_type") != "code":
            query_string = urlencode({"error": "unsupported_response_type",
                                      "state": query.get("state", "")})
            return 302, f"{redirect_uri}?{query_string}"
        with self._lock:
            self._pending[(query.get("client_id", ""), query.get("state", ""))] = tuple(scopes)
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
            scopes = self._pending.pop((form["client_id"], state), ())
            self._codes[code] = (form["client_id"], self.signed_in, scopes, redirect_uri)
        return 302, f"{redirect_uri}?{urlencode({'code': code, 'state': state})}"

    def exchange(self, form: dict[str, str], user: dict[str, object] | None) -> Answer:
        """The token endpoint: (status, JSON body, headers). ``user`` comes from the server."""
        grant_type = form.get("grant_type", "")
        self.exchanges.append(grant_type)
        client_id = form.get("client_id", "")
        client = self._clients.get(client_id)
        if client is None:
            return _refusal(401, "invalid_client", "unknown client")
        if not secrets.compare_digest(form.get("client_secret", ""), client.secret):
            return _refusal(401, "invalid_client", "invalid client")
        with self._lock:
            if grant_type == "authorization_code":
                entry = self._codes.pop(form.get("code", ""), None)  # a code works once
                if entry is None or entry[3] != form.get("redirect_uri"):
                    return _refusal(400, "invalid_grant", "authorization_code not found")
                if entry[0] != client_id:
                    return _refusal(400, "invalid_grant", "incorrect client")
                record, new = self._record_for_code(client, client_id, entry[1], entry[2])
            elif grant_type == "refresh_token":
                found = self._records.get(form.get("refresh_token", ""))
                if found is None:
                    return _refusal(400, "invalid_request", "refresh_token not found")
                if found.client_id != client_id:
                    return _refusal(400, "invalid_grant", "incorrect client")
                record, new = found, False
            else:
                return _refusal(400, "unsupported_grant_type",
                                "The grant_type you requested is not currently supported")
            access = self._regenerate(record, client)
        body: dict[str, object] = {"access_token": access, "token_type": "Bearer",
                                   "user": user or {}}
        if new:
            body["refresh_token"] = record.refresh
        if record.deadline is not None:
            body["expires_in"] = int(self.access_token_seconds)
        return 200, body, {}

    def _record_for_code(self, client: _Client, client_id: str, student: str,
                         scopes: tuple[str, ...]) -> tuple[_Record, bool]:
        """The record a code becomes: the reusable one (force_token_reuse), else a new one."""
        if client.force_token_reuse:
            for record in self._records.values():
                if (record.client_id, record.student_token, record.scopes) == (
                        client_id, student, scopes):
                    return record, False
        record = _Record(client_id, student, scopes, secrets.token_urlsafe(24))
        self._records[record.refresh] = record
        return record, True

    def _regenerate(self, record: _Record, client: _Client) -> str:
        """A new access token for the record; the previous one stops working."""
        if record.access:
            self._access.pop(record.access, None)
        record.access = f"sim~{secrets.token_urlsafe(24)}"
        self._access[record.access] = record.refresh
        auto_expire = not client.force_token_reuse
        record.deadline = time.monotonic() + self.access_token_seconds if auto_expire else None
        return record.access

    def grant_student(self, form: dict[str, str]) -> str | None:
        """The student a token-endpoint request is about (to fill in ``user``)."""
        with self._lock:
            if form.get("grant_type") == "authorization_code":
                entry = self._codes.get(form.get("code", ""))
                return entry[1] if entry else None
            record = self._records.get(form.get("refresh_token", ""))
            return record.student_token if record else None

    def log_out(self, access_token: str | None) -> Answer:
        """``DELETE /login/oauth2/token``: the record (access and refresh token) ends."""
        auth = {"www-authenticate": 'Bearer realm="canvas-lms"'}
        if not access_token:
            return 400, {"message": "can't delete OAuth access token when not using an "
                                    "OAuth access token"}, {}
        student, expired = self.student_for(access_token)
        if student is None:
            return 401, {"errors": [{"message": "Invalid access token."}]}, auth
        if expired:
            return 401, {"errors": [{"message": "Expired access token."}]}, auth
        with self._lock:
            refresh = self._access.pop(access_token, None)
            if refresh:
                self._records.pop(refresh, None)
        return 200, {}, {}
