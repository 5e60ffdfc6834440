"""The router conformance suite of cadenza.testing, as docs/routing.md showed it."""

import pytest
from cadenza_legacy_router import FairShare

import cadenza.testing


class TestFairShare(cadenza.testing.RouterConformance):
    @pytest.fixture(params=[{}, {"weights": {"a": 3, "b": 0}}])
    def router(self, request):
        return FairShare.from_options(request.param)
