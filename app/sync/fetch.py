"""The fetching half of a sync: the HTTP worker pool and what one worker does for a course.

Workers only talk to Canvas and parse: no database, no session. The one-request plan's
gradebook (``assignment_groups?include[]=assignments&include[]=submission``) is parsed and
hashed on the worker that fetched it, so that CPU work overlaps other requests instead of
queueing in the single writer thread.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from app.canvas.protocol import CanvasClient
from app.sync.parse import Gradebook, parse_gradebook


class FetchPool(ThreadPoolExecutor):
    """The HTTP worker threads of one sync.

    On the way out after a failure it does not sit through the other requests' retries and
    back-offs: queued requests are cancelled and those in flight end on their own.
    """

    def __init__(self, workers: int) -> None:
        super().__init__(max_workers=max(1, workers), thread_name_prefix="canvas-fetch")
        self.succeeded = False

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=self.succeeded, cancel_futures=True)


def fetch_gradebook(client: CanvasClient, canvas_course_id: int) -> Gradebook:
    """One course's gradebook in ONE request, parsed and hashed (runs on a worker thread)."""
    gradebook = parse_gradebook(
        canvas_course_id,
        client.get_assignment_groups(
            canvas_course_id, include_assignments=True, include_submission=True
        ),
    )
    gradebook.content_hash  # noqa: B018 - computed (and cached) on this thread
    return gradebook
