"""Per-agent protection: circuit breaker, rate limits, budgets, slots, the retry decision.

Pure functions and small state machines; no I/O and no trio tasks.
"""
