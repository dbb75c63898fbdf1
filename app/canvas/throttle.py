"""Canvas's throttle as a response shows it: which answers are a throttle, what the bucket said.

A 429 is always a throttle. A 403 is one only when its body says "Rate Limit Exceeded" (Canvas's
legacy text answer, CANVAS_API.md); every other 403 is a refusal and is never retried.
``X-Rate-Limit-Remaining`` and ``X-Request-Cost`` are what the limiter
(:mod:`app.canvas.ratelimit`) learns from after each attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests


def is_throttle(response: requests.Response) -> bool:
    """Whether Canvas's rate limiter refused this request (403 legacy text body, or 429)."""
    if response.status_code == 429:
        return True
    return response.status_code == 403 and "rate limit exceeded" in response.text.lower()


def header_float(response: requests.Response, name: str) -> float | None:
    """A numeric header (names are case-insensitive in requests), or None."""
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class BucketReport:
    """What one answer said about the token's bucket."""

    remaining: float | None
    cost: float | None
    throttled: bool


def bucket_report(response: requests.Response) -> BucketReport:
    """The bucket headers of ``response`` and whether it was a throttle."""
    return BucketReport(
        remaining=header_float(response, "x-rate-limit-remaining"),
        cost=header_float(response, "x-request-cost"),
        throttled=is_throttle(response),
    )
