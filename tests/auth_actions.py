"""flaskr-style helpers: register, log in and log out through the real forms, or sign a test
client in directly (``sign_in``) when the test is about a page, not about signing in."""

from __future__ import annotations

from typing import Any

DEFAULT_EMAIL = "student@example.edu"
DEFAULT_PASSWORD = "correct horse battery"


class AuthActions:
    def __init__(self, client: Any) -> None:
        self._client = client

    def register(
        self,
        email: str = DEFAULT_EMAIL,
        password: str = DEFAULT_PASSWORD,
        confirm: str | None = None,
    ) -> Any:
        return self._client.post(
            "/register",
            data={
                "email": email,
                "password": password,
                "confirm": password if confirm is None else confirm,
            },
        )

    def login(
        self, email: str = DEFAULT_EMAIL, password: str = DEFAULT_PASSWORD, **extra: Any
    ) -> Any:
        return self._client.post("/login", data={"email": email, "password": password, **extra})

    def logout(self) -> Any:
        return self._client.post("/logout")


def sign_in(client: Any, user: Any) -> None:
    """Sign the Flask test ``client`` in as ``user`` (a ``User``, or the email of one), as a
    password login would leave the session. The one place the tests write Flask-Login's
    session keys; tests of the login itself go through :class:`AuthActions`."""
    from app.accounts import find_user

    account = find_user(user) if isinstance(user, str) else user
    assert account is not None, f"no user {user!r} to sign in"
    with client.session_transaction() as session:
        session["_user_id"] = account.get_session_id()
        session["_fresh"] = True
