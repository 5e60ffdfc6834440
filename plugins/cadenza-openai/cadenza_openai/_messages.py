"""What the agent asks the model: the chat messages for one step's inputs.

The ``system:`` template (plus, for file-writing calls, how to name files,
and for ``reply: json`` calls, that the reply must be JSON only) becomes one
system message — one, because some local chat templates refuse
two in a row — and the ``prompt:`` template, or the step's ``prompt`` input,
the user message. With neither, the user message is the task itself
(:func:`task_prompt`): the step's task type and its inputs, one per line, so
a seed-format step (``data: {feature_description: ..., language: csharp}``)
needs no prompt. A template whose placeholder has no input fails the call
without retry, naming the placeholder and the inputs there are: retrying
would ask the same question again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

import cadenza

from ._options import OpenAIOptions
from ._prompt import Template, TemplateError, compile_template

FILE_INSTRUCTIONS = (
    "Put each file you write in its own fenced code block whose opening line names "
    "the language and the file's relative path, like ```python src/app.py, and give "
    "every file its complete content."
)
"""Appended to the system prompt when replies become files, so the model names them."""

JSON_INSTRUCTIONS = (
    "Reply with JSON only: one JSON object, with no prose before or after it "
    "and no code fence around it."
)
"""Appended to the system prompt of a ``reply: json`` call (OpenAI's JSON mode needs the word)."""


@attrs.frozen(kw_only=True)
class Prompts:
    """One agent's compiled templates."""

    agent: str
    system: Template | None = None
    prompt: Template | None = None
    file_instructions: bool = True

    @classmethod
    def from_options(cls, agent: str, options: OpenAIOptions) -> Prompts:
        """Compile the agent's templates (the options validator already checked them)."""
        try:
            system = compile_template(options.system, field="system") if options.system else None
            prompt = compile_template(options.prompt, field="prompt") if options.prompt else None
        except TemplateError as exc:
            raise cadenza.PermanentError(f"openai agent {agent!r}: {exc}", agent=agent) from None
        return cls(
            agent=agent,
            system=system,
            prompt=prompt,
            file_instructions=options.file_instructions,
        )

    def messages(
        self, request: cadenza.AgentRequest, *, files: bool, json_reply: bool = False
    ) -> list[dict[str, str]]:
        """The messages for ``request``.

        ``files`` adds the file-naming instructions, ``json_reply`` the request
        for a JSON-only reply.
        """
        system = self._render(self.system, "system", request) if self.system else ""
        if files and self.file_instructions:
            system = f"{system}\n\n{FILE_INSTRUCTIONS}" if system else FILE_INSTRUCTIONS
        if json_reply:
            system = f"{system}\n\n{JSON_INSTRUCTIONS}" if system else JSON_INSTRUCTIONS
        if self.prompt is not None:
            user = self._render(self.prompt, "prompt", request)
        else:
            given = _as_text(request.inputs.get("prompt"))
            user = task_prompt(request.task_type, request.inputs) if given is None else given
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": user})
        return messages

    def _render(self, template: Template, field: str, request: cadenza.AgentRequest) -> str:
        try:
            text, missing = template.render(request.inputs)
        except TemplateError as exc:
            raise cadenza.PermanentError(
                f"openai agent {self.agent!r}: {field}: {exc}",
                agent=self.agent,
                step_id=request.step_id,
            ) from None
        if missing:
            names = ", ".join(f"{{{n}}}" for n in sorted(missing))
            available = ", ".join(sorted(request.inputs)) or "none"
            raise cadenza.PermanentError(
                f"openai agent {self.agent!r}: step {request.step_id!r} has no input for "
                f"placeholder {names} of the {field} template (inputs available: "
                f"{available}). Add the input to the step's `with:`, or write a literal "
                "brace as '{{'.",
                agent=self.agent,
                step_id=request.step_id,
            )
        return text


def task_prompt(task_type: str, inputs: Mapping[str, Any]) -> str:
    """The user message for a step with no prompt: its task type, then its inputs.

    One ``name: value`` line per input, in the step's order, like YAML:
    strings as they are (a multi-line string indented below its name),
    mappings and lists as JSON, ``true``/``false``/``null`` as in YAML::

        Task: code_generator

        feature_description: Player movement system with physics
        language: csharp
    """
    lines = [f"Task: {task_type}"]
    if inputs:
        lines.append("")
    for name, value in inputs.items():
        text = _input_text(value)
        if "\n" in text:
            indented = "\n".join(f"  {line}" if line else "" for line in text.splitlines())
            lines.append(f"{name}:\n{indented}")
        else:
            lines.append(f"{name}: {text}")
    return "\n".join(lines)


def _input_text(value: Any) -> str:
    """One input's value as the task prompt shows it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _as_text(value: Any) -> str | None:
    """A ``prompt`` input as text: strings as they are, mappings and lists as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
