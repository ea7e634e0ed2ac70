"""Progress of long runs: a tqdm bar on a terminal, plain lines anywhere else.

On a terminal, tqdm draws a bar (it handles terminals and notebooks and
throttles its own refreshes). When stderr is not a terminal (``nohup``, batch
jobs, CI logs) a bar would print nothing useful, so :class:`ProgressLines`
writes one plain line every ``MINIEVO_PROGRESS_SECONDS`` seconds (default 10)
and one at the end::

    lipi_simple: epoch 37/400 (9.3%), 2.10 epochs/s, 21.0 visits/s, best_loss=0.0834, ETA 2m53s

:func:`compile_notice` says when Numba will compile the kernels first (about
25 s of one core, once per installation; see :data:`COMPILE_SECONDS`), so a
run that sits at epoch 0 says why.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import ConfigError

#: Environment variable: seconds between progress lines off a terminal.
INTERVAL_VARIABLE = "MINIEVO_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 10.0


def progress_bar(
    iterable,
    *,
    total=None,
    initial=0,
    desc="",
    enabled=True,
    visits_per_epoch: int = 0,
    stream=None,
):
    """Iterate ``iterable`` (epochs) showing progress on ``stream`` (default stderr).

    A tqdm bar on a terminal, :class:`ProgressLines` otherwise, nothing when
    ``enabled`` is false. Both accept ``set_postfix(name=value)`` (e.g. the
    best loss so far), shown on the bar or in the next line.
    """
    stream = stream or sys.stderr
    if not enabled:
        return tqdm(iterable, disable=True)
    if stream.isatty():
        return tqdm(
            iterable,
            total=total,
            initial=initial,
            desc=desc,
            unit="epoch",
            file=stream,
            dynamic_ncols=True,
            leave=False,
        )
    return ProgressLines(
        iterable,
        total=total,
        initial=initial,
        desc=desc,
        visits_per_epoch=visits_per_epoch,
        stream=stream,
    )


def count_progress(*, total, initial=0, desc="", unit="job", enabled=True, stream=None):
    """A counter of finished items (a sweep's jobs) on ``stream`` (default stderr).

    A tqdm bar on a terminal; anywhere else (a log file, a pipe, a sweep's
    output redirected by ``nohup``) :class:`CountLines`, plain lines without
    the ``\\r`` frames a bar would leave in the file; nothing when ``enabled``
    is false. Both take ``update(n)``, ``set_postfix(name=value)`` and ``close()``.
    """
    stream = stream or sys.stderr
    if enabled and stream.isatty():
        return tqdm(
            total=total,
            initial=initial,
            unit=unit,
            desc=desc,
            file=stream,
            dynamic_ncols=True,
        )
    return CountLines(
        total=total, initial=initial, desc=desc, unit=unit, stream=stream, enabled=enabled
    )


class CountLines:
    """Plain lines of a count (``sweep: 3/18 jobs (16.7%), failed=0, ETA 1m20s``):
    at most one every ``MINIEVO_PROGRESS_SECONDS`` seconds, and one when the
    count reaches its total."""

    def __init__(
        self, *, total, initial=0, desc="", unit="job", stream=None, enabled=True, interval=None
    ):
        self.total, self.done, self.initial = total, initial, initial
        self.desc, self.unit, self.enabled = desc, unit, enabled
        self.stream = stream or sys.stderr
        self.interval = progress_interval() if interval is None else interval
        self.postfix: dict = {}
        self.start = self.last = time.perf_counter()

    def set_postfix(self, refresh=False, **values) -> None:
        self.postfix.update(values)

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self.last >= self.interval or self.done >= self.total):
            self.stream.write(self.line(now - self.start) + "\n")
            self.stream.flush()
            self.last = now

    def line(self, elapsed: float) -> str:
        """``desc: done/total units (x%), postfix, ETA``."""
        text = f"{self.desc}: {self.done}/{self.total} {self.unit}s"
        if self.total:
            text += f" ({100 * self.done / self.total:.1f}%)"
        parts = [text] + [f"{name}={value}" for name, value in self.postfix.items()]
        new = self.done - self.initial
        if self.total and new > 0 and self.done < self.total and elapsed > 0:
            parts.append(f"ETA {_duration((self.total - self.done) * elapsed / new)}")
        return ", ".join(parts)

    def close(self) -> None:
        pass


def progress_interval() -> float:
    """Seconds between lines: ``$MINIEVO_PROGRESS_SECONDS`` or 10.

    Raises ConfigError naming the variable when its value is not a finite
    number >= 0 (the ``minievo`` command checks it before anything starts).
    """
    raw = os.environ.get(INTERVAL_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"environment variable {INTERVAL_VARIABLE}={raw!r}: not a number of seconds; "
            f"allowed: a number >= 0 (0: a line after every epoch), or unset it for "
            f"{DEFAULT_INTERVAL:g}"
        )
    return value


class ProgressLines:
    """Plain progress lines at a steady interval: epoch/total, rates, postfix, ETA."""

    def __init__(
        self, iterable, *, total, initial=0, desc="", visits_per_epoch=0, stream=None, interval=None
    ):
        self.iterable, self.total, self.desc = iterable, total, desc
        self.done, self.initial = initial, initial
        self.visits_per_epoch = visits_per_epoch
        self.stream = stream or sys.stderr
        self.interval = progress_interval() if interval is None else interval
        self.postfix: dict = {}

    def set_postfix(self, refresh=False, **values) -> None:
        self.postfix.update(values)

    def __iter__(self):
        start = last = time.perf_counter()
        printed = self.done
        self._first = None  # (time, epochs done) once this session's first epoch is over
        for item in self.iterable:
            yield item
            self.done += 1
            now = time.perf_counter()
            if self._first is None:
                self._first = (now, self.done)
            if now - last >= self.interval:
                self._write(now - start, now)
                last, printed = now, self.done
        if self.done != printed:  # the last epoch, if its line was not printed yet
            now = time.perf_counter()
            self._write(now - start, now)

    def _write(self, elapsed: float, now: float) -> None:
        self.stream.write(self.line(elapsed, now) + "\n")
        self.stream.flush()

    def _rate(self, elapsed: float, now: float) -> float:
        """Epochs per second; after the first epoch, over the epochs since it.

        The first epoch of a session also waits for any kernel compilation, so
        counting it would make the rate too low and the ETA far too long.
        """
        first = getattr(self, "_first", None)
        if first is not None and self.done > first[1]:
            since = now - first[0]
            return (self.done - first[1]) / since if since > 0 else 0.0
        new = self.done - self.initial
        return new / elapsed if elapsed > 0 else 0.0

    def line(self, elapsed: float, now: float | None = None) -> str:
        """``desc: epoch e/T (x%), rates, postfix, ETA`` (``now``: the clock's time)."""
        rate = self._rate(elapsed, time.perf_counter() if now is None else now)
        parts = [
            f"{self.desc}: epoch {self.done}/{self.total}"
            + (f" ({100 * self.done / self.total:.1f}%)" if self.total else "")
        ]
        parts.append(f"{rate:.2f} epochs/s")
        if self.visits_per_epoch:
            parts.append(f"{rate * self.visits_per_epoch:.1f} visits/s")
        parts += [f"{name}={value}" for name, value in self.postfix.items()]
        if self.total and rate > 0:
            parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        return ", ".join(parts)

    def close(self) -> None:
        pass


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def kernel_cache_dir() -> Path:
    """Where Numba caches minievo's compiled kernels (``$NUMBA_CACHE_DIR`` when set)."""
    override = os.environ.get("NUMBA_CACHE_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "kernels" / "__pycache__"


#: The default job's compilation with an empty cache, in CPU seconds of one core
#: of the development machine (AMD EPYC, shared with other jobs;
#: ``benchmarks/targets.py --cold``, median of 3: cold run minus cached run,
#: 16.6 s at Numba's default level, which every entry point uses). About 30 s measured
#: the same way before issue 12.
COMPILE_SECONDS = 17


def compile_notice(backend: str) -> str | None:
    """A line to print before a run when the Numba kernels are not cached yet, else None.

    Numba writes an index file (``cpu.<kernel>-<line>.py<ver>.nbi``) per
    cached kernel; with none there, the first steps compile every kernel.
    """
    if backend != "numba" or os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return None
    if any(kernel_cache_dir().rglob("cpu.*.nbi")):
        return None
    return (
        f"compiling kernels (once, about {COMPILE_SECONDS} s of one core; cached in "
        f"{kernel_cache_dir()}): the first epoch waits for it"
    )
