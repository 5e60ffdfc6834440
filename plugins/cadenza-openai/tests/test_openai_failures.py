"""HTTP answers map onto typed errors; messages quote the server but never a secret."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

import cadenza
from cadenza.http import redact
from cadenza_openai._failures import parse_retry_after, server_message, status_error

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Thu, 01 Jan 2026 12:00:30 GMT"}, 30.0),
        ({"retry-after": "Thu, 01 Jan 2026 11:00:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        (
            {
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "1s",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "6m0s",
            },
            360.0,
        ),
        ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "20ms"}, 0.02),
        ({"x-ratelimit-remaining-tokens": "10", "x-ratelimit-reset-tokens": "20ms"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    """retry-after-ms, Retry-After (seconds or date), then exhausted x-ratelimit-reset-*."""
    assert parse_retry_after(httpx.Headers(headers), now=NOW) == pytest.approx(seconds)


def test_server_message_shapes() -> None:
    """OpenAI's error object, FastAPI's detail and plain text are all quoted."""
    assert server_message(b'{"error": {"message": "bad model", "code": "x"}}', ()) == (
        "bad model",
        "x",
    )
    assert server_message(b'{"error": "model not found"}', ())[0] == "model not found"
    assert server_message(b'{"detail": [{"msg": "field required"}]}', ())[0] == (
        '[{"msg": "field required"}]'
    )
    assert server_message(b"upstream   down\n", ())[0] == "upstream down"
    assert server_message(b"", ())[0] == "(empty body)"
    assert len(server_message(b"x" * 1000, ())[0]) == 200


def test_redact_hides_secrets() -> None:
    """Secrets are replaced; longer ones first; very short ones are left alone."""
    assert redact(
        "key sk-abcdef and sk-abcdef-long, id", ["sk-abcdef", "sk-abcdef-long", "id"]
    ) == ("key *** and ***, id")


def response(status: int, body: bytes = b"", **headers: str) -> httpx.Response:
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    return httpx.Response(status, content=body, headers=headers, request=request)


def error_for(resp: httpx.Response, *, has_key: bool = True) -> cadenza.AgentError:
    return status_error(
        resp, where="w", agent="a", step_id="s", secrets=["sk-secret-1"], has_key=has_key
    )


def test_status_mapping() -> None:
    """429 is rate-limited, 5xx/408 retryable, other 4xx permanent."""
    limited = error_for(response(429, retry_after="3"))
    assert isinstance(limited, cadenza.RetryableError)
    assert limited.rate_limited
    assert limited.retry_after == 3.0
    for status in (408, 500, 502, 503):
        error = error_for(response(status))
        assert isinstance(error, cadenza.RetryableError)
        assert not error.rate_limited
    for status in (400, 401, 403, 404, 422):
        assert isinstance(error_for(response(status)), cadenza.PermanentError)


def test_quota_exhausted_is_permanent() -> None:
    """A 429 for an exhausted quota is not retried: waiting does not add credit."""
    body = (
        b'{"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}'
    )
    error = error_for(response(429, body))
    assert isinstance(error, cadenza.PermanentError)
    assert "out of quota" in str(error)


def test_unauthorized_says_whether_a_key_was_sent_and_hides_it() -> None:
    """401 names the api_key option and never quotes its body, which may echo the key."""
    body = b'{"error": {"message": "Incorrect API key provided: SK-SECRET-1."}}'
    error = error_for(response(401, body), has_key=True)
    assert "credentials were sent" in str(error)
    assert "SK-SECRET-1" not in str(error)
    assert "Incorrect API key" not in str(error)
    assert "no api_key or Authorization was sent" in str(error_for(response(401), has_key=False))


def test_not_found_hints_at_base_url_and_model() -> None:
    """404 points at base_url and model."""
    assert "Check base_url" in str(error_for(response(404)))


def test_redirect_names_the_location_without_credentials() -> None:
    """3xx says where to point base_url, minus any credentials in the Location."""
    error = error_for(response(301, location="https://user:pw@api.example.com/v1/chat?x=1"))
    assert "https://api.example.com/v1/chat" in str(error)
    assert "pw" not in str(error)
