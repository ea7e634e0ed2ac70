"""Sweeps: job naming and seeds, never-stale folders, isolated failures, resume."""

import json
import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import TINY_DATASET, tiny_sweep_args, tiny_sweep_variants

from minievo.cli import main
from minievo.experiments.presets import expand_preset
from minievo.experiments.sweep import (
    SweepMismatchError,
    expand_trials,
    run_sweep,
    safe_name,
    variant_names,
    worker_environment,
)


def _lines(root):
    return [json.loads(line) for line in (Path(root) / "results.jsonl").read_text().splitlines()]


def test_jobs_are_named_after_what_differs_with_their_seeds(data_dir):
    jobs = expand_trials(tiny_sweep_variants(data_dir, trials=3))
    assert [j.name for j in jobs] == [
        f"{m}/seed-0{s}" for m in ("random", "conjunctive") for s in (1, 2, 3)
    ]
    assert [j.config.seed for j in jobs[:3]] == [1, 2, 3] and all(
        j.config.trials == 1 for j in jobs
    )
    assert jobs[0].settings == {"prune_method": "random"}
    many = expand_preset("lexi_prob", trials=12)
    names = [j.name for j in expand_trials(many)]
    assert len(set(names)) == len(names) == 12 * 12
    assert "conjunctive-final_n/seed-12" in names and "random-fixed/seed-01" in names


def test_variant_names_are_unique_and_filesystem_safe(data_dir):
    variants = tiny_sweep_variants(data_dir)
    assert variant_names(variants, ["a/b", "a/b"]) == ["a_b", "a_b-2"]
    assert safe_name("x y:z*") == "x_y_z"
    single = variant_names(expand_preset("best_base_activation"))
    assert single == ["ann_canonical-variance-exponential"]


def test_workers_are_pinned_to_one_thread():
    env = worker_environment()
    assert all(
        env[name] == "1"
        for name in (
            "NUMBA_NUM_THREADS",
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
        )
    )


def test_two_by_two_sweep_on_processes_matches_in_process_and_has_one_line_per_job(
    data_dir, tmp_path
):
    variants = tiny_sweep_variants(data_dir)
    local = run_sweep(variants, tmp_path / "a", workers=2)
    serial = run_sweep(variants, tmp_path / "b", in_process=True, figures=False)
    assert local.ran == 4 and not local.failed
    assert {ln["job"]: ln["test_loss"] for ln in local.lines} == {
        ln["job"]: ln["test_loss"] for ln in serial.lines
    }
    lines = _lines(tmp_path / "a")
    assert len(lines) == 4 and {ln["status"] for ln in lines} == {"done"}
    assert lines[0]["settings"] == {"prune_method": "random"}
    # every finished trial has the papers' metric at its last epoch (stats_every aside)
    from minievo.experiments.report import read_sweep

    trials = [t for v in read_sweep(tmp_path / "a") for t in v.trials]
    assert len(trials) == 4 and all(t.metrics["final_L1"] is not None for t in trials)
    assert all(len(t.cells_final_L1) == 2 for t in trials)  # both cells, last epoch
    again = run_sweep(variants, tmp_path / "a", workers=2)  # all done: nothing runs
    assert again.ran == 0 and again.skipped == 4 and len(_lines(tmp_path / "a")) == 4


def test_rerun_with_changed_settings_is_refused(data_dir, tmp_path):
    run_sweep(
        tiny_sweep_variants(data_dir, trials=1), tmp_path / "s", in_process=True, figures=False
    )
    # more trials of the same settings extend the sweep: only the new seeds run
    grown = run_sweep(
        tiny_sweep_variants(data_dir, trials=2), tmp_path / "s", in_process=True, figures=False
    )
    assert grown.ran == 2 and grown.skipped == 2
    with pytest.raises(SweepMismatchError, match="other jobs"):  # fewer: refused
        run_sweep(tiny_sweep_variants(data_dir, trials=1), tmp_path / "s", in_process=True)
    before = (tmp_path / "s" / "jobs.json").read_text()
    with pytest.raises(SweepMismatchError, match=r"epochs: 2 -> 3"):
        run_sweep(
            tiny_sweep_variants(data_dir, trials=1, epochs=3),
            tmp_path / "s",
            in_process=True,
            figures=False,
        )
    assert (tmp_path / "s" / "jobs.json").read_text() == before
    # from the command line: exit 2 naming the key; --new-folder writes beside it
    args = [
        "sweep",
        "--preset",
        "lexi_threshold",
        "--trials",
        "2",
        "--set",
        "epochs=3",
        "--set",
        f"dataset_name={TINY_DATASET}",
        "--set",
        "batch_size=4",
        "--set",
        "population_size=2",
        "--set",
        "prune_method=random",
        "--out",
        str(tmp_path / "s"),
        "--no-progress",
    ]
    assert main(args) == 2
    assert main(args + ["--new-folder"]) == 0
    jobs = json.loads((tmp_path / "s-2" / "jobs.json").read_text())
    assert sorted(jobs) == [
        "lipi_simple-random-prune_after/seed-01",
        "lipi_simple-random-prune_after/seed-02",
    ]
    assert jobs["lipi_simple-random-prune_after/seed-01"]["epochs"] == 3


def test_a_failing_trial_is_isolated_and_redone_on_rerun(data_dir, tmp_path):
    good, bad = tiny_sweep_variants(data_dir, trials=1)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    bad = bad.replace(data_dir=str(blocker))  # the dataset cannot be written there
    outcome = run_sweep([good, bad], tmp_path / "s", workers=2)
    assert [ln["status"] for ln in outcome.lines] == ["done", "failed"]
    assert outcome.failed[0]["error"] and "FAILED" in outcome.summary()
    assert (tmp_path / "s" / outcome.failed[0]["job"] / "failed.json").exists()
    blocker.unlink()  # fix the cause, rerun
    again = run_sweep([good, bad], tmp_path / "s", workers=2)
    assert again.ran == 1 and not again.failed


def _children(pid):
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            try:
                command = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            if b"worker_loop" in command:  # a sweep's worker process, nothing else
                out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(not Path("/proc").exists(), reason="finds worker processes in /proc")
@pytest.mark.parametrize(
    "signum, error", [(signal.SIGKILL, "signal 9"), (signal.SIGINT, "interrupted (Ctrl-C)")]
)
def test_a_killed_worker_costs_only_its_job(data_dir, tmp_path, signum, error):
    variants = tiny_sweep_variants(
        data_dir, trials=1, epochs=300
    )  # long enough to be caught running
    killed = []

    def kill_first_worker():  # once its first job trains (it has written a record)
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            for pid in _children(os.getpid()):
                if any(f.stat().st_size for f in (tmp_path / "s").glob("*/seed-*/stats.jsonl")):
                    os.kill(pid, signum)
                    killed.append(pid)
                    return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    outcome = run_sweep(variants, tmp_path / "s", workers=1)
    killer.join()
    assert killed
    assert [ln["status"] for ln in outcome.lines] == ["failed", "done"]
    assert error in outcome.failed[0]["error"]
    again = run_sweep(variants, tmp_path / "s", workers=1)
    assert again.ran == 1 and not again.failed


@pytest.mark.skipif(not Path("/proc").exists(), reason="finds worker processes in /proc")
@pytest.mark.parametrize("jobs_per_process, processes", [(100, 1), (1, 3)])
def test_a_worker_process_runs_jobs_one_after_another(
    data_dir, tmp_path, monkeypatch, jobs_per_process, processes
):
    """One worker process takes job after job (no start-up per job) up to JOBS_PER_PROCESS,
    then a fresh one; the numbers are those of jobs run one per process."""
    from minievo.experiments import sweep

    monkeypatch.setattr(sweep, "JOBS_PER_PROCESS", jobs_per_process)
    variants = (
        tiny_sweep_variants(data_dir, trials=1)[:1] + tiny_sweep_variants(data_dir, trials=2)[1:]
    )
    seen, done = set(), threading.Event()

    def watch():
        while not done.is_set():
            seen.update(_children(os.getpid()))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        outcome = run_sweep(variants, tmp_path / "s", workers=1)
    finally:
        done.set()
        watcher.join()
    assert outcome.ran == 3 and not outcome.failed
    assert len(seen) == processes
    alone = run_sweep(variants, tmp_path / "alone", in_process=True, figures=False)
    assert {ln["job"]: ln["test_loss"] for ln in outcome.lines} == {
        ln["job"]: ln["test_loss"] for ln in alone.lines
    }


def test_an_interrupted_sweep_resumes_what_is_missing(data_dir, tmp_path):
    variants = tiny_sweep_variants(data_dir)
    full = run_sweep(variants, tmp_path / "full", in_process=True, figures=False)
    run_sweep(variants, tmp_path / "cut", in_process=True, figures=False)
    # as if interrupted: one job never finished (checkpoint kept), one never started
    jobs = [ln["job"] for ln in full.lines]
    (tmp_path / "cut" / jobs[0] / "summary.json").unlink()
    shutil.rmtree(tmp_path / "cut" / jobs[3])
    resumed = run_sweep(variants, tmp_path / "cut", in_process=True, figures=False)
    assert resumed.ran == 2 and resumed.skipped == 2
    assert {ln["job"]: ln["test_loss"] for ln in resumed.lines} == {
        ln["job"]: ln["test_loss"] for ln in full.lines
    }


def test_sweep_over_an_executor_gives_the_same_numbers(data_dir, tmp_path):
    variants = tiny_sweep_variants(data_dir, trials=1)
    serial = run_sweep(variants, tmp_path / "a", in_process=True, figures=False)
    with ThreadPoolExecutor(2) as pool:
        threaded = run_sweep(variants, tmp_path / "b", executor=pool)
    assert [ln["test_loss"] for ln in serial.lines] == [ln["test_loss"] for ln in threaded.lines]


def test_sweep_command_reports_failures_with_a_nonzero_exit(data_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(tiny_sweep_args(tmp_path / "s", "--set", f"data_dir={blocker}"))
    assert code == 1
    err = capsys.readouterr().err
    assert "0/3 jobs done" in err and "FAILED random/seed-01" in err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--trials", "0"], "trials"),
        (["--workers", "0"], "--workers"),
        (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "do not apply"),
    ],
)
def test_sweep_command_refuses_bad_options(flags, message, tmp_path, capsys):
    assert (
        main(["sweep", "--preset", "prune_after_base", "--out", str(tmp_path / "s")] + flags) == 2
    )
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "s").exists()


def test_reproduce_uses_the_main_comparison(data_dir, tmp_path, capsys):
    # every job fails fast (the data folder is a file): the command still reports
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(
        [
            "reproduce",
            "--trials",
            "1",
            "--epochs",
            "1",
            "--set",
            f"data_dir={blocker}",
            "--out",
            str(tmp_path / "r"),
            "--workers",
            "2",
            "--no-progress",
        ]
    )
    assert code == 1
    lines = _lines(tmp_path / "r")
    assert len(lines) == 9 and lines[0]["job"] == "ann_canonical-none/seed-01"
    assert (tmp_path / "r" / "report" / "report.md").exists()
    assert "0/9 trials finished" in capsys.readouterr().out


def test_main_comparison_is_the_papers_nine_variants():
    from minievo.experiments.presets import (
        MAIN_COMPARISON_PROVENANCE,
        PUBLISHED_MAIN_COMPARISON,
        preset_variant_names,
    )

    variants = expand_preset("main_comparison")
    names = preset_variant_names("main_comparison", variants)
    # every variant is a published run with the papers' value, and says where it comes from
    assert names == list(PUBLISHED_MAIN_COMPARISON) == list(MAIN_COMPARISON_PROVENANCE)
    by_name = dict(zip(names, variants))
    assert all(
        v.epochs == 400
        and v.trials == 30
        and v.mask_mode == "regrow"
        and v.activation_signal == "hook_output"
        for v in variants
    )
    assert sum(v.is_canonical for v in variants) == 4
    # the runs behind the figures: lexi_prob and the unpruned grids at population 5,
    # activation_sched and lipi_small_4000 at population 10
    lipi = {n: v.population_size for n, v in by_name.items() if not v.is_canonical}
    assert sorted(lipi.values()) == [5, 5, 5, 10, 10]
    assert lipi["lipi_simple-pop10-variance-population-p0.1"] == 10
    small = by_name["small-lipi_simple-pop10-random-exponential-p0.5"]
    assert small.environment == "small" and small.dataset_name == "binary_clustering_10_100_1000"
    assert by_name["lipi_simple-pop10-variance-population-p0.1"].prune_probability == 0.1
    assert by_name["lipi_simple-pop5-conjunctive-final_n-p0.5"].prune_schedule == "final_n"
    assert by_name["ann_canonical-none"].prune_method is None
    # the same variants as the published grids they come from
    lexi = {(c.prune_method, c.prune_schedule): c for c in expand_preset("lexi_prob")}
    for name, key in (
        ("lipi_simple-pop5-random-exponential-p0.5", ("random", "exponential")),
        ("lipi_simple-pop5-conjunctive-final_n-p0.5", ("conjunctive", "final_n")),
    ):
        assert by_name[name].replace(stats_every=lexi[key].stats_every) == lexi[key]
    (activation,) = [
        c for c in expand_preset("activation_sched") if c.prune_schedule == "population"
    ]
    variance = by_name["lipi_simple-pop10-variance-population-p0.1"]
    assert variance.replace(stats_every=activation.stats_every) == activation
    # the small AE: lipi_small_4000's settings on the 1000-bit data (the notebook's sizes)
    (small_grid,) = expand_preset("lipi_small_4000")
    assert (
        small.replace(stats_every=small_grid.stats_every, dataset_name=small_grid.dataset_name)
        == small_grid
    )


def test_main_comparison_pop10_keeps_the_earlier_runs():
    variants = expand_preset("main_comparison_pop10")
    assert all(v.population_size == 10 for v in variants if not v.is_canonical)
    assert {v.dataset_name for v in variants} == {"binary_clustering_10_100_1000"}
    # it differs from main_comparison in the three population-5 variants only
    assert len(set(variants) - set(expand_preset("main_comparison"))) == 3
