"""The token a transport sends: renewed once for every thread that finds it expired, and
remembered once Canvas refused it.

A transport given a ``refresher`` (OAuth2) asks it for a new token once per request on a 401
that blames the token (``WWW-Authenticate``), then repeats the request with it: the threads
that hit the same expired token share one refresh (no storm), and a refused refresh raises the
401. Once Canvas refused a token, the requests queued behind it raise at once without sending it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from app.canvas.errors import CanvasError, InvalidToken

logger = logging.getLogger(__name__)

Refresher = Callable[[], str | None]


class Credentials:
    """The current token of one transport, its refresher, and Canvas's last refusal."""

    def __init__(self, token: str, refresher: Refresher | None,
                 on_new_token: Callable[[str], None], host: str) -> None:
        if not token:
            raise ValueError("a Canvas access token is required")
        self.token = token
        self._refresher = refresher
        self._on_new_token = on_new_token
        self._host = host
        self._lock = threading.Lock()
        self._refused: tuple[str, InvalidToken] | None = None  # (token, Canvas's verdict)
        self._refresh_failure: tuple[str, CanvasError] | None = None

    @property
    def renewable(self) -> bool:
        return self._refresher is not None

    def check_not_refused(self, token: str, endpoint: str) -> None:
        """Raise Canvas's verdict again if it already refused ``token``."""
        refused = self._refused
        if refused is not None and refused[0] == token:
            verdict = refused[1]
            raise InvalidToken(verdict.message, reason=verdict.reason, host=self._host,
                               endpoint=endpoint, status=verdict.status)

    def refused(self, token: str, verdict: InvalidToken) -> None:
        """Canvas refused ``token``: the requests queued behind it stop here."""
        self._refused = (token, verdict)

    def renew(self, failed: str) -> bool:
        """A new token after ``failed`` was refused: one refresh however many threads ask.

        False when the refresher had none to give; raises the refresher's ``CanvasError``
        (the token endpoint down or throttling), to every thread that asks for ``failed``.
        """
        assert self._refresher is not None
        with self._lock:
            if self.token != failed:
                return True  # another thread refreshed meanwhile
            if self._refresh_failure is not None and self._refresh_failure[0] == failed:
                raise self._refresh_failure[1]  # Canvas could not renew it a moment ago
            try:
                token = self._refresher()
            except CanvasError as exc:
                self._refresh_failure = (failed, exc)
                raise
            if not token:
                return False
            self.token = token
            self._on_new_token(token)
            logger.info("Canvas %s: access token refreshed", self._host)
            return True
