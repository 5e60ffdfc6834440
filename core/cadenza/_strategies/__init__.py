"""Each pluggable decision: its contract (``_routing``, ``_aggregation``,
``_validation``, ``_fallback``), then its built-ins (``_routers``,
``_aggregators``, ``_validators``, ``_fallbacks``).
"""
