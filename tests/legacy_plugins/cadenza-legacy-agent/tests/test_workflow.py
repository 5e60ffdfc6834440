"""The wordcount kind inside real workflows, run with cadenza.testing.run_captured."""

import cadenza_legacy_agent
import pytest

import cadenza
from cadenza.testing import ScriptedAgent, run_captured, scripted_agent_kind

WORKFLOW = """
inputs: {text: "Cadenza runs workflows. Workflows run steps."}
agents:
  counter: {kind: wordcount, options: {top: 1}}
  echo: {kind: template, options: {output: "{words} words, mostly {word}"}}
steps:
  count: {uses: counter, with: {text: "${{ inputs.text }}"}}
  report:
    uses: echo
    needs: [count]
    with:
      words: "${{ steps.count.output.words }}"
      word: "${{ steps.count.output.top[0][0] }}"
  broken: {uses: counter, with: {text: 42}}
"""


async def test_wordcount_kind_in_a_workflow():
    """A wordcount step feeds a template step; a step with bad inputs fails without retry."""
    captured = await run_captured(WORKFLOW, extra_plugins=[cadenza_legacy_agent])
    steps = captured.result.steps
    assert steps["count"].output["words"] == 6
    assert steps["report"].output == "6 words, mostly workflows"
    assert steps["broken"].status == "failed"
    assert steps["broken"].attempts == 1  # a PermanentError is not retried
    assert "the input 'text' must be a string" in steps["broken"].error
    assert captured.result.status == "failed"
    (failure,) = captured.of("attempt_failed")
    assert failure.error_type == "NotTextError"
    assert captured.kinds()[0] == "run_started"
    assert captured.kinds()[-1] == "run_finished"


async def test_wordcount_counts_what_a_scripted_agent_wrote(autojump_clock):
    """A ScriptedAgent's retried draft reaches the wordcount step that needs it."""
    writer = ScriptedAgent(
        "writer", [cadenza.RetryableError("rate limited", retry_after=30), "red green red"]
    )
    workflow = """
agents:
  writer: {kind: scripted}
  counter: {kind: wordcount}
steps:
  draft: {uses: writer, retry: {max_attempts: 2}}
  count: {uses: counter, needs: [draft], with: {text: "${{ steps.draft.output }}"}}
"""
    captured = await run_captured(
        workflow, extra_plugins=[cadenza_legacy_agent, scripted_agent_kind(writer)]
    )
    assert captured.result.status == "succeeded"
    assert captured.result.steps["count"].output["top"][0] == ["red", 2]
    assert [call.attempt for call in writer.calls] == [1, 2]


async def test_unknown_options_are_a_workflow_error_with_the_line():
    """A misspelt option is reported as a WorkflowError naming the line and the right name."""
    with pytest.raises(cadenza.WorkflowError) as caught:
        await run_captured(
            WORKFLOW.replace("top: 1", "tpo: 1"), extra_plugins=[cadenza_legacy_agent]
        )
    message = str(caught.value)
    assert ":4:" in message
    assert "unknown field 'tpo'" in message
    assert "Did you mean 'top'?" in message


async def test_option_values_are_checked_when_the_workflow_loads():
    """`top: 0` is refused before anything runs, naming the option."""
    with pytest.raises(cadenza.WorkflowError, match="top must be an integer >= 1, got 0"):
        await run_captured(
            WORKFLOW.replace("top: 1", "top: 0"), extra_plugins=[cadenza_legacy_agent]
        )
