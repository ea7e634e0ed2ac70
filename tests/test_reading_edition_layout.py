"""The reading edition stays readable: numpy only, one sitting, short functions (issue 23)."""

import ast
from pathlib import Path

import pytest

PAPER = Path(__file__).resolve().parents[1] / "minievo" / "paper"
FILES = sorted(PAPER.glob("*.py"))


def _tree(path):
    return ast.parse(path.read_text(), filename=str(path))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_imports_numpy_and_itself_only(path):
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            assert [a.name for a in node.names] == ["numpy"], f"{path.name}: import {node.names}"
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 1, f"{path.name}: from {node.module} import ..."


def test_reads_in_one_sitting():
    """About 450 lines of code and docstrings: blank lines (two between functions, as the
    formatter wants) are not counted."""
    lines = [line for path in FILES for line in path.read_text().splitlines() if line.strip()]
    assert len(lines) <= 450, f"minievo/paper/ has {len(lines)} non-blank lines"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_functions_fit_on_a_screen(path):
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.FunctionDef):
            length = node.end_lineno - node.lineno + 1
            n_args = len(node.args.args) + len(node.args.kwonlyargs)
            assert length <= 40, f"{path.name}: {node.name} has {length} lines"
            assert n_args <= 6, f"{path.name}: {node.name} has {n_args} parameters"


def test_the_visit_reads_like_the_algorithm_box():
    visit = next(
        n
        for n in ast.walk(_tree(PAPER / "lipi_ae.py"))
        if isinstance(n, ast.FunctionDef) and n.name == "visit"
    )
    assert visit.end_lineno - visit.lineno + 1 <= 30
