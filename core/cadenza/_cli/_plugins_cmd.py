"""``cadenza plugins``: the installed plugins, their versions, and what they register.

Every plugin found through the ``cadenza`` entry-point group is listed with its
status: ``loaded``, ``failed`` (it could not be imported, or a registration
hook raised), ``refused`` (incompatible hook API, unknown or ``async`` hooks)
or ``disabled`` (left out by ``CADENZA_LOAD_PLUGINS``). Problems are reported,
not fatal: the command exits 0 unless plugins cannot be loaded together at all
(a duplicate registered name exits 3).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from cadenza._plugins._registry import PluginInfo

from ._common import echo_json, get_plugins, handle_errors

_STATUS_COLOURS = {"loaded": "green", "failed": "red", "refused": "red", "disabled": "yellow"}
_HEADERS = ("NAME", "DISTRIBUTION", "VERSION", "ENTRY POINT", "STATUS", "HOOKS AND REGISTRATIONS")
_GAP = "  "


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per plugin.")
@handle_errors
def plugins(as_json: bool) -> None:
    """List installed plugins: version, status, hooks, registrations and load errors.

    Set CADENZA_LOAD_PLUGINS to a comma list of plugin names to load only
    those (empty: none). Exits 0 even when a plugin failed to load (it is
    listed with the reason), 3 when two plugins register the same name.
    """
    infos = get_plugins().infos
    if as_json:
        echo_json([info.to_dict() for info in infos])
        return
    click.echo(render_table(infos))


def _hook_lines(info: PluginInfo) -> list[str]:
    """One line per hook: ``hook: name, name`` (registrations) or just ``hook``.

    An agent kind with a default executor shows it: ``assets (on process)``.
    """
    names: dict[str, list[str]] = {}
    executors = dict(info.default_executors)
    for hook, name in info.registrations:
        if hook == "cadenza_agent_kinds" and name in executors:
            name = f"{name} (on {executors[name]})"
        names.setdefault(hook, []).append(name)
    lines = [f"{hook}: {', '.join(names[hook])}" if hook in names else hook for hook in info.hooks]
    return lines or ["-"]


def render_table(infos: Sequence[PluginInfo]) -> str:
    """The human-readable listing: a table, a summary line, then every load error in full."""
    rows: list[tuple[list[str], str]] = []
    for info in infos:
        cells = [
            info.name,
            info.distribution or "-",
            info.version or "-",
            info.value or "-",
            info.status,
        ]
        rows.append((cells, info.status))
    widths = [len(h) for h in _HEADERS[:-1]]
    for cells, _ in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]

    def line(cells: Sequence[str], last: str, status: str | None = None) -> str:
        padded = [c.ljust(w) for c, w in zip(cells, widths, strict=True)]
        if status is not None:
            padded[4] = click.style(padded[4], fg=_STATUS_COLOURS.get(status))
        return _GAP.join([*padded, last]).rstrip()

    out = [line(_HEADERS[:-1], _HEADERS[-1])]
    blank = [""] * len(widths)
    for (cells, status), info in zip(rows, infos, strict=True):
        hook_lines = _hook_lines(info) if info.status == "loaded" else ["-"]
        out.append(line(cells, hook_lines[0], status))
        out.extend(line(blank, extra) for extra in hook_lines[1:])

    counts = {status: sum(i.status == status for i in infos) for status in _STATUS_COLOURS}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    out.append("")
    out.append(f"{len(infos)} plugin{'s' if len(infos) != 1 else ''}: {summary or 'none'}.")

    problems = [info for info in infos if info.error]
    if problems:
        out.append("")
        out.append("Problems:")
        for info in problems:
            first, *rest = info.error.splitlines() if info.error else [""]
            out.append(f"  {info.name} ({info.status}): {first}")
            out.extend(f"    {extra}" if extra.strip() else "" for extra in rest)
    return "\n".join(out)
