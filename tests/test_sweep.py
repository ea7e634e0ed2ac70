"""Sweeps: variants x seeds over an Executor, resumable."""
import json
from concurrent.futures import ThreadPoolExecutor

from conftest import TINY_DATASET

from minievo.cli import main
from minievo.experiments.presets import expand_preset
from minievo.experiments.sweep import expand_trials, run_sweep


def _variants(data_dir, trials=2):
    return expand_preset("prune_after_base", trials=trials, overrides={
        "epochs": 2, "dataset_name": TINY_DATASET, "data_dir": str(data_dir), "batch_size": 4,
        "progress": False})


def test_jobs_are_variants_times_seeds(data_dir):
    jobs = expand_trials(_variants(data_dir, trials=3))
    assert len(jobs) == 3 * 3
    assert [c.seed for _, c in jobs[:3]] == [1, 2, 3] and all(c.trials == 1 for _, c in jobs)
    assert len({name for name, _ in jobs}) == len(jobs)


def test_sweep_runs_every_job_and_skips_finished_ones(data_dir, tmp_path):
    variants = _variants(data_dir)
    first = run_sweep(variants, tmp_path / "sweep")
    assert len(first) == 6 and not any(r["skipped"] for r in first)
    assert len((tmp_path / "sweep" / "results.jsonl").read_text().splitlines()) == 6
    # kill the evidence of one finished job: only that one runs again (resumed)
    (tmp_path / "sweep" / first[0]["folder"] / "summary.json").unlink()
    second = run_sweep(variants, tmp_path / "sweep")
    assert sum(not r["skipped"] for r in second) == 1
    redone = next(r for r in second if not r["skipped"])
    assert redone["folder"] == first[0]["folder"] and redone["test_loss"] == first[0]["test_loss"]


def test_sweep_over_an_executor_gives_the_serial_numbers(data_dir, tmp_path):
    variants = _variants(data_dir)
    serial = {r["folder"]: r["test_loss"] for r in run_sweep(variants, tmp_path / "a")}
    with ThreadPoolExecutor(2) as pool:
        threaded = {r["folder"]: r["test_loss"]
                    for r in run_sweep(variants, tmp_path / "b", executor=pool)}
    assert serial == threaded


def test_sweep_command(data_dir, tmp_path, capsys):
    code = main(["sweep", "--preset", "prune_after_base", "--trials", "1", "--set", "epochs=1",
                 "--set", f"dataset_name={TINY_DATASET}", "--set", "batch_size=4",
                 "--out", str(tmp_path / "s")])
    assert code == 0
    jobs = json.loads((tmp_path / "s" / "jobs.json").read_text())
    assert len(jobs) == 3 and all(j["epochs"] == 1 for j in jobs.values())
    assert "[3/3]" in capsys.readouterr().err
