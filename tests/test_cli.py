"""The ``minievo`` command end to end on a tiny dataset."""

import json
import subprocess
import sys

import pytest
from conftest import TINY_DATASET, tiny_pruned_canonical_args

from minievo.cli import DEFAULT_JOB, main
from minievo.experiments.config import Config


def _run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_with_flags_writes_config_and_stats(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _run(
        [
            "run",
            "--cell-evaluation",
            "ann_canonical",
            "--epochs",
            "3",
            "--dataset",
            TINY_DATASET,
            "--batch-size",
            "4",
            "--seed",
            "3",
            "--out",
            str(out),
            "--no-progress",
            "--set",
            "learning_rate=0.001",
        ],
        capsys,
    )
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == 3 and config["seed"] == 3 and config["learning_rate"] == 1e-3
    lines = (out / "stats.jsonl").read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in lines] == [0, 1, 2]
    assert str(out / "stats.jsonl") in stdout and "loss.png" in stdout


def test_run_from_published_params_json(data_dir, tmp_path, capsys):
    params = {
        "cell_evaluation": "ann_canonical",
        "environment": "AutoencoderBinaryClustering",
        "dataset_name": TINY_DATASET,
        "epochs": 2,
        "batch_size": 4,
        "rng_seed": 5,
        "prune_method": "lexicase",
        "prune_schedule": "fixed",
        "prune_probability": 1.0,
        "visualize": "False",
    }
    path = tmp_path / "params.json"
    path.write_text(json.dumps(params))
    code, _, err = _run(
        ["run", "--config", str(path), "--out", str(tmp_path / "r"), "--no-progress"], capsys
    )
    assert code == 0
    assert "notice" in err and "visualize" in err
    saved = Config.from_file(tmp_path / "r" / "config.json")
    assert saved.prune_method == "conjunctive" and saved.seed == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--set", "epohcs=3"], "epochs"),
        (["run", "--prune-method", "lexicasee"], "lexicase"),
        (["run", "--epochs", "0"], "epochs"),
        (["run", "--set", "nokeyvalue"], "KEY=VALUE"),
        (["run", "--config", "missing.json"], "missing.json"),
        (["inspect", "missing.npz"], "missing.npz"),
    ],
)
def test_bad_input_is_one_clear_line(args, message, capsys, data_dir):
    code, _, err = _run(args, capsys)
    assert code == 2
    assert err.startswith("minievo: error:") and message in err
    assert "Traceback" not in err


def test_data_command_generates_then_reuses_the_cache(tmp_path, capsys):
    cache = tmp_path / "cache"
    args = ["data", "--name", TINY_DATASET, "--seed", "2", "--cache-dir", str(cache)]
    assert _run(args, capsys)[0] == 0
    files = list(cache.glob("*.npz"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    assert _run(args, capsys)[0] == 0
    assert files[0].stat().st_mtime_ns == mtime


def test_inspect_prints_a_sparsity_report(data_dir, tmp_path, capsys):
    out = tmp_path / "r"
    main(tiny_pruned_canonical_args(out))
    capsys.readouterr()
    code, stdout, _ = _run(["inspect", str(out / "final_autoencoder.npz")], capsys)
    assert code == 0 and "encoder" in stdout


def test_default_job_is_the_papers_main_setting():
    config = Config.from_dict(DEFAULT_JOB)
    assert (config.cell_evaluation, config.population_size, config.radius, config.batch_size) == (
        "lipi_simple",
        10,
        1,
        5,
    )
    assert (config.prune_method, config.prune_schedule) == ("random", "exponential")
    assert config.dataset_name == "binary_clustering_10_100_1000"
    assert (config.epochs, config.learning_rate) == (400, 1e-5)
    assert (config.mask_mode, config.optimizer_state) == ("regrow", "fresh")  # as published


def test_python_dash_m_minievo_runs(data_dir, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "minievo",
            "run",
            "--cell-evaluation",
            "ann_canonical",
            "--epochs",
            "1",
            "--dataset",
            TINY_DATASET,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "final_autoencoder.npz").exists()
