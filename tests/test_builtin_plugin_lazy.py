"""The kernel's plugin registers its strategies by name, without importing their modules."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from cadenza._plugins._builtins import LazyFactory
from cadenza._plugins._registry import load_plugins
from cadenza._strategies import _fallbacks
from cadenza._strategies._aggregators import BUILTIN_AGGREGATORS
from cadenza._strategies._builtin_names import AGGREGATORS, FALLBACKS, ROUTERS, VALIDATORS
from cadenza._strategies._routers import BUILTIN_ROUTERS
from cadenza._strategies._validators import BUILTIN_VALIDATORS


def test_lazy_names_are_the_modules_own() -> None:
    """The names registered lazily are exactly the strategy modules' tables, in order."""
    assert tuple(BUILTIN_ROUTERS) == ROUTERS
    assert tuple(BUILTIN_AGGREGATORS) == AGGREGATORS
    assert tuple(BUILTIN_VALIDATORS) == VALIDATORS
    for cls in FALLBACKS.values():
        assert callable(getattr(_fallbacks, cls).from_options)


def test_registered_names_and_factories() -> None:
    """Each lazy registration builds what the real factory builds."""
    plugins = load_plugins(entry_points=False)
    aggregators = plugins.registered("cadenza_aggregators")
    assert list(aggregators) == list(AGGREGATORS)
    routers = plugins.registered("cadenza_routers")
    assert list(routers) == list(ROUTERS)
    assert routers["round_robin"].obj.resolve() is BUILTIN_ROUTERS["round_robin"]
    merge = aggregators["merge"].obj
    assert isinstance(merge, LazyFactory)
    assert merge({}) == BUILTIN_AGGREGATORS["merge"]({})
    assert merge.resolve() is BUILTIN_AGGREGATORS["merge"]
    validators = plugins.registered("cadenza_validators")
    assert validators["required_keys"].obj({"keys": ["a"]}) == BUILTIN_VALIDATORS["required_keys"](
        {"keys": ["a"]}
    )
    fallbacks = plugins.registered("cadenza_fallbacks")
    assert set(fallbacks) == set(FALLBACKS)
    assert fallbacks["template"].obj.resolve() == _fallbacks.TemplateFallback.from_options


@pytest.mark.slow
def test_loading_plugins_imports_no_built_in_strategy() -> None:
    """load_plugins() leaves the router, aggregator, validator and fallback modules unimported."""
    code = textwrap.dedent(
        """
        import sys
        from cadenza._plugins._registry import load_plugins
        plugins = load_plugins(entry_points=False)
        assert "merge" in plugins.registered("cadenza_aggregators")
        lazy = ("_aggregators", "_vote_aggregators", "_merge_aggregator", "_validators",
                "_fallbacks", "_routers", "_consistent_hash", "_router_options")
        print(sorted(m for m in sys.modules if m.rpartition(".")[2] in lazy))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
