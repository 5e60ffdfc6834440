"""``approval:`` in a workflow file: read into ApprovalPolicy; mistakes reported at file:line."""

from __future__ import annotations

from cadenza._spec._approval import ApprovalPolicy

from .loader_helpers import errors, load, one_error, where

HEAD = """\
inputs:
  topic: {default: trio}
agents:
  t: {kind: template}
steps:
  draft: {uses: t}
"""


def _step(approval: str, extra: str = "") -> str:
    return HEAD + f"  publish:\n    uses: t\n    needs: [draft]\n{extra}    approval: {approval}\n"


def test_approval_is_read_into_the_step() -> None:
    """prompt, timeout (a duration) and approvers land on Step.approval."""
    wf = load(
        _step(
            '{prompt: "Publish ${{ steps.draft.output }} on ${{ inputs.topic }}?", '
            "timeout: 24h, approvers: [alice, bob]}"
        )
    ).workflow
    policy = wf.steps["publish"].approval
    assert isinstance(policy, ApprovalPolicy)
    assert policy.timeout == 24 * 3600.0
    assert policy.approvers == ("alice", "bob")
    assert policy.prompt.step_refs == frozenset({"draft"})
    assert policy.prompt.input_refs == frozenset({"topic"})
    assert wf.steps["draft"].approval is None


def test_a_string_is_the_prompt_alone() -> None:
    """approval: "text" is a gate with that prompt, no timeout and any approver."""
    policy = load(_step('"Go?"')).workflow.steps["publish"].approval
    assert policy is not None
    assert (policy.prompt.value, policy.timeout, policy.approvers) == ("Go?", None, ())


def test_unknown_key_is_an_error_at_its_line() -> None:
    """A misspelt option names the key, its place and the allowed keys."""
    problem = one_error(_step('{prompt: "Go?", approver: [alice]}'))
    assert "unknown key 'approver' in approval" in problem.message
    assert "approvers" in problem.hint
    assert where(problem)[0] == 10


def test_missing_prompt_is_an_error() -> None:
    """A gate without a prompt says what to add."""
    problem = one_error(_step("{timeout: 1h}"))
    assert "missing required key 'prompt'" in problem.message
    assert where(problem)[0] == 10


def test_bad_timeout_is_an_error() -> None:
    """timeout must be a positive duration."""
    problem = one_error(_step('{prompt: "Go?", timeout: soon}'))
    assert problem.path == "steps.publish.approval.timeout"
    problem = one_error(_step('{prompt: "Go?", timeout: 0}'))
    assert "greater than 0" in problem.message


def test_approvers_must_be_names() -> None:
    """approvers is a list of strings; a number in it is reported at the entry."""
    problem = one_error(_step('{prompt: "Go?", approvers: [alice, 3]}'))
    assert problem.path == "steps.publish.approval.approvers[1]"


def test_approval_must_be_a_mapping() -> None:
    """approval: [..] is refused with an example of the right form."""
    problem = one_error(_step("[alice]"))
    assert "approval must be a mapping" in problem.message
    assert "prompt" in problem.hint


def test_prompt_reading_an_unneeded_step_is_an_error() -> None:
    """The prompt's references are checked like with:'s: a step read must be needed."""
    text = HEAD + (
        "  other: {uses: t}\n"
        "  publish:\n    uses: t\n    needs: [draft]\n"
        '    approval: {prompt: "Publish ${{ steps.other.output }}?"}\n'
    )
    problem = one_error(text)
    assert "approval.prompt: uses the output of step 'other'" in problem.message
    assert "needs: [draft, other]" in problem.hint
    assert where(problem)[0] == 11


def test_prompt_reading_an_unknown_input_is_an_error() -> None:
    """An undeclared input in the prompt is reported with the known ones."""
    problem = one_error(_step('{prompt: "About ${{ inputs.topik }}?"}'))
    assert "approval.prompt: refers to unknown input 'topik'" in problem.message
    assert "topic" in problem.hint


def test_prompt_with_a_broken_expression_is_an_error() -> None:
    """A syntax error in the prompt's expression is reported at the prompt."""
    problem = one_error(_step('{prompt: "About ${{ inputs. }}?"}'))
    assert problem.path == "steps.publish.approval.prompt"


def test_approval_with_for_each_is_refused() -> None:
    """One gate per item is not supported: the message says where to put the gate."""
    extra = '    for_each: "${{ steps.draft.output }}"\n'
    found = errors(_step('{prompt: "Go?"}', extra))
    assert any("cannot be combined with for_each" in p.message for p in found)
