"""``options:`` of an ``openai`` agent, checked when the workflow loads.

The kernel's converter structures the agent's ``options:`` mapping into
:class:`OpenAIOptions`; every validator here names its field first
(``"temperature: ..."``) so the loader reports it at that option's file:line,
and puts a fix on a second line, which the loader shows as the hint.

``api_key`` is a secret because of its name: the loader adds every string
under an ``api_key`` key (and every ``${ENV}`` value) to the agent's secrets
and redacts them from messages, events and logs. The class hides it (and the
header values, which may be credentials) from reprs as well.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import httpx

import cadenza
from cadenza.http import check_headers, header_names

from ._layout_options import check_assembly, check_folder
from ._naming import FileLayout
from ._prompt import TemplateError, compile_template

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_DEFAULT_TIMEOUT = cadenza.Duration(300.0)
_DEFAULT_CONNECT_TIMEOUT = cadenza.Duration(10.0)
_AUTH_HEADERS = frozenset({"authorization", "api-key", "x-api-key"})
RESERVED_BODY_KEYS = frozenset({"model", "messages", "stream", "stream_options"})
"""Request-body keys the agent always sets itself; ``extra_body`` may not hold them."""
_OPTION_BODY_KEYS = {"temperature": "temperature", "max_tokens": "max_tokens"}


def is_local_url(url: str) -> bool:
    """True for servers on this machine or a private network, which often need no key.

    Local means ``localhost`` (and ``*.localhost``), ``*.local`` (mDNS), a
    single-label host name (``ollama`` in a compose file), or a loopback,
    private or link-local IP address.
    """
    host = httpx.URL(url).host.lower()
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith((".localhost", ".local")) or "." not in host
    return ip.is_loopback or ip.is_private or ip.is_link_local


def _check_model(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.strip():
        raise ValueError("model: expected a model name such as 'gpt-4o-mini', got ''")


def _check_base_url(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"base_url: expected an http:// or https:// URL, got {value!r}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"base_url: expected an absolute http:// or https:// URL, got {value!r}\n"
            f"For example https://api.openai.com/v1, or http://127.0.0.1:11434/v1 for Ollama."
        )
    if url.query or url.fragment:
        raise ValueError(f"base_url: expected no query string or fragment, got {value!r}")
    if url.path.rstrip("/").endswith("/chat/completions"):
        raise ValueError(
            f"base_url: give the API root, not the endpoint, got {value!r}\n"
            f"Drop /chat/completions: the agent adds it (and /models for health checks)."
        )


def _check_api_key(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    # Never quote the value: it is a secret. An empty key is a deliberate "none"
    # (``${OPENAI_API_KEY:-}`` with the variable unset): see ``missing_key``.
    if value and (not value.isprintable() or any(c.isspace() for c in value)):
        raise ValueError(
            "api_key: expected a key without spaces or control characters\n"
            "Check for a trailing newline in the environment variable or file it came from."
        )


def _check_template(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    try:
        compile_template(value, field=attribute.name)
    except TemplateError as exc:
        raise ValueError(str(exc)) from None


def _check_temperature(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and not 0.0 <= value <= 2.0:
        raise ValueError(f"temperature: expected a number from 0 to 2, got {value!r}")


def _check_max_tokens(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"max_tokens: expected a whole number >= 1, got {value!r}")


def _check_extra_body(
    instance: object, attribute: attrs.Attribute[Any], value: Mapping[str, Any]
) -> None:
    for key in value:
        if key in RESERVED_BODY_KEYS:
            raise ValueError(
                f"extra_body: {key!r} is set by the agent itself\n"
                f"Use the model: and stream: options instead."
            )
        if key in _OPTION_BODY_KEYS:
            raise ValueError(f"extra_body: {key!r} has its own option\nUse {key}: instead.")


@attrs.frozen(kw_only=True)
class OpenAIOptions:
    """``options:`` of an ``openai`` agent (README.md lists each with its default).

    ``timeout`` bounds each read and write on the connection, so for a stream
    it is the longest silence between two chunks; the whole call is bounded
    by the step's ``timeout:``. ``write_files`` None means "decide by the
    step's task": code and tests tasks write fenced code blocks to files.
    ``reply: json`` makes the parsed JSON of the reply the step's output
    (a planner's list of files, say) and writes no files.
    """

    model: str = attrs.field(validator=_check_model)
    base_url: str = attrs.field(default=DEFAULT_BASE_URL, validator=_check_base_url)
    api_key: str | None = attrs.field(default=None, repr=False, validator=_check_api_key)
    system: str | None = attrs.field(default=None, validator=_check_template)
    prompt: str | None = attrs.field(default=None, validator=_check_template)
    temperature: float | None = attrs.field(default=None, validator=_check_temperature)
    max_tokens: int | None = attrs.field(default=None, validator=_check_max_tokens)
    stream: bool = True
    timeout: cadenza.Duration = _DEFAULT_TIMEOUT
    connect_timeout: cadenza.Duration = _DEFAULT_CONNECT_TIMEOUT
    headers: dict[str, str] = attrs.field(factory=dict, validator=check_headers, repr=header_names)
    write_files: bool | None = None
    file_instructions: bool = True
    extra_body: dict[str, Any] = attrs.field(factory=dict, validator=_check_extra_body)
    reply: Literal["text", "json"] = "text"
    # Where the reply's files go (README "File names and Unity tests"; _naming.py).
    tests_dir: str | None = attrs.field(default="Assets/Tests", validator=check_folder)
    scripts_dir: str = attrs.field(default="Assets/Scripts", validator=check_folder)
    assembly: str | None = attrs.field(default="Scripts", validator=check_assembly)

    def __attrs_post_init__(self) -> None:
        if self.reply == "json" and self.write_files:
            raise ValueError(
                "write_files: cannot be true with reply: json, whose output is the parsed JSON\n"
                "Drop write_files (a json reply writes no files), or use reply: text."
            )
        has_auth_header = any(name.lower() in _AUTH_HEADERS for name in self.headers)
        if self.api_key is None and not has_auth_header and not is_local_url(self.base_url):
            raise ValueError(
                f"api_key: required for {self.base_url}, which is not a local server\n"
                "Add api_key: ${OPENAI_API_KEY} (the variable's value stays secret), or "
                "send your own credentials in headers: {Authorization: ...}."
            )

    @property
    def missing_key(self) -> bool:
        """True when calls cannot be authorised: an empty api_key for a remote server.

        A file may write ``api_key: ${OPENAI_API_KEY:-}`` so it loads without
        the variable; calls then fail at once, without touching the network,
        so a step's fallback can serve it (marked degraded).
        """
        has_auth_header = any(name.lower() in _AUTH_HEADERS for name in self.headers)
        return not self.api_key and not has_auth_header and not is_local_url(self.base_url)

    @property
    def chat_url(self) -> str:
        """Where chat completions are POSTed."""
        return self.base_url.rstrip("/") + "/chat/completions"

    @property
    def models_url(self) -> str:
        """Where :meth:`OpenAIAgent.health` sends its ``GET``."""
        return self.base_url.rstrip("/") + "/models"

    @property
    def layout(self) -> FileLayout:
        """Where the reply's files go: ``tests_dir``, ``scripts_dir``, ``assembly``."""
        return FileLayout(
            tests_dir=self.tests_dir and self.tests_dir.strip("/"),
            scripts_dir=self.scripts_dir.strip("/"),
            assembly=self.assembly,
        )
