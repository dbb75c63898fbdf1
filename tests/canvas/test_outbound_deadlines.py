"""Every outbound call ends by its deadline, and a reply outside Canvas is read up to a small
cap, uncompressed (issue 21, findings 2 and 3).

The hostile servers (tests/slow_servers.py) run on 127.0.0.1: a slow loris sending one byte a
second (a per-read timeout never fires) and a webhook answering with a gzip bomb. Each call
runs in a daemon thread joined with a bound, so the old behaviour (a call that never ends)
fails the test instead of hanging it.
"""

from __future__ import annotations

import resource
import tracemalloc
from typing import Any

import pytest

from app.alerts import webhook
from app.canvas.client import CanvasAPIService, CanvasTimeout, ClientOptions
from app.connections import tokens
from app.connections.verify import VERIFY_DEADLINE_S, CanvasConnectionError, verify_canvas_token
from app.outbound import OutboundPolicy, guarded_session
from app.outbound_limits import Limits, OutboundTimeout
from tests.slow_servers import bomb, finishes_within, trickle

LOOPBACK = OutboundPolicy(allow_private=True)
TOKEN = "7~DeadlineSecretToken0123456789abcdef"
MB = 1024 * 1024


def test_a_trickling_canvas_ends_each_sync_request_by_its_deadline() -> None:
    with trickle(1.0) as slow:
        client = CanvasAPIService(slow.url, TOKEN, policy=LOOPBACK,
                                  options=ClientOptions(deadline=2.0, timeout=(2.0, 5.0)))
        ended, took, errors = finishes_within(12, client.get_courses)
        client.close()
    assert ended, "a Canvas sending one byte a second held the sync for ever"
    assert 1.5 < took < 5, took
    assert len(errors) == 1 and isinstance(errors[0], CanvasTimeout)
    message = str(errors[0])
    assert "127.0.0.1" in message and "within 2 s" in message and TOKEN not in message


@pytest.mark.slow
def test_a_trickling_canvas_ends_a_connection_check_by_its_deadline(app: Any) -> None:
    """The settings page's check (it holds a web thread) gives up after its 10 s deadline."""
    def check() -> None:
        with app.app_context():
            verify_canvas_token(slow.url, TOKEN)

    with trickle(1.0) as slow:
        ended, took, errors = finishes_within(VERIFY_DEADLINE_S + 15, check)
    assert ended, "a Canvas sending one byte a second held the settings page for ever"
    assert took < VERIFY_DEADLINE_S + 3, took
    assert len(errors) == 1 and isinstance(errors[0], CanvasConnectionError)
    assert errors[0].kind == "timeout"


def test_the_token_endpoint_ends_by_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "LIMITS", Limits(deadline=2.0), raising=False)
    with trickle(1.0) as slow:
        replies: list[Any] = []
        ended, took, _ = finishes_within(
            12, lambda: replies.append(tokens.post_token(slow.url, {"grant_type": "x"}, LOOPBACK))
        )
    assert ended, "a token endpoint sending one byte a second held the refresh for ever"
    assert took < 5, took
    assert replies and replies[0].status is None  # "no answer": retried later, never a refusal


def test_a_trickling_webhook_ends_by_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        webhook, "LIMITS", Limits(deadline=2.0, max_wire=4096, max_decoded=4096), raising=False
    )
    with trickle(1.0) as slow:
        ended, took, errors = finishes_within(12, lambda: webhook.post(slow.url, ["hi"], LOOPBACK))
    assert ended, "a webhook sending one byte a second held the sender for ever"
    assert took < 5, took
    assert len(errors) == 1 and isinstance(errors[0], OutboundTimeout)
    assert slow.url not in str(errors[0])  # a webhook address holds a secret


def test_any_guarded_session_has_a_deadline() -> None:
    """The default of the one outbound path: no caller can leave a call without one."""
    with trickle(0.5) as slow, guarded_session(LOOPBACK, limits=Limits(deadline=1.5)) as session:
        ended, took, errors = finishes_within(
            10, lambda: session.get(slow.url, timeout=(5, 5))
        )
    assert ended and took < 4, took
    assert isinstance(errors[0], OutboundTimeout)
    assert Limits().deadline <= 30


@pytest.mark.slow
def test_a_webhook_gzip_bomb_is_bounded() -> None:
    """The reply is read up to a few KiB, never inflated; the alert still counts as sent."""
    inflated = 256 * MB
    with bomb(inflated) as server:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        tracemalloc.start()
        try:
            ended, took, errors = finishes_within(
                30, lambda: webhook.post(server.url, ["Grade posted"], LOOPBACK)
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    assert ended and took < 10, took
    assert not errors, errors  # the receiver said 200: the alert went out
    assert peak < 8 * MB, f"the webhook's answer took {peak / MB:.0f} MiB"
    assert rss_growth < 64 * MB
    assert server.encodings == ["identity"]
