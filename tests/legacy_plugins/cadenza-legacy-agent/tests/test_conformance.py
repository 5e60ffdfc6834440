"""The agent conformance suite of cadenza.testing, as docs/testing-plugins.md showed it."""

import pytest
from cadenza_legacy_agent import WordCountAgent, WordCountOptions

import cadenza
import cadenza.testing


class TestWordCountAgent(cadenza.testing.AgentConformance):
    @pytest.fixture
    def agent(self):
        config = cadenza.AgentConfig(name="counter", kind="wordcount", options=WordCountOptions())
        return WordCountAgent.from_config(config)

    @pytest.fixture
    def inputs(self):
        return {"text": "Structured concurrency keeps every task in a nursery."}

    @pytest.fixture
    def failing_inputs(self):
        return {"text": 42}
