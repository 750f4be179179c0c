"""Lint, format and type checks, run exactly as configured in pyproject.toml."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

VENV_BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_passes(command: list[str]) -> None:
    executable = VENV_BIN / command[0]
    if not executable.is_file():
        pytest.fail(f"{executable} is missing: install the dev extra (pip install -e '.[dev]')")
    completed = subprocess.run(
        [str(executable), *command[1:]],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, (
        f"{' '.join(command)} exited with status {completed.returncode}\n"
        f"{completed.stdout}\n{completed.stderr}"
    )
