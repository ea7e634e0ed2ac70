"""The layers of minievo only import downwards (``.importlinter``), so CI fails on an upward import.

kernels <- network (data beside) <- pruning <- training <- experiments <- cli:
a training loop knows nothing of experiments, the kernels nothing of networks.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip(
    "importlinter", reason="import-linter is not installed (pip install -e '.[test]')"
)


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package under ``root`` with the repository's contract."""
    env = dict(os.environ, PYTHONPATH=str(root))
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='.importlinter', no_cache=True, no_logo=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def test_layers_only_import_downwards():
    done = _lint_imports(ROOT)
    assert done.returncode == 0, "an import points up the layers:\n" + done.stdout + done.stderr


def _lint_with_import(tmp_path, module: str, line: str) -> subprocess.CompletedProcess:
    """``lint-imports`` on a copy of the package whose ``module`` (a path) gains ``line``."""
    shutil.copytree(
        ROOT / "minievo", tmp_path / "minievo", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    path = tmp_path / "minievo" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa: E402,F401\n")
    return _lint_imports(tmp_path)


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The contract is live: training importing experiments fails the check."""
    done = _lint_with_import(tmp_path, "training/ring.py", "from ..experiments import config")
    assert done.returncode != 0
    assert "minievo.training.ring -> minievo.experiments.config" in done.stdout


def test_the_reading_edition_may_not_import_the_engine(tmp_path):
    """minievo.paper imports numpy only: importing the networks module fails the check."""
    done = _lint_with_import(tmp_path, "paper/networks.py", "from .. import network")
    assert done.returncode != 0
    assert "minievo.paper.networks -> minievo.network" in done.stdout
