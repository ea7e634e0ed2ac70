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


def trace_functions(call, package_dir):
    """The (file, function) pairs under ``package_dir`` that ``call()`` enters."""
    import sys

    seen = set()

    def tracer(frame, event, arg):
        code = frame.f_code
        comprehension = code.co_name in ("<listcomp>", "<genexpr>", "<dictcomp>", "<setcomp>")
        if event == "call" and code.co_filename.startswith(str(package_dir)) and not comprehension:
            seen.add((Path(code.co_filename).name, code.co_qualname))
        return None

    sys.setprofile(tracer)
    try:
        call()
    finally:
        sys.setprofile(None)
    return seen


@pytest.mark.parametrize("prune_method", [None, "random", "variance", "conjunctive"])
def test_one_visit_touches_few_functions_in_few_files(prune_method, dataset):
    """A reader following one cell visit meets at most about 25 functions (26 with VARIANCE)
    in 3 files; comprehensions are not counted."""
    from conftest import tiny_config

    from minievo.paper import lipi_ae

    config = tiny_config(
        epochs=2, prune_method=prune_method, prune_schedule="fixed", prune_probability=1.0
    )
    pop = lipi_ae.Population(config, dataset.train.shape[1])
    seen = trace_functions(
        lambda: lipi_ae.visit(config, pop, 0, 1, dataset.train, dataset.test), PAPER
    )
    assert len(seen) <= 26, sorted(seen)
    assert len({file for file, _ in seen}) <= 3, sorted(seen)
