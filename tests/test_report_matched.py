"""The report's matched-size section (minievo/experiments/report_matched.py) on hand-made variants."""

import pytest

from minievo.experiments.report import Trial, Variant
from minievo.experiments.report_matched import matched_pairs, section_matched, target_of
from minievo.experiments.stats import mann_whitney

CANONICAL = {"cell_evaluation": "ann_canonical", "environment": "default", "population_size": 1}
LIPI = {"cell_evaluation": "lipi_simple", "environment": "default", "population_size": 5}


def _variant(name, training, losses, capacities, **pruning):
    trials = [
        Trial(f"{name}/seed-{s:02d}", s, {"final_L1": loss, "capacity": c}, [loss], {})
        for s, (loss, c) in enumerate(zip(losses, capacities), start=1)
    ]
    config = {**training, "dataset_name": "d", "epochs": 400, **pruning}
    return Variant(name, config, [(t.job, t.seed, "done", None) for t in trials], trials)


@pytest.fixture
def variants():
    return [
        # the papers' operators: sparsity 0.25 and 0.05 (canonical), 0.20 (Lipi-AE)
        _variant("can-conj", CANONICAL, [0.27] * 5, [0.75] * 5, prune_method="conjunctive"),
        _variant("can-rand", CANONICAL, [0.50] * 5, [0.95] * 5, prune_method="random"),
        _variant("lipi-conj", LIPI, [0.15] * 5, [0.80] * 5, prune_method="conjunctive"),
        _variant("can-none", CANONICAL, [0.26] * 5, [1.0] * 5, prune_method=None),
        # baselines: all five canonical trials below the partner's
        _variant(
            "can-mag",
            CANONICAL,
            [0.20, 0.21, 0.22, 0.23, 0.24],
            [0.76] * 5,
            prune_method="magnitude",
            target_sparsity=0.24,
        ),
        _variant(
            "lipi-mag",
            LIPI,
            [0.14, 0.16, 0.15, 0.17, 0.13],
            [0.81] * 5,
            prune_method="magnitude",
            target_sparsity=0.19,
        ),
        # no partner: no variant of this training is pruned by a papers' operator
        _variant(
            "pop10-mag",
            {**LIPI, "population_size": 10},
            [0.1] * 2,
            [0.8] * 2,
            prune_method="magnitude",
            target_sparsity=0.2,
        ),
    ]


def test_each_baseline_is_matched_to_the_closest_papers_operator_of_its_training(variants):
    pairs = [(b.name, p.name) for b, p in matched_pairs(variants)]
    # 0.24 is closer to conj's 0.25 than to rand's 0.05; the unpruned variant is no partner
    assert pairs == [("can-mag", "can-conj"), ("lipi-mag", "lipi-conj")]


def test_section_tests_the_matched_pairs(variants):
    md = "\n".join(section_matched(variants, {"can-mag": "canonical · magnitude"}))
    rows = [line for line in md.splitlines() if line.startswith("| canonical · magnitude")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[1] == "can-conj" and cells[2] == "0.240"
    assert cells[3] == "0.240 / 0.250" and cells[4] == "5 / 5"
    assert cells[5] == "0.2200 / 0.2700"
    p = mann_whitney([0.20, 0.21, 0.22, 0.23, 0.24], [0.27] * 5)[1]
    assert cells[6] == f"{p:.4f}"
    assert "2 test(s)" in md


def test_no_section_without_a_sparsity_baseline(variants):
    assert section_matched([v for v in variants if "mag" not in v.name], {}) == []


def test_a_sparsity_schedule_without_a_written_target_has_the_default_one():
    # config.json leaves target_sparsity out when it is the default (0.5)
    gradual = {"prune_method": "magnitude", "prune_schedule": "gradual", "mask_mode": "persistent"}
    assert target_of(gradual) == 0.5
    assert target_of({**gradual, "target_sparsity": 0.24}) == 0.24
    assert target_of({"prune_method": "random", "prune_schedule": "exponential"}) is None
    assert target_of({"prune_method": "mine", "prune_schedule": "not_registered_here"}) is None
    assert target_of({"prune_method": None, "prune_schedule": "gradual"}) is None
