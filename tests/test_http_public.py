"""cadenza.http: the HTTP helpers plugins share with the kernel, pinned name by name."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import pytest
import structlog
from structlog.testing import capture_logs

import cadenza
import cadenza.http
from cadenza.http import (
    check_headers,
    check_health,
    clip,
    error_for_status,
    header_names,
    open_http_client,
    parse_retry_after,
    read_at_most,
    redact,
    safe_url,
    secret_forms,
    user_agent,
)
from cadenza.testing import Drop, Ok, Status, open_seed_agent_server

PUBLIC = {
    "check_headers",
    "check_health",
    "clip",
    "error_for_status",
    "header_names",
    "open_http_client",
    "parse_retry_after",
    "read_at_most",
    "redact",
    "safe_url",
    "secret_forms",
    "user_agent",
}
KEY = "sk-test-0123456789"
NOW = datetime(2015, 10, 21, 7, 0, tzinfo=UTC)


def response(status: int, body: bytes = b"", **headers: str) -> httpx.Response:
    request = httpx.Request("POST", "https://api.example.com/v1/tasks")
    names = {name.replace("_", "-"): value for name, value in headers.items()}
    return httpx.Response(status, content=body, headers=names, request=request)


def error_for(resp: httpx.Response, **options: Any) -> cadenza.AgentError:
    return error_for_status(resp, where="w", agent="a", step_id="s", secrets=[KEY], **options)


def test_all_is_pinned() -> None:
    """Adding or removing a name of cadenza.http is a deliberate change to this list."""
    assert set(cadenza.http.__all__) == PUBLIC
    assert len(cadenza.http.__all__) == len(PUBLIC)


def test_public_names_report_the_public_module() -> None:
    """Tracebacks and reprs say cadenza.http.X, not the private module."""
    for name in cadenza.http.__all__:
        assert getattr(cadenza.http, name).__module__ == "cadenza.http", name


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "120"}, 120.0),
        ({"retry-after": " 1.5 "}, 1.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 28 * 60.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:01:00 -0000"}, 60.0),
        ({"Retry-After": "Wed, 21 Oct 2015 06:00:00 GMT"}, 0.0),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-5"}, None),
        ({"Retry-After": ""}, None),
        ({"Retry-After": "Wed, 99 Foo 2015"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    """retry-after-ms, then Retry-After as seconds or an HTTP-date; past dates are 0."""
    assert parse_retry_after(headers, now=NOW) == seconds
    assert parse_retry_after(httpx.Headers(headers), now=NOW) == seconds


def test_429_is_rate_limited_with_the_servers_delay() -> None:
    """A 429 is a rate-limited RetryableError carrying Retry-After."""
    error = error_for(response(429, b"slow down", retry_after="3"))
    assert isinstance(error, cadenza.RetryableError)
    assert error.rate_limited
    assert error.retry_after == 3.0
    assert "w: HTTP 429: slow down" in str(error)


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_408_and_5xx_are_retryable(status: int) -> None:
    """408 and 5xx are retryable, not rate-limited."""
    error = error_for(response(status))
    assert isinstance(error, cadenza.RetryableError)
    assert not error.rate_limited


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_other_4xx_are_permanent_and_quote_the_body(status: int) -> None:
    """Other 4xx are permanent and quote the body, redacted."""
    error = error_for(response(status, f"bad request for {KEY}".encode()))
    assert isinstance(error, cadenza.PermanentError)
    assert f"HTTP {status}: bad request for ***" in str(error)
    assert KEY not in str(error)


def test_extra_retryable_statuses_and_retry_after_override() -> None:
    """A caller may retry more statuses and supply its own delay."""
    error = error_for(response(409), retryable=(409,), retry_after=12.0)
    assert isinstance(error, cadenza.RetryableError)
    assert error.retry_after == 12.0


@pytest.mark.parametrize("status", [401, 403])
def test_unauthorized_never_quotes_the_body(status: int) -> None:
    """401/403 are permanent, name api_key and what was sent, and quote nothing of the body."""
    encoded = base64.b64encode(f"user:{KEY}".encode()).decode()
    body = f"invalid key {KEY} {KEY.upper()} {encoded}".encode()
    error = error_for(response(status, body), credentials="an api_key is set")
    assert isinstance(error, cadenza.PermanentError)
    assert f"HTTP {status}: the provider refused the credentials (an api_key is set)" in str(error)
    assert "api_key option" in str(error)
    assert "invalid key" not in str(error)
    assert KEY not in str(error)


def test_detail_replaces_the_body_and_is_redacted() -> None:
    """A caller-parsed server message is quoted instead of the body, secrets hidden."""
    error = error_for(response(400, b'{"error": "x"}'), detail=f"model gone ({KEY.upper()})")
    assert str(error) == "w: HTTP 400: model gone (***)"


def test_redirect_names_the_target_without_credentials() -> None:
    """A 3xx names its Location minus credentials and query, and the option to change."""
    error = error_for(
        response(308, location="https://user:pw-1234@elsewhere.example/v2?token=t"),
        url_option="base_url",
        hint="Check the proxy.",
    )
    assert isinstance(error, cadenza.PermanentError)
    assert "redirects to https://elsewhere.example/v2; set base_url" in str(error)
    assert "pw-1234" not in str(error)
    assert "token" not in str(error)
    assert str(error).endswith("\n  Check the proxy.")


def test_safe_url_hides_userinfo_query_and_fragment() -> None:
    """safe_url drops credentials, query and fragment, and survives garbage."""
    url = "https://user:secret@api.example.com:8443/v1/chat?key=abc#frag"
    assert safe_url(url) == "https://api.example.com:8443/v1/chat"
    assert safe_url(httpx.URL(url)) == "https://api.example.com:8443/v1/chat"
    assert safe_url("http://[::1") == "(an unreadable URL)"


def test_redact_hides_every_form_of_a_secret() -> None:
    """redact hides the key, its re-cased and base64 forms, inside nested values."""
    encoded = base64.b64encode(f"Bearer {KEY}".encode()).decode()
    value = {"msg": f"echo {KEY.upper()} and {encoded}", "list": [KEY]}
    assert redact(value, [KEY]) == {"msg": "echo *** and ***", "list": ["***"]}
    assert redact("short ab", ["ab"]) == "short ab"


def test_secret_forms_lists_the_hidden_forms() -> None:
    """secret_forms includes the text, its cases and its URL encoding; none for short keys."""
    forms = secret_forms("sk-a/b+c")
    assert {"sk-a/b+c", "SK-A/B+C", "sk-a%2Fb%2Bc"} <= forms
    assert secret_forms("abc") == frozenset()


def test_user_agent_names_cadenza_and_the_product() -> None:
    """user_agent names cadenza and httpx, after the calling product when given."""
    assert user_agent() == f"cadenza/{cadenza.__version__} httpx/{httpx.__version__}"
    assert user_agent("cadenza-x/1.0") == f"cadenza-x/1.0 {user_agent()}"


async def test_open_http_client_sends_the_user_agent_and_does_not_redirect() -> None:
    """The factory sets timeouts and the User-Agent; a configured one wins."""
    async with open_http_client(timeout=2, connect_timeout=1, headers={"X-A": "1"}) as client:
        assert client.headers["user-agent"] == user_agent()
        assert client.headers["x-a"] == "1"
        assert client.timeout.read == 2
        assert client.timeout.connect == 1
        assert not client.follow_redirects
    async with open_http_client(
        timeout=2, connect_timeout=1, headers={"user-agent": "mine/1"}
    ) as client:
        assert client.headers["user-agent"] == "mine/1"


@attrs.frozen
class _Options:
    headers: dict[str, str] = attrs.field(validator=check_headers, repr=header_names)


def test_check_headers_names_the_field_and_never_quotes_a_value() -> None:
    """A bad header name is quoted; a value with a newline is not (it may be a credential)."""
    with pytest.raises(ValueError, match=r"^headers: 'X Key' is not a valid HTTP header name$"):
        _Options(headers={"X Key": "1"})
    with pytest.raises(ValueError, match=r"^headers: the value of 'X-Api-Key' contains") as info:
        _Options(headers={"X-Api-Key": f"{KEY}\n"})
    assert KEY not in str(info.value)
    assert _Options(headers={"X-Api-Key": KEY}).headers == {"X-Api-Key": KEY}


def test_header_names_shows_names_only() -> None:
    """As a field's repr, header_names keeps header values (credentials) out of reprs."""
    shown = repr(_Options(headers={"X-Api-Key": KEY, "Accept": "a/b"}))
    assert shown == "_Options(headers=['Accept', 'X-Api-Key'])"


async def test_read_at_most_stops_past_the_limit() -> None:
    """A body within the limit is read whole; a longer one is cut at the limit and said so."""
    async with (
        open_seed_agent_server(default=Ok("x" * 1000)) as server,
        open_http_client(timeout=2, connect_timeout=1, headers={}) as client,
    ):
        async with client.stream("POST", server.url, json={}) as response:
            whole = await read_at_most(response, 5000)
        async with client.stream("POST", server.url, json={}) as response:
            cut = await read_at_most(response, 100)
    assert whole == (f'"{"x" * 1000}"'.encode(), False)
    assert cut == (b'"' + b"x" * 99, True)


async def test_check_health_is_true_on_2xx_and_logs_each_failure() -> None:
    """A 2xx is healthy; a 503 and a dropped connection are not, each logged once, redacted."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    faults = [Status(503), Drop()]
    async with (
        open_seed_agent_server(health_faults=faults) as server,
        open_http_client(timeout=2, connect_timeout=1, headers={}) as client,
    ):
        url = f"{server.url}/health?key={KEY}"
        with capture_logs() as logs:
            answers = [await check_health(client, url, agent="a", secrets=[KEY]) for _ in "123"]
    assert answers == [False, False, True]
    assert [log["event"] for log in logs] == ["agent_health_check_failed"] * 2
    assert logs[0]["status"] == 503
    assert logs[1]["agent"] == "a"
    assert logs[1]["error"] == "RemoteProtocolError"
    assert KEY not in str(logs)


def test_clip_collapses_whitespace_redacts_and_cuts_at_200_characters() -> None:
    """clip is what an error quotes of a server's text: one line, no secret, 200 chars at most."""
    assert clip(f"  bad\n\tkey  {KEY} ", [KEY]) == "bad key ***"
    long = clip("x" * 500)
    assert len(long) == 200
    assert long.endswith("x…")
