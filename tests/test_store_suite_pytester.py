"""cadenza.testing.StoreConformance, run by pytester: a correct store passes, broken ones fail.

The correct store is the ``memory`` store of docs/hooks.md (its
``cadenza_stores`` example), so the documented example is proven to conform.
Each broken store subclasses it with one realistic bug and must fail exactly
the tests that pin that part of the contract.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cadenza.testing import StoreConformance

from .docs_code import examples

pytest_plugins = ["pytester"]

HOOKS_MD = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"

SUITE_TESTS = sorted(name for name in dir(StoreConformance) if name.startswith("test_"))

PYTEST_INI = """\
[pytest]
trio_mode = true
filterwarnings = error
"""

BROKEN_STORES = '''
import attrs

from cadenza.store import WriteBatch
from memstore import MemoryStore, copied


class NonAtomicStore(MemoryStore):
    """Writes a batch's events one by one, so a failure midway leaves the first ones."""

    def write(self, batch):
        for event in batch.events:
            super().write(WriteBatch(events=[event]))
        super().write(attrs.evolve(batch, events=()))


class InsertionOrderStore(MemoryStore):
    """Returns events in the order they were written instead of by seq."""

    def write(self, batch):
        super().write(batch)
        self._db.setdefault("order", []).extend((e["run_id"], e["seq"]) for e in batch.events)

    def read_events(self, run_id, *, after=-1):
        order = self._db.get("order", [])
        events = super().read_events(run_id, after=after)
        return sorted(events, key=lambda e: order.index((e["run_id"], e["seq"])))


class ForgetsCancelStore(MemoryStore):
    """Lets every upsert overwrite the cancel flag another process set."""

    def write(self, batch):
        super().write(batch)
        runs = self._db["runs"]
        for run in batch.runs:
            runs[run.run_id] = attrs.evolve(runs[run.run_id], cancel_requested=False)


class OverwritesIdentityStore(MemoryStore):
    """Replaces the whole record on upsert, identity fields included."""

    def write(self, batch):
        super().write(batch)
        runs = self._db["runs"]
        for run in batch.runs:
            flag = runs[run.run_id].cancel_requested
            runs[run.run_id] = attrs.evolve(copied(run), cancel_requested=flag)


class NeverExpiresStore(MemoryStore):
    """Serves cache entries past their expiry."""

    def get_cache(self, key, *, now):
        return super().get_cache(key, now=float("-inf"))


class SharesCacheStore(MemoryStore):
    """Returns its own cache entry object, so a caller's mutation changes the store."""

    def get_cache(self, key, *, now):
        hit = super().get_cache(key, now=now)
        return None if hit is None else self._db["cache"][key]


class KeepsWorkingWhenClosedStore(MemoryStore):
    """Ignores close(), serving calls on a closed store."""

    def close(self):
        pass
'''


def docs_memory_store() -> str:
    """The first Python block of the ``cadenza_stores`` section of docs/hooks.md."""
    text = HOOKS_MD.read_text(encoding="utf-8")
    section = text.split("\n## cadenza_stores(register)\n", 1)[1].split("\n## ", 1)[0]
    blocks = examples("hooks.md", section)  # the signature block above it is a synopsis
    assert blocks, "the cadenza_stores section has no ```python example"
    return blocks[0].text


def conformance_module(store_class: str, module: str = "memstore") -> str:
    return textwrap.dedent(
        f"""
        import pytest

        import cadenza.testing
        from {module} import {store_class}


        class TestConformance(cadenza.testing.StoreConformance):
            @pytest.fixture
            def store(self, tmp_path):
                return {store_class}(f"memory://{{tmp_path}}")
        """
    )


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project holding the docs' memory store and the broken variants."""
    pytester.makeini(PYTEST_INI)
    pytester.makepyfile(memstore=docs_memory_store(), broken=BROKEN_STORES)
    pytester.syspathinsert()
    return pytester


def failures(project: pytest.Pytester, store_class: str, module: str) -> set[str]:
    """Run the suite on ``store_class``; the names of the tests that failed (none may error)."""
    project.makepyfile(test_conformance=conformance_module(store_class, module))
    reprec = project.inline_run("-p", "no:cacheprovider")
    passed, skipped, failed = reprec.listoutcomes()
    assert not skipped
    names = {report.nodeid.rsplit("::", 1)[1] for report in failed}
    assert len(passed) + len(failed) == len(SUITE_TESTS), "some tests errored or did not run"
    return names


def test_suite_has_the_tests_this_file_expects() -> None:
    """The suite is collected as about three dozen tests (guards the counts below)."""
    assert len(SUITE_TESTS) >= 30
    assert "test_batch_with_a_duplicate_event_fails_as_a_whole" in SUITE_TESTS


def test_correct_memory_store_passes_every_test(project: pytest.Pytester) -> None:
    """The documented memory store passes the whole suite."""
    project.makepyfile(test_conformance=conformance_module("MemoryStore"))
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(SUITE_TESTS))


@pytest.mark.parametrize(
    ("store_class", "failing"),
    [
        pytest.param(
            "NonAtomicStore",
            {
                "test_batch_with_a_duplicate_event_fails_as_a_whole",
                "test_batch_repeating_a_seq_fails_as_a_whole",
                "test_store_works_after_a_failed_batch",
            },
            id="non-atomic-batches",
        ),
        pytest.param(
            "InsertionOrderStore", {"test_events_read_back_in_seq_order"}, id="wrong-order"
        ),
        pytest.param(
            "ForgetsCancelStore",
            {
                "test_cancel_flag_survives_upserts",
                "test_cancel_flag_clears_when_another_process_takes_over",
            },
            id="cancel-lost",
        ),
        pytest.param(
            "OverwritesIdentityStore",
            {"test_run_upsert_keeps_identity_and_updates_progress"},
            id="identity-overwritten",
        ),
        pytest.param("NeverExpiresStore", {"test_cache_entry_expires"}, id="no-expiry"),
        pytest.param("SharesCacheStore", {"test_stored_data_is_a_copy"}, id="shared-objects"),
        pytest.param(
            "KeepsWorkingWhenClosedStore",
            {"test_calls_after_close_raise_store_error"},
            id="works-when-closed",
        ),
    ],
)
def test_broken_store_fails_the_tests_for_its_bug(
    project: pytest.Pytester, store_class: str, failing: set[str]
) -> None:
    """A store with one bug fails exactly the tests that pin that part of the contract."""
    assert failures(project, store_class, "broken") == failing


def test_missing_store_fixture_says_how_to_write_one(pytester: pytest.Pytester) -> None:
    """A subclass that forgets the store fixture errors with the fixture to add."""
    pytester.makeini(PYTEST_INI)
    pytester.makepyfile(
        test_forgot="""
        import cadenza.testing


        class TestForgot(cadenza.testing.StoreConformance):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=len(SUITE_TESTS))
    result.stdout.fnmatch_lines(["*TestForgot must override the store fixture*"])


def test_reopen_can_be_overridden(pytester: pytest.Pytester) -> None:
    """A store whose class is not its own factory passes by overriding ``reopen``."""
    pytester.makeini(PYTEST_INI)
    pytester.makepyfile(memstore=docs_memory_store())
    pytester.syspathinsert()
    pytester.makepyfile(
        test_factory="""
        import pytest

        import cadenza.testing
        from memstore import MemoryStore

        reopened = []


        def open_memory(url):
            return MemoryStore(url)


        class Wrapped:
            def __init__(self, inner):
                self.inner = inner
                self.url = inner.url

            def __getattr__(self, name):
                return getattr(self.inner, name)


        class TestWrapped(cadenza.testing.StoreConformance):
            @pytest.fixture
            def store(self, tmp_path):
                return Wrapped(open_memory(f"memory://{tmp_path}"))

            def reopen(self, store):
                reopened.append(store.url)
                return Wrapped(open_memory(store.url))


        def test_reopen_was_used():
            assert len(reopened) == 1
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(SUITE_TESTS) + 1)
