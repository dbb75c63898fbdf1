"""Redis checks shared by the tests that start real Celery workers."""

from __future__ import annotations

import os

import pytest


def require_redis(url: str) -> None:
    """Skip when Redis at ``url`` is down; on CI (CI=true) that is a failure, not a skip."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {url} is required on CI: {exc}")
        pytest.skip(f"Redis at {url} is not reachable: {exc}")


def forget_queue(url: str, queue: str) -> None:
    """Remove a test queue's keys so test sessions leave nothing behind in Redis."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    finally:
        client.close()
