"""One writer per folder, signals that name the folder, and every input checked."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_DATASET, TINY_RUN_DATASET, tiny_sweep_args

from minievo.cli import main
from minievo.io import LOCK_FILE, FolderLock
from minievo.training.records import read_stats

#: A live process that is not this one, as the holder a lock file names (the refused
#: writer names only a live holder: FolderLock waits a moment for a dead one's successor).
HOLDER = os.getppid()

RUN = ["--dataset", TINY_RUN_DATASET, "--batch-size", "4", "--population-size", "3"]
RUN += ["--no-progress", "--backend", "numpy"]
ROOT = Path(__file__).resolve().parents[1]


def _env(data_dir, **extra):
    return {**os.environ, "PYTHONPATH": str(ROOT), "MINIEVO_DATA_DIR": str(data_dir), **extra}


def _one_line(code, err, *needles):
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("minievo: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _main(args, capsys):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


# --- one writer --------------------------------------------------------------


def test_a_second_writer_is_refused_naming_the_folder_and_the_holder(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILE).write_text(f"{HOLDER}\n")
    fd = os.open(out / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another holder, as a process would
        code, err = _main(["run", *RUN, "--epochs", "1", "--out", out], capsys)
        _one_line(code, err, str(out), f"in use by process {HOLDER}")
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]
    finally:
        os.close(fd)
    assert _main(["run", *RUN, "--epochs", "1", "--out", out], capsys)[0] == 0


def test_a_killed_holder_leaves_no_stale_lock(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = f"from minievo.io import FolderLock; FolderLock({str(out)!r}).acquire(); print(1)"
    code += "; import sys, time; sys.stdout.flush(); time.sleep(60)"
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, env=_env(data_dir)
    )
    try:
        assert holder.stdout.readline().strip() == b"1"
        with pytest.raises(OSError, match=f"in use by process {holder.pid}"):
            FolderLock(out).acquire()
    finally:
        holder.kill()  # kill -9: no chance to clean up
        holder.wait()
    assert _main(["run", *RUN, "--epochs", "1", "--out", out], capsys)[0] == 0


def test_two_writers_started_together_one_is_refused_records_stay_valid(data_dir, tmp_path):
    command = [sys.executable, "-m", "minievo", "run", *RUN, "--epochs", "40"]
    for attempt in range(3):
        out = tmp_path / f"run{attempt}"
        procs = [
            subprocess.Popen(
                [*command, "--out", str(out)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_env(data_dir),
                text=True,
            )
            for _ in range(2)
        ]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 2], results
        refused = next(err for code, err in results if code == 2)
        assert "in use by process" in refused or "already holds a finished run" in refused
        assert "Traceback" not in refused
        records = read_stats(out)  # every line a JSON record
        assert len(records) == 40 * 3
        assert json.loads((out / "summary.json").read_text())["n_records"] == 40 * 3


def test_a_second_sweep_on_one_folder_is_refused(data_dir, tmp_path, capsys):
    out = tmp_path / "sweep"
    with FolderLock(out, "sweep folder"):
        pass  # the folder exists, the lock is free again
    fd = os.open(out / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, err = _main(tiny_sweep_args(out), capsys)
        _one_line(code, err, str(out), "sweep folder in use")
    finally:
        os.close(fd)


def _folder_bytes(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_gpu_sweep_job_folder_held_by_another_writer_fails_that_job_only(data_dir, tmp_path):
    """The lockstep sweep takes each job folder's lock while it writes, as the CPU sweep:
    a held job fails naming the holder and is left as it is; the others train. Run on
    the host device (the lockstep driver without CUDA)."""
    from minievo.experiments.config import Config
    from minievo.experiments.lockstep_sweep import LockstepRunner
    from minievo.experiments.sweep import expand_trials
    from minievo.training.lockstep import host_device

    base = Config(
        dataset_name=TINY_RUN_DATASET,
        population_size=3,
        batch_size=4,
        epochs=1,
        trials=2,
        data_dir=str(data_dir),
        progress=False,
    )
    jobs = expand_trials([base])
    root = tmp_path / "sweep"
    held, free = root / jobs[0].name, root / jobs[1].name
    held.mkdir(parents=True)
    (held / "stats.jsonl").write_text('{"iteration": 0}\n')  # a start that never checkpointed
    (held / LOCK_FILE).write_text(f"{HOLDER}\n")
    before = _folder_bytes(held)
    locked_while_training = []

    def device(configs, *args, **kwargs):  # the group trains: every folder it writes is locked
        fd = os.open(free / LOCK_FILE, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked_while_training.append(False)
        except BlockingIOError:
            locked_while_training.append(True)
        finally:
            os.close(fd)
        return host_device(configs, *args, **kwargs)

    done = []
    runner = LockstepRunner(figures=False, device_factory=device)
    fd = os.open(held / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another writer, as a process would
        runner.run(jobs, root, lambda job, line, error: done.append((job.name, line, error)))
    finally:
        os.close(fd)
    assert _folder_bytes(held) == before  # the stale start not cleared, the lock file kept
    assert [name for name, _, _ in done] == [jobs[0].name, jobs[1].name]
    (_, line, error), (_, trained, no_error) = done
    assert line is None and f"{held}: run folder in use by process {HOLDER}" in error, error
    assert trained is not None and no_error is None and locked_while_training == [True]
    assert (free / "summary.json").exists() and len(read_stats(free)) == 3
    assert (free / LOCK_FILE).read_text() == f"{os.getpid()}\n"  # kept while clearing
    # released: the rerun trains the held job (its stale start cleared, the lock file kept)
    done.clear()
    runner = LockstepRunner(figures=False, device_factory=host_device)
    runner.run(jobs, root, lambda job, line, error: done.append((job.name, line, error)))
    skipped = {name: line["skipped"] for name, line, error in done if error is None}
    assert skipped == {jobs[0].name: False, jobs[1].name: True}
    assert len(read_stats(held)) == 3 and (held / LOCK_FILE).exists()


# --- signals -----------------------------------------------------------------


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_with_the_folder_to_resume_and_its_status(signum, status, data_dir, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "minievo", "run", *RUN, "--epochs", "100000", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(data_dir, MINIEVO_ALLOW_HUGE_RUNS="1"),
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (out / "stats.jsonl").exists() or not (out / "stats.jsonl").stat().st_size:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signum)
    code = proc.wait(timeout=60)
    err = proc.stderr.read()
    assert code == status, err
    assert f"minievo run --resume {out}" in err.splitlines()[-1]
    assert signal.Signals(signum).name in err.splitlines()[-1]
    assert (out / "checkpoint.npz").exists()


# --- every input checked -----------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "-1", "nan"])
def test_a_bad_progress_interval_is_refused(value, data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINIEVO_PROGRESS_SECONDS", value)
    code, err = _main(["run", *RUN, "--epochs", "1", "--out", tmp_path / "r"], capsys)
    _one_line(code, err, "MINIEVO_PROGRESS_SECONDS", repr(value), ">= 0")
    assert not (tmp_path / "r").exists()


def test_a_key_given_twice_in_a_json_config_is_refused(data_dir, tmp_path, capsys):
    path = tmp_path / "cfg.json"
    path.write_text('{"epochs": 2, "learning_rate": 0.001, "epochs": 3}')
    code, err = _main(["run", "--config", path, "--out", tmp_path / "r"], capsys)
    _one_line(code, err, str(path), "'epochs' is given twice", "2", "3")


def test_a_plugin_named_like_a_builtin_alias_is_refused(data_dir, tmp_path, capsys):
    plugin = tmp_path / "shadow.py"
    plugin.write_text(
        "from minievo.pruning.registry import register_operator\n"
        "@register_operator('activation')\n"
        "def masks(pair, rng, settings):\n"
        "    return None\n"
    )
    code, err = _main(["run", *RUN, "--plugin", plugin, "--out", tmp_path / "r"], capsys)
    _one_line(code, err, "'activation' is already an alias of operator 'variance'")


@pytest.mark.parametrize("address", ["garbage", "tcp://host", "tcp://127.0.0.1:99999"])
def test_a_malformed_scheduler_address_is_refused_at_once(address, tmp_path, capsys):
    code, err = _main(tiny_sweep_args(tmp_path / "s", "--scheduler", address), capsys)
    _one_line(code, err, f"--scheduler {address!r}", "tcp://HOST:8786")
    assert not (tmp_path / "s").exists()


def test_random_bytes_are_never_offered_to_unpickle(data_dir, tmp_path, capsys):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(os.urandom(3000))
    code, err = _main(["inspect", junk], capsys)
    _one_line(code, err, str(junk), "not an .npz archive")
    objects = tmp_path / "objects.npz"
    np.savez(objects, encoder_params=np.array([{}], dtype=object))
    code, err = _main(["inspect", objects], capsys)
    assert "allow_pickle" not in _one_line(code, err, str(objects), "pickled data")
    data_dir.mkdir()
    (data_dir / f"{TINY_DATASET}_seed1.npz").write_bytes(os.urandom(3000))
    args = ["run", *RUN, "--dataset", TINY_DATASET, "--epochs", "1", "--out", tmp_path / "r"]
    code, err = _main(args, capsys)
    _one_line(code, err, "delete the file to generate it again")
    assert "allow_pickle" not in err


def test_an_absurd_run_is_refused_with_its_estimate(data_dir, tmp_path, capsys):
    args = ["run", *RUN, "--epochs", str(10**12), "--out", tmp_path / "r"]
    code, err = _main(args, capsys)
    _one_line(code, err, "epochs=1000000000000", "days", "GiB", "MINIEVO_ALLOW_HUGE_RUNS=1")
    assert not (tmp_path / "r").exists()


def test_a_read_only_data_dir_names_the_data_dir_not_out(tmp_path, capsys, monkeypatch):
    data = tmp_path / "ro-data"
    data.mkdir()
    monkeypatch.setenv("MINIEVO_DATA_DIR", str(data))
    real_mkstemp = __import__("tempfile").mkstemp

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == data:
            raise OSError(30, os.strerror(30), str(dir))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    code, err = _main(["run", *RUN, "--epochs", "1", "--out", tmp_path / "r"], capsys)
    line = _one_line(code, err, str(data), "MINIEVO_DATA_DIR")
    assert "--out" not in line


def test_report_on_a_half_written_jobs_json_is_one_line(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "jobs.json").write_text('{"a/seed-01": {"seed": 1, "epo')
    code, err = _main(["report", sweep, "--out", tmp_path / "report"], capsys)
    _one_line(code, err, str(sweep / "jobs.json"), "not valid JSON", "rerun the sweep")


@pytest.mark.parametrize(("value", "needle"), [("", "set but empty"), ("FILE", "is a file")])
def test_a_bad_data_dir_variable_is_refused(value, needle, tmp_path, capsys, monkeypatch):
    if value == "FILE":
        value = str(tmp_path / "file")
        Path(value).write_text("x")
    monkeypatch.setenv("MINIEVO_DATA_DIR", value)
    code, err = _main(["run", *RUN, "--epochs", "1", "--out", tmp_path / "r"], capsys)
    _one_line(code, err, "MINIEVO_DATA_DIR", needle)


def test_an_unreachable_scheduler_is_one_line_after_the_timeout(data_dir, tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    from minievo.experiments import sweep

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sweep, "CONNECT_TIMEOUT_S", 1)
        args = tiny_sweep_args(tmp_path / "s", "--scheduler", "tcp://127.0.0.1:9")
        code, err = _main(args, capsys)
    _one_line(code, err, "--scheduler tcp://127.0.0.1:9", "no scheduler answered within 1 s")


def test_a_writer_refused_before_the_holder_wrote_its_id_waits_for_it(tmp_path):
    """The holder writes its id right after taking the lock; a writer refused in that
    instant reads the last (dead) holder's id, and waits for the live one instead."""
    import threading

    fd = os.open(tmp_path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b"4194305\n")  # above Linux's largest pid: a holder that is gone
    fcntl.flock(fd, fcntl.LOCK_EX)
    text = f"{os.getpid()}\n".encode()
    writer = threading.Timer(0.2, lambda: (os.pwrite(fd, text, 0), os.ftruncate(fd, len(text))))
    writer.start()
    try:
        with pytest.raises(Exception, match=f"in use by process {os.getpid()} "):
            FolderLock(tmp_path).acquire()
    finally:
        writer.join()
        os.close(fd)
