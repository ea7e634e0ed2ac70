"""Shared set-up of the benchmarks: one core, the repository on the path, a speed-up table.

Every operation is one benchmark ``group`` holding the NumPy reference
(``extra_info["backend"] == "numpy"``) and the Numba kernel (``"numba"``) on
the same inputs; at the end of the run :func:`pytest_terminal_summary`
prints, per group, the median of each and their ratio.
"""

import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest

# One core against one core: NumPy's BLAS would otherwise use every core for
# the reference while the kernels use one. Set the variables yourself to override.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))


def _us(seconds):
    return f"{seconds * 1e6:12.1f}"


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    """Per group: median of the reference, of the kernel, and reference / kernel."""
    session = getattr(config, "_benchmarksession", None)
    benchmarks = [b for b in getattr(session, "benchmarks", []) if b]
    if not benchmarks:
        return
    groups = defaultdict(dict)
    for bench in benchmarks:
        groups[bench.group][bench.extra_info.get("backend", bench.name)] = bench
    tr = terminalreporter
    tr.write_sep("-", "speed-up of the Numba kernels: median(NumPy) / median(Numba)")
    tr.write_line(f"{'group':48s} {'numpy (us)':>12s} {'numba (us)':>12s} {'speed-up':>9s}")
    for group in sorted(groups):
        by_backend = groups[group]
        ref, fast = by_backend.get("numpy"), by_backend.get("numba")
        if ref is None or fast is None:
            continue
        steps = fast.extra_info.get("steps", 1)
        line = (
            f"{group:48s} {_us(ref['median'])} {_us(fast['median'])} "
            f"{ref['median'] / fast['median']:8.1f}x"
        )
        if steps > 1:
            per_step = (ref["median"] / steps * 1e6, fast["median"] / steps * 1e6)
            line += "   per step: {:.1f} / {:.1f} us".format(*per_step)
        tr.write_line(line)
        for other, bench in sorted(by_backend.items()):
            if other not in ("numpy", "numba"):
                tr.write_line(
                    f"{'  ' + other:48s} {'':12s} {_us(bench['median'])} "
                    f"{ref['median'] / bench['median']:8.1f}x"
                )
