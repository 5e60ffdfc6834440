"""Independent OpenAI-compatible servers (fakellm, llmock), started as subprocesses on loopback.

The compatibility tests (test_compat_*.py) run the real ``openai`` agent
against servers no one here wrote, so they catch what our own fake
(``cadenza_openai.testing.FakeOpenAI``) agrees with us on by construction.
Each server runs as ``python -m <package>.cli serve`` on 127.0.0.1 and a
free port, from the interpreter running the tests (so from the same venv);
:func:`started` waits for it to answer, with a deadline, and stops it (and
checks it stopped) afterwards, so no process outlives its test module.

The packages come from the plugin's ``test`` dependency group, which
``nox -s plugin`` installs. Locally, a missing package skips the tests with a
notice; with ``CI=true`` (or ``CADENZA_REQUIRE_COMPAT=1``) it fails them, so
CI cannot pass by skipping.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import httpx
import pytest

from cadenza.testing import CapturedRun

READY_SECONDS = 30.0
"""How long a server may take to answer after it was started (generous: CI machines are slow)."""

STOP_SECONDS = 10.0
"""How long a server may take to exit after SIGTERM before it is killed."""

REQUIRE_VAR = "CADENZA_REQUIRE_COMPAT"


def compat_required() -> bool:
    """True when a missing server package must fail the tests (CI), not skip them."""
    return os.environ.get("CI", "").lower() in ("true", "1") or os.environ.get(
        REQUIRE_VAR, ""
    ).lower() in ("1", "true")


def require(package: str) -> str:
    """``package``'s installed version; skip the calling test without it (fail when required)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        notice = (
            f"{package} is not installed: the compatibility tests against it need it "
            f"(`nox -s plugin` installs the plugin's `test` dependency group; by hand: "
            f"pip install {package})."
        )
        if compat_required():
            pytest.fail(f"{notice} Required here: CI=true or {REQUIRE_VAR}=1.")
        pytest.skip(f"{notice} Skipped.")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.frozen(kw_only=True)
class Server:
    """A running server: its root URL and the OpenAI ``base_url`` on it."""

    name: str
    port: int
    process: subprocess.Popen[bytes] = attrs.field(repr=False)
    log: Path

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def output(self) -> str:
        """What the server printed so far (for failure messages)."""
        return self.log.read_text(errors="replace")[-4000:]


def _wait_ready(server: Server, ready_path: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    url = server.root + ready_path
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode} before it answered "
                f"{url}; its output:\n{server.output()}"
            )
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{server.name} did not answer {url} within {READY_SECONDS:g}s; its output:\n"
                f"{server.output()}"
            )
        time.sleep(0.05)


def _stop(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_SECONDS)


@contextlib.contextmanager
def started(
    package: str, args: Sequence[str], *, folder: Path, ready_path: str
) -> Iterator[Server]:
    """Run ``python -m <package>.cli serve --port P ARGS`` in ``folder`` until the block ends.

    Ready once ``GET ready_path`` answers below 500. The server's output goes
    to ``folder/<package>.log`` (a pipe could fill and block it).
    """
    port = free_port()
    log = folder / f"{package}.log"
    command = [sys.executable, "-m", f"{package}.cli", "serve", "--port", str(port), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=folder, stdout=sink, stderr=subprocess.STDOUT, env=env
        )
    server = Server(name=package, port=port, process=process, log=log)
    try:
        _wait_ready(server, ready_path)
        yield server
    finally:
        _stop(server)
    assert process.returncode is not None, f"{package} (pid {process.pid}) is still running"


DEFAULT_RETRY = "{max_attempts: 3, backoff: 10ms, max_backoff: 5s}"


def compat_workflow(
    base_url: str,
    prompt: str,
    *,
    options: str = "",
    agent: str = "",
    retry: str = DEFAULT_RETRY,
    steps: int = 1,
) -> str:
    """A workflow of ``steps`` independent steps ``write``, ``write_2``, ... asking ``prompt``.

    Its agent ``writer`` points at ``base_url`` with the key ``${OPENAI_API_KEY}``;
    ``options`` adds to its options (flow style, comma-led), ``agent`` adds a key
    to the agent. Step *n* > 1 asks ``prompt #n`` (a distinct request).
    """
    lines = [
        "agents:",
        "  writer:",
        "    kind: openai",
        *([f"    {agent}"] if agent else []),
        f'    options: {{base_url: "{base_url}", model: compat-model, '
        f'api_key: "${{OPENAI_API_KEY}}"{options}}}',
        "steps:",
    ]
    for n in range(1, steps + 1):
        step_id = "write" if n == 1 else f"write_{n}"
        asked = prompt if n == 1 else f"{prompt} #{n}"
        lines += [
            f"  {step_id}:",
            "    uses: writer",
            f"    retry: {retry}",
            f'    with: {{prompt: "{asked}"}}',
        ]
    return "\n".join(lines) + "\n"


def assert_priced(captured: CapturedRun) -> tuple[int, int]:
    """The step's usage was recorded, and its cost is that usage at the agent's price."""
    (succeeded,) = captured.of("step_succeeded")
    (cost,) = captured.of("cost_incurred")
    assert succeeded.input_tokens > 0
    assert succeeded.output_tokens > 0
    assert (cost.input_tokens, cost.output_tokens) == (
        succeeded.input_tokens,
        succeeded.output_tokens,
    )
    expected = succeeded.input_tokens * 0.5 / 1000 + succeeded.output_tokens * 1.5 / 1000
    assert cost.cost_usd == pytest.approx(expected)
    assert succeeded.cost_usd == pytest.approx(expected)
    return succeeded.input_tokens, succeeded.output_tokens
