"""Progress bars for long runs (tqdm), silent when disabled or when stderr is not a terminal."""
from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress_bar(iterable, *, total=None, initial=0, desc="", enabled=True):
    """A tqdm bar over ``iterable``; a no-op bar when ``enabled`` is false.

    tqdm is used rather than a hand-written bar: it handles terminals,
    notebooks and redirected output, and throttles its own refreshes.
    """
    return tqdm(iterable, total=total, initial=initial, desc=desc, unit="epoch",
                disable=not enabled or not sys.stderr.isatty(), dynamic_ncols=True, leave=False)
