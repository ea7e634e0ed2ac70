"""Every run tells the truth: no silent ignores, no dead ends, no tracebacks, progress anywhere.

Each test gives one bad input or fault to ``minievo`` and checks the one-line
message and exit status 2, or checks the behaviour chosen instead (extending a
run, restarting a folder without a checkpoint, cleaning stale temporaries,
progress lines off a terminal).
"""

import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_DATASET

from minievo import cli
from minievo.cli import main
from minievo.experiments import run as runner
from minievo.experiments.config import Config, ConfigError
from minievo.training import progress

TINY = ["--dataset", TINY_DATASET, "--batch-size", "4", "--no-progress"]
CANONICAL = ["--cell-evaluation", "ann_canonical", *TINY]
COEVOLUTION = ["--population-size", "3", *TINY]


def _run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line_error(code, err, *needles):
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("minievo: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _records(out):
    return [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]


# --- silent ignores --------------------------------------------------------


def test_resume_with_more_epochs_extends_the_run(data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert _run(["run", *CANONICAL, "--epochs", "2", "--out", str(out)], capsys)[0] == 0
    code, _, err = _run(["run", "--resume", str(out), "--epochs", "4", "--no-progress"], capsys)
    assert code == 0, err
    assert [r["iteration"] for r in _records(out)] == [0, 1, 2, 3]
    saved = json.loads((out / "config.json").read_text())
    assert saved["epochs"] == 4
    assert any("epochs changed from 2 to 4" in n and "T = 4" in n for n in saved["notices"])
    assert json.loads((out / "summary.json").read_text())["epochs"] == 4
    assert "epochs changed from 2 to 4" in err


def test_resume_extends_a_coevolution_run(data_dir, tmp_path, capsys):
    out = tmp_path / "c"
    assert _run(["run", *COEVOLUTION, "--epochs", "1", "--out", str(out)], capsys)[0] == 0
    assert _run(["run", "--resume", str(out), "--epochs", "2"], capsys)[0] == 0
    assert sorted({r["iteration"] for r in _records(out)}) == [0, 1]
    assert len(_records(out)) == 2 * 3  # one record per cell visit


def test_resume_refuses_fewer_epochs_than_done(data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    _run(["run", *CANONICAL, "--epochs", "3", "--out", str(out)], capsys)
    code, _, err = _run(["run", "--resume", str(out), "--epochs", "3"], capsys)
    _one_line_error(code, err, "--epochs 3", "already done 3 epochs", "more than 3")


@pytest.mark.parametrize(
    "extra, named",
    [
        (["--out", "elsewhere"], "--out"),
        (["--set", "lexi_threshold=0.2"], "--set lexi_threshold=0.2"),
        (["--learning-rate", "0.01"], "--learning-rate"),
        (["--force"], "--force"),
    ],
)
def test_resume_refuses_options_that_change_the_run(extra, named, data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    _run(["run", *CANONICAL, "--epochs", "1", "--out", str(out)], capsys)
    code, _, err = _run(["run", "--resume", str(out), *extra], capsys)
    _one_line_error(code, err, f"--resume {out}", named)


def test_workers_with_the_asynchronous_update_is_refused(data_dir, tmp_path, capsys):
    code, _, err = _run(
        ["run", *COEVOLUTION, "--epochs", "1", "--workers", "2", "--out", str(tmp_path / "w")],
        capsys,
    )
    _one_line_error(code, err, "workers=2", "asynchronous", "--update synchronous")
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--learning-rate", "20"], ["learning_rate", "lr_max = 10.0"]),
        (["--batch-size", "31"], ["batch_size: 31", "30 training rows"]),
        (["--population-size", "4", "--radius", "2"], ["radius: 2", "population_size=4"]),
        (["--learning-rate", "-1e-5"], ["learning_rate: -1e-05", "out of range"]),
    ],
)
def test_values_training_would_change_are_refused(args, needles, data_dir, tmp_path, capsys):
    flags = ["--dataset", TINY_DATASET, "--no-progress", "--epochs", "1"]
    if "--batch-size" not in args:
        flags += ["--batch-size", "4"]
    code, _, err = _run(["run", *flags, *args, "--out", str(tmp_path / "x")], capsys)
    _one_line_error(code, err, *needles)


def test_small_ring_repeats_cells_with_a_notice_in_config_json(data_dir, tmp_path, capsys):
    out = tmp_path / "p2"
    code, _, err = _run(
        ["run", *TINY, "--population-size", "2", "--epochs", "1", "--out", str(out)], capsys
    )
    assert code == 0, err
    assert "repeats cells" in err
    assert any(
        "repeats cells" in n for n in json.loads((out / "config.json").read_text())["notices"]
    )


def test_run_and_run_with_a_partial_config_start_from_the_default_job(data_dir, tmp_path, capsys):
    partial = tmp_path / "partial.json"
    partial.write_text(
        json.dumps(
            {"epochs": 1, "dataset_name": TINY_DATASET, "batch_size": 4, "population_size": 3}
        )
    )
    _run(["run", "--config", str(partial), "--no-progress", "--out", str(tmp_path / "a")], capsys)
    _run(["run", *COEVOLUTION, "--epochs", "1", "--out", str(tmp_path / "b")], capsys)
    a = json.loads((tmp_path / "a" / "config.json").read_text())
    b = json.loads((tmp_path / "b" / "config.json").read_text())
    assert a["defaults"] == b["defaults"] == "default job"
    for key in ("prune_method", "prune_schedule", "mask_mode", "optimizer_state"):
        assert a[key] == b[key] == cli.DEFAULT_JOB[key]
    assert Config().defaults == "Config()" and Config().prune_method is None


def test_partial_canonical_config_gets_the_canonical_population(data_dir, tmp_path, capsys):
    partial = tmp_path / "canon.json"
    partial.write_text(
        json.dumps(
            {
                "cell_evaluation": "ann_canonical",
                "epochs": 1,
                "dataset_name": TINY_DATASET,
                "batch_size": 4,
            }
        )
    )
    code, _, err = _run(
        ["run", "--config", str(partial), "--no-progress", "--out", str(tmp_path / "c")], capsys
    )
    assert code == 0 and "replaced by" not in err  # no notice about values nobody gave
    saved = json.loads((tmp_path / "c" / "config.json").read_text())
    assert saved["population_size"] == 1 and saved["optimizer_state"] == "persistent"


# --- dead ends --------------------------------------------------------------


def test_folder_without_checkpoint_or_summary_starts_again(data_dir, tmp_path, capsys):
    out = tmp_path / "dead"
    _run(["run", *CANONICAL, "--epochs", "2", "--out", str(out)], capsys)
    (out / "checkpoint.npz").unlink()  # as if killed before its first checkpoint
    (out / "summary.json").unlink()
    code, _, err = _run(["run", "--resume", str(out)], capsys)
    _one_line_error(code, err, "no checkpoint", f"--out {out}", "starts it again")
    code, _, err = _run(["run", *CANONICAL, "--epochs", "2", "--out", str(out)], capsys)
    assert code == 0, err
    assert "starting the run again" in err and "no checkpoint" in err
    assert [r["iteration"] for r in _records(out)] == [0, 1]


def test_folder_with_a_checkpoint_needs_resume_or_force(data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    _run(["run", *CANONICAL, "--epochs", "2", "--out", str(out)], capsys)
    code, _, err = _run(["run", *CANONICAL, "--epochs", "3", "--out", str(out)], capsys)
    _one_line_error(code, err, "finished run", f"--resume {out}", "--force")
    code, _, err = _run(["run", *CANONICAL, "--epochs", "3", "--out", str(out), "--force"], capsys)
    assert code == 0 and "--force" in err
    assert [r["iteration"] for r in _records(out)] == [0, 1, 2]


def test_resume_removes_stale_temporary_files(data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    _run(["run", *CANONICAL, "--epochs", "2", "--out", str(out)], capsys)
    stale = [out / ".checkpoint.npz.k1ll3d.tmp", out / "figures" / ".loss.png.x.tmp"]
    for path in stale:
        path.write_bytes(b"half a checkpoint")
    code, _, err = _run(["run", "--resume", str(out), "--epochs", "3"], capsys)
    assert code == 0, err
    assert not any(path.exists() for path in stale)
    assert "removed 2 temporary file(s)" in err


# --- one-line errors instead of tracebacks ---------------------------------


def test_out_through_a_file(data_dir, tmp_path, capsys):
    (tmp_path / "file.json").write_text("{}")
    code, _, err = _run(
        ["run", *CANONICAL, "--epochs", "1", "--out", str(tmp_path / "file.json" / "run")], capsys
    )
    _one_line_error(code, err, "file.json", "not a folder")


def test_out_on_a_read_only_file_system(data_dir, tmp_path, capsys, monkeypatch):
    target = tmp_path / "ro" / "run"

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    code, _, err = _run(["run", *CANONICAL, "--epochs", "1", "--out", str(target)], capsys)
    _one_line_error(code, err, str(target), "Read-only file system")


def test_disk_full_names_the_file_and_leaves_no_temporary(data_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "full"
    import minievo.io as mio

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(mio.os, "fsync", no_space)
    code, _, err = _run(["run", *CANONICAL, "--epochs", "1", "--out", str(out)], capsys)
    _one_line_error(code, err, "config.json", "No space left on device", "resume")
    assert not list(out.glob(".*.tmp"))


def test_population_too_large_for_memory_is_refused_before_allocating(
    data_dir, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(runner, "available_memory", lambda: 2**30)
    code, _, err = _run(
        ["run", "--population-size", "100000", "--no-progress", "--out", str(tmp_path / "big")],
        capsys,
    )
    line = _one_line_error(code, err, "population_size=100000", "GiB", "1.0 GiB")
    need = runner.estimate_memory(Config(population_size=100000)) / 2**30
    assert f"{need:.1f} GiB" in line
    assert not (tmp_path / "big").exists()


def test_data_dir_pointing_at_a_file(data_dir, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code, _, err = _run(
        [
            "run",
            *CANONICAL,
            "--epochs",
            "1",
            "--data-dir",
            str(tmp_path / "afile"),
            "--out",
            str(tmp_path / "r"),
        ],
        capsys,
    )
    _one_line_error(code, err, "afile")


@pytest.mark.parametrize(
    "make, what",
    [
        (lambda p: p / "checkpoint.npz", "a checkpoint"),
        (lambda p: p / "config.json", "a JSON file"),
        (lambda p: p / "stats.jsonl", "a JSON-lines file"),
    ],
)
def test_inspect_says_what_a_file_is(make, what, data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    _run(["run", *CANONICAL, "--epochs", "1", "--out", str(out)], capsys)
    code, _, err = _run(["inspect", str(make(out))], capsys)
    _one_line_error(code, err, what, "inspect reads a saved autoencoder")
    code, stdout, _ = _run(["inspect", str(out)], capsys)  # a run folder is accepted
    assert code == 0 and "encoder" in stdout


def test_inspect_on_a_dataset_and_a_text_file(data_dir, tmp_path, capsys):
    _run(["data", "--name", TINY_DATASET, "--out", str(tmp_path / "d.npz")], capsys)
    code, _, err = _run(["inspect", str(tmp_path / "d.npz")], capsys)
    _one_line_error(code, err, "a dataset")
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = _run(["inspect", str(tmp_path / "notes.txt")], capsys)
    _one_line_error(code, err, "a text file")


def test_ctrl_c_hint_names_the_real_folder(data_dir, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run", interrupted)
    out = tmp_path / "mine"
    code, _, err = _run(["run", *CANONICAL, "--epochs", "1", "--out", str(out)], capsys)
    assert code == 130
    assert f"minievo run --resume {out}" in err and "DIR" not in err


def test_internal_errors_keep_their_traceback(data_dir, tmp_path, capsys, monkeypatch):
    def bug(*args, **kwargs):
        raise ValueError("an internal bug")

    monkeypatch.setattr(runner, "run", bug)
    with pytest.raises(ValueError, match="internal bug"):
        main(["run", *CANONICAL, "--epochs", "1", "--out", str(tmp_path / "r")])


# --- the command explains itself -------------------------------------------


def test_version_and_plain_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    import minievo

    assert capsys.readouterr().out.strip() == f"minievo {minievo.__version__}"
    text = cli.build_parser().format_help()
    assert "``" not in text and "::" not in text
    assert "minievo trains autoencoders" in text


def test_canonical_saves_final_and_coevolution_best(data_dir, tmp_path, capsys):
    _run(["run", *CANONICAL, "--epochs", "1", "--out", str(tmp_path / "c")], capsys)
    _run(["run", *COEVOLUTION, "--epochs", "1", "--out", str(tmp_path / "e")], capsys)
    assert (tmp_path / "c" / "final_autoencoder.npz").exists()
    assert not (tmp_path / "c" / "best_autoencoder.npz").exists()
    assert (tmp_path / "e" / "best_autoencoder.npz").exists()
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert summary["files"]["network"] == "final_autoencoder.npz"
    assert summary["network"].startswith("final network")


# --- progress off a terminal ------------------------------------------------


def test_progress_lines_when_stderr_is_not_a_terminal(data_dir, tmp_path):
    env = {**os.environ, "MINIEVO_PROGRESS_SECONDS": "0"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "minievo",
            "run",
            "--dataset",
            TINY_DATASET,
            "--batch-size",
            "4",
            "--population-size",
            "3",
            "--epochs",
            "2",
            "--out",
            str(tmp_path / "p"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lipi_simple: epoch")]
    assert [line.split(",")[0] for line in lines] == [
        "lipi_simple: epoch 1/2 (50.0%)",
        "lipi_simple: epoch 2/2 (100.0%)",
    ]
    assert all("visits/s" in line and "best_loss=" in line for line in lines)
    assert "ETA" in lines[0]


def test_progress_lines_at_an_interval_end_with_the_last_epoch():
    stream = io.StringIO()
    lines = progress.ProgressLines(
        range(3, 10), total=10, initial=3, desc="x", stream=stream, interval=3600
    )
    for _ in lines:
        lines.set_postfix(train_L1="0.1")
    out = stream.getvalue().splitlines()
    assert len(out) == 1 and out[0].startswith("x: epoch 10/10") and "train_L1=0.1" in out[0]


def test_no_progress_prints_nothing():
    stream = io.StringIO()
    assert list(progress.progress_bar(range(3), total=3, enabled=False, stream=stream)) == [0, 1, 2]
    assert stream.getvalue() == ""


def test_compile_notice_only_with_a_cold_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setattr(progress, "kernel_cache_dir", lambda: tmp_path)
    assert "compiling kernels (once" in progress.compile_notice("numba")
    assert progress.compile_notice("numpy") is None
    (tmp_path / "cpu.train_step-10.py311.nbi").write_bytes(b"")
    assert progress.compile_notice("numba") is None


_OPT_PROBE = (
    "import contextlib, io, sys; from minievo import cli; "
    "contextlib.redirect_stdout(io.StringIO()).__enter__(); code = cli.main(['presets']); "
    "import numba; sys.stderr.write(f'{code} {int(numba.config.OPT)}')"
)


def test_the_command_compiles_at_numbas_level_as_the_api_and_the_tests():
    """One level for every entry point: Numba's cache does not record the level, and
    another level can change the last bit of the losses (docs/benchmarks.md)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_OPT"}
    probe = [sys.executable, "-c", _OPT_PROBE]
    out = subprocess.run(probe, env=env, capture_output=True, text=True, check=True)
    default = subprocess.run(
        [sys.executable, "-c", "import numba; print(int(numba.config.OPT))"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stderr.split() == ["0", default.stdout.strip()]


def test_config_json_round_trips_defaults_and_notices(tmp_path):
    config = Config(population_size=2, defaults="default job")
    config.save(tmp_path / "c.json")
    back = Config.from_file(tmp_path / "c.json")
    assert back == config and back.defaults == "default job" and back.notices == config.notices
    with pytest.raises(ConfigError, match="defaults"):
        Config(defaults="mine")


def test_extension_changes_only_the_schedules_from_the_checkpoint(data_dir, tmp_path, capsys):
    """Extending reuses every record before the checkpoint unchanged."""
    a, b = tmp_path / "a", tmp_path / "b"
    lr = ["--set", "learning_rate=0.001"]
    _run(["run", *CANONICAL, *lr, "--epochs", "2", "--out", str(a)], capsys)
    _run(["run", *CANONICAL, *lr, "--epochs", "2", "--out", str(b)], capsys)
    _run(["run", "--resume", str(b), "--epochs", "4"], capsys)
    keep = ("iteration", "mean_L1", "learning_rate")
    assert [{k: r[k] for k in keep} for r in _records(b)[:2]] == [
        {k: r[k] for k in keep} for r in _records(a)
    ]
    # mean_L1 on its cadence (stats_every=100): epoch 0, the last epoch of the 2-epoch run
    # (recorded before the extension) and the new last epoch
    stats = [r for r in _records(b) if "mean_L1" in r]
    assert [r["iteration"] for r in stats] == [0, 1, 3]
    assert np.isfinite([r["mean_L1"] for r in stats]).all()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--name", "foo"], "dataset_name: 'foo'"),
        (["--noise-probability", "2"], "noise_probability: 2.0"),
        (["--p-one", "-0.5"], "p_one: -0.5"),
        (["--seed", "-3"], "data_seed: -3"),
    ],
)
def test_data_command_checks_its_arguments(args, needle, tmp_path, capsys):
    code, _, err = _run(["data", *args, "--cache-dir", str(tmp_path)], capsys)
    _one_line_error(code, err, needle)


def test_inspect_on_a_damaged_network_names_the_file(tmp_path, capsys):
    path = tmp_path / "net.npz"
    np.savez(path, encoder_params=np.zeros(3, np.float32), decoder_params=np.zeros(3, np.float32))
    code, _, err = _run(["inspect", str(path)], capsys)
    _one_line_error(code, err, str(path))


def test_extended_run_follows_the_new_total_from_the_checkpoint(data_dir, tmp_path, capsys):
    """Learning-rate steps use T = old epochs before the checkpoint, the new T after it."""
    from minievo.training.canonical import step_learning_rate

    out = tmp_path / "r"
    _run(
        ["run", *CANONICAL, "--set", "learning_rate=0.001", "--epochs", "4", "--out", str(out)],
        capsys,
    )
    _run(["run", "--resume", str(out), "--epochs", "8"], capsys)
    rates = [r["learning_rate"] for r in _records(out)]
    expected = [step_learning_rate(1e-3, t, 4) for t in range(4)] + [
        step_learning_rate(1e-3, t, 8) for t in range(4, 8)
    ]
    assert rates == pytest.approx(expected, rel=1e-12)


def test_progress_rate_leaves_out_the_first_epoch_which_waits_for_compilation(monkeypatch):
    """A slow first epoch (kernels compiling) must not stretch the ETA of later lines."""
    clock = iter([0.0, 60.0, 61.0, 62.0, 63.0, 64.0, 65.0, 66.0, 67.0, 68.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    stream = io.StringIO()
    lines = progress.ProgressLines(range(4), total=4, desc="x", stream=stream, interval=0)
    for _ in lines:
        pass
    out = stream.getvalue().splitlines()
    # epoch 1 took 60 s; epochs 2-4 one second each: 1 epoch/s from epoch 2 on
    assert out[2].startswith("x: epoch 3/4") and "1.00 epochs/s" in out[2]
