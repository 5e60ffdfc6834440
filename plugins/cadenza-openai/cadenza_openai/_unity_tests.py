"""Unity Test Runner layout: which C# files are NUnit tests, in which mode, and their asmdefs.

Unity's Test Runner only finds tests in a *test assembly*: an assembly
definition (``.asmdef``) that references NUnit and the test runner, and is
compiled only with ``UNITY_INCLUDE_TESTS``. Edit-mode and play-mode tests
need separate assemblies (edit mode is Editor-only). A generated test file
goes to ``<tests_dir>/EditMode/`` or ``<tests_dir>/PlayMode/`` with the
asmdef Unity's own "Create Test Assembly Folder" would write there.

Play mode is chosen by what the test touches: ``[UnityTest]`` coroutines
(``IEnumerator``, ``yield return``), ``SceneManager``, ``Time``, and the
frame waits (``WaitForSeconds``, ``WaitForFixedUpdate``, ...) only advance
in play mode; anything else runs in edit mode. Comments and strings are
ignored (:func:`._csharp.code_only`).

Scripts without an asmdef compile into ``Assembly-CSharp``, which an asmdef
assembly cannot reference; so a test assembly could not see the component it
tests. The tests' asmdef therefore references a runtime assembly (the
``assembly`` option), whose asmdef is written into the scripts folder
(``scripts_dir``) beside them.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from ._csharp import code_only

Mode = Literal["EditMode", "PlayMode"]

_NUNIT = re.compile(
    r"[\[,]\s*(?:NUnit\s*\.\s*Framework\s*\.\s*|UnityEngine\s*\.\s*TestTools\s*\.\s*)?"
    r"(?:Test|UnityTest|TestFixture|TestCase|TestCaseSource)(?:Attribute)?\s*[\](,]"
)
_PLAY_MODE = re.compile(
    r"\bUnityTest\b|\bUnitySetUp\b|\bUnityTearDown\b|\bIEnumerator\b|\byield\s+return\b"
    r"|\bSceneManager\b|\bTime\s*\.|\bWaitFor(?:Seconds|SecondsRealtime|FixedUpdate|EndOfFrame)\b"
)


def is_nunit_test(source: str) -> bool:
    """True when ``source`` uses NUnit: ``[Test]``, ``[UnityTest]``, ``[TestFixture]``, cases."""
    return _NUNIT.search(code_only(source)) is not None


def runner_mode(source: str) -> Mode:
    """``PlayMode`` when the test needs frames, scenes or time to pass; else ``EditMode``."""
    return "PlayMode" if _PLAY_MODE.search(code_only(source)) else "EditMode"


def assembly_for_tests(mode: Mode) -> str:
    """The test assembly's name: ``Tests.EditMode`` or ``Tests.PlayMode``."""
    return f"Tests.{mode}"


def _asmdef(fields: dict[str, Any]) -> str:
    return json.dumps(fields, indent=4) + "\n"


def asmdef_for_tests(mode: Mode, *, runtime: str | None) -> str:
    """The JSON of a test assembly definition for ``mode`` referencing ``runtime`` if given.

    The shape of Unity's own test assemblies (Unity.Mathematics.Tests, the
    Test Framework's template): NUnit as a precompiled reference with
    ``overrideReferences``, the test runner assemblies, compiled only with
    ``UNITY_INCLUDE_TESTS`` and never auto-referenced by game code.
    """
    references = [runtime] if runtime else []
    references.append("UnityEngine.TestRunner")
    if mode == "EditMode":
        references.append("UnityEditor.TestRunner")
    return _asmdef(
        {
            "name": assembly_for_tests(mode),
            "rootNamespace": "",
            "references": references,
            "includePlatforms": ["Editor"] if mode == "EditMode" else [],
            "excludePlatforms": [],
            "allowUnsafeCode": False,
            "overrideReferences": True,
            "precompiledReferences": ["nunit.framework.dll"],
            "autoReferenced": False,
            "defineConstraints": ["UNITY_INCLUDE_TESTS"],
            "versionDefines": [],
            "noEngineReferences": False,
        }
    )


def runtime_asmdef_json(name: str) -> str:
    """The JSON of the runtime assembly definition for the scripts folder.

    Auto-referenced, so scripts still in ``Assembly-CSharp`` keep seeing it.
    """
    return _asmdef(
        {
            "name": name,
            "rootNamespace": "",
            "references": [],
            "includePlatforms": [],
            "excludePlatforms": [],
            "allowUnsafeCode": False,
            "overrideReferences": False,
            "precompiledReferences": [],
            "autoReferenced": True,
            "defineConstraints": [],
            "versionDefines": [],
            "noEngineReferences": False,
        }
    )
