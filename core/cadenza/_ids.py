"""Run ids and idempotency keys: the names a run and its agent calls are known by.

Kept apart from the scheduler so everything that builds an agent request (the
scheduler's attempts, fallback strategies) derives the key the same way.
"""

from __future__ import annotations

import hashlib
import secrets
import time


def new_run_id() -> str:
    """A sortable, human-friendly run id: UTC timestamp plus 6 random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def idempotency_key(run_id: str, step_id: str, generation: str = "") -> str:
    """Stable for a step within a run: the same across retries and crash resume.

    ``generation`` changes it for deliberate re-runs (``resume --from``).
    """
    material = f"{run_id}\0{step_id}" + (f"\0{generation}" if generation else "")
    return hashlib.sha256(material.encode()).hexdigest()[:32]
