"""cadenza.testing.AgentConformance, run on a real ``docgen`` agent over the sample sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import cadenza
import cadenza.testing
from cadenza_docgen import DocgenAgent, DocgenOptions


class TestDocgenAgent(cadenza.testing.AgentConformance):
    @pytest.fixture
    def agent(self, project: Path) -> DocgenAgent:
        config = cadenza.AgentConfig(
            name="docgen", kind="docgen", options=DocgenOptions(), base_dir=project
        )
        return DocgenAgent.from_config(config)

    @pytest.fixture
    def inputs(self) -> dict[str, Any]:
        return {"files": ["unity", "python"]}

    @pytest.fixture
    def failing_inputs(self) -> dict[str, Any]:
        return {"files": ["no-such-folder"]}  # nothing to document: a PermanentError
