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
