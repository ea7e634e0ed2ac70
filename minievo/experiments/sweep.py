"""Run a study: the variants of a grid times their seeds, isolated, resumable, honest.

A *job* is one (variant, seed) pair: the variant's :class:`Config` with
``seed`` set and ``trials = 1``, trained into its own run folder
``ROOT/<variant>/seed-<NN>``. The variant's folder name is built from the
settings that differ between the variants of the sweep (for example
``lipi_simple-random-exponential-p0.5``), or given by the preset.

What a sweep guarantees
-----------------------
- **Never stale.** Before anything runs, every job's configuration is
  compared with what its folder (``config.json``) and ``ROOT/jobs.json``
  already hold; any difference is a :class:`SweepMismatchError` naming the
  differing keys. Nothing is reused and nothing is overwritten. (The command
  line's ``--new-folder`` writes into the first free ``ROOT-2``, ``ROOT-3``...
  instead.)
- **Isolated jobs.** By default jobs run in worker processes
  (:class:`SubprocessRunner`: a fresh run per job, up to
  :data:`JOBS_PER_PROCESS` jobs per process), at most ``workers`` at a time, each pinned to
  one Numba/BLAS thread (``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` set in its environment before
  NumPy is imported). A job that raises or whose process dies (``kill -9``,
  out of memory) is recorded as failed in ``<job>/failed.json`` with its error;
  the other jobs go on. :class:`ExecutorRunner` runs jobs on any
  ``concurrent.futures.Executor`` instead (a thread pool, Dask's
  ``Client.get_executor()``), with the same per-job error capture.
- **Resumable.** A job whose folder has ``summary.json`` is done and skipped;
  one with a checkpoint resumes from it; failed and missing ones start again.
  A rerun therefore redoes only what is missing or failed.
- **One line per job.** ``ROOT/results.jsonl`` is rewritten atomically from
  the job folders after every job: exactly one line per job of the sweep, with
  its status (``done``, ``failed``, ``missing``), its variant's settings, test
  loss, wall time and error.

The job execution is one function, :func:`execute_jobs`, which hands each job
to a *runner*; another executor plugs in there.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ..io import (
    LOCK_FILE,
    FileFormatError,
    FolderLock,
    atomic_write_bytes,
    atomic_write_json,
    load_json,
)
from ..training.checkpoint import CHECKPOINT_FILE
from .config import Config, ConfigError
from .run import CONFIG_FILE, SUMMARY_FILE, resume, run

RESULTS_FILE = "results.jsonl"
JOBS_FILE = "jobs.json"
VARIANTS_FILE = "variants.json"
FAILED_FILE = "failed.json"
WORKER_LOG = "worker.log"

#: Config keys that never change a job's numbers (ignored when comparing).
NOT_COMPARED = ("progress", "out_dir", "notices", "defaults")

#: Environment variables that pin a worker to one thread per library.
THREAD_VARIABLES = (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)

#: Order in which differing settings appear in a variant's folder name.
LABEL_ORDER = (
    "cell_evaluation",
    "environment",
    "population_size",
    "prune_method",
    "prune_schedule",
    "prune_probability",
    "prune_amount",
)

#: Short prefixes for numeric settings in variant names.
LABEL_PREFIX = {
    "population_size": "pop",
    "prune_probability": "p",
    "prune_amount": "amount",
    "learning_rate": "lr",
    "epochs": "epochs",
    "radius": "r",
    "batch_size": "batch",
    "lexi_threshold": "lexi",
}


class SweepMismatchError(ConfigError):
    """A sweep folder already holds jobs with other settings."""


@dataclass(frozen=True)
class Job:
    """One (variant, seed) job: ``name`` is its folder relative to the sweep root."""

    name: str
    variant: str
    seed: int
    config: Config
    settings: dict = field(default_factory=dict)  # the variant's differing settings


# ---------------------------------------------------------------------------
# Naming
# ---------------------------------------------------------------------------


def _comparable(config_dict: dict) -> dict:
    return {k: v for k, v in config_dict.items() if k not in NOT_COMPARED}


def _format_value(key: str, value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return key if value else f"no_{key}"
    if isinstance(value, (int, float)):
        return f"{LABEL_PREFIX.get(key, key)}{value:g}"
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    return str(value)


def safe_name(text: str) -> str:
    """``text`` with every character outside ``[A-Za-z0-9._-]`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).strip("._") or "variant"


def differing_settings(variants: list[Config]) -> list[str]:
    """Config keys whose values differ between ``variants`` (seed, trials excluded),
    in :data:`LABEL_ORDER` first, then alphabetically."""
    dicts = [_comparable(v.to_dict()) for v in variants]
    keys = {
        k
        for k in dicts[0]
        if k not in ("seed", "trials")
        and any(json.dumps(d.get(k)) != json.dumps(dicts[0].get(k)) for d in dicts)
    }
    ordered = [k for k in LABEL_ORDER if k in keys]
    return ordered + sorted(keys - set(ordered))


def variant_names(variants: list[Config], names: list[str] | None = None) -> list[str]:
    """Unique, filesystem-safe folder names, one per variant.

    Given ``names`` (a preset's own) are made safe and unique. Otherwise a
    name joins the values of the settings that differ between the variants
    (:func:`differing_settings`); a key outside :data:`LABEL_ORDER` is dropped
    when the names stay unique without it (so ``optimizer_state``, implied by
    ``cell_evaluation``, does not lengthen every name). One variant is named by its evaluation, method
    and schedule. Duplicates get ``-2``, ``-3``...
    """
    if names is None:
        keys = differing_settings(variants) if len(variants) > 1 else []
        if not keys:
            keys = ["cell_evaluation", "prune_method", "prune_schedule"]
        dicts = [v.to_dict() for v in variants]

        def labels(using):
            return ["-".join(_format_value(k, d[k]) for k in using) for d in dicts]

        for key in reversed([k for k in keys if k not in LABEL_ORDER]):
            fewer = [k for k in keys if k != key]
            if fewer and len(set(labels(fewer))) == len(variants):
                keys = fewer
        names = labels(keys)
    out, seen = [], {}
    for name in names:
        name = safe_name(name)
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return out


def expand_trials(variants: list[Config], names: list[str] | None = None) -> list[Job]:
    """One :class:`Job` per variant and seed ``seed .. seed + trials - 1``.

    Job folders are ``<variant name>/seed-<NN>`` (seeds zero-padded to at
    least two digits), the job's config has ``trials = 1`` and its seed.
    """
    labels = variant_names(variants, names)
    keys = differing_settings(variants) if len(variants) > 1 else []
    width = max(2, max(len(str(s)) for v in variants for s in v.trial_seeds))
    jobs = []
    for label, variant in zip(labels, variants):
        settings = {k: variant.to_dict()[k] for k in keys}
        for seed in variant.trial_seeds:
            jobs.append(
                Job(
                    f"{label}/seed-{seed:0{width}d}",
                    label,
                    seed,
                    variant.replace(seed=seed, trials=1),
                    settings,
                )
            )
    return jobs


# ---------------------------------------------------------------------------
# Never stale: compare with what the folder holds
# ---------------------------------------------------------------------------


def config_differences(held: dict, wanted: dict) -> list[str]:
    """``"key: held -> wanted"`` for every key whose value differs (sorted)."""
    held, wanted = _comparable(held), _comparable(wanted)
    return [
        f"{k}: {held.get(k)!r} -> {wanted.get(k)!r}"
        for k in sorted(set(held) | set(wanted))
        if json.dumps(held.get(k)) != json.dumps(wanted.get(k))
    ]


def check_folder(jobs: list[Job], root: Path) -> None:
    """Raise :class:`SweepMismatchError` if ``root`` holds other settings.

    Compares every job with its folder's ``config.json`` and with
    ``root/jobs.json`` (which must list exactly these jobs).
    """
    problems = []
    listed = root / JOBS_FILE
    wanted = {job.name: job.config.to_dict() for job in jobs}
    if listed.exists():
        try:
            held = load_json(listed)
        except FileFormatError as err:
            raise FileFormatError(
                f"{err}; delete it and rerun the sweep command, which writes it again "
                "(each job's config.json is still compared)"
            ) from None
        for name, value in held.items():
            if not isinstance(value, dict):
                raise FileFormatError(
                    f"{listed}: job {name!r} has no configuration object (damaged, or written "
                    "by another version); delete it and rerun the sweep command, which writes it again "
                    "(each job's config.json is still compared)"
                )
        for name in sorted(set(held) & set(wanted)):
            diff = config_differences(held[name], wanted[name])
            if diff:
                problems.append(f"{name}: " + "; ".join(diff))
                break
        extra = sorted(set(held) - set(wanted))
        if extra:
            problems.append(
                f"it holds other jobs ({', '.join(extra[:3])}{', ...' if len(extra) > 3 else ''})"
            )
    for job in jobs:
        path = root / job.name / CONFIG_FILE
        if path.exists():
            try:
                held_config = load_json(path)
            except FileFormatError as err:
                raise FileFormatError(
                    f"{err}; delete the job's folder {root / job.name} and rerun the sweep "
                    "command to run that job again"
                ) from None
            diff = config_differences(held_config, wanted[job.name])
            if diff:
                problems.append(f"{job.name}: " + "; ".join(diff))
                break
    if problems:
        raise SweepMismatchError(
            f"{root} already holds a sweep with other settings ({problems[0]}); "
            f"results of other settings are never reused: choose another --out, "
            f"or pass --new-folder"
        )


def next_free_folder(root) -> Path:
    """``root`` if it holds no sweep, else the first ``root-2``, ``root-3``... that does not."""
    root = Path(root)
    candidate, n = root, 1
    while (candidate / JOBS_FILE).exists():
        n += 1
        candidate = root.with_name(f"{root.name}-{n}")
    return candidate


# ---------------------------------------------------------------------------
# One job
# ---------------------------------------------------------------------------


def job_status(out: Path) -> str:
    """``done`` (summary.json), ``failed`` (failed.json), ``partial`` (started) or ``missing``."""
    if (out / SUMMARY_FILE).exists():
        return "done"
    if (out / FAILED_FILE).exists():
        return "failed"
    if (out / "stats.jsonl").exists() or (out / CHECKPOINT_FILE).exists():
        return "partial"
    return "missing"


def run_job(config_dict: dict, out_dir: str, figures: bool = True) -> dict:
    """Train one job where it runs (any process); returns ``{"job", "test_loss", ...}``.

    Done jobs are read back; a checkpoint is resumed; anything else starts
    afresh (files of an unfinished start are removed first). ``figures``:
    draw the run's own figures. Exceptions propagate: the runner records them.
    """
    out = Path(out_dir)
    with FolderLock(out, "run folder"):  # one writer per job folder
        return _run_job(config_dict, out, figures)


def _run_job(config_dict: dict, out: Path, figures: bool) -> dict:
    if (out / SUMMARY_FILE).exists():
        summary = load_json(out / SUMMARY_FILE)
        return {
            "test_loss": summary["test_loss"],
            "wall_time_s": summary["wall_time_s"],
            "skipped": True,
        }
    (out / FAILED_FILE).unlink(missing_ok=True)
    config = Config.from_dict(config_dict)
    if (out / CHECKPOINT_FILE).exists():
        result = resume(out, figures=figures)
    else:
        if out.exists():  # started but never checkpointed: start again
            for child in out.iterdir():
                if child.is_file() and child.name not in (WORKER_LOG, LOCK_FILE):
                    child.unlink()
        result = run(config, out, figures=figures)
    return {"test_loss": result.test_loss, "wall_time_s": result.wall_time, "skipped": False}


def record_failure(out: Path, error: str) -> None:
    """Write ``<job>/failed.json`` with the error (atomically)."""
    atomic_write_json(out / FAILED_FILE, {"error": error})


def worker_environment(threads: int = 1) -> dict:
    """The environment of a job process: one thread per library, minievo importable."""
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


#: A worker process runs at most this many jobs, then a fresh one takes over (bounds
#: whatever a long-lived process might accumulate; starting one costs about 1.3 s).
JOBS_PER_PROCESS = 100

_WORKER_CODE = "from minievo.experiments.sweep import worker_loop; worker_loop()"
#: A worker process stopped by Ctrl-C (SIGINT) exits with this status (the shells' 128 + 2).
INTERRUPTED_STATUS = 130


def worker_loop() -> None:
    """The body of a sweep's worker process: run the jobs read from standard input.

    Each line of input is one job, ``{"config": ..., "out": ..., "figures": ...}``;
    the job runs (:func:`run_job`) with this process's output (file descriptors 1
    and 2, so also what compiled code prints) going to ``<out>/worker.log``, and
    one line ``{"ok": true|false}`` goes back to the parent on the original
    standard output. A job that raises has its traceback at the end of its log;
    the process goes on with the next job. Ends when the input closes.
    """
    replies = os.fdopen(os.dup(1), "w")
    try:
        _serve(replies)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: no traceback here
        sys.exit(INTERRUPTED_STATUS)


def _serve(replies) -> None:
    """:func:`worker_loop`'s loop: one job per line of standard input, one reply each."""
    for line in sys.stdin:
        job = json.loads(line)
        out = Path(job["out"])
        ok = False
        with open(out / WORKER_LOG, "wb") as log:
            sys.stdout.flush()
            sys.stderr.flush()
            saved = os.dup(1), os.dup(2)
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                run_job(job["config"], str(out), job["figures"])
                ok = True
            except Exception:  # noqa: BLE001 - the parent records it for this job only
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
        replies.write(json.dumps({"ok": ok}) + "\n")
        replies.flush()


# ---------------------------------------------------------------------------
# Runners: where jobs execute
# ---------------------------------------------------------------------------


class SubprocessRunner:
    """Jobs in worker processes of their own, at most ``workers`` at a time.

    A worker process (:func:`worker_loop`) runs one job after another, up to
    :data:`JOBS_PER_PROCESS`, so that a sweep of many short jobs does not pay
    Python's start, the imports and loading the compiled kernels (about 1.3 s)
    for every job; each job still gets a fresh run (its own seeded
    generators, its own folder and ``worker.log``). A job that raises costs
    only itself (the last line of its log is its error). A process that dies
    (``kill -9``, out of memory) costs only the job it was running (``killed
    by signal 9``); a new process takes the next job.
    """

    def __init__(
        self, workers: int = 1, threads: int = 1, poll_s: float = 0.05, figures: bool = True
    ):
        self.workers, self.env, self.poll_s = max(1, workers), worker_environment(threads), poll_s
        self.figures = figures

    def _start(self, replies: queue.Queue) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=self.env,
            text=True,
        )
        proc.jobs_run = 0

        def read():  # each reply line, then None when the process has ended
            for line in proc.stdout:
                replies.put((proc, line))
            replies.put((proc, None))

        threading.Thread(target=read, daemon=True).start()
        return proc

    @staticmethod
    def _stop(proc: subprocess.Popen, kill: bool) -> None:
        try:
            if kill:
                proc.kill()
            else:
                proc.stdin.close()
        except OSError:
            pass
        proc.wait()

    def run(
        self, jobs: list[Job], root: Path, on_done: Callable[[Job, dict | None, str | None], None]
    ):
        pending, busy, idle = list(jobs), {}, []
        replies: queue.Queue = queue.Queue()
        try:
            while pending or busy:
                while pending and len(busy) < self.workers:
                    proc = idle.pop() if idle else self._start(replies)
                    job = pending.pop(0)
                    out = root / job.name
                    out.mkdir(parents=True, exist_ok=True)
                    task = {
                        "config": job.config.replace(progress=False).to_dict(),
                        "out": str(out),
                        "figures": self.figures,
                    }
                    try:
                        proc.stdin.write(json.dumps(task) + "\n")
                        proc.stdin.flush()
                    except OSError:  # died while idle: its reader reports the end
                        pass
                    busy[proc] = job
                    proc.jobs_run += 1
                try:
                    proc, line = replies.get(timeout=self.poll_s)
                except queue.Empty:
                    continue
                if line is None:  # the process ended
                    code = proc.wait()
                    if proc in idle:
                        idle.remove(proc)
                    if proc in busy:
                        job = busy.pop(proc)
                        on_done(job, None, self._error(code, root / job.name))
                    continue
                try:
                    ok = json.loads(line)["ok"]
                except (ValueError, TypeError, KeyError):  # not a reply: stray output
                    continue
                if proc not in busy:
                    continue
                job = busy.pop(proc)
                if ok:
                    on_done(job, {}, None)
                else:
                    on_done(job, None, self._error(1, root / job.name))
                if proc.jobs_run < JOBS_PER_PROCESS:
                    idle.append(proc)
                else:
                    self._stop(proc, kill=False)
            for proc in idle:
                self._stop(proc, kill=False)
            idle = []
        finally:
            for proc in [*busy, *idle]:  # interrupted: stop our children
                self._stop(proc, kill=True)

    @staticmethod
    def _error(code: int, out: Path) -> str:
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "?"
            return f"worker process killed by signal {-code} ({name})"
        if code == INTERRUPTED_STATUS:
            return "interrupted (Ctrl-C): rerun the sweep to resume the job from its checkpoint"
        try:
            text = (out / WORKER_LOG).read_text(errors="replace")
        except OSError:
            text = ""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return (lines[-1] if lines else f"worker process exited with status {code}")[:500]


class ExecutorRunner:
    """Jobs on a ``concurrent.futures.Executor`` (thread pool, Dask's ``get_executor()``).

    The job runs inside the executor's worker; an exception (or Dask's
    ``KilledWorker`` after its retries) is recorded for that job only.
    """

    def __init__(self, executor: Executor, figures: bool = True):
        self.executor, self.figures = executor, figures

    def run(self, jobs, root, on_done):
        futures = {
            self.executor.submit(
                run_job,
                job.config.replace(progress=False).to_dict(),
                str(root / job.name),
                self.figures,
            ): job
            for job in jobs
        }
        for future in as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - any failure of one job is recorded
                on_done(job, None, f"{type(error).__name__}: {error}"[:500])
            else:
                on_done(job, result, None)


class InProcessRunner:
    """Jobs one after the other in this process (debugging; a crash ends the sweep)."""

    def __init__(self, figures: bool = True):
        self.figures = figures

    def run(self, jobs, root, on_done):
        for job in jobs:
            try:
                result = run_job(job.config.to_dict(), str(root / job.name), self.figures)
            except Exception as error:  # noqa: BLE001
                on_done(job, None, f"{type(error).__name__}: {error}"[:500])
            else:
                on_done(job, result, None)


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


def result_line(job: Job, root: Path) -> dict:
    """The line of ``results.jsonl`` for ``job``, read from its folder."""
    out = root / job.name
    line = {
        "job": job.name,
        "variant": job.variant,
        "seed": job.seed,
        "status": job_status(out),
        "settings": job.settings,
        "test_loss": None,
        "wall_time_s": None,
        "error": None,
    }
    if line["status"] == "done":
        summary = load_json(out / SUMMARY_FILE)
        line.update(test_loss=summary.get("test_loss"), wall_time_s=summary.get("wall_time_s"))
    elif line["status"] == "failed":
        line["error"] = load_json(out / FAILED_FILE).get("error")
    return line


def write_results(jobs: list[Job], root: Path) -> list[dict]:
    """Rewrite ``root/results.jsonl`` atomically: one line per job, in job order."""
    lines = [result_line(job, root) for job in jobs]
    atomic_write_bytes(
        root / RESULTS_FILE, "".join(json.dumps(ln, sort_keys=True) + "\n" for ln in lines).encode()
    )
    return lines


def write_jobs(jobs: list[Job], root: Path) -> None:
    """``root/jobs.json`` (every job's folder -> its configuration) and
    ``root/variants.json`` (the variants in the sweep's order: name, differing
    settings, seeds)."""
    atomic_write_json(root / JOBS_FILE, {job.name: job.config.to_dict() for job in jobs})
    variants: dict[str, dict] = {}
    for job in jobs:
        variants.setdefault(
            job.variant, {"name": job.variant, "settings": job.settings, "seeds": []}
        )["seeds"].append(job.seed)
    atomic_write_json(root / VARIANTS_FILE, list(variants.values()))


# ---------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------


@dataclass
class SweepOutcome:
    """What a sweep did: every job's result line, and the jobs that failed."""

    root: Path
    lines: list[dict]
    ran: int
    skipped: int

    @property
    def failed(self) -> list[dict]:
        return [ln for ln in self.lines if ln["status"] != "done"]

    def summary(self) -> str:
        done = sum(ln["status"] == "done" for ln in self.lines)
        text = (
            f"{done}/{len(self.lines)} jobs done ({self.ran} run now, "
            f"{self.skipped} done earlier), {len(self.failed)} failed"
        )
        for ln in self.failed:
            text += f"\n  FAILED {ln['job']}: {ln['error']}"
        if self.failed:
            text += "\nrerun the same command to redo only the failed jobs"
        return text


def execute_jobs(
    jobs: list[Job],
    root: Path,
    runner,
    *,
    progress: bool = True,
    on_result: Callable[[dict], None] | None = None,
) -> int:
    """Hand every job to ``runner``; record each outcome as it arrives.

    ``runner.run(jobs, root, on_done)`` calls ``on_done(job, result, error)``
    once per job. Failures go to ``<job>/failed.json``; ``results.jsonl`` is
    rewritten after each job. Returns how many jobs ran.
    """
    from ..training.progress import count_progress

    all_jobs = list(jobs)
    todo = [job for job in all_jobs if job_status(root / job.name) != "done"]
    # a bar on a terminal, plain lines in a log file (no \r frames there)
    bar = count_progress(
        total=len(all_jobs),
        initial=len(all_jobs) - len(todo),
        unit="job",
        desc="sweep",
        enabled=progress,
        stream=sys.stderr,
    )
    failures = [0]

    def on_done(job, result, error):
        if error is not None:
            record_failure(root / job.name, error)
            failures[0] += 1
        lines = write_results(all_jobs, root)
        bar.set_postfix(failed=failures[0], refresh=False)
        bar.update(1)
        if on_result:
            on_result(next(ln for ln in lines if ln["job"] == job.name))

    try:
        runner.run(todo, root, on_done)
    finally:
        bar.close()
    return len(todo)


def make_runner(
    *,
    executor: Executor | None = None,
    workers: int = 1,
    threads: int = 1,
    in_process: bool = False,
    figures: bool = True,
):
    """The runner for a sweep: an executor's, this process, or one process per job."""
    if executor is not None:
        return ExecutorRunner(executor, figures)
    if in_process:
        return InProcessRunner(figures)
    return SubprocessRunner(workers, threads, figures=figures)


def choose_runner(jobs, executor, workers, threads, in_process, figures):
    """The runner of a sweep: lockstep on the GPU when its jobs ask for ``cuda``."""
    backends = {job.config.backend for job in jobs}
    if "cuda" not in backends:
        return make_runner(
            executor=executor,
            workers=workers,
            threads=threads,
            in_process=in_process,
            figures=figures,
        )
    # every trial of every variant in lockstep on one GPU
    if len(backends) > 1 or executor is not None or workers > 1 or in_process:
        raise ConfigError(
            "backend 'cuda' runs the whole sweep in one process: use it for "
            "every variant, without --workers, --scheduler or an executor"
        )
    from ..kernels.cuda import cuda_problem
    from .lockstep_sweep import LockstepRunner

    problem = cuda_problem()
    if problem is not None:
        raise ConfigError(f"backend 'cuda': {problem}")
    return LockstepRunner(figures)


def run_sweep(
    variants: list[Config],
    root,
    *,
    names: list[str] | None = None,
    executor: Executor | None = None,
    workers: int = 1,
    threads: int = 1,
    in_process: bool = False,
    progress: bool = False,
    figures: bool = True,
    on_result=None,
) -> SweepOutcome:
    """Run every (variant, seed) job of ``variants`` into ``root``.

    Parameters
    ----------
    variants : list of Config
        E.g. from :func:`minievo.experiments.presets.expand_preset`.
    root : path
        Folder of the sweep; one subfolder per job (``<variant>/seed-NN``).
    names : list of str, optional
        Variant folder names (default: from the differing settings).
    executor : concurrent.futures.Executor, optional
        Run jobs there (:class:`ExecutorRunner`) instead of one subprocess per
        job.
    workers, threads : int
        Parallel job processes and threads each (subprocess runner).
    in_process : bool
        Run jobs in this process, one after the other.
    progress : bool
        A progress bar over jobs (with an ETA) on stderr.
    figures : bool
        Each job draws its run's figures (``<job>/figures``).
    on_result : callable, optional
        Called with each job's result line as it finishes.

    Returns
    -------
    SweepOutcome

    Raises
    ------
    SweepMismatchError
        ``root`` holds jobs with other settings (checked before anything runs).
    """
    root = Path(root)
    jobs = expand_trials(variants, names)
    # the runner first: an option that cannot apply is refused before anything is written
    runner = choose_runner(jobs, executor, workers, threads, in_process, figures)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(20, "not a folder", str(root))
    with FolderLock(root, "sweep folder"):  # one sweep writes a folder at a time
        check_folder(jobs, root)
        write_jobs(jobs, root)
        skipped = sum(job_status(root / job.name) == "done" for job in jobs)
        write_results(jobs, root)
        ran = execute_jobs(jobs, root, runner, progress=progress, on_result=on_result)
        return SweepOutcome(root, write_results(jobs, root), ran, skipped)


# ---------------------------------------------------------------------------
# Dask
# ---------------------------------------------------------------------------


def dask_client(scheduler: str, workers: int = 1, threads: int = 1):
    """A ``dask.distributed`` client: ``"local"`` starts a ``LocalCluster`` on 127.0.0.1.

    ``"local"``: ``workers`` worker processes with one thread each, their
    environment pinned to ``threads`` Numba/BLAS threads. Any other value is
    the address of a running scheduler (``tcp://host:8786``); its workers
    must see the sweep folder at the same path (a shared file system).
    """
    check_scheduler_address(scheduler)
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            "--scheduler needs dask.distributed: pip install 'minievo[distributed]'"
        ) from None
    if scheduler == "local":
        env = {name: str(threads) for name in THREAD_VARIABLES}
        cluster = LocalCluster(
            n_workers=max(1, workers),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            env=env,
        )
        return Client(cluster)
    check_scheduler_address(scheduler)
    try:
        return Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError) as err:
        raise ConfigError(
            f"--scheduler {scheduler}: no scheduler answered within {CONNECT_TIMEOUT_S} s "
            f"({err}); start one there (`dask scheduler`), or use --scheduler local"
        ) from None
    except ValueError as err:
        raise ConfigError(f"--scheduler {scheduler}: {err}; {SCHEDULER_ALLOWED}") from None


#: Seconds to wait for a running scheduler to answer (``--scheduler ADDRESS``).
CONNECT_TIMEOUT_S = 10
#: What ``--scheduler`` takes, for the error messages.
SCHEDULER_ALLOWED = "allowed: 'local', or a scheduler address such as tcp://HOST:8786"
_SCHEDULER_ADDRESS = re.compile(
    r"^((tcp|tls|ws|wss|ucx|inproc)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$"
)


def check_scheduler_address(scheduler: str) -> None:
    """Refuse a ``--scheduler`` value that is neither ``local`` nor ``[PROTOCOL://]HOST:PORT``."""
    if scheduler == "local":
        return
    match = _SCHEDULER_ADDRESS.match(scheduler)
    if match is None or not 0 < int(match.group(4)) < 65536:
        raise ConfigError(
            f"--scheduler {scheduler!r} is not a scheduler address; {SCHEDULER_ALLOWED}"
        )
