"""The peers' own virtualenv: created on demand from requirements.txt, never the project's.

LangGraph and Dask must not become dependencies of Cadenza, nor share an
environment with it: ``.venv/`` here is built with the interpreter that runs
``run_peers.py`` (the same CPython), and rebuilt when requirements.txt changes
(a hash of it is stamped into the venv).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
REQUIREMENTS = HERE / "requirements.txt"
STAMP = VENV / "requirements.sha256"


def python() -> Path:
    return VENV / "bin" / "python"


def ensure() -> Path:
    """The peers' interpreter, after creating or refreshing the venv if needed."""
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python().exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return python()
    print(f"peers: installing {REQUIREMENTS.name} into {VENV} ...", file=sys.stderr, flush=True)
    if not python().exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    done = subprocess.run(
        [str(python()), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"peers: pip could not install {REQUIREMENTS} into {VENV} (exit "
            f"{done.returncode}); see pip's output above, or delete {VENV} and retry."
        )
    STAMP.write_text(wanted + "\n")
    return python()
