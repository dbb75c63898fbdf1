"""How a Canvas client is built: one frozen options object instead of a dozen keywords.

Usage::

    options = ClientOptions(timeout=(3.0, 10.0), retry=RetryPolicy(max_retries=0))
    CanvasAPIService(url, token, options=options, policy=outbound_policy())
    ClientOptions().replace(per_page=50)    # a copy with one field changed

What a client talks *to* (the outbound policy, the token's limiter, the OAuth refresher) is
passed to the client itself; everything about *how* it talks is here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self

from app.canvas.retry import RetryPolicy

USER_AGENT = "GradeSync/0.1 (+https://github.com/gradesync)"
# One attempt, connect to last byte: Canvas's load balancers give up at 60 s of silence, so a
# healthy Canvas always ends sooner; a server trickling bytes is cut off here.
DEADLINE_S = 90.0


@dataclass(frozen=True)
class ClientOptions:
    """How a client talks to Canvas.

    :param timeout: ``(connect, read)`` seconds for every request (read 60 s: Canvas's load
        balancers give up then).
    :param deadline: seconds one attempt may take in all, body included (a trickling server is
        cut off then).
    :param retry: the retry policy (how many retries, the back-off).
    :param per_page: page size asked for on every list (Canvas caps it at 100).
    :param page_workers: threads fetching the pages of one numbered list.
    :param user_agent: hosted Canvas refuses requests without one.
    :param record_requests: keep a record of every attempt in ``stats.records``.
    """

    timeout: tuple[float, float] = (5.0, 60.0)
    deadline: float = DEADLINE_S
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    per_page: int = 100
    page_workers: int = 5
    user_agent: str = USER_AGENT
    record_requests: bool = False

    def __post_init__(self) -> None:
        if self.per_page < 1 or self.page_workers < 1:
            raise ValueError("per_page and page_workers must be at least 1")

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (the retry fields may be given directly: ``max_retries=0``)."""
        retry_fields = {f.name for f in dataclasses.fields(RetryPolicy)}
        retry_changes = {k: changes.pop(k) for k in list(changes) if k in retry_fields}
        if retry_changes:
            changes["retry"] = dataclasses.replace(changes.get("retry", self.retry),
                                                   **retry_changes)
        return dataclasses.replace(self, **changes)
