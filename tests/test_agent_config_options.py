"""AgentConfig.options_as: an agent kind's from_config gets its options class, checked once."""

from __future__ import annotations

from typing import assert_type

import attrs
import pytest

import cadenza
from cadenza._agents._http import HttpAgent
from cadenza._agents._python import PythonAgent
from cadenza._agents._template import TemplateAgent


@attrs.frozen(kw_only=True)
class ShoutOptions:
    volume: int = 11


@attrs.frozen(kw_only=True)
class LoudShoutOptions(ShoutOptions):
    pass


def test_options_as_returns_the_options_typed_as_that_class() -> None:
    """The structured options object comes back as is, typed as the class asked for."""
    options = ShoutOptions(volume=3)
    config = cadenza.AgentConfig(name="shout", kind="shout", options=options)
    got = config.options_as(ShoutOptions)
    assert_type(got, ShoutOptions)
    assert got is options


def test_options_of_a_subclass_are_accepted() -> None:
    """An instance of a subclass of the options class passes the check, as isinstance does."""
    options = LoudShoutOptions()
    config = cadenza.AgentConfig(name="shout", kind="shout", options=options)
    assert config.options_as(ShoutOptions) is options


def test_options_of_another_type_are_a_type_error_naming_agent_and_classes() -> None:
    """A mapping where the kind expects its class: TypeError with the agent, expected and got."""
    config = cadenza.AgentConfig(name="shout", kind="shout", options={"volume": 3})
    with pytest.raises(TypeError) as caught:
        config.options_as(ShoutOptions)
    assert str(caught.value) == "agent 'shout': options must be ShoutOptions, got dict"


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (HttpAgent, "HttpOptions"),
        (PythonAgent, "PythonOptions"),
        (TemplateAgent, "TemplateOptions"),
    ],
    ids=["http", "python", "template"],
)
def test_built_in_kinds_check_their_options_through_options_as(
    factory: type[HttpAgent | PythonAgent | TemplateAgent], expected: str
) -> None:
    """Each built-in kind's from_config refuses foreign options with the helper's message."""
    config = cadenza.AgentConfig(name="a", kind="x", options=ShoutOptions())
    with pytest.raises(TypeError) as caught:
        factory.from_config(config)
    assert str(caught.value) == f"agent 'a': options must be {expected}, got ShoutOptions"
