"""flaskr-style helper: register, log in and log out through the real forms."""

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
