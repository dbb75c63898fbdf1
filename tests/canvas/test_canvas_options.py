"""How a Canvas client is configured: one frozen options object and the retry policy's rules."""

from __future__ import annotations

import dataclasses

import pytest
import requests

from app.canvas.client import CanvasAPIService, ClientOptions, RetryPolicy


def answer(status: int, body: str = "") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    return response


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (429, "", "throttled"),  # always a throttle
        (403, "403 Forbidden (Rate Limit Exceeded)\n", "throttled"),  # Canvas's legacy text
        (403, '{"errors":[{"message":"user not authorized to perform that action"}]}', None),
        (503, "", "HTTP 503"),
        (502, "", "HTTP 502"),
        (404, "", None),
        (401, "", None),
    ],
)
def test_only_throttles_and_server_faults_are_retried(
    status: int, body: str, reason: str | None
) -> None:
    assert RetryPolicy().reason_to_retry(answer(status, body)) == reason


def test_read_timeouts_get_fewer_retries_than_the_rest() -> None:
    policy = RetryPolicy(max_retries=3, timeout_retries=1)
    assert policy.allows(2) and not policy.allows(3)
    assert policy.allows(0, timeouts=1) and not policy.allows(0, timeouts=2)


def test_options_are_frozen_and_copied_with_changes() -> None:
    options = ClientOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.per_page = 10  # type: ignore[misc]
    changed = options.replace(per_page=25, max_retries=0, timeout=(1.0, 2.0))
    assert (changed.per_page, changed.retry.max_retries, changed.timeout) == (25, 0, (1.0, 2.0))
    assert changed.retry.backoff_factor == options.retry.backoff_factor
    assert (options.per_page, options.retry.max_retries) == (100, 5)  # the original is unchanged


def test_a_page_size_of_zero_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="per_page"):
        ClientOptions(per_page=0)


def test_the_client_reads_its_options_back() -> None:
    options = ClientOptions(per_page=20, page_workers=2, retry=RetryPolicy(max_retries=1))
    with CanvasAPIService("https://canvas.example.edu", "options-token-1", options=options) as api:
        assert (api.per_page, api.page_workers, api.max_retries) == (20, 2, 1)
        assert api.options is options
