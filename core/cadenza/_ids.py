"""Run ids and idempotency keys: the names a run and its agent calls are known by.

Kept apart from the scheduler so everything that builds an agent request (the
scheduler's attempts, fallback strategies) derives the key the same way.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time


def new_run_id() -> str:
    """A sortable, human-friendly run id: UTC timestamp plus 6 random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""What a run id given to ``run_workflow`` may be: it names folders and goes in HTTP headers."""


def check_run_id(run_id: str) -> None:
    """Raise ValueError unless ``run_id`` is 1-128 ASCII letters, digits, ``.``, ``_``, ``-``.

    A run id becomes part of ``output_dir`` paths (``{run_id}``), the
    ``X-Cadenza-Run`` header of every HTTP call, and journal queries: a
    slash, a non-ASCII letter or a control character in it would surface much
    later as a broken path or header, so it is refused at the start.
    """
    if not isinstance(run_id, str) or RUN_ID_PATTERN.fullmatch(run_id) is None:
        raise ValueError(
            f"run id {run_id!r} is not allowed: use 1-128 ASCII letters, digits, "
            "'.', '_' or '-', starting with a letter or digit "
            "(or pass none and Cadenza makes one, like 20261207-142500-3fa2c1)"
        )


def idempotency_key(run_id: str, step_id: str, generation: str = "") -> str:
    """Stable for a step within a run: the same across retries and crash resume.

    ``generation`` changes it for deliberate re-runs (``resume --from``).
    """
    material = f"{run_id}\0{step_id}" + (f"\0{generation}" if generation else "")
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def item_step_id(step_id: str, index: int) -> str:
    """The id of item ``index`` of a ``for_each`` step: ``build[3]``.

    Each item is journaled under this id, like a step of its own, so its
    attempts, idempotency key and output survive a crash one by one. The
    loader refuses a step id that could be mistaken for one.
    """
    return f"{step_id}[{index}]"


_ITEM_ID = re.compile(r"(.+)\[(0|[1-9][0-9]*)\]")


def split_item_id(step_id: str) -> tuple[str, int] | None:
    """``("build", 3)`` for ``"build[3]"``; None for an id that names no item.

    Only the shape is checked: callers confirm the parent is a ``for_each`` step.
    """
    if not step_id.endswith("]"):
        return None
    match = _ITEM_ID.fullmatch(step_id)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


_NOT_IN_RUN_ID = re.compile(r"[^A-Za-z0-9._-]+")


def child_run_id(run_id: str, step_id: str) -> str:
    """The run id of the sub-workflow a step runs: ``<run id>.<step id>``, stable across resume.

    An item of a ``for_each`` step gives ``<run id>.<step id>.<index>``.
    Characters a run id may not hold become ``-``, with a short digest of
    the step id added when anything changed, so two steps never share a
    child; an id that would pass 128 characters is shortened to a digest.
    """
    item = split_item_id(step_id)
    if item is not None:  # build[3] -> <run id>.build.3
        return child_run_id(f"{run_id}.{_slug(item[0])}", str(item[1]))
    return _bounded(f"{run_id}.{_slug(step_id)}", run_id)


def _slug(step_id: str) -> str:
    slug = _NOT_IN_RUN_ID.sub("-", step_id)
    if slug != step_id:
        slug += "-" + hashlib.sha256(step_id.encode()).hexdigest()[:6]
    return slug


def _bounded(child: str, run_id: str) -> str:
    if len(child) > 128:
        child = f"{run_id[:100]}.{hashlib.sha256(child.encode()).hexdigest()[:20]}"
    return child
