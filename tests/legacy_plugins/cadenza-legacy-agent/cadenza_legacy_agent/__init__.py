"""cadenza_legacy_agent: the `wordcount` agent kind counts the words of its `text` input.

Written from the Cadenza docs as they were before the kernel reshape (issue 12,
docs at commit 93c1306: hooks.md "cadenza_agent_kinds", testing-plugins.md),
the way a third-party author would, and kept unchanged since: it proves that
plugins written against those docs still work.
"""

from __future__ import annotations

import collections
import json
import re

import attrs
import trio

import cadenza

CADENZA_HOOK_API = ">=1.0,<2"

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
"""A word: letters, with inner apostrophes (``don't``); digits and punctuation split words."""

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class NotTextError(cadenza.PermanentError):
    """The step's `text` input is missing or not a string: retrying cannot help."""


def _at_least_one(instance, attribute, value):
    if type(value) is not int or value < 1:
        raise ValueError(f"{attribute.name} must be an integer >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class WordCountOptions:
    """The `options:` of a `wordcount` agent."""

    top: int = attrs.field(default=3, validator=_at_least_one)
    min_length: int = attrs.field(default=1, validator=_at_least_one)
    ignore: tuple[str, ...] = ()


@attrs.define(eq=False)
class WordCountAgent:
    """Counts words: how many, how many distinct, the most frequent, and the first sentence."""

    name: str
    top: int = 3
    min_length: int = 1
    ignore: frozenset[str] = frozenset()
    capabilities: frozenset[str] = frozenset({"word-count"})
    closed: bool = False

    @classmethod
    def from_config(cls, config: cadenza.AgentConfig) -> WordCountAgent:
        options = config.options
        return cls(
            name=config.name,
            top=options.top,
            min_length=options.min_length,
            ignore=frozenset(word.lower() for word in options.ignore),
            capabilities=frozenset({"word-count"}) | config.capabilities,
        )

    def count(self, text: str) -> dict:
        """The output for `text`: JSON data only."""
        words = [
            word
            for word in (match.lower() for match in WORD.findall(text))
            if len(word) >= self.min_length and word not in self.ignore
        ]
        counts = collections.Counter(words)
        # The most frequent first; ties in alphabetical order, so the output is deterministic.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        stripped = text.strip()
        return {
            "words": len(words),
            "unique": len(counts),
            "top": [[word, n] for word, n in ranked[: self.top]],
            "first_sentence": SENTENCE_END.split(stripped, maxsplit=1)[0] if stripped else "",
        }

    async def run(self, request: cadenza.AgentRequest) -> cadenza.AgentResult:
        text = request.inputs.get("text")
        if not isinstance(text, str):
            raise NotTextError(
                f"wordcount agent {self.name!r}: step {request.step_id!r}: the input 'text' "
                f"must be a string, got {type(text).__name__}. "
                "Give the step `with: {text: ...}`.",
                agent=self.name,
                step_id=request.step_id,
            )
        await trio.lowlevel.checkpoint()
        output = self.count(text)
        request.report_progress(f"counted {output['words']} words", tokens=output["words"])
        if request.output_dir is not None:
            folder = trio.Path(request.output_dir)
            await folder.mkdir(parents=True, exist_ok=True)
            await (folder / "wordcount.json").write_text(json.dumps(output, indent=2) + "\n")
        return cadenza.AgentResult(output=output, confidence=1.0)

    async def health(self) -> bool:
        """Healthy until closed: the agent needs nothing but this process."""
        return not self.closed

    async def aclose(self) -> None:
        self.closed = True


@cadenza.hookimpl
def cadenza_agent_kinds(register):
    register(
        "wordcount",
        WordCountAgent.from_config,
        options=WordCountOptions,
        capabilities=["word-count"],
    )
