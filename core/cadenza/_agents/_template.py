"""The ``template`` agent kind: deterministic local output, no network.

``output`` is any JSON structure; every string value in it (keys are left
alone) is formatted with the step's inputs, ``"Docs for {feature}"``, with
Python's format mini-language for specs and conversions (``{score:.2f}``,
``{name!r}``). Inputs are JSON data and render as JSON: a boolean as
``true``/``false``, a list or mapping as compact JSON, and null as ``null``
(with any conversion), never Python's ``None``/``True``/``['a']``; strings
and numbers are inserted with ``format()``. Only plain names are allowed: attribute and
index lookups (``{x.__class__}``, ``{x[0]}``) are the way ``str.format``
reaches objects' internals, so they are refused when the agent is built.
Write a literal brace as ``{{`` or ``}}``.

Without ``output`` the result is ``{"inputs": <the step's inputs>}``. With
``degraded: true`` results are marked degraded with source ``"template"``, for
use as an offline fallback; ``delay`` waits before answering, so demos show
progress.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from cadenza._agents._contract import AgentRequest, AgentResult
from cadenza._errors import PermanentError
from cadenza._spec._workflow import AgentConfig, Duration

_FORMATTER = string.Formatter()
_NO_DELAY = Duration(0.0)


def _as_text(value: Any) -> Any:
    """An input as a placeholder shows it (without a conversion).

    Inputs are JSON data, so booleans, lists and mappings appear as JSON
    (``true``, ``["a", "b"]``); strings and numbers stay themselves, so format
    specs (``{score:.2f}``) apply to them.
    """
    if isinstance(value, bool | list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


_CONVERSIONS: dict[str | None, Callable[[Any], Any]] = {
    None: lambda v: v,
    "s": str,
    "r": repr,
    "a": ascii,
}

Render = Callable[[Mapping[str, Any], set[str]], Any]
"""Renders one compiled part of the template; collects missing placeholders."""


class _TemplateSyntaxError(ValueError):
    pass


def _compile_string(text: str, path: str) -> Render:
    try:
        pieces = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise _TemplateSyntaxError(
            f"{path}: {exc} in {text!r}; write a literal brace as '{{{{' or '}}}}'"
        ) from exc
    for _literal, field, spec, conversion in pieces:
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise _TemplateSyntaxError(
                f"{path}: positional placeholder {{{field}}} in {text!r}; "
                f"name an input instead, like {{feature}}"
            )
        if "." in field or "[" in field:
            raise _TemplateSyntaxError(
                f"{path}: placeholder {{{field}}} in {text!r} uses an attribute or index "
                f"lookup, which templates do not allow; use a plain input name like "
                f"{{{field.split('.')[0].split('[')[0]}}}, and compute nested values in a "
                f"step's inputs with ${{{{ }}}} expressions"
            )
        if spec and "{" in spec:
            raise _TemplateSyntaxError(
                f"{path}: placeholder {{{field}}} in {text!r} has a nested field in its "
                f"format spec {spec!r}; templates allow only literal specs like :>10"
            )
        if conversion not in _CONVERSIONS:
            raise _TemplateSyntaxError(
                f"{path}: placeholder {{{field}!{conversion}}} in {text!r} has an unknown "
                f"conversion; use !s, !r or !a"
            )

    def render(inputs: Mapping[str, Any], missing: set[str]) -> str:
        out: list[str] = []
        for literal, field, spec, conversion in pieces:
            out.append(literal)
            if field is None:
                continue
            if field not in inputs:
                missing.add(field)
                continue
            raw = inputs[field]
            value = _as_text(raw) if conversion is None else _CONVERSIONS[conversion](raw)
            if raw is None:  # JSON's null, not Python's None, whatever the conversion
                value = "null"
            try:
                out.append(format(value, spec or ""))
            except (TypeError, ValueError) as exc:
                kind = "null" if raw is None else type(value).__name__
                raise _TemplateSyntaxError(
                    f"{path}: cannot format input {field!r} ({kind}) with spec {spec!r}: {exc}"
                ) from exc
        return "".join(out)

    return render


def _compile(value: Any, path: str) -> Render:
    if isinstance(value, str):
        return _compile_string(value, path)
    if isinstance(value, Mapping):
        items = [(key, _compile(item, f"{path}.{key}")) for key, item in value.items()]
        return lambda inputs, missing: {key: r(inputs, missing) for key, r in items}
    if isinstance(value, list | tuple):
        parts = [_compile(item, f"{path}[{i}]") for i, item in enumerate(value)]
        return lambda inputs, missing: [r(inputs, missing) for r in parts]
    if value is None or isinstance(value, bool | int | float):
        return lambda inputs, missing: value
    raise _TemplateSyntaxError(
        f"{path}: {type(value).__name__} is not JSON; use objects, lists, strings, "
        f"numbers, booleans and null"
    )


def _check_output(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Refuse bad placeholders when the file is loaded, so ``cadenza validate`` reports them."""
    if value is not None:
        _compile(value, "output")


@attrs.frozen(kw_only=True)
class TemplateOptions:
    """``options:`` of a ``template`` agent (``output`` null or omitted: echo the inputs)."""

    output: Any = attrs.field(default=None, validator=_check_output)
    degraded: bool = False
    delay: Duration = _NO_DELAY


def _echo_inputs(inputs: Mapping[str, Any], missing: set[str]) -> Any:
    return {"inputs": dict(inputs)}


@attrs.define(eq=False)
class TemplateAgent:
    """An agent whose output is a template filled in with the step's inputs."""

    name: str
    options: TemplateOptions
    capabilities: frozenset[str] = frozenset()
    _render: Render = attrs.field(default=_echo_inputs, repr=False)

    @classmethod
    def from_config(cls, config: AgentConfig) -> TemplateAgent:
        """Build the agent, checking every placeholder; a bad one is a ``PermanentError``."""
        options = config.options_as(TemplateOptions)
        render: Render = _echo_inputs
        if options.output is not None:
            try:
                render = _compile(options.output, "output")
            except _TemplateSyntaxError as exc:
                raise PermanentError(
                    f"template agent {config.name!r}: {exc}", agent=config.name
                ) from None
        return cls(
            name=config.name, options=options, capabilities=config.capabilities, render=render
        )

    async def run(self, request: AgentRequest) -> AgentResult:
        """Wait ``delay``, then return the filled-in template."""
        if self.options.delay > 0:
            import trio  # here: registering this kind (every CLI command) needs no trio

            await trio.sleep(self.options.delay)
        missing: set[str] = set()
        try:
            output = self._render(request.inputs, missing)
        except _TemplateSyntaxError as exc:
            raise PermanentError(
                f"template agent {self.name!r}: {exc}", agent=self.name, step_id=request.step_id
            ) from None
        if missing:
            names = ", ".join(f"{{{n}}}" for n in sorted(missing))
            available = ", ".join(sorted(request.inputs)) or "none"
            raise PermanentError(
                f"template agent {self.name!r}: step {request.step_id!r} has no input for "
                f"placeholder {names} (inputs available: {available}). Add the input to the "
                f"step's `with:`, or write a literal brace as '{{{{'.",
                agent=self.name,
                step_id=request.step_id,
            )
        if self.options.degraded:
            return AgentResult(output=output, degraded=True, source="template")
        return AgentResult(output=output)

    async def aclose(self) -> None:
        """Nothing to release."""
