"""cadenza.testing.AgentConformance, run on a real ``assets`` agent over real image files.

The agent refuses a step without an output folder (it writes optimized
files), so every request of the suite gets one, under the test's scratch
folder, one per step like the kernel's ``--out``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from assets_helpers import pixel_art, save

import cadenza
import cadenza.testing
from cadenza_assets import AssetsAgent, AssetsOptions


class TestAssetsAgent(cadenza.testing.AgentConformance):
    out: Path

    @pytest.fixture
    def agent(self, tmp_path: Path) -> AssetsAgent:
        save(pixel_art((32, 32)), tmp_path / "game" / "tiles.png")
        self.out = tmp_path / "out"
        config = cadenza.AgentConfig(
            name="assets",
            kind="assets",
            options=AssetsOptions(workers=1),
            base_dir=tmp_path / "game",
        )
        return AssetsAgent.from_config(config)

    @pytest.fixture
    def inputs(self) -> dict[str, Any]:
        return {"paths": ["tiles.png"]}

    @pytest.fixture
    def failing_inputs(self) -> dict[str, Any]:
        return {"paths": ["no-such-file.png"]}  # nothing to optimize: a PermanentError

    def request(
        self, inputs: Mapping[str, Any], *, number: int = 0, **changes: Any
    ) -> cadenza.AgentRequest:
        changes.setdefault("output_dir", self.out / f"conformance-{number}")
        return super().request(inputs, number=number, **changes)
