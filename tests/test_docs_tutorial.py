"""docs/tutorial-agent-plugin.md, run for real in an empty folder, step by step.

The page is the script. In page order: a ``console`` block's ``$`` lines are
run (``cd`` and ``. .venv/bin/activate`` change the folder and environment of
the commands after them), a ``diff`` block whose fence has ``title="PATH"``
is applied to PATH (its ``-`` and context lines must occur exactly once), and
any other block with a title is written to PATH in full. Blocks without a
title (``text``, examples) are only read by people.

The run is offline and leaves the test's environment alone. The tutorial's
``.venv`` sees this environment's packages through a ``.pth`` file, and its
``bin/`` gets ``cadenza``, ``pytest``, ``mypy`` and ``twine`` as ``python -m``
shims, so no command reaches a package index: ``pip install`` of a
requirement (``'cadenza[testing]'``, ``build twine``) is skipped as already
satisfied; ``pip install -e PATH`` adds ``--no-deps --no-build-isolation``;
``python -m build`` adds ``--no-isolation``. Ollama and the webhook are fakes
on 127.0.0.1: their URLs replace ``http://127.0.0.1:11434`` and
``http://127.0.0.1:8765`` in the files the page writes.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial-agent-plugin.md"
OLLAMA = "http://127.0.0.1:11434"
WEBHOOK = "http://127.0.0.1:8765"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="([^"]+)"')
SHIMS = {"cadenza": "cadenza", "pytest": "pytest", "mypy": "mypy", "twine": "twine"}
"""Console scripts the page runs, and the module ``python -m`` runs for each."""


@attrs.frozen
class Block:
    """One fenced block of the page: its language, title (None: prose only) and text."""

    lang: str
    title: str | None
    text: str
    line: int


def blocks(page: str) -> list[Block]:
    found = []
    for match in FENCE.finditer(page):
        title = TITLE.search(match.group(2))
        line = page.count("\n", 0, match.start()) + 1
        found.append(Block(match.group(1), title.group(1) if title else None, match.group(3), line))
    return found


def apply_diff(path: Path, diff: str, where: str) -> None:
    """Replace the diff's old lines (``-`` and context) by its new ones (``+`` and context)."""
    old, new = [], []
    for line in diff.splitlines():
        mark, rest = (line[:1], line[1:]) if line else (" ", "")
        if mark in " -":
            old.append(rest)
        if mark in " +":
            new.append(rest)
    text = path.read_text(encoding="utf-8")
    before = "\n".join(old) + "\n"
    count = text.count(before)
    assert count == 1, (
        f"{where}: the diff's old lines occur {count} times in {path.name} "
        f"(the scaffold changed?); looked for:\n{before}"
    )
    path.write_text(text.replace(before, "\n".join(new) + "\n"), encoding="utf-8")


class FakeOllama(http.server.BaseHTTPRequestHandler):
    """Just enough Ollama: ``GET /api/version`` and a non-streaming ``POST /api/generate``."""

    def do_GET(self) -> None:
        self._send(200, {"version": "0.0.0-fake"} if self.path == "/api/version" else None)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/api/generate" or body.get("stream") is not False:
            self._send(404, None)
            return
        reply = {"response": f"({body['model']}) {body['prompt']}", "prompt_eval_count": 9}
        self._send(200, {**reply, "eval_count": 17})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body if body is not None else {"error": "not found"}).encode()
        self.send_response(status if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


class FakeWebhook(http.server.BaseHTTPRequestHandler):
    """Answers 204 to every POST and keeps its JSON body in ``server.posts``."""

    server: WebhookServer

    def do_POST(self) -> None:
        self.server.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class WebhookServer(http.server.ThreadingHTTPServer):
    posts: list[dict[str, object]]
    url: str


@contextlib.contextmanager
def serving(server: http.server.ThreadingHTTPServer) -> Iterator[str]:
    """Serve in a thread until the block ends; yields the base URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def ollama() -> Iterator[str]:
    """A fake Ollama on a free loopback port; yields its base URL."""
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeOllama)) as url:
        yield url


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    """A webhook receiver on a free loopback port; ``.url`` is its base URL."""
    server = WebhookServer(("127.0.0.1", 0), FakeWebhook)
    server.posts = []
    with serving(server) as url:
        server.url = url
        yield server


@attrs.define
class Shell:
    """Runs the page's commands: tracks the folder and the activated venv."""

    cwd: Path
    env: dict[str, str]
    outputs: dict[str, str] = attrs.field(factory=dict)

    def run(self, command: str, where: str) -> None:
        argv = shlex.split(command)
        if argv[0] == "cd":
            self.cwd = (self.cwd / argv[1]).resolve()
            return
        if argv[0] == ".":
            self.activate(self.cwd / Path(argv[1]).parent.parent)
            return
        if argv[:3] == ["python", "-m", "pip"]:
            argv = argv[2:]
        if argv[:2] == ["pip", "install"]:
            if "-e" not in argv:
                return  # a requirement: this environment already has it, and stays offline
            offline = ["-q", "--no-deps", "--no-build-isolation"]
            argv = ["python", "-m", "pip", "install", *offline, *argv[2:]]
        if argv[:3] == ["python", "-m", "build"]:
            argv = [*argv, "--no-isolation"]
        if argv[0] == "twine":
            argv = [argv[0], *(str(p) for a in argv[1:] for p in self.glob(a))]
        done = subprocess.run(
            argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=300
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{where}: `{command}` exited {done.returncode}:\n{output}"
        self.outputs[command] = output

    def glob(self, pattern: str) -> list[Path]:
        return sorted(self.cwd.glob(pattern)) if "*" in pattern else [Path(pattern)]

    def activate(self, venv: Path) -> None:
        """As ``activate`` does, plus this environment's packages and the shims."""
        purelib = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        outer = [p for p in site.getsitepackages() if Path(p).is_dir()]
        lines = [f"import site; site.addsitedir({p!r})" for p in outer]
        Path(purelib, "_outer_env.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for script, module in SHIMS.items():
            shim = venv / "bin" / script
            shim.write_text(f'#!/bin/sh\nexec "{venv}/bin/python" -m {module} "$@"\n')
            shim.chmod(0o755)
        self.env["VIRTUAL_ENV"] = str(venv)
        self.env["PATH"] = f"{venv / 'bin'}{os.pathsep}{self.env['PATH']}"


def clean_env() -> dict[str, str]:
    """This process's environment without pytest's, coverage's or Cadenza's own settings."""
    drop = ("PYTEST_", "COV_", "CADENZA_", "PYTHON", "VIRTUAL_ENV", "MYPY")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def missing_pieces() -> str:
    """What the tutorial uses that this kernel lacks ("" when nothing), for the skip reason."""
    import cadenza.hookspecs
    from cadenza.strategies import RouteRequest

    missing = []
    try:
        from cadenza._cli._plugin_cmd import KINDS
    except ImportError:
        KINDS = {}
    for kind in ("agent", "router", "observer"):
        if kind not in KINDS:
            missing.append(f"`cadenza plugin new --kind {kind}`")
    if "key" not in attrs.fields_dict(RouteRequest):
        missing.append("RouteRequest.key (route: {key: ...})")
    for hook in ("cadenza_observers", "cadenza_plugin_config"):
        if not hasattr(cadenza.hookspecs, hook):
            missing.append(f"the {hook} hook")
    return ", ".join(missing)


@pytest.mark.slow
@pytest.mark.skipif(bool(missing_pieces()), reason=f"not in this kernel yet: {missing_pieces()}")
@pytest.mark.skipif(shutil.which("sh") is None, reason="the tutorial's commands need a POSIX sh")
def test_tutorial_runs_from_an_empty_folder(
    tmp_path: Path, ollama: str, webhook: WebhookServer
) -> None:
    """Every command, edit and file of the tutorial, in order, ends with a checked wheel."""
    page = TUTORIAL.read_text(encoding="utf-8")
    shell = Shell(cwd=tmp_path / "work", env=clean_env())
    shell.cwd.mkdir()
    shell.env["MYPY_CACHE_DIR"] = str(tmp_path / "mypy-cache")  # shared: kernel modules once
    for block in blocks(page):
        where = f"{TUTORIAL.name}:{block.line}"
        if block.lang == "console":
            for line in block.text.splitlines():
                if line.startswith("$ "):
                    shell.run(line[2:], where)
        elif block.title is not None and block.lang == "diff":
            apply_diff(shell.cwd / block.title, block.text, where)
        elif block.title is not None:
            text = block.text.replace(OLLAMA, ollama).replace(WEBHOOK, webhook.url)
            (shell.cwd / block.title).parent.mkdir(parents=True, exist_ok=True)
            (shell.cwd / block.title).write_text(text, encoding="utf-8")

    listed = shell.outputs["cadenza plugins"]
    for name, hook in [("ollama", "agent_kinds"), ("pinned", "routers"), ("notify", "observers")]:
        assert re.search(rf"^{name}\s+cadenza-{name}\s.*\sloaded\s", listed, re.M), listed
        assert f"cadenza_{hook}: {name}" in listed, listed
    haiku = shell.outputs["cadenza run haiku.yaml --set topic=nurseries"]
    assert "(llama3.2) Write a haiku about nurseries." in haiku, haiku
    acme = shell.outputs["cadenza run support.yaml"]
    assert "(llama3.2) Answer acme's question" in acme, acme
    globex = shell.outputs["cadenza run support.yaml --set customer=globex"]
    assert "Answer globex's question" in globex, globex
    assert all(isinstance(p["seconds"], float) for p in webhook.posts), webhook.posts
    assert [(p["workflow"], p["status"]) for p in webhook.posts] == [
        ("support-reply", "succeeded"),
        ("support-reply", "succeeded"),
    ]
    assert "PASSED" in shell.outputs["twine check dist/*"], shell.outputs["twine check dist/*"]
    wheels = list((shell.cwd / "dist").glob("cadenza_ollama-*-py3-none-any.whl"))
    assert len(wheels) == 1, sorted(p.name for p in (shell.cwd / "dist").iterdir())
