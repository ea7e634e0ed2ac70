"""Issue 19: the report for a researcher, and the published code's folders in the same report."""

import json
import math

import numpy as np
import pytest
from conftest import TINY_DATASET, tiny_sweep_args

from minievo.cli import main
from minievo.experiments.config import Config
from minievo.experiments.presets import expand_preset, variant_names_of
from minievo.experiments.published_runs import is_published_folder, read_published
from minievo.experiments.report import read_sweep, write_report
from minievo.experiments.report_labels import panel_of, reference_losses, styles, variant_labels
from minievo.experiments.report_stats import smallest_p
from minievo.experiments.stats import mann_whitney

# ---------------------------------------------------------------------------
# Statistics: what a test can show
# ---------------------------------------------------------------------------


def test_smallest_attainable_p_is_two_over_the_splits():
    assert smallest_p(2, 2) == pytest.approx(1 / 3)  # 2 / C(4, 2)
    assert smallest_p(3, 3) == pytest.approx(0.1)  # 2 / C(6, 3)
    assert smallest_p(5, 5) == pytest.approx(2 / math.comb(10, 5))
    assert smallest_p(1, 5) is None


def test_tied_small_samples_get_the_exact_p_never_below_the_smallest():
    # the normal approximation would say 0.047 for 3 against 3; exactly it is 0.1
    u, p = mann_whitney([0.9] * 3, [1.0] * 3)
    assert u == 0 and p == pytest.approx(0.1) and p >= smallest_p(3, 3) - 1e-12
    assert mann_whitney([0.5] * 4, [0.5] * 4)[1] == pytest.approx(1.0)
    _, p = mann_whitney([0.5, 0.5], [0.5, 0.6])
    assert p >= smallest_p(2, 2) - 1e-12


# ---------------------------------------------------------------------------
# Labels, panels and styles
# ---------------------------------------------------------------------------


def _labels(preset):
    configs = [c.to_dict() for c in expand_preset(preset, trials=1)]
    return configs, variant_labels(configs)


def test_main_comparison_labels_are_readable_and_distinct():
    configs, labels = _labels("main_comparison")
    assert len(set(labels)) == len(labels) == 9
    assert "canonical · no pruning" in labels
    assert "Lipi-AE (pop 5) · RANDOM-exp" in labels
    assert "Lipi-AE (pop 10) · VARIANCE-population" in labels
    assert "small AE · Lipi-AE (pop 10) · RANDOM-exp" in labels
    assert [panel_of(c) for c in configs].count("canonical training") == 4
    # a data set other than the most common one is named
    other = expand_preset("lipi_small_4000", trials=1)[0].to_dict()
    assert variant_labels([*configs, other])[-1] == (
        "small AE · Lipi-AE (pop 10, 4000 bits) · RANDOM-exp"
    )


@pytest.mark.parametrize(
    "preset", ["main_comparison", "main_comparison_pop10", "lexi_prob", "baselines"]
)
def test_no_two_variants_of_a_panel_look_alike(preset):
    configs, labels = _labels(preset)
    assert len(set(labels)) == len(labels)
    looks = [
        (panel_of(c), s["color"], str(s["linestyle"]), s["marker"])
        for c, s in zip(configs, styles(configs))
    ]
    assert len(set(looks)) == len(looks)


def test_schedules_of_plug_ins_get_line_styles_of_their_own():
    configs = [
        {"cell_evaluation": "lipi_simple", "prune_method": "mine", "prune_schedule": name}
        for name in ("plug_in_a", "plug_in_b", "plug_in_a")
    ]
    a, b, again = (str(s["linestyle"]) for s in styles(configs))
    assert a != b and a == again


def test_probability_is_named_only_where_it_differs():
    _, labels = _labels("prune_after")
    assert labels == [
        "Lipi-AE · CONJUNCTIVE-final_n (p=0.1)",
        "Lipi-AE · CONJUNCTIVE-final_n (p=0.9)",
    ]


def test_reference_losses_from_the_data(data_dir):
    config = Config(dataset_name="binary_clustering_10_100_1000", data_dir=str(data_dir))
    assert reference_losses(config.to_dict()) is None  # nothing generated for a report
    from minievo.experiments.run import load_dataset_for

    data = load_dataset_for(config)
    refs = reference_losses(config.to_dict())
    # the papers' data: predicting every bit by its majority gives about 0.27,
    # every row by its cluster centre the noise probability 0.05
    assert 0.25 < refs["majority_bit"] < 0.29
    assert refs["noise_floor"] == pytest.approx(0.05, abs=0.003)
    clean = Config(dataset_name=TINY_DATASET, data_dir=str(data_dir), noise_probability=0.0)
    load_dataset_for(clean)
    assert reference_losses(clean.to_dict())["noise_floor"] == 0.0
    assert data.train.shape == (1000, 1000)


# ---------------------------------------------------------------------------
# The report on fixtures: tests, words, strips, papers' markers, provenance
# ---------------------------------------------------------------------------

N_ENC, N_DEC = 30340, 31330  # the default environment on 1000 bits


def _write_job(root, name, config, cells, epochs=400):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    records = [
        {"iteration": epochs - 1, "node_idx": cell, **values} for cell, values in enumerate(cells)
    ]
    (folder / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "summary.json").write_text(
        json.dumps({"n_params_encoder": N_ENC, "n_params_decoder": N_DEC, "wall_time_s": 1.0})
    )


def _study(root, n_none, n_random, spread=0.0):
    """main_comparison's Lipi-AE unpruned and RANDOM-exp variants, 400 epochs, made-up numbers:
    every RANDOM trial below every unpruned one."""
    variants = expand_preset("main_comparison", trials=1)
    names = variant_names_of("main_comparison", variants)
    by_name = dict(zip(names, variants))
    jobs = {}
    for name, n, l1, pruned in (
        ("lipi_simple-pop5-none", n_none, 0.15, 0),
        ("lipi_simple-pop5-random-exponential-p0.5", n_random, 0.10, 6167),
    ):
        for seed in range(1, n + 1):
            job = f"{name}/seed-{seed:02d}"
            jobs[job] = by_name[name].replace(seed=seed).to_dict()
            cell = {
                "mean_L1": l1 + spread * seed,
                "n_pruned_encoder": pruned,
                "n_pruned_decoder": 0,
            }
            _write_job(root, job, jobs[job], [cell] * 5)
    (root / "jobs.json").write_text(json.dumps(jobs))
    return root


def _table_rows(text, heading):
    section = text.split(heading, 1)[1].split("\n## ", 1)[0].split("\n**", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]


def test_effect_words_only_beside_a_significant_test_and_capacity_is_tested(tmp_path):
    few = write_report(_study(tmp_path / "few", 2, 2, spread=0.001)).path.read_text()
    rows = _table_rows(few, "**final L1**")
    assert len(rows) == 2  # header and the one test
    cells = [c.strip() for c in rows[1].split("|")]
    # p = min p = 1/3: as separated as 2 against 2 can be, and no effect-size word
    assert cells[7] == cells[8] == "0.3333" and cells[-2] == "0.000"
    assert "cannot reach Holm-adjusted p ≤ 0.05" in few
    many = write_report(_study(tmp_path / "many", 5, 5, spread=0.001)).path.read_text()
    cells = [c.strip() for c in _table_rows(many, "**final L1**")[1].split("|")]
    assert cells[9].endswith("*") and cells[-2] == "0.000 (large)"
    assert cells[2] == "Lipi-AE · RANDOM-exp" and cells[3] == "Lipi-AE · no pruning"
    capacity = (tmp_path / "many" / "report" / "tests_capacity.csv").read_text().splitlines()
    assert len(capacity) == 2
    fields = capacity[1].split(",")
    assert float(fields[8]) == pytest.approx(smallest_p(5, 5))  # exact: every value tied
    assert float(fields[10]) == 0.0  # RANDOM keeps less than unpruned in every trial


def test_papers_values_beside_minievo_with_their_sources(tmp_path):
    text = write_report(_study(tmp_path / "s", 3, 3)).path.read_text()
    rows = _table_rows(text, "## Beside the papers")
    assert len(rows) == 3
    random_row = next(r for r in rows if "RANDOM-exp" in r)
    cells = [c.strip() for c in random_row.split("|")]
    assert cells[2] == "lexi_prob (population 5)"
    assert cells[4] == "0.104" and cells[5] == "0.1000" and cells[7] == "-0.004"
    assert cells[9] == "0.084 (0.059–0.144)" and cells[10] == "0.100 (0.100–0.100)"
    assert cells[11] == "0.871" and cells[12] == "0.900"
    assert "Best of Lipi vs Pruning After Training Boxplot" in text
    assert "not comparable" not in text


def _captured_figures(variants, monkeypatch):
    from minievo.experiments import report_panels

    figures = {}
    monkeypatch.setattr(
        report_panels, "_save", lambda fig, path: figures.setdefault(path.name, fig) and path
    )
    report_panels.draw_panels(variants, "unused")
    return figures


def test_strips_below_five_trials_boxes_from_five_and_the_papers_marks(tmp_path, monkeypatch):
    variants = read_sweep(_study(tmp_path / "s", 5, 3, spread=0.001))
    figures = _captured_figures(variants, monkeypatch)
    final_l1 = figures["boxplots.png"].axes[0]
    assert final_l1.get_title() == "coevolution (Lipi-AE)"  # no canonical variant: one panel
    assert len(final_l1.patches) == 1  # one box: the 5 unpruned trials
    points = [c.get_offsets() for c in final_l1.collections if len(c.get_offsets())]
    assert [len(p) for p in points] == [3]  # the 3 RANDOM trials as points
    marks = [
        line.get_ydata()[0] for line in final_l1.get_lines() if line.get_marker() == "X"
    ]  # the papers' values of both variants
    assert sorted(marks) == [0.104, 0.145]
    legend = [t.get_text() for t in figures["loss_over_epochs.png"].axes[0].get_legend().texts]
    assert legend == ["Lipi-AE · no pruning (n=5)", "Lipi-AE · RANDOM-exp (n=3)"]


def test_the_sweep_command_and_code_are_in_the_report(tmp_path, data_dir):
    out = tmp_path / "s"
    assert main(tiny_sweep_args(out, "--workers", "1")) == 0
    recorded = [json.loads(line) for line in (out / "commands.jsonl").read_text().splitlines()]
    assert len(recorded) == 1 and recorded[0]["command"].startswith("minievo sweep --preset")
    assert recorded[0]["minievo"]
    assert main(["report", str(out)]) == 0
    text = (out / "report" / "report.md").read_text()
    assert f"`{recorded[0]['command']}`" in text
    assert f"command `minievo report {out}`" in text


# ---------------------------------------------------------------------------
# Folders written by the published code
# ---------------------------------------------------------------------------

PUBLISHED_DEFAULTS = {  # experiment_configuration_defaults of gecco_25_experiments.py
    "epochs": 400,
    "learning_rate": 1e-05,
    "visualize": "final",
    "trials": 30,
    "checkpoint_interval": 10000,
    "rng_seed": 1,
    "radius": 1,
    "log_level": "debug",
    "ae_quality_measures": "L1",
    "calculate_test_loss": True,
    "output_dir": "out_lexi_prob_gecco_25",
    "batch_size": 5,
    "lexi_threshold": 0.1,
}
LEXI_PROB_VARIANT = {  # one variant of the published lexi_prob grid
    "cell_evaluation": "lipi_simple",
    "population_size": 5,
    "epochs": 400,
    "environment": "AutoencoderBinaryClustering",
    "dataset_name": "binary_clustering_10_100_1000",
    "prune_method": "random",
    "prune_schedule": "exponential",
    "prune_probability": 0.5,
    "prune_amount": 0.1,
}


def _published_trial(root, trial, variant, cells_l1, pruned, stamp):
    """A trial folder as the published runner writes it (params.json, stats.jsonl)."""
    variant_name = "_".join(f"{k[:2]}_{v}" for k, v in variant.items())
    folder = root / f"trial_{trial}_{variant_name}_{stamp}"
    folder.mkdir(parents=True)
    params = {**PUBLISHED_DEFAULTS, **variant, "timestamp": "2025-01-20_09:59:59.000001"}
    params["rng_seed"] = PUBLISHED_DEFAULTS["rng_seed"] + trial
    params["output_dir"] = str(folder)
    (folder / "params.json").write_text(json.dumps(params, indent=1))
    records = []
    for iteration in (0, 1, 399):
        for cell, l1 in enumerate(cells_l1):
            record = {
                "iteration": iteration,
                "learning_rate": 1e-05,
                "node_idx": cell,
                "min_selection_loss": 0.3,
                "fe_cnt": iteration * len(cells_l1) + cell,
                "min_replacement_loss": 0.3,
                "timestamp": 1737367200.0 + iteration + cell,
                "n_pruned_encoder": pruned if iteration == 399 else 0,
                "n_pruned_decoder": 0,
                "test_loss": 0.9,
                "id": "2025-01-20_09:59:59.000001",
            }
            if iteration in (0, 399):  # loss_report_interval and the last epoch
                record.update({"mean_L1": l1 if iteration == 399 else 0.5, "std_L1": 0.01})
            records.append(record)
    (folder / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_published_folders_read_as_a_sweep(tmp_path):
    root = tmp_path / "out_lexi_prob_gecco_25"
    root.mkdir()
    unpruned = {**LEXI_PROB_VARIANT, "prune_method": "None"}
    conjunctive = {**LEXI_PROB_VARIANT, "prune_method": "lexicase", "prune_schedule": "final_n"}
    stamp = "2025-01-20_10:00:0{}.123456"
    _published_trial(
        root, 0, LEXI_PROB_VARIANT, [0.10, 0.12, 0.08, 0.10, 0.10], 6167, stamp.format(1)
    )
    _published_trial(root, 1, LEXI_PROB_VARIANT, [0.09] * 5, 3083, stamp.format(2))
    _published_trial(root, 0, unpruned, [0.15] * 5, 0, stamp.format(3))
    _published_trial(root, 1, unpruned, [0.14] * 5, 0, stamp.format(4))
    running = _published_trial(root, 0, conjunctive, [0.15] * 5, 0, stamp.format(5))
    (running / "stats.jsonl").unlink()  # the published code writes it at the end
    (root / "test_experiment_analysis_GECCO_2025").mkdir()  # the notebook's output: skipped
    assert is_published_folder(root) and not is_published_folder(tmp_path)

    variants = {v.name.split("_pr_")[1]: v for v in read_published(root)}
    random, none, lexi = variants["random"], variants["None"], variants["lexicase"]
    assert random.config["prune_method"] == "random" and random.config["population_size"] == 5
    assert none.config["prune_method"] is None and lexi.config["prune_method"] == "conjunctive"
    assert [t.seed for t in random.trials] == [1, 2]
    assert random.values("final_L1") == pytest.approx([0.10, 0.09])
    assert random.values("capacity_published") == pytest.approx([0.9, 1 - 3083 / 61670])
    assert random.values("wall_time_s") == pytest.approx([403.0, 403.0])
    assert random.values("test_L1") == [None, None]
    assert lexi.trials == [] and lexi.jobs[0][2] == "missing stats.jsonl (not finished)"

    report = write_report(root)
    text = report.path.read_text()
    assert report.n_done == 4 and report.n_jobs == 5
    rows = _table_rows(text, "## Beside the papers")
    random_row = next(r for r in rows if "RANDOM-exp" in r)
    assert "| 0.104 | 0.0950 |" in random_row
    assert "published code" in text  # no commands.jsonl: the report says why
    assert main(["report", str(root)]) == 0


def test_a_damaged_published_params_file_is_named(tmp_path):
    root = tmp_path / "runs"
    folder = _published_trial(root, 0, LEXI_PROB_VARIANT, [0.1] * 5, 0, "2025-01-20_10:00:00.1")
    (folder / "params.json").write_text(json.dumps({**LEXI_PROB_VARIANT, "sgd_optimizer": True}))
    with pytest.raises(Exception, match="params.json"):
        read_published(root)
    assert np.isfinite(0.0)


# ---------------------------------------------------------------------------
# A run's own figures: the pruned count and the test loss summarised over cells
# ---------------------------------------------------------------------------


def test_run_figures_draw_the_mean_pruned_count_and_the_median_test_loss(tmp_path, monkeypatch):
    from minievo.experiments import coevolution_plots

    records = [
        {
            "iteration": t,
            "node_idx": c,
            "min_selection_loss": 0.3,
            "min_replacement_loss": 0.3,
            "learning_rate": 1e-5,
            "n_pruned_encoder": v,
            "n_pruned_decoder": 0,
            "test_loss": 0.1 * (c + 1) + 0.01 * t,
        }
        for t, values in enumerate(([0, 3000, 3000], [0, 0, 3000], [10, 20, 30]))
        for c, v in enumerate(values)
    ]
    epochs, mean = coevolution_plots.mean_over_cells(records, "n_pruned_encoder")
    np.testing.assert_allclose(mean, [2000, 1000, 20])  # the median would jump 3000, 0, 20
    figures = {}
    monkeypatch.setattr(
        coevolution_plots, "_save", lambda fig, path: figures.setdefault(path.name, fig) and path
    )
    coevolution_plots.plot_coevolution(records, tmp_path)
    encoder = figures["coevolution_pruned.png"].axes[0]
    lines = {line.get_label(): line.get_ydata() for line in encoder.get_lines()}
    mean_line = next(v for k, v in lines.items() if k.endswith(": mean"))
    np.testing.assert_allclose(mean_line, [2000, 1000, 20])
    test = figures["coevolution_test_loss.png"].axes[0]
    median = next(
        line.get_ydata() for line in test.get_lines() if line.get_label() == "median over cells"
    )
    np.testing.assert_allclose(median, [0.2, 0.21, 0.22])
