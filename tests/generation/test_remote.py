"""The shared HTTP layer: what is retried, how long it waits, whose message the user sees."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from mvpipe.errors import InputError
from mvpipe.generation.providers.comfyui import ComfyUIProvider
from mvpipe.generation.providers.runway import RunwayProvider
from mvpipe.generation.remote import ApiClient, RetryPolicy, TransientError, provider_message, retry_after


def test_retry_after_reads_milliseconds_seconds_and_dates():
    assert retry_after(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert 17 <= retry_after(httpx.Headers({"retry-after": when})) <= 20
    assert retry_after(httpx.Headers({})) is None


def test_policy_waits_what_the_server_asked_capped():
    policy = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.002, max_retry_after=0.05)
    calls: list[float] = []

    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise TransientError("busy", retry_after=10.0)  # capped to 0.05
        return "ok"
    assert policy.retrying()(flaky) == "ok"
    assert 0.09 <= calls[-1] - calls[0] < 1.0


@pytest.mark.parametrize("body, expected", [
    ({"error": {"message": "Billing hard limit reached", "code": "billing_hard_limit_reached"}},
     "Billing hard limit reached (billing_hard_limit_reached)"),
    ({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}, "Quota exceeded (429)"),
    ({"error": "Invalid ratio"}, "Invalid ratio"),
    ({"detail": [{"msg": "field required"}]}, '[{"msg": "field required"}]'),
])
def test_provider_message_keeps_the_providers_words(body, expected):
    assert provider_message(httpx.Response(400, json=body)) == expected


def test_missing_key_names_the_variable():
    with pytest.raises(InputError, match="set RUNWAYML_API_SECRET"):
        ApiClient(RunwayProvider(), environ={})
    client = ApiClient(RunwayProvider(), environ={"RUNWAYML_API_SECRET": "k", "RUNWAYML_BASE_URL": "http://x:1/"})
    assert client.url("v1/tasks/1") == "http://x:1/v1/tasks/1" and client.url("https://cdn/a") == "https://cdn/a"
    assert ApiClient(ComfyUIProvider(), environ={}).url("prompt") == "http://127.0.0.1:8188/prompt"  # keyless
