"""docs/agent-protocol.md matches the agent contract's classes, and its example agent works."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

import cadenza
import cadenza.strategies
from cadenza._plugins._registry import load_plugins
from cadenza.testing import Exchange, LoopbackRequest, LoopbackServer

from .docs_code import examples

PAGE = Path(__file__).resolve().parents[1] / "docs" / "agent-protocol.md"
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|(.*)\|\s*$", re.MULTILINE)


def section(heading: str) -> str:
    """The body of ``## heading`` in docs/agent-protocol.md."""
    parts = re.split(r"^## (.+)$", PAGE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    found = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert heading in found, f"docs/agent-protocol.md has no '## {heading}' section"
    return found[heading]


def rows(heading: str) -> list[tuple[str, list[str]]]:
    """The table rows of a section: first cell's code text, then the other cells."""
    out = []
    for name, rest in ROW.findall(section(heading)):
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", rest)]
        out.append((name, [c.replace("\\|", "|") for c in cells]))
    return out


@pytest.mark.parametrize(
    "cls", [cadenza.AgentRequest, cadenza.AgentResult, cadenza.Usage, cadenza.AgentConfig]
)
def test_field_table_lists_every_field_with_its_type(cls: type[Any]) -> None:
    """The class's table has one row per attrs field, in order, with the annotation as its type."""
    documented = [(name, cells[0].strip("`")) for name, cells in rows(cls.__name__)]
    actual = [(f.name, str(f.type)) for f in attrs.fields(cls)]
    assert documented == actual, (
        f"docs/agent-protocol.md '## {cls.__name__}': the table must list, in order:\n"
        + "\n".join(f"| `{n}` | `{t.replace('|', chr(92) + '|')}` | ... |" for n, t in actual)
    )


def protocol_members(proto: type[Any]) -> set[str]:
    """The names a Protocol class declares: annotated attributes and public methods."""
    methods = {n for n, v in vars(proto).items() if callable(v) and not n.startswith("_")}
    return set(proto.__annotations__) | methods


def test_agent_members_are_all_documented() -> None:
    """The Agent and SupportsHealth members are exactly the rows of the protocol's tables."""
    documented = {
        name.split("(")[0].split(":")[0].removeprefix("async ")
        for name, _ in rows("The Agent protocol")
    }
    assert documented == protocol_members(cadenza.Agent) | protocol_members(cadenza.SupportsHealth)


def test_every_public_agent_error_is_documented() -> None:
    """Every public AgentError subclass is named on the errors section."""
    text = section("Errors: which to raise when")
    public = [
        getattr(module, name)
        for module in (cadenza, cadenza.strategies)
        for name in module.__all__
        if isinstance(getattr(module, name), type)
    ]
    errors = {cls.__name__ for cls in public if issubclass(cls, cadenza.AgentError)}
    missing = sorted(
        name
        for name in errors - {"AgentError"}
        if f"{name}(" not in text and f"`cadenza.strategies.{name}`" not in text
    )
    assert not missing, f"docs/agent-protocol.md: say when to raise {', '.join(missing)}"


@attrs.define(eq=False)
class FakeSummaries(LoopbackServer[LoopbackRequest]):
    """The summary service of the page's example: POST summarises, GET /health answers 200."""

    async def respond(self, request: LoopbackRequest, exchange: Exchange) -> bool:
        if request.method == "GET":
            return await exchange.send_json(200, {"status": "ok"})
        assert request.json is not None
        words = str(request.json["text"]).split()[: request.json["max_words"]]
        usage = {"input_tokens": 7, "output_tokens": len(words)}
        return await exchange.send_json(200, {"summary": " ".join(words), "usage": usage})


def example_module() -> types.ModuleType:
    (block,) = examples("agent-protocol.md")
    module = types.ModuleType("cadenza_summary")
    exec(compile(block.text, block.id, "exec"), module.__dict__)
    return module


async def test_example_agent_kind_calls_its_service(nursery: trio.Nursery) -> None:
    """The page's agent, built by its registered factory, posts with the idempotency key."""
    server = await nursery.start(FakeSummaries().serve)
    plugins = load_plugins(builtins=False, entry_points=False, extra=[example_module()])
    reg = plugins.agent_kinds["summary"]
    assert reg.options is not None
    config = cadenza.AgentConfig(
        name="brief", kind="summary", options=reg.options(endpoint=server.url, max_words=2)
    )
    agent = reg.obj(config)
    request = cadenza.AgentRequest(
        run_id="r",
        step_id="s",
        task_type="summary",
        inputs={"text": "trio runs nurseries"},
        attempt=1,
        idempotency_key="key-1",
        deadline=trio.current_time() + 30,
    )
    result = await agent.run(request)
    healthy = await agent.health()
    await agent.aclose()
    await agent.aclose()
    assert result.output == "trio runs"
    assert result.usage == cadenza.Usage(input_tokens=7, output_tokens=2)
    assert healthy is True
    post = server.requests[0]
    assert post.headers["idempotency-key"] == "key-1"
    assert 0 < float(post.headers["x-timeout"]) <= 30


@pytest.mark.parametrize("page", ["index.md", "agents.md", "hooks.md"])
def test_page_links_the_agent_protocol(page: str) -> None:
    """The pages a plugin author starts from link the agent protocol page."""
    assert "(agent-protocol.md" in (PAGE.parent / page).read_text(encoding="utf-8")
