"""The routing names the old docs imported from `cadenza` still work, and say where they went."""

import importlib.util

import pytest

OLD_NAMES = ["Router", "RouteRequest", "Candidate", "Route", "AgentHistory"]


def test_old_names_still_import_from_cadenza():
    """`from cadenza import Route, ...` works as the old docs wrote it (a warning at most)."""
    from cadenza import AgentHistory, Candidate, Route, Router, RouteRequest

    assert Route(agent="a", reason="r").agent == "a"
    assert Candidate(name="a").name == "a"
    assert RouteRequest(step_id="s", uses="u").attempt == 1
    assert Router.__name__ == "Router"
    assert AgentHistory.__name__ == "AgentHistory"


@pytest.mark.skipif(
    importlib.util.find_spec("cadenza.strategies") is None,
    reason="cadenza.strategies does not exist yet in this cadenza: the names have not moved",
)
@pytest.mark.parametrize("name", OLD_NAMES)
def test_an_old_name_warns_and_names_its_new_home(name):
    """cadenza.NAME warns, naming cadenza.strategies.NAME, and is the same object as that."""
    import cadenza
    import cadenza.strategies

    with pytest.warns(DeprecationWarning, match=rf"cadenza\.strategies\.{name}\b"):
        old = getattr(cadenza, name)
    assert old is getattr(cadenza.strategies, name)
