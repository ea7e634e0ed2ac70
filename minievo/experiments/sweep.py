"""Run many trials: the variants of a grid times their seeds, over any Executor.

A *job* is one (variant, seed) pair: the variant's :class:`Config` with
``seed`` set and ``trials = 1``, trained into its own run folder
``ROOT/v{variant:03d}-s{seed:03d}``. Jobs are independent, so they go to any
:class:`concurrent.futures.Executor`: a local process pool (the default), a
thread pool, or Dask's ``Client.get_executor()`` on a cluster (install the
``distributed`` extra).

The sweep is resumable: a job whose folder has a ``summary.json`` is done and
skipped; one with a checkpoint is resumed; others start afresh. ``ROOT/jobs.json``
lists every job's folder and configuration, and ``ROOT/results.jsonl`` gets one
line per finished job (test loss, wall time, folder), so a sweep killed half
way keeps everything that finished.
"""
from __future__ import annotations

import json
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path

from ..io import atomic_write_json
from .checkpoint import CHECKPOINT_FILE
from .config import Config, ConfigError
from .run import SUMMARY_FILE, resume, run

RESULTS_FILE = "results.jsonl"


def expand_trials(variants: list[Config]) -> list[tuple[str, Config]]:
    """One ``(folder name, config)`` per variant and seed ``seed .. seed + trials - 1``."""
    jobs = []
    for index, variant in enumerate(variants):
        for seed in variant.trial_seeds:
            jobs.append((f"v{index:03d}-s{seed:03d}", variant.replace(seed=seed, trials=1)))
    return jobs


def run_job(config_dict: dict, out_dir: str) -> dict:
    """Train one job (in a worker process); returns its result line."""
    out = Path(out_dir)
    if (out / SUMMARY_FILE).exists():
        summary = json.loads((out / SUMMARY_FILE).read_text())
        return {"folder": out.name, "test_loss": summary["test_loss"],
                "wall_time_s": summary["wall_time_s"], "skipped": True}
    config = Config.from_dict(config_dict)
    if (out / CHECKPOINT_FILE).exists():
        result = resume(out)
    else:
        if out.exists():  # started but never checkpointed: start again
            for child in out.iterdir():
                if child.is_file():
                    child.unlink()
        result = run(config, out)
    return {"folder": out.name, "test_loss": result.test_loss, "wall_time_s": result.wall_time,
            "skipped": False}


def run_sweep(variants: list[Config], root, *, executor: Executor | None = None,
              workers: int = 1, on_result=None) -> list[dict]:
    """Run every (variant, seed) job of ``variants`` into ``root``.

    Parameters
    ----------
    variants : list of Config
        E.g. from :func:`minievo.experiments.presets.expand_preset`.
    root : path
        Folder of the sweep; one subfolder per job.
    executor : concurrent.futures.Executor, optional
        Where jobs run; default a ``ProcessPoolExecutor(workers)``, or in this
        process when ``workers == 1``.
    on_result : callable, optional
        Called with each result line as jobs finish (progress reporting).

    Returns
    -------
    list of dict
        One result line per job, in completion order.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    jobs = expand_trials(variants)
    if executor is not None or workers > 1:  # no interleaved progress bars from workers
        jobs = [(name, config.replace(progress=False)) for name, config in jobs]
    atomic_write_json(root / "jobs.json",
                      {name: config.to_dict() for name, config in jobs})
    backends = {config.backend for _, config in jobs}
    if "cuda" in backends and (len(backends) > 1 or executor is not None or workers > 1):  # [lockstep/GPU]
        raise ConfigError("backend 'cuda' runs the whole sweep in one process: use it for every "
                          "variant, without --workers or an executor")
    results = []
    with open(root / RESULTS_FILE, "a", encoding="utf-8") as log:
        def record(line):
            log.write(json.dumps(line) + "\n")
            log.flush()
            results.append(line)
            if on_result:
                on_result(line)

        if "cuda" in backends:  # [lockstep/GPU] trials of all variants in lockstep
            from .lockstep_sweep import run_lockstep_sweep
            run_lockstep_sweep([(config, root / name) for name, config in jobs], on_result=record)
            return results
        if executor is None and workers == 1:
            for name, config in jobs:
                record(run_job(config.to_dict(), str(root / name)))
            return results
        owned = executor is None
        executor = executor or ProcessPoolExecutor(max_workers=workers)
        try:
            futures = [executor.submit(run_job, config.to_dict(), str(root / name))
                       for name, config in jobs]
            for future in as_completed(futures):
                record(future.result())
        finally:
            if owned:
                executor.shutdown()
    return results
