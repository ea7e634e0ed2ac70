"""A sweep on the GPU: the trials of all its variants advance in lockstep in one process.

:func:`run_lockstep_sweep` takes the sweep's jobs (one ``(config, folder)``
per variant and seed, as :func:`minievo.experiments.sweep.expand_trials`
gives them), groups the trials that share a network shape and round
structure (:func:`minievo.training.lockstep.lockstep_group_key`: data set,
environment, batch size, ring, epochs, update mode), and trains each group
with :func:`~minievo.training.lockstep.train_lockstep`: ``P = trials x
variants`` pairs per launch. Every job's folder is the CPU run's folder
(``config.json``, ``stats.jsonl``, ``checkpoint.npz`` unless
``keep_checkpoint=False``, ``summary.json``, ``best_autoencoder.npz``), so
``minievo report`` reads both.

Resumable like the CPU sweep: a folder with ``summary.json`` is done and
skipped, one with ``checkpoint.npz`` resumes (with the trials that stopped at
the same epoch), any other starts afresh.

One writer per job folder, as in the CPU sweep (``run_job``): every job's
folder lock (:class:`~minievo.io.FolderLock`) is taken before its folder is
read or changed and held until its outputs are written. A job whose folder is
held by another process (a ``minievo run --resume`` on it) is not trained:
it fails with the holder's process id (``on_error``) and the other jobs go on.
A job to resume is checked first as ``minievo run --resume`` checks it
(:func:`~minievo.experiments.run.verify_run_folder`); a damaged one fails the
same way, its folder unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io import LOCK_FILE, FileFormatError, FolderInUseError, FolderLock
from ..training.checkpoint import CHECKPOINT_FILE, drop_checkpoint, load_checkpoint
from .config import Config, ConfigError
from .run import CONFIG_FILE, SUMMARY_FILE, load_dataset_for, verify_run_folder, write_outputs


def job_state(out: Path) -> str:
    """``"done"`` (summary written), ``"resume"`` (checkpoint) or ``"new"``."""
    if (out / SUMMARY_FILE).exists():
        return "done"
    if (out / CHECKPOINT_FILE).exists():
        return "resume"
    return "new"


def _start_epoch(out: Path) -> int:
    state, _, _ = load_checkpoint(out)
    return int(state["next_epoch"])


def _prepare_new(config: Config, out: Path) -> None:
    """A fresh folder (files of a run that never checkpointed are removed) with config.json.

    The lock file stays: the sweep holds it (removing it would let a second
    writer lock a new file of the same name)."""
    if out.exists():
        for child in out.iterdir():
            if child.is_file() and child.name != LOCK_FILE:
                child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    config.save(out / CONFIG_FILE)


def group_jobs(jobs) -> list[tuple[bool, list]]:
    """Jobs to train, grouped: ``[(resume, [(config, folder), ...]), ...]``.

    Trials of one group share :func:`~minievo.training.lockstep.lockstep_group_key`
    and their start epoch (0, or the checkpoint's next epoch).
    """
    from ..training.lockstep import lockstep_group_key

    groups: dict = {}
    for config, out in jobs:
        state = job_state(out)
        if state == "done":
            continue
        resume = state == "resume"
        start = _start_epoch(out) if resume else 0
        groups.setdefault((lockstep_group_key(config), resume, start), []).append((config, out))
    return [(key[1], members) for key, members in groups.items()]


def run_lockstep_sweep(
    jobs, on_result=None, *, figures: bool = True, on_error=None, device_factory=None
) -> list[dict]:
    """Train every ``(config, folder)`` of ``jobs`` on the GPU, trials in lockstep.

    Each job's folder lock is held from before its folder is read until its
    outputs are written (module docstring).

    Parameters
    ----------
    jobs : list of (Config, path)
        One trial each (``trials = 1``; the configs' ``backend`` is not read).
    on_result : callable, optional
        Called with each job's result line (``folder``, ``test_loss``,
        ``wall_time_s``, ``skipped``), skipped jobs first, then group by group.
    on_error : callable, optional
        Called with ``(folder, message)`` for a job whose folder is held by
        another writer, or whose checkpoint, ``config.json``, ``stats.jsonl``
        or dataset fails the checks of ``minievo run --resume``
        (:func:`~minievo.experiments.run.verify_run_folder`); that job is
        left as it is and the others go on. Without it, the error is raised
        before any folder changes.
    device_factory : callable, optional
        What :func:`~minievo.training.lockstep.train_lockstep` trains on: the
        GPU by default; :func:`~minievo.training.lockstep.host_device` runs
        the same driver on the host (tests, no CUDA needed).

    Returns
    -------
    list of dict
        The result lines, in that order.

    Raises
    ------
    ConfigError
        No usable CUDA, or a variant the GPU path does not run (before any
        training starts).
    """
    from ..training.lockstep import check_lockstep_config, make_device, train_lockstep

    if device_factory is None:
        from ..kernels.cuda import cuda_problem

        problem = cuda_problem()
        if problem is not None:
            raise ConfigError(f"backend 'cuda': {problem}")
        device_factory = make_device
    jobs = [(config, Path(out)) for config, out in jobs]
    for config, _ in jobs:
        check_lockstep_config(config)
    results = []

    def emit(line):
        results.append(line)
        if on_result:
            on_result(line)

    locks = {}  # folder -> its FolderLock, held until the job's outputs are written
    try:
        todo = []
        for config, out in jobs:
            claimed = _claim(out, on_error)
            if claimed is None:
                continue
            lock, state = claimed
            if state != "done":
                locks[out] = lock
                todo.append((config, out))
                continue
            try:
                summary = json.loads((out / SUMMARY_FILE).read_text())
            finally:
                lock.release()
            emit(_result_line(out, summary["test_loss"], summary["wall_time_s"], skipped=True))
        for resume, members in group_jobs(todo):
            if not resume:
                for config, out in members:
                    _prepare_new(config, out)
            dataset = load_dataset_for(members[0][0])
            trained = train_lockstep(members, dataset, resume=resume, device_factory=device_factory)
            for (config, out), result in zip(members, trained):
                write_outputs(config, result, out, figures=figures)
                if not config.keep_checkpoint:  # finished: the results are written
                    drop_checkpoint(out)
                locks.pop(out).release()
                emit(_result_line(out, result.test_loss, result.wall_time, skipped=False))
    finally:
        for lock in locks.values():
            lock.release()
    return results


def _claim(out: Path, on_error):
    """Take ``out``'s folder lock and say what the job needs (:func:`job_state`); a job to
    resume is first checked as ``minievo run --resume`` checks it. ``(lock, state)``, or
    None after ``on_error(out, message)`` for a held or damaged folder (raised without it)."""
    lock = FolderLock(out, "run folder")
    try:
        lock.acquire()
    except FolderInUseError as error:
        if on_error is None:
            raise
        on_error(out, f"{type(error).__name__}: {error}")
        return None
    state = job_state(out)
    if state == "resume":  # everything checked before a byte changes
        try:
            verify_run_folder(out)
        except (FileFormatError, ConfigError, OSError) as error:
            lock.release()
            if on_error is None:
                raise
            on_error(out, f"{type(error).__name__}: {error}")
            return None
    return lock, state


def _result_line(out: Path, test_loss: float, wall_time: float, skipped: bool) -> dict:
    """A job's line of the sweep's results."""
    return {
        "folder": out.name,
        "out": str(out),
        "test_loss": test_loss,
        "wall_time_s": wall_time,
        "skipped": skipped,
    }


class LockstepRunner:
    """The sweep's runner for ``backend="cuda"``: every job of the sweep in lockstep.

    Follows the runner protocol of :func:`minievo.experiments.sweep.execute_jobs`
    (``run(jobs, root, on_done)``, one ``on_done`` per job). The trials run in
    this process; an error in a group of trials fails the jobs not yet done.
    """

    def __init__(self, figures: bool = True, device_factory=None):
        self.figures, self.device_factory = figures, device_factory

    def run(self, jobs, root, on_done):
        pending = {str(Path(root) / job.name): job for job in jobs}  # by folder

        def finished(line):
            job = pending.pop(line["out"], None)
            if job is not None:
                on_done(job, line, None)

        def refused(out, message):  # its folder is held by another writer
            job = pending.pop(str(out), None)
            if job is not None:
                on_done(job, None, message[:500])

        try:
            run_lockstep_sweep(
                [(job.config, Path(root) / job.name) for job in jobs],
                on_result=finished,
                figures=self.figures,
                on_error=refused,
                device_factory=self.device_factory,
            )
        except ConfigError:
            raise  # before any training: the sweep's error
        except Exception as error:  # noqa: BLE001 - recorded per job
            for job in list(pending.values()):
                on_done(job, None, f"{type(error).__name__}: {error}"[:500])
