"""The simulator speaks Canvas's OAuth2 (simulator/oauth.py), the way a web app meets it."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

REDIRECT = "http://gradesync.test/oauth/canvas/callback"
UA = {"User-Agent": "GradeSync tests"}


@pytest.fixture
def oauth(simulator: Any) -> Any:
    student = simulator.add_student("api-token-of-the-student")
    simulator.oauth.register_client("10000000000001", "s3cret", REDIRECT)
    simulator.oauth.sign_in(student.token)
    return simulator, student


def _decide(sim: Any, decision: str, state: str = "st-1") -> dict[str, list[str]]:
    page = requests.get(
        f"{sim.base_url}/login/oauth2/auth",
        params={"client_id": "10000000000001", "response_type": "code",
                "redirect_uri": REDIRECT, "state": state},
        headers=UA, timeout=5,
    )
    assert page.status_code == 200 and "Authorize" in page.text
    answer = requests.post(
        f"{sim.base_url}/login/oauth2/auth/decision",
        data={"client_id": "10000000000001", "redirect_uri": REDIRECT, "state": state,
              "decision": decision},
        headers=UA, allow_redirects=False, timeout=5,
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def _token(sim: Any, **form: str) -> requests.Response:
    return requests.post(
        f"{sim.base_url}/login/oauth2/token",
        data={"client_id": "10000000000001", "client_secret": "s3cret",
              "redirect_uri": REDIRECT, **form},
        headers=UA, timeout=5,
    )


def _me(sim: Any, access: str) -> requests.Response:
    return requests.get(f"{sim.base_url}/api/v1/users/self",
                        headers={**UA, "Authorization": f"Bearer {access}"}, timeout=5)


def test_approve_exchange_use_refresh_and_log_out(oauth: Any) -> None:
    sim, student = oauth
    query = _decide(sim, "approve")
    assert query["state"] == ["st-1"]
    first = _token(sim, grant_type="authorization_code", code=query["code"][0])
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["user"] == {"id": student.user_id, "name": student.name}
    assert _me(sim, body["access_token"]).json()["id"] == student.user_id

    again = _token(sim, grant_type="authorization_code", code=query["code"][0])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # once only

    refreshed = _token(sim, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refreshed.status_code == 200
    assert "refresh_token" not in refreshed.json()  # only the first exchange carries one
    new_access = refreshed.json()["access_token"]
    assert _me(sim, new_access).status_code == 200

    out = requests.delete(f"{sim.base_url}/login/oauth2/token",
                          headers={**UA, "Authorization": f"Bearer {new_access}"}, timeout=5)
    assert out.status_code == 200
    assert _me(sim, new_access).status_code == 401
    gone = _token(sim, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert gone.status_code == 400  # logging out ended the refresh token too


def test_deny_redirects_with_access_denied(oauth: Any) -> None:
    sim, _ = oauth
    query = _decide(sim, "deny", state="st-2")
    assert query == {"error": ["access_denied"], "state": ["st-2"]}


def test_access_tokens_expire_in_seconds_and_look_like_any_401(oauth: Any) -> None:
    sim, _ = oauth
    sim.oauth.access_token_seconds = 1.0
    code = _decide(sim, "approve")["code"][0]
    access = _token(sim, grant_type="authorization_code", code=code).json()["access_token"]
    assert _me(sim, access).status_code == 200
    time.sleep(1.1)
    expired = _me(sim, access)
    assert expired.status_code == 401 and "www-authenticate" in expired.headers


def test_wrong_secret_and_revoked_refresh_are_refused(oauth: Any) -> None:
    sim, _ = oauth
    code = _decide(sim, "approve")["code"][0]
    wrong = requests.post(
        f"{sim.base_url}/login/oauth2/token",
        data={"client_id": "10000000000001", "client_secret": "nope",
              "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers=UA, timeout=5,
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    body = _token(sim, grant_type="authorization_code", code=code).json()
    sim.oauth.revoke_refresh(body["refresh_token"])
    refused = _token(sim, grant_type="refresh_token", refresh_token=body["refresh_token"])
    # canvas-lms Canvas::OAuth::RequestError::ERROR_MAP[:invalid_refresh_token]: a refresh
    # token Canvas no longer knows is invalid_request "refresh_token not found" (this test
    # said invalid_grant, which Canvas answers only for another key's token).
    assert refused.status_code == 400 and refused.json() == {
        "error": "invalid_request", "error_description": "refresh_token not found"}


def test_two_simulators_run_at_once_with_overlapping_ids(simulator: Any) -> None:
    from simulator import CanvasSimulator, SimulatorConfig

    first = simulator.add_student("tok-one")
    with CanvasSimulator(SimulatorConfig()) as other:
        second = other.add_student("tok-two")
        assert set(first.expected()) & set(second.expected())
        assert simulator.base_url != other.base_url


# --- developer-key rules (simulator/oauth.py, simulator/scopes.py) ---------------------------

SCOPED = "20000000000002"
SCOPES = ("url:GET|/api/v1/users/:id", "url:GET|/api/v1/courses",
          "url:GET|/api/v1/courses/:course_id/assignment_groups")


def _scoped(sim: Any, *, allow_includes: bool, force_token_reuse: bool = False) -> None:
    sim.oauth.register_client(SCOPED, "s3cret", REDIRECT, require_scopes=True, scopes=SCOPES,
                              allow_includes=allow_includes,
                              force_token_reuse=force_token_reuse)


def _sign_in(sim: Any, client_id: str = SCOPED, scope: str = " ".join(SCOPES)) -> dict[str, Any]:
    """The whole browser flow with a scope; returns the token answer."""
    page = requests.get(
        f"{sim.base_url}/login/oauth2/auth",
        params={"client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT,
                "state": "st", "scope": scope},
        headers=UA, timeout=5,
    )
    assert page.status_code == 200, page.text
    answer = requests.post(
        f"{sim.base_url}/login/oauth2/auth/decision",
        data={"client_id": client_id, "redirect_uri": REDIRECT, "state": "st", "scope": scope,
              "decision": "approve"},
        headers=UA, allow_redirects=False, timeout=5,
    )
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    return _token(sim, client_id=client_id, grant_type="authorization_code", code=code).json()


def test_a_scope_enforcing_key_redirects_invalid_scope_without_state(oauth: Any) -> None:
    """Mirrors oauth2_provider_controller_spec.rb "GET auth with invalid scopes renders 400
    when scopes empty" / "renders 400": with a web redirect URI, Canvas answers through
    ``redirect_oauth_error``, whose URL carries error and error_description but no state."""
    sim, _ = oauth
    _scoped(sim, allow_includes=True)
    for scope in (None, "url:GET|/api/v1/courses url:GET|/api/v1/users/:user_id/page_views"):
        params = {"client_id": SCOPED, "response_type": "code", "redirect_uri": REDIRECT,
                  "state": "st-9"}
        if scope:
            params["scope"] = scope
        answer = requests.get(f"{sim.base_url}/login/oauth2/auth", params=params, headers=UA,
                              allow_redirects=False, timeout=5)
        assert answer.status_code == 302
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert query["error"] == ["invalid_scope"] and "state" not in query
        assert "A requested scope is invalid" in query["error_description"][0]


def test_a_scoped_token_reads_only_its_scopes_and_loses_includes(oauth: Any) -> None:
    """Mirrors AuthenticationMethods#validate_scopes as auth_spec.rb exercises tokens: a path
    outside the token's scopes is 401 "Insufficient scopes on access token." with no
    WWW-Authenticate; without allow_includes, include[] is dropped (only uuid survives)."""
    sim, student = oauth
    _scoped(sim, allow_includes=False)
    access = _sign_in(sim)["access_token"]
    auth = {**UA, "Authorization": f"Bearer {access}"}
    profile = requests.get(f"{sim.base_url}/api/v1/users/self/profile", headers=auth, timeout=5)
    assert profile.status_code == 401 and "www-authenticate" not in profile.headers
    assert profile.json() == {"errors": [{"message": "Insufficient scopes on access token."}]}
    course_id = next(iter(student.expected()))
    groups = requests.get(
        f"{sim.base_url}/api/v1/courses/{course_id}/assignment_groups",
        params=[("include[]", "assignments"), ("include[]", "submission")],
        headers=auth, timeout=5,
    )
    assert groups.status_code == 200 and groups.json()
    assert all("assignments" not in group for group in groups.json())


def test_a_key_allowing_includes_keeps_them(oauth: Any) -> None:
    """Mirrors developer_keys_controller_spec.rb 'allows setting "allow_includes"': with it
    on, a scoped token's include[] reaches the controller."""
    sim, student = oauth
    _scoped(sim, allow_includes=True)
    access = _sign_in(sim)["access_token"]
    course_id = next(iter(student.expected()))
    groups = requests.get(
        f"{sim.base_url}/api/v1/courses/{course_id}/assignment_groups",
        params=[("include[]", "assignments")],
        headers={**UA, "Authorization": f"Bearer {access}"}, timeout=5,
    )
    assert groups.status_code == 200 and all("assignments" in g for g in groups.json())


def test_a_refresh_replaces_the_access_token(oauth: Any) -> None:
    """Mirrors oauth2_provider_controller_spec.rb "grant_type refresh_token should be able to
    regenerate access_token multiple times" (each answer a new token, keys access_token user
    expires_in token_type): GrantTypes::RefreshToken#generate_token regenerates the token, so
    the previous one is refused with WWW-Authenticate."""
    sim, _ = oauth
    first = _token(sim, grant_type="authorization_code",
                   code=_decide(sim, "approve")["code"][0]).json()
    second = _token(sim, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    third = _token(sim, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert set(second) == {"access_token", "user", "expires_in", "token_type"}
    assert len({first["access_token"], second["access_token"], third["access_token"]}) == 3
    old = _me(sim, second["access_token"])
    assert old.status_code == 401 and "www-authenticate" in old.headers
    assert _me(sim, third["access_token"]).status_code == 200


def test_logging_out_with_an_expired_token_is_refused_and_the_grant_stays(oauth: Any) -> None:
    """Mirrors auth_spec.rb "errors if the access token is expired or non-existent" for the
    destroy action (load_pseudonym_from_access_token runs for oauth2_provider#destroy), and
    "is able to log out" once the token is fresh again."""
    sim, student = oauth
    body = _token(sim, grant_type="authorization_code",
                  code=_decide(sim, "approve")["code"][0]).json()
    sim.oauth.expire_access_tokens()
    url = f"{sim.base_url}/login/oauth2/token"
    stale = requests.delete(url, headers={**UA, "Authorization": f"Bearer {body['access_token']}"},
                            timeout=5)
    assert stale.status_code == 401 and "www-authenticate" in stale.headers
    assert sim.oauth.approved_integrations(student.token) == 1
    fresh = _token(sim, grant_type="refresh_token", refresh_token=body["refresh_token"]).json()
    out = requests.delete(url, headers={**UA, "Authorization": f"Bearer {fresh['access_token']}"},
                          timeout=5)
    assert out.status_code == 200 and sim.oauth.approved_integrations(student.token) == 0


def test_force_token_reuse_answers_the_existing_token_without_a_refresh_token(oauth: Any) -> None:
    """Mirrors auth_spec.rb "trusted developer key does not give second token if
    force_token_reuse": the second sign-in reuses the student's one token record (no new
    refresh_token; such a key cannot auto-expire tokens, so no expires_in)."""
    sim, student = oauth
    _scoped(sim, allow_includes=True, force_token_reuse=True)
    first, second = _sign_in(sim), _sign_in(sim)
    assert "refresh_token" in first and "expires_in" not in first
    assert "refresh_token" not in second and "expires_in" not in second
    assert sim.oauth.approved_integrations(student.token) == 1
    again = _token(sim, client_id=SCOPED, grant_type="refresh_token",
                   refresh_token=first["refresh_token"])
    assert again.status_code == 200  # the one record's refresh token still works


def test_each_token_request_costs_the_callers_bucket_200_units(oauth: Any) -> None:
    """Mirrors OAuth2ProviderController#token's increment_request_cost(Setting
    "oauth_token_additional_request_cost", 200): the request has no access token, so the
    throttle counts it in the caller's ip bucket; a burst of refreshes gets throttled."""
    sim, _ = oauth
    body = _token(sim, grant_type="authorization_code",
                  code=_decide(sim, "approve")["code"][0]).json()
    answers = [_token(sim, grant_type="refresh_token", refresh_token=body["refresh_token"])
               for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 403]
    assert answers[0].headers["x-request-cost"].startswith("200.")
    assert answers[2].text == "403 Forbidden (Rate Limit Exceeded)\n"
