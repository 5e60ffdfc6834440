"""Store URLs: read by libpq, shown without their password."""

from __future__ import annotations

import pytest
from cadenza_postgres._url import conninfo, redact

from cadenza.store import StoreError


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ada:s3cret@db:5432/journal", "postgresql://ada:***@db:5432/journal"),
        ("postgres://ada:s3cret@db/journal", "postgres://ada:***@db/journal"),
        ("postgresql://ada@db/journal?password=s3cret&x=1", "postgresql://ada@db/journal?password=***&x=1"),
        ("postgresql://db/journal", "postgresql://db/journal"),
        ("postgresql://ada:@db/journal", "postgresql://ada:***@db/journal"),
    ],
)  # fmt: skip
def test_redact_hides_the_password(url: str, shown: str) -> None:
    """The password, in the authority or the query, is shown as ``***``."""
    assert redact(url) == shown


def test_conninfo_adds_a_connect_timeout() -> None:
    """Without ``connect_timeout`` in the URL, connecting gives up after 10 s."""
    assert "connect_timeout=10" in conninfo("postgresql://db/journal")
    assert conninfo("postgresql://db/journal?connect_timeout=3") == (
        "postgresql://db/journal?connect_timeout=3"
    )


def test_unreadable_url_is_a_store_error_without_the_password() -> None:
    """A URL libpq cannot read says so, with the forms that work, and no password."""
    with pytest.raises(StoreError) as caught:
        conninfo("postgresql://ada:s3cret@db/journal?no_such_option=1")
    message = str(caught.value)
    assert "cannot read the store URL postgresql://ada:***@db/journal" in message
    assert "postgresql://user@host:port/database" in message
    assert "s3cret" not in message
