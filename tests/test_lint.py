"""The tree passes ``ruff check`` and ``ruff format --check`` (pyproject.toml), so CI fails on lint."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff_command():
    """``ruff`` from the environment, or ``python -m ruff``; None when neither is installed."""
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    try:
        import ruff  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "ruff"]


def test_ruff_check_is_clean():
    cmd = _ruff_command()
    if cmd is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    done = subprocess.run(
        cmd + ["check", "--no-cache", "--output-format", "concise", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, "ruff check found problems:\n" + done.stdout + done.stderr


def test_ruff_format_is_clean():
    cmd = _ruff_command()
    if cmd is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    done = subprocess.run(
        cmd + ["format", "--check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (
        "ruff format would change files (run `ruff format .`):\n" + done.stdout + done.stderr
    )
