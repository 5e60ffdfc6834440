"""The wordcount agent on its own: what it counts, what it refuses, its health."""

import pytest
from cadenza_legacy_agent import NotTextError, WordCountAgent, WordCountOptions

import cadenza

TEXT = "Trio is nice. Trio is structured! Don't block the loop; really, don't."


def make_agent(**options):
    config = cadenza.AgentConfig(
        name="counter", kind="wordcount", options=WordCountOptions(**options)
    )
    return WordCountAgent.from_config(config)


def request(**inputs):
    return cadenza.AgentRequest(
        run_id="run-1",
        step_id="count",
        task_type="wordcount",
        inputs=inputs,
        attempt=1,
        idempotency_key="key-1",
    )


async def test_counts_words_and_ranks_the_most_frequent():
    """Words are counted case-blind, the most frequent first and ties alphabetically."""
    result = await make_agent(top=3).run(request(text=TEXT))
    assert result.output == {
        "words": 12,
        "unique": 9,
        "top": [["don't", 2], ["is", 2], ["trio", 2]],
        "first_sentence": "Trio is nice.",
    }


async def test_ignore_and_min_length_leave_words_out():
    """`ignore` drops listed words whatever their case, `min_length` drops short ones."""
    result = await make_agent(top=2, min_length=4, ignore=("TRIO",)).run(request(text=TEXT))
    assert result.output["top"] == [["don't", 2], ["block", 1]]
    assert result.output["words"] == 7


@pytest.mark.parametrize("inputs", [{}, {"text": ["a list"]}])
async def test_a_text_that_is_not_a_string_is_a_permanent_error(inputs):
    """A missing or non-string `text` raises NotTextError, a PermanentError naming the step."""
    with pytest.raises(cadenza.PermanentError, match="the input 'text' must be a string") as caught:
        await make_agent().run(request(**inputs))
    assert isinstance(caught.value, NotTextError)
    assert caught.value.retryable is False
    assert (caught.value.agent, caught.value.step_id) == ("counter", "count")


async def test_the_output_is_written_in_the_step_output_folder(tmp_path):
    """With an output folder, the counts are also written there as wordcount.json."""
    folder = tmp_path / "out" / "count"
    req = cadenza.AgentRequest(
        run_id="run-1",
        step_id="count",
        task_type="wordcount",
        inputs={"text": "one two two"},
        attempt=1,
        idempotency_key="key-1",
        output_dir=folder,
    )
    result = await make_agent().run(req)
    assert (folder / "wordcount.json").read_text().startswith("{")
    assert result.output["top"][0] == ["two", 2]


async def test_health_is_true_until_the_agent_is_closed():
    """health() answers True, and False once aclose() has run."""
    agent = make_agent()
    assert await agent.health() is True
    await agent.aclose()
    assert await agent.health() is False
