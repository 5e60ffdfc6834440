"""Store URLs: what a ``postgresql://`` URL may hold, and its password-free form for messages.

libpq reads the URL itself (``postgresql://user:password@host:port/database?
sslmode=require``); this module only checks that it can be read, adds a
connect timeout when the URL has none, and makes the form shown to people:
the password (in the authority or as ``?password=``) replaced by ``***``.
"""

from __future__ import annotations

import re

import psycopg.conninfo

from cadenza.store import StoreError

SCHEMES = ("postgresql", "postgres")
"""The URL schemes the store is registered for (libpq reads both)."""

CONNECT_TIMEOUT = 10
"""Seconds to wait for the server when the URL sets no ``connect_timeout``."""

_AUTHORITY_PASSWORD = re.compile(r"^(?P<head>[a-z]+://[^:/@?#]*):(?P<secret>[^@/?#]*)@", re.I)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<secret>[^&#]*)", re.I)


def redact(url: str) -> str:
    """``url`` with its password, if any, shown as ``***``."""
    url = _AUTHORITY_PASSWORD.sub(r"\g<head>:***@", url)
    return _QUERY_PASSWORD.sub(r"\g<head>***", url)


def password_of(url: str) -> str:
    """The password the URL holds ("" when none), so messages can be scrubbed of it."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return ""
    return str(params.get("password") or "")


def conninfo(url: str) -> str:
    """The connection string for libpq: ``url`` checked, with a default connect timeout.

    A URL libpq cannot read is a :class:`~cadenza.store.StoreError` showing the
    redacted URL and the forms that work.
    """
    shown = redact(url)
    if url.split("://", 1)[0] not in SCHEMES:
        raise StoreError(
            f"cannot read the store URL {shown}: the Postgres journal takes "
            "postgresql://user@host:port/database (or postgres://...)",
            url=shown,
        )
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        detail = scrub(str(exc), password_of(url))
        raise StoreError(
            f"cannot read the store URL {shown} ({detail}). Write "
            "postgresql://user@host:port/database, with options as ?key=value "
            "(e.g. ?sslmode=require); put the password in PGPASSWORD or ~/.pgpass.",
            url=shown,
        ) from None
    if "connect_timeout" not in params:
        return psycopg.conninfo.make_conninfo(url, connect_timeout=CONNECT_TIMEOUT)
    return url


def scrub(text: str, password: str) -> str:
    """``text`` with every occurrence of ``password`` replaced by ``***``."""
    text = redact(text)
    if len(password) >= 1:
        text = text.replace(password, "***")
    return text
