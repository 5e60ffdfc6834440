"""Which C# files are NUnit tests, and whether they need play mode."""

from __future__ import annotations

import pytest

from cadenza_openai._unity_tests import is_nunit_test, runner_mode


@pytest.mark.parametrize(
    "source",
    [
        "[Test] public void A() { }",
        "[TestFixture]\npublic class T { }",
        "[UnityTest] public IEnumerator A() { yield return null; }",
        "[NUnit.Framework.Test] public void A() { }",
        "[TestCase(1, 2)] public void A(int a, int b) { }",
        '[Test, Description("x")] public void A() { }',
        '[Category("fast"), Test] public void A() { }',
    ],
)
def test_nunit_attributes_make_a_test(source: str) -> None:
    assert is_nunit_test(source)


@pytest.mark.parametrize(
    "source",
    [
        "public class PlayerMovement : MonoBehaviour { }",
        '// [Test] commented out\npublic class A { string s = "[Test]"; }',
        "[SerializeField] private float speed;",
        '[Tooltip("Test the jump")] public float jump;',
    ],
)
def test_other_code_is_not_a_test(source: str) -> None:
    assert not is_nunit_test(source)


@pytest.mark.parametrize(
    "source",
    [
        "[UnityTest] public IEnumerator A() { return null; }",
        "public IEnumerator A() { yield return null; }",
        "SceneManager.LoadScene(0);",
        "var t = Time.deltaTime;",
        "yield return new WaitForSeconds(1f);",
        "yield return new WaitForFixedUpdate();",
    ],
)
def test_frames_scenes_and_time_need_play_mode(source: str) -> None:
    assert runner_mode(source) == "PlayMode"


@pytest.mark.parametrize(
    "source",
    [
        "[Test] public void A() { Assert.AreEqual(1, new JumpBuffer().Count); }",
        '[Test] public void A() { Assert.AreEqual("yield return", s); } // Time.deltaTime',
        "[Test] public void A() { var timer = new Timer(); }",
    ],
)
def test_plain_logic_runs_in_edit_mode(source: str) -> None:
    assert runner_mode(source) == "EditMode"
