"""A reply as a step's output: plain text, or text plus the files its code blocks became.

Three modes, chosen by the agent from the step's task and ``write_files``:

- ``"all"`` (code and tests tasks): every fenced block is a file, unnamed
  ones named after the step; the output is always a mapping.
- ``"named"`` (other tasks, such as documentation): only blocks the model
  named are files; without any, the output is the text itself.
- ``"none"`` (``write_files: false``): the output is the text.

The mapping is ``{"text", "files", "model", "finish_reason", "dir"}``; each
file is ``{"path", "language", "bytes"}`` (path relative to ``dir``), plus
``requested_path`` when the model's name had to be changed (made safe, or
renamed after the type the file declares, :mod:`._naming`) and
``truncated: true`` when the reply ended inside the block. ``dir`` is the
folder the files were written to; with no output folder nothing is written,
``dir`` is null and each file carries its ``content`` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ._chat import ChatReply
from ._codeblocks import PlannedFile, extract_blocks, plan_files
from ._files import write_files
from ._naming import FileLayout, arrange

FileMode = Literal["all", "named", "none"]


async def reply_output(
    reply: ChatReply,
    *,
    mode: FileMode,
    output_dir: Path | None,
    stem: str,
    layout: FileLayout | None = None,
) -> Any:
    """The step output for ``reply`` (see the module doc); writes files under ``output_dir``.

    Files are named by their language's rules and laid out by ``layout``
    (:mod:`._naming`; the defaults when None).

    Raises ``OSError`` or :class:`~._files.UnsafePathError` if a file cannot be written.
    """
    planned: list[PlannedFile] = []
    if mode != "none":
        planned = plan_files(extract_blocks(reply.text), stem=stem, unnamed=mode == "all")
        planned = arrange(planned, layout or FileLayout())
    if mode != "all" and not planned:
        return reply.text
    if output_dir is not None and planned:
        sizes = await write_files(output_dir, planned)
    else:
        sizes = [len(p.content.encode("utf-8")) for p in planned]
    files: list[dict[str, Any]] = []
    for plan, size in zip(planned, sizes, strict=True):
        entry: dict[str, Any] = {"path": plan.path, "language": plan.language or None}
        entry["bytes"] = size
        if output_dir is None:
            entry["content"] = plan.content
        if plan.requested is not None:
            entry["requested_path"] = plan.requested
        if not plan.closed:
            entry["truncated"] = True
        files.append(entry)
    return {
        "text": reply.text,
        "files": files,
        "model": reply.model or None,
        "finish_reason": reply.finish_reason,
        "dir": str(output_dir) if output_dir is not None and planned else None,
    }
