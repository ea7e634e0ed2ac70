"""Every tutorial runs in its quick mode and ends with a figure."""

import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parent.parent / "tutorials").glob("[0-9][0-9]_*.py"))


def test_tutorials_are_numbered_and_present():
    numbers = [t.name[:2] for t in TUTORIALS]
    assert numbers[:2] == ["01", "02"] and numbers == sorted(numbers)


@pytest.mark.parametrize("script", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_quick_and_draws_a_figure(script, tmp_path, data_dir):
    proc = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    figures = list(tmp_path.glob("*.png"))
    assert figures, f"{script.name} wrote no figure"
    assert all(f.stat().st_size > 2000 for f in figures)


@pytest.mark.parametrize("script", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_is_a_notebook_in_cell_format(script):
    """``# %%`` cells (jupytext's percent format): markdown first, math as ``$...$``.

    A markdown cell is all comment lines; no reST survives (``:math:``,
    ``.. math::``, doubled backslashes), since nothing would render it.
    """
    text = script.read_text()
    assert text.startswith("# %% [markdown]\n# # Tutorial"), "starts with a markdown title cell"
    cells = text.split("\n# %%")
    assert len(cells) >= 4, "a few cells, not one script"
    for cell in cells:
        if cell.startswith(" [markdown]") or cell.startswith("# %% [markdown]"):
            body = cell.split("\n", 1)[1].strip("\n")
            assert all(line.startswith("#") for line in body.splitlines()), cell[:200]
            assert ":math:" not in body and ".. math::" not in body and "\\\\" not in body
    assert 'parse_args([] if "ipykernel" in sys.modules else None)' in text, (
        "in a notebook the arguments are not the kernel's"
    )
