"""What the sync engine needs from a Canvas client, as a protocol.

:class:`~app.canvas.client.CanvasAPIService` is the real one; tests hand the engine small fakes
that implement only :class:`CanvasClient`. A client that also counts its requests and shares a
rate limiter (:class:`MeasuredClient`) gets them into the sync's result and a warm start.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from app.canvas.ratelimit import ThrottleLimiter
from app.canvas.stats import ClientStats


@runtime_checkable
class CanvasClient(Protocol):
    """The Canvas reads a sync makes."""

    def get_courses(self) -> list[Any]:
        """Canvas's default course list (every page), with terms and scores: the current
        courses and those over by date."""
        ...

    def get_completed_courses(self) -> list[Any]:
        """The courses a teacher concluded (``state[]=completed``), with terms and scores."""
        ...

    def get_student_enrollments(self) -> list[Any]:
        """The current and concluded student enrollments, with ``course_id`` and ``grades``."""
        ...

    def get_course(self, course_id: int) -> Any:
        """One course (401/404 when the student is no longer enrolled)."""
        ...

    def get_assignment_groups(
        self, course_id: int, *, include_assignments: bool = ..., include_submission: bool = ...
    ) -> list[Any]:
        """A course's gradebook: its groups with their assignments and the student's submission."""
        ...


@runtime_checkable
class MeasuredClient(CanvasClient, Protocol):
    """A client with request counters and a per-token limiter (the real one)."""

    @property
    def stats(self) -> ClientStats: ...

    @property
    def limiter(self) -> ThrottleLimiter: ...

    def close(self) -> None: ...
