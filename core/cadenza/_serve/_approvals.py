"""The dashboard's approval buttons: the POST that decides a gate (``_pages`` draws them).

Deciding is allowed only on a dashboard with a token (every request then
proves it holds it; see ``_auth``) that was not started ``--read-only``; the
decision is recorded under the dashboard's ``approver`` name (``cadenza serve
--approver NAME``, default ``dashboard``), so a step listing ``approvers``
can be decided here only when that name is one of them. Otherwise gates are
shown with the ``cadenza approve`` command to run instead.

CSRF: the POST must carry the header ``X-Cadenza: 1`` and a JSON body, as
the run page's script sends them. A page on another site cannot send either
without a CORS preflight, which this server never grants, and a plain HTML
form can send neither; it is the same defence as the cancel button's, and
needs no server-side session (the dashboard has a token, not sessions). As
defence in depth, a request whose browser says it came from elsewhere
(``Sec-Fetch-Site`` other than ``same-origin``, or an ``Origin`` that is not
this server's) is refused too. The login cookie is ``SameSite=Strict``
besides, so a cross-site request would not carry the token at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from .._errors import ApprovalError, StoreError
from .._journal._decisions import record_approval

MAX_REASON = 2000
"""Characters of a reason kept; a longer one is refused (400)."""
DEFAULT_APPROVER = "dashboard"


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, default=str, ensure_ascii=False)
    return Response(body, status_code=status, media_type="application/json")


def cross_site(request: Request) -> str | None:
    """Why the request may come from another site (see the module docstring), or None."""
    if request.headers.get("x-cadenza") != "1":
        return "send the header X-Cadenza: 1 (the run page's buttons do)"
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site[:40]})"
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            return f"cross-origin request refused (Origin: {origin[:80]})"
    return None


def _body(raw: bytes) -> tuple[bool, str] | str:
    """``(approved, reason)`` from the JSON body, or what is wrong with it."""
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        return 'the body must be JSON: {"approved": true, "reason": "..."}'
    if not isinstance(data, Mapping) or not isinstance(data.get("approved"), bool):
        return 'the body must be {"approved": true or false, "reason": "..."}'
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        return "reason must be a string"
    if len(reason) > MAX_REASON:
        return f"reason must be at most {MAX_REASON} characters"
    return data["approved"], reason


async def decide(dashboard: Any, request: Request) -> Response:
    """``POST /api/runs/{run_id}/approvals/{step_id}``: record a decision as the dashboard."""
    refused = cross_site(request)
    if refused is not None:
        return _json({"error": refused}, 403)
    if dashboard.approver is None:
        return _json(
            {
                "error": "this dashboard is read-only for approvals (start it with a token and "
                "without --read-only); decide with: cadenza approve RUN STEP"
            },
            403,
        )
    if "json" not in request.headers.get("content-type", ""):
        return _json({"error": "send the body as application/json"}, 415)
    parsed = _body(await request.body())
    if isinstance(parsed, str):
        return _json({"error": parsed}, 400)
    approved, reason = parsed
    run_id, step_id = request.path_params["run_id"], request.path_params["step_id"]
    if await dashboard.record(run_id) is None:
        return _json({"error": "no such run in the journal"}, 404)
    by = dashboard.approver
    try:
        await dashboard.call(
            lambda: record_approval(
                dashboard.store, run_id, step_id, approved=approved, by=by, reason=reason
            )
        )
    except ApprovalError as exc:
        return _json({"error": str(exc)}, 409)
    except StoreError as exc:  # a read-only or full journal: say so, as `cadenza approve` does
        return _json({"error": str(exc)}, 503)
    return _json({"run_id": run_id, "step_id": step_id, "approved": approved, "by": by})
