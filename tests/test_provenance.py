"""Issue 19: the papers' values tied to the published runs they come from."""

import json

import numpy as np
import pytest

from minievo.experiments.paper_values import MATCH_KEYS, PAPER_VALUES, paper_value_for
from minievo.experiments.presets import PUBLISHED_VALUES, expand_preset, variant_names_of


def test_every_published_run_is_listed_once_with_its_sources():
    settings = [json.dumps(v.settings(), sort_keys=True) for v in PAPER_VALUES]
    assert len(set(settings)) == len(settings)  # one entry per published run
    for value in PAPER_VALUES:
        assert value.grid and value.sources, value.label
        assert all("paper_plots.ipynb" in s for s in value.sources), value.label
        named = {s.split(":")[0] for s in value.sources}
        # every value given has a source that says where it was read
        assert ("final_L1" in named) == (value.final_L1 is not None), value.label
        assert ("pooled" in named) == (value.pooled is not None), value.label
        assert ("capacity" in named) == (value.capacity_median is not None), value.label


@pytest.mark.parametrize(
    "preset, n", [("main_comparison", 9), ("lexi_prob", 12), ("activation_sched", 6)]
)
def test_the_presets_of_the_papers_figures_match_a_published_run_exactly(preset, n):
    variants = expand_preset(preset, trials=1)
    matches = [paper_value_for(v.to_dict()) for v in variants]
    assert all(m is not None and m[1] == [] for m in matches)
    assert len({id(m[0]) for m in matches}) == n
    assert len(PUBLISHED_VALUES[preset]) == n
    assert list(PUBLISHED_VALUES[preset]) == variant_names_of(preset, variants)


def test_a_variant_run_otherwise_is_shown_with_the_difference_named():
    by_name = dict(
        zip(
            variant_names_of("main_comparison_pop10", expand_preset("main_comparison_pop10")),
            expand_preset("main_comparison_pop10"),
        )
    )
    value, differs = paper_value_for(by_name["lipi_simple-none"].to_dict())
    assert value.final_L1 == 0.145 and differs == ["population_size 5"]
    _, differs = paper_value_for(by_name["small-lipi_simple-random-exponential-p0.5"].to_dict())
    assert differs == []
    # the other reading of the small AE: the lipi_small_4000 grid, on 4000 bits
    value, differs = paper_value_for(expand_preset("lipi_small_4000")[0].to_dict())
    assert value.final_L1 == 0.238
    assert differs == ["dataset_name binary_clustering_10_100_1000"]
    _, differs = paper_value_for(by_name["lipi_simple-variance-population-p0.1"].to_dict())
    assert differs == []  # activation_sched ran population 10 too
    # another operator, or another probability, has no published value
    config = by_name["lipi_simple-none"].replace(
        prune_method="variance", prune_schedule="fixed", prune_probability=0.9
    )
    assert paper_value_for(config.to_dict()) is None


def test_the_main_figures_values_are_the_schedule_sweeps_values():
    # best_of_lipi reuses the sweep runs: one entry holds both, so they cannot disagree
    main = PUBLISHED_VALUES["main_comparison"]
    lexi = PUBLISHED_VALUES["lexi_prob"]
    assert main["lipi_simple-pop5-random-exponential-p0.5"] == lexi["random-exponential"]
    assert main["lipi_simple-pop5-conjunctive-final_n-p0.5"] == lexi["conjunctive-final_n"]
    assert (
        main["lipi_simple-pop10-variance-population-p0.1"]
        == PUBLISHED_VALUES["activation_sched"]["population"]
    )
    assert set(MATCH_KEYS) <= set(expand_preset("lexi_prob")[0].to_dict())


def _records_and_weights(config, folder):
    from minievo.experiments.run import run

    run(config, folder)
    records = [json.loads(line) for line in (folder / "stats.jsonl").open()]
    keep = ("iteration", "mean_L1", "std_L1", "test_loss", "min_batch_loss", "n_pruned_encoder")
    with np.load(folder / "final_autoencoder.npz") as saved:
        weights = {
            k: saved[k]
            for k in saved.files
            if not k.endswith(("_rec_count", "_rec_sum", "_rec_sumsq"))
        }
    return [{k: r.get(k) for k in keep} for r in records], weights


def test_canonical_training_with_a_prune_setting_that_never_fires_is_the_unpruned_run(
    tmp_path, data_dir
):
    # prune_after fires at t >= T, and canonical training's last epoch is T - 1: it never
    # fires; the prune draw must not shift any random stream (issue 19, point 2)
    base = expand_preset(
        "cell_evaluations",
        trials=1,
        overrides={
            "cell_evaluation": "ann_canonical",
            "epochs": 3,
            "dataset_name": "binary_clustering_3_10_40",
            "data_dir": str(data_dir),
            "progress": False,
            "stats_every": 1,
            "test_loss_every": 1,
        },
    )[0]
    reference = _records_and_weights(base, tmp_path / "none")
    assert len(reference[0]) == 3 and reference[1]
    for method in ("random", "conjunctive", "variance"):
        config = base.replace(
            prune_method=method, prune_schedule="prune_after", prune_probability=1.0
        )
        records, weights = _records_and_weights(config, tmp_path / method)
        assert records == reference[0], method
        assert weights.keys() == reference[1].keys()
        assert all(np.array_equal(weights[k], reference[1][k]) for k in weights), method
    # the comparison can fail: the same operator on a schedule that fires changes the run
    fired = base.replace(prune_method="random", prune_schedule="fixed", prune_probability=1.0)
    records, weights = _records_and_weights(fired, tmp_path / "fired")
    assert records != reference[0]
