"""Fault injection: nothing lost, whatever happens to a run or sweep folder.

One tiny finished run folder and one tiny finished sweep folder are built once
per module; each case copies one, damages one file (truncated at a few
offsets, overwritten with garbage, removed) and runs every command that reads
that file, in-process. Each either gives the uninterrupted numbers or refuses
with one ``minievo: error:`` line (exit status 2) and leaves the folder byte
for byte as it was. The lock file ``.minievo.lock`` holds the process id of
its last holder and is left out of the comparison.
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_DATASET, tiny_sweep_args

from minievo.cli import main
from minievo.data import cache_file_name
from minievo.io import LOCK_FILE
from minievo.training.records import read_stats

RUN_ARGS = ["--dataset", TINY_DATASET, "--batch-size", "4", "--population-size", "3"]
RUN_ARGS += ["--no-progress", "--epochs", "2"]


def folder_hash(*folders) -> dict:
    """``{relative path: sha256}`` of every file under ``folders`` but the lock files."""
    digests = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and path.name != LOCK_FILE:
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def command(args, capsys):
    try:
        code = main([str(a) for a in args])
    except SystemExit as stop:  # argparse
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.err


def assert_refused(code, err):
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("minievo: error:")]
    assert len(lines) == 1, err
    assert "allow_pickle" not in err
    return lines[0]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A finished 2-epoch coevolution run, its dataset cache, and the reference numbers:
    the summary of resuming it as it is and of extending it to 3 epochs."""
    base = tmp_path_factory.mktemp("pristine")
    mp = pytest.MonkeyPatch()
    mp.setenv("MINIEVO_DATA_DIR", str(base / "data"))
    try:
        assert main(["run", *RUN_ARGS, "--out", str(base / "run")]) == 0
        references = {}
        for name, extra in (("resume", []), ("extend", ["--epochs", "3"])):
            copy = base / f"ref-{name}"
            shutil.copytree(base / "run", copy)
            assert main(["run", "--resume", str(copy), "--no-progress", *extra]) == 0
            references[name] = (
                json.loads((copy / "summary.json").read_text())["test_loss"],
                len(read_stats(copy)),
            )
    finally:
        mp.undo()
    return base, references


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "remove":
        path.unlink()
    elif how == "garbage":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + b"\xab" * 64 + data[middle + 64 :])
    else:  # "truncate-<fraction>"
        path.write_bytes(data[: int(len(data) * float(how.split("-")[1]))])


DAMAGES = ("truncate-0", "truncate-0.3", "truncate-0.7", "garbage", "remove")
RUN_FILES = ("checkpoint.npz", "config.json", "stats.jsonl", "best_autoencoder.npz", "dataset")
COMMANDS = {
    "resume": ["run", "--resume", "{run}", "--no-progress"],
    "extend": ["run", "--resume", "{run}", "--no-progress", "--epochs", "3"],
    "inspect": ["inspect", "{run}"],
}


@pytest.mark.parametrize("name", RUN_FILES)
@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("label", COMMANDS)
def test_a_damaged_run_folder_gives_the_right_numbers_or_one_line(
    label, name, how, pristine, tmp_path, capsys, monkeypatch
):
    base, references = pristine
    run, data = tmp_path / "run", tmp_path / "data"
    shutil.copytree(base / "run", run)
    shutil.copytree(base / "data", data)
    monkeypatch.setenv("MINIEVO_DATA_DIR", str(data))
    target = data / cache_file_name(TINY_DATASET, 1) if name == "dataset" else run / name
    assert target.exists()
    _damage(target, how)
    before = folder_hash(run, data)
    code, err = command([a.format(run=run) for a in COMMANDS[label]], capsys)
    if code == 0 and label != "inspect":
        summary = json.loads((run / "summary.json").read_text())
        assert (summary["test_loss"], len(read_stats(run))) == references[label], err
    elif code == 0:
        assert folder_hash(run, data) == before
    else:
        line = assert_refused(code, err)
        assert folder_hash(run, data) == before, f"{label} changed the folder: {line}"


def test_every_kind_of_damage_of_the_checkpoint_is_refused(pristine, tmp_path, capsys):
    """The reproduction of the issue: 64 bytes overwritten mid-checkpoint, then --epochs."""
    base, _ = pristine
    run = tmp_path / "run"
    shutil.copytree(base / "run", run)
    _damage(run / "checkpoint.npz", "garbage")
    before = folder_hash(run)
    code, err = command(["run", "--resume", run, "--epochs", "6", "--no-progress"], capsys)
    line = assert_refused(code, err)
    assert "checkpoint.npz" in line and "--force" in line
    assert folder_hash(run) == before  # summary.json kept, config.json not rewritten


def test_a_short_record_file_is_damage_never_padded(pristine, tmp_path, capsys):
    base, _ = pristine
    run = tmp_path / "run"
    shutil.copytree(base / "run", run)
    size = (run / "stats.jsonl").stat().st_size
    with open(run / "stats.jsonl", "r+b") as handle:
        handle.truncate(size // 2)
    before = folder_hash(run)
    for extra in ([], ["--epochs", "6"]):
        code, err = command(["run", "--resume", run, "--no-progress", *extra], capsys)
        line = assert_refused(code, err)
        assert "stats.jsonl" in line and f"recorded {size}" in line
        assert folder_hash(run) == before
    assert b"\0" not in (run / "stats.jsonl").read_bytes()


def _rewrite_records(path: Path, n_bytes: int, how: str) -> tuple[int, int]:
    """Delete or duplicate one record line in the first ``n_bytes`` bytes of ``path``, keeping
    those bytes exactly ``n_bytes`` long: with a line more, every line is written again
    with fewer digits and no spaces (each still a JSON object); then the first one is
    padded with spaces inside. Returns ``(records the checkpoint counted, records there now)``."""
    data = path.read_bytes()
    lines = data[:n_bytes].decode().splitlines()
    middle = len(lines) // 2
    if how == "deleted":
        changed = lines[:middle] + lines[middle + 1 :]
    else:  # "duplicated"
        changed = lines[: middle + 1] + lines[middle:]

        def compact(line):
            record = {
                k: round(v, 3) if isinstance(v, float) else v for k, v in json.loads(line).items()
            }
            return json.dumps(record, separators=(",", ":"))

        changed = [compact(line) for line in changed]
    slack = n_bytes - sum(len(line) + 1 for line in changed)
    assert slack >= 0
    changed[0] = "{" + " " * slack + changed[0][1:]
    head = "".join(line + "\n" for line in changed).encode()
    assert len(head) == n_bytes and all(isinstance(json.loads(line), dict) for line in changed)
    path.write_bytes(head + data[n_bytes:])
    return len(lines), len(changed)


def _stats_bytes(run: Path) -> int:
    return json.loads(str(np.load(run / "checkpoint.npz")["state"]))["stats_bytes"]


@pytest.mark.parametrize("how", ("deleted", "duplicated"))
def test_a_record_lost_or_repeated_at_the_same_length_is_refused(how, pristine, tmp_path, capsys):
    """stats.jsonl as long as the checkpoint says, but one line fewer or more than its fe_cnt."""
    base, _ = pristine
    run = tmp_path / "run"
    shutil.copytree(base / "run", run)
    counted, found = _rewrite_records(run / "stats.jsonl", _stats_bytes(run), how)
    before = folder_hash(run)
    for extra in ([], ["--epochs", "3"]):
        code, err = command(["run", "--resume", run, "--no-progress", *extra], capsys)
        line = assert_refused(code, err)
        assert "stats.jsonl" in line and f"{found} records" in line, line
        assert f"counted {counted}" in line and "--force" in line, line
        assert folder_hash(run) == before


@pytest.mark.parametrize("how", ("deleted", "duplicated"))
def test_a_canonical_run_counts_its_records_by_epoch(how, tmp_path, capsys, monkeypatch):
    """Canonical training writes one record per epoch: the checkpoint's next_epoch counts them."""
    monkeypatch.setenv("MINIEVO_DATA_DIR", str(tmp_path / "data"))
    run = tmp_path / "run"
    args = ["--dataset", TINY_DATASET, "--batch-size", "4", "--no-progress", "--epochs", "3"]
    args += ["--cell-evaluation", "ann_canonical", "--backend", "numpy", "--out", run]
    assert command(["run", *args], capsys)[0] == 0
    counted, found = _rewrite_records(run / "stats.jsonl", _stats_bytes(run), how)
    assert counted == 3
    before = folder_hash(run)
    code, err = command(["run", "--resume", run, "--no-progress", "--epochs", "4"], capsys)
    line = assert_refused(code, err)
    assert f"{found} records" in line and "counted 3" in line, line
    assert folder_hash(run) == before


def test_a_gpu_sweep_checks_a_job_to_resume_as_resume_does(tmp_path, monkeypatch):
    """The lockstep sweep (on the host device) refuses a damaged job to resume, its folder
    unchanged, and resumes the others."""
    from minievo.experiments.config import Config
    from minievo.experiments.lockstep_sweep import LockstepRunner
    from minievo.experiments.sweep import expand_trials
    from minievo.training.lockstep import host_device

    monkeypatch.setenv("MINIEVO_DATA_DIR", str(tmp_path / "data"))
    base = Config(dataset_name=TINY_DATASET, population_size=3, batch_size=4, epochs=1, trials=2)
    jobs = expand_trials([base.replace(progress=False, data_dir=str(tmp_path / "data"))])
    root, done = tmp_path / "sweep", []
    runner = LockstepRunner(figures=False, device_factory=host_device)
    runner.run(jobs, root, lambda job, line, error: done.append((job.name, error)))
    assert done == [(job.name, None) for job in jobs]
    damaged, intact = root / jobs[0].name, root / jobs[1].name
    for out in (damaged, intact):
        (out / "summary.json").unlink()  # killed before its outputs: resumed from the checkpoint
    counted, found = _rewrite_records(damaged / "stats.jsonl", _stats_bytes(damaged), "deleted")
    before = folder_hash(damaged)
    done.clear()
    runner.run(jobs, root, lambda job, line, error: done.append((job.name, error)))
    (name, error), (other, no_error) = done
    assert name == jobs[0].name and error is not None and "stats.jsonl" in error, error
    assert f"{found} records" in error and f"counted {counted}" in error, error
    assert folder_hash(damaged) == before
    assert other == jobs[1].name and no_error is None and (intact / "summary.json").exists()


# --- the sweep folder ------------------------------------------------------


@pytest.fixture(scope="module")
def pristine_sweep(tmp_path_factory):
    """A finished tiny sweep (3 one-epoch jobs) and its results."""
    base = tmp_path_factory.mktemp("sweep")
    mp = pytest.MonkeyPatch()
    mp.setenv("MINIEVO_DATA_DIR", str(base / "data"))
    try:
        assert main(tiny_sweep_args(base / "sweep")) == 0
    finally:
        mp.undo()
    return base, (base / "sweep" / "results.jsonl").read_text()


def _numbers(results: str) -> list[dict]:
    """The lines of ``results.jsonl`` without the wall times (a job run again takes its own)."""
    lines = [json.loads(line) for line in results.splitlines()]
    return [{k: v for k, v in line.items() if k != "wall_time_s"} for line in lines]


SWEEP_FILES = ("jobs.json", "variants.json", "results.jsonl", "job-config", "job-summary")


@pytest.mark.parametrize("name", SWEEP_FILES)
@pytest.mark.parametrize("how", ("truncate-0", "truncate-0.5", "garbage", "remove"))
def test_a_damaged_sweep_folder_gives_the_right_results_or_one_line(
    name, how, pristine_sweep, tmp_path, capsys, monkeypatch
):
    base, results = pristine_sweep
    sweep = tmp_path / "sweep"
    shutil.copytree(base / "sweep", sweep)
    monkeypatch.setenv("MINIEVO_DATA_DIR", str(base / "data"))
    if name.startswith("job-"):
        target = sorted(sweep.glob(f"*/seed-*/{name[4:]}.json"))[0]
    else:
        target = sweep / name
    _damage(target, how)
    before = folder_hash(sweep)
    code, err = command(["report", sweep, "--out", tmp_path / "report"], capsys)
    if code != 0:
        assert_refused(code, err)
    assert folder_hash(sweep) == before  # report reads; it writes elsewhere
    code, err = command(tiny_sweep_args(sweep), capsys)
    if code == 0:
        assert _numbers((sweep / "results.jsonl").read_text()) == _numbers(results)
    else:
        assert_refused(code, err)
        assert folder_hash(sweep) == before
