"""Study statistics on fixtures with known answers; the report recomputed by hand."""

import json
import math

import pytest

from minievo.cli import main
from minievo.experiments.config import Config
from minievo.experiments.report import read_sweep, write_report
from minievo.experiments.stats import a12, compare, holm, mann_whitney, summarize

# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


def test_mann_whitney_separated_samples_exact_p():
    # every x below every y: U_x = 0; exact two-sided p = 2 / C(6, 3) = 0.1
    u, p = mann_whitney([1, 2, 3], [4, 5, 6])
    assert u == 0 and p == pytest.approx(0.1)
    u, p = mann_whitney([4, 5, 6], [1, 2, 3])
    assert u == 9 and p == pytest.approx(0.1)


def test_mann_whitney_counts_ties_as_half():
    u, p = mann_whitney([1, 2, 2], [2, 3, 4])  # 0 + 0.5 + 0.5
    assert u == 1.0 and 0 < p <= 1


def test_holm_on_known_answers():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.01]) == pytest.approx([0.5, 0.02])
    assert holm([0.02, 0.021, 0.9]) == pytest.approx([0.06, 0.06, 0.9])  # monotone
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


def test_a12_on_known_answers():
    assert a12([1, 2, 3], [4, 5, 6]) == 0.0
    assert a12([4, 5, 6], [1, 2, 3]) == 1.0
    assert a12([1, 2], [1, 2]) == 0.5
    assert a12([2, 2, 3], [1, 2]) == pytest.approx(5 / 6)
    with pytest.raises(ValueError):
        a12([], [1])


def test_summarize_and_compare():
    s = summarize([0.3, 0.2, 0.5])
    assert s["n"] == 3 and s["median"] == pytest.approx(0.3)
    assert s["std"] == pytest.approx(math.sqrt(0.07 / 3))  # sample std of .2 .3 .5
    assert s["iqr"] == pytest.approx(0.4 - 0.25)
    assert summarize([])["n"] == 0 and summarize([1.0])["std"] is None
    tests = compare(
        [("k", "a", "b"), ("k", "a", "c"), ("k", "a", "short")],
        {"a": [1, 2, 3], "b": [4, 5, 6], "c": [4, 5, 6], "short": [1]},
    )
    assert [t.p_holm for t in tests[:2]] == pytest.approx([0.2, 0.2])
    assert tests[2].p is None and tests[2].p_holm is None and tests[2].n_b == 1


# ---------------------------------------------------------------------------
# The report on a fixture folder (no training)
# ---------------------------------------------------------------------------

N_ENC, N_DEC = 100, 50


def _write_job(root, name, config, cells):
    """A finished job: ``cells`` is one dict per cell of the last epoch's record values."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    records = []
    for cell, _last in enumerate(cells):
        records.append(
            {
                "iteration": 0,
                "node_idx": cell,
                "mean_L1": 0.5,
                "n_pruned_encoder": 0,
                "n_pruned_decoder": 0,
                "n_active_encoder": N_ENC,
                "n_active_decoder": N_DEC,
            }
        )
    for cell, last in enumerate(cells):
        records.append({"iteration": 1, "node_idx": cell, **last})
    (folder / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "summary.json").write_text(
        json.dumps(
            {
                "test_loss": 0.01 * config["seed"],
                "wall_time_s": 2.0 * config["seed"],
                "n_params_encoder": N_ENC,
                "n_params_decoder": N_DEC,
            }
        )
    )


@pytest.fixture
def sweep_folder(tmp_path):
    root = tmp_path / "study"
    base = Config(cell_evaluation="lipi_simple", population_size=2, epochs=2)
    pruned = base.replace(
        prune_method="random", prune_schedule="exponential", prune_probability=0.5
    )
    jobs, full = (
        {},
        {
            "n_active_encoder": N_ENC,
            "n_active_decoder": N_DEC,
            "n_pruned_encoder": 0,
            "n_pruned_decoder": 0,
        },
    )
    for seed, (a, b) in zip((1, 2, 3), ((0.2, 0.4), (0.1, 0.3), (0.5, 0.5))):
        name = f"none/seed-0{seed}"
        jobs[name] = base.replace(seed=seed).to_dict()
        _write_job(root, name, jobs[name], [{"mean_L1": a, **full}, {"mean_L1": b, **full}])
    cells = {
        1: {"mean_L1": 0.1, "n_active_encoder": 80, "n_active_decoder": 40},
        2: {"mean_L1": 0.15, "n_active_encoder": 70, "n_active_decoder": 40},
        3: {"mean_L1": 0.05, "n_zero_encoder": 30, "n_zero_decoder": 10},
    }  # fallback
    for seed, last in cells.items():
        name = f"random/seed-0{seed}"
        jobs[name] = pruned.replace(seed=seed).to_dict()
        last = {**last, "n_pruned_encoder": 10, "n_pruned_decoder": 5}
        _write_job(root, name, jobs[name], [last, last])
    jobs["random/seed-04"] = pruned.replace(seed=4).to_dict()  # failed
    (root / "random/seed-04").mkdir()
    (root / "random/seed-04/failed.json").write_text(json.dumps({"error": "boom"}))
    jobs["random/seed-05"] = pruned.replace(seed=5).to_dict()  # running
    (root / "random/seed-05").mkdir()
    (root / "random/seed-05/config.json").write_text("{}")
    (root / "random/seed-05/stats.jsonl").write_text("")
    (root / "jobs.json").write_text(json.dumps(jobs))
    (root / "variants.json").write_text(json.dumps([{"name": "none"}, {"name": "random"}]))
    return root


def test_report_numbers_recomputed_by_hand(sweep_folder):
    variants = {v.name: v for v in read_sweep(sweep_folder)}
    none, random = variants["none"], variants["random"]
    assert none.values("final_L1") == pytest.approx([0.3, 0.2, 0.5])
    assert random.values("final_L1") == pytest.approx([0.1, 0.15, 0.05])
    assert random.values("capacity") == pytest.approx([120 / 150, 110 / 150, 110 / 150])
    assert random.values("capacity_published") == pytest.approx([0.9, 0.9, 0.9])
    assert random.values("active_encoder") == [80, 70, 70]
    assert random.values("test_L1") == pytest.approx([0.01, 0.02, 0.03])
    assert [s for _, _, s, _ in random.jobs] == ["done"] * 3 + ["failed", "running or interrupted"]

    report = write_report(sweep_folder)
    text = report.path.read_text()
    assert report.n_done == 6 and report.n_jobs == 8
    assert "random/seed-04" in text and "boom" in text and "random/seed-05" in text
    # variant table: final L1 median / mean / std / IQR of the baseline
    row = next(line for line in text.splitlines() if line.startswith("| `none`"))
    assert "| 3/3 | 0.3000 | 0.3333 | 0.1528 | 0.1500 |" in row
    # the test: every random trial below every baseline trial, n = 3 / 3
    tests = (report.path.parent / "tests.csv").read_text().splitlines()
    assert len(tests) == 2
    fields = tests[1].split(",")
    assert fields[:5] == ["vs baseline", "random", "none", "3", "3"]
    assert float(fields[7]) == 0 and float(fields[8]) == pytest.approx(0.1)
    assert float(fields[9]) == pytest.approx(0.1) and float(fields[10]) == 0
    pooled = (report.path.parent / "pooled_cells.csv").read_text().splitlines()
    assert len(pooled) == 1 + 12
    assert all(
        (report.path.parent / f).stat().st_size > 2000
        for f in (
            "loss_over_epochs.png",
            "boxplots.png",
            "active_parameters.png",
            "loss_vs_parameters.png",
        )
    )


def test_report_is_the_same_every_time(sweep_folder, tmp_path):
    write_report(sweep_folder, tmp_path / "a")
    write_report(sweep_folder, tmp_path / "b")
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_report_command(sweep_folder, tmp_path, capsys):
    assert main(["report", str(sweep_folder)]) == 0
    assert "6/8 trials finished" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "not a sweep folder" in capsys.readouterr().err


def test_report_has_the_structural_capacity_and_the_front(data_dir, tmp_path, capsys):
    import csv

    from conftest import tiny_sweep_args

    from minievo.experiments.front import hypervolume_2d
    from minievo.network import Autoencoder
    from minievo.pruning.compact import masked_chain, structural_capacity

    out = tmp_path / "sweep"
    pruning = ("prune_schedule=fixed", "prune_probability=1", "prune_amount=0.5")
    assert main(tiny_sweep_args(out, *(a for p in pruning for a in ("--set", p)))) == 0
    assert main(["report", str(out)]) == 0
    report = out / "report"
    text = (report / "report.md").read_text()
    assert "## What pruning frees" in text and "## The loss–size front" in text
    assert (report / "loss_size_front.png").stat().st_size > 2000
    trials = list(csv.DictReader(open(report / "trials.csv")))
    assert len(trials) == 3
    for row in trials:  # canonical: the last record is the saved network's
        pair = Autoencoder.load(out / row["job"] / "final_autoencoder.npz")
        cap = structural_capacity(pair)
        assert float(row["compact_params"]) == cap["compact_params"]
        assert float(row["live_units"]) == sum(cap["live_units"])
        assert float(row["dense_params"]) == masked_chain(pair).n_params
        assert float(row["capacity_structural"]) == pytest.approx(
            cap["compact_params"] / masked_chain(pair).n_params, rel=1e-12
        )
    front = list(csv.DictReader(open(report / "front.csv")))
    for hv in csv.DictReader(open(report / "hypervolume.csv")):
        mine = [r for r in front if r["variant"] == hv["variant"]]
        ref = float(hv["reference_compact_params"])
        expected = hypervolume_2d(
            [(float(r["compact_params"]), float(r["final_L1"])) for r in mine], (ref, 0.27)
        ) / (ref * 0.27)
        assert float(hv["hv_compact_params"]) == pytest.approx(expected, rel=1e-12)
    assert any(r["front_compact_params"] == "True" for r in front)
    assert any(float(r["compact_params"]) < float(r["dense_params"]) for r in trials)
