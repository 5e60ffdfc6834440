"""A digest of what a folder of Markdown says about a topic: a workflow written in Python.

Runs offline, with the built-in ``python`` and ``template`` agents::

    python examples/python_workflow/digest.py trio
    python examples/python_workflow/digest.py routing --root docs --top 3

The same workflow as YAML is what ``digest().to_yaml()`` prints (``--yaml``).
See docs/python-workflows.md.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import cadenza

HERE = Path(__file__).resolve().parent
DEFAULT_ROOT = str(HERE.parent.parent / "docs")


def search(root: str, topic: str) -> dict[str, Any]:
    """Every Markdown file under ``root`` that mentions ``topic``, with its matching lines."""
    pattern = re.compile(re.escape(topic), re.IGNORECASE)
    hits: dict[str, list[str]] = {}
    for path in sorted(Path(root).rglob("*.md")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        found = [line for line in lines if pattern.search(line)]
        if found:
            hits[str(path.relative_to(root))] = found
    return {"files": sorted(hits, key=lambda f: -len(hits[f])), "lines": hits}


def rank(files: list[str], lines: dict[str, list[str]], top: int) -> list[dict[str, Any]]:
    """The ``top`` files that mention the topic most, with a count and the first mention."""
    return [{"file": f, "mentions": len(lines[f]), "first": lines[f][0][:100]} for f in files[:top]]


def write(title: str, ranked: list[dict[str, Any]] | None, total: int) -> str:
    """The digest as Markdown (``ranked`` is None when ``rank`` was skipped: no file matched)."""
    if not ranked:
        return f"# {title}\n\nNo file mentions it.\n"
    out = [f"# {title}", "", f"{total} files mention it; the most:", ""]
    out += [f"- **{r['file']}** ({r['mentions']}): {r['first']}" for r in ranked]
    return "\n".join(out) + "\n"


def digest() -> cadenza.WorkflowBuilder:
    """The workflow: search, then rank and title side by side, then write."""
    wf = cadenza.workflow(
        "digest",
        description="What a folder of Markdown says about a topic.",
        defaults={"retry": 2, "timeout": "1m"},
    )
    topic = wf.input("topic", required=True, description="What to look for.")
    root = wf.input("root", DEFAULT_ROOT, description="The folder to search.")
    top = wf.input("top", 5, description="How many files the digest lists.")

    searcher = wf.agent("search", kind="python", options={"function": search})
    ranker = wf.agent("rank", kind="python", options={"function": rank})
    writer = wf.agent("write", kind="python", options={"function": write})
    titler = wf.agent(
        "title", kind="template", options={"output": "What the docs say about {topic}"}
    )

    found = wf.step("search", uses=searcher, with_={"root": root, "topic": topic})
    ranked = wf.step(
        "rank",
        uses=ranker,
        needs=[found],
        when=f"size({found.output.files.expression}) > 0",
        with_={"files": found.output.files, "lines": found.output.lines, "top": top},
    )
    title = wf.step("title", uses=titler, with_={"topic": topic})
    wf.step(
        "write",
        uses=writer,
        needs=[found, ranked, title],
        if_needs_skipped="run",  # rank is skipped by its when: when nothing matched
        with_={
            "title": title.output,
            "ranked": ranked.output,
            "total": "${{ size(steps.search.output.files) }}",  # any CEL, as in YAML
        },
    )
    return wf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic")
    parser.add_argument("--root", default=DEFAULT_ROOT)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--yaml", action="store_true", help="print the workflow as YAML")
    args = parser.parse_args(argv)
    wf = digest()
    if args.yaml:
        print(wf.to_yaml(), end="")
        return 0
    result = cadenza.run(wf, inputs={"topic": args.topic, "root": args.root, "top": args.top})
    if result.status != "succeeded":
        print(f"run {result.run_id} {result.status}: {result.reason}")
        return 1
    print(result.steps["write"].output, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
