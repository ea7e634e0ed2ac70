"""Tests of the run configuration and the papers' presets (fast, no training)."""

import json
import math

import pytest

from minievo.experiments.config import (
    BACKENDS,
    CELL_EVALUATIONS,
    ENVIRONMENTS,
    PRUNE_SCHEDULES,
    PUBLISHED_ENVIRONMENT_NAMES,
    WRITTEN_WHEN_SET,
    Config,
    ConfigError,
)
from minievo.experiments.presets import (
    PRESETS,
    SIX_SCHEDULES,
    expand_preset,
    list_presets,
)

# A trial's params.json as the published gecco_25_experiments.py writes it.
PUBLISHED_PARAMS = {
    "epochs": 400,
    "learning_rate": 1e-05,
    "visualize": "final",
    "trials": 30,
    "checkpoint_interval": 10000,
    "rng_seed": 7,
    "radius": 1,
    "log_level": "debug",
    "ae_quality_measures": "L1",
    "calculate_test_loss": "True",
    "output_dir": "out_lexi_prob_gecco_25/trial_6_ce_lipi_simple",
    "batch_size": 5,
    "lexi_threshold": 0.1,
    "timestamp": "2025-01-01_00:00:00.000000",
    "cell_evaluation": "lipi_simple",
    "population_size": 5,
    "environment": "AutoencoderBinaryClustering_Small",
    "dataset_name": "binary_clustering_10_100_1000",
    "prune_method": "lexicase",
    "prune_schedule": "exponential",
    "prune_probability": 0.5,
    "prune_amount": 0.1,
    "no_shuffle_data": "False",
    "store_all_nodes": False,
    "keep_pruned_zero": False,
}


# -- defaults and aliases ----------------------------------------------------


def test_defaults_are_valid_and_documented_values():
    config = Config()
    assert config.cell_evaluation == "lipi_simple"
    assert config.environment == "default"
    assert config.population_size == 10 and config.radius == 1
    assert config.epochs == 400 and config.batch_size == 5 and config.seed == 1
    assert config.learning_rate == 1e-5
    assert config.optimizer_state == "fresh"
    assert config.adam_betas == (0.5, 0.999) and config.adam_eps == 1e-8
    assert (config.lr_mutation_std, config.lr_min, config.lr_max) == (1e-5, 1e-9, 10.0)
    assert config.prune_method is None and not config.pruning_enabled
    assert config.mask_mode == "persistent" and config.backend == "numba"
    assert config.dataset_shape == (10, 100, 1000)
    assert config.notices == ()
    assert config.trial_seeds == (1,)
    assert config.effective_data_seed == 1
    assert config.neighbourhood_size == 3


@pytest.mark.parametrize(
    "given, expected",
    [
        ("canonical", "ann_canonical"),
        ("ann_canonical", "ann_canonical"),
        ("epoch_node", "epoch-node"),
        ("EPOCH-NODE", "epoch-node"),
    ]
    + [(c, c) for c in CELL_EVALUATIONS],
)
def test_cell_evaluation_aliases(given, expected):
    assert Config(cell_evaluation=given).cell_evaluation == expected


@pytest.mark.parametrize("canonical, published", sorted(PUBLISHED_ENVIRONMENT_NAMES.items()))
def test_environment_published_class_names(canonical, published):
    assert Config.from_dict({"environment": published}).environment == canonical
    assert Config(environment=canonical).environment == canonical


@pytest.mark.parametrize(
    "given, expected",
    [
        (None, None),
        ("None", None),
        ("none", None),
        ("random", "random"),
        ("activation", "variance"),
        ("variance", "variance"),
        ("lexicase", "conjunctive"),
        ("conjunctive", "conjunctive"),
    ],
)
def test_prune_method_aliases(given, expected):
    config = Config(prune_method=given)
    assert config.prune_method == expected
    assert config.pruning_enabled == (expected is not None)


def test_canonical_forces_population_one_with_notice():
    assert Config(cell_evaluation="canonical").population_size == 1
    assert Config(cell_evaluation="canonical").notices == ()
    config = Config.from_dict({"cell_evaluation": "ann_canonical", "population_size": 10})
    assert config.population_size == 1 and config.is_canonical
    assert any("population_size=10" in n for n in config.notices)
    assert config.neighbourhood_size == 1


def test_canonical_optimizer_is_persistent():
    assert Config(cell_evaluation="canonical").optimizer_state == "persistent"
    config = Config(cell_evaluation="canonical", optimizer_state="fresh")
    assert config.optimizer_state == "persistent"
    assert any("optimizer_state" in n for n in config.notices)
    assert Config(optimizer_state="persistent").optimizer_state == "persistent"


# -- published dictionaries ----------------------------------------------------


def test_published_params_load():
    config = Config.from_dict(PUBLISHED_PARAMS)
    assert config.seed == 7 and config.trials == 30 and config.trial_seeds[-1] == 36
    assert config.environment == "small"
    assert config.prune_method == "conjunctive" and config.prune_schedule == "exponential"
    assert config.calculate_test_loss is True
    assert config.shuffle_data is True
    assert config.mask_mode == "regrow"
    assert config.out_dir == "out_lexi_prob_gecco_25/trial_6_ce_lipi_simple"
    assert config.population_size == 5


def test_published_round_trip():
    config = Config.from_dict(PUBLISHED_PARAMS)
    assert Config.from_dict(config.to_published_dict()) == config


@pytest.mark.parametrize(
    "key", ["visualize", "log_level", "checkpoint_interval", "timestamp", "ae_quality_measures"]
)
def test_not_applicable_key_gives_notice(key):
    config = Config.from_dict({key: PUBLISHED_PARAMS[key]})
    # a published-only key makes the configuration one in the published format
    assert config == Config(semantics="published")
    assert any(key in notice for notice in config.notices)
    assert key not in config.to_dict()


@pytest.mark.parametrize(
    "key, value",
    [
        ("sgd_optimizer", True),
        ("data_subsample", 0.5),
        ("identical_initial_ann", "True"),
        ("ann_path", "checkpoints/nIDX_ae.pt"),
        ("solution_concept", "worst_case"),
    ],
)
def test_not_applicable_key_that_changes_the_algorithm_is_refused(key, value):
    with pytest.raises(ConfigError, match=key):
        Config.from_dict({key: value})


def test_harmless_values_of_not_applicable_keys_are_ignored():
    config = Config.from_dict(
        {
            "sgd_optimizer": False,
            "data_subsample": 0.0,
            "identical_initial_ann": False,
            "ann_path": "",
        }
    )
    # 4 ignored keys, and the published semantics their presence implies
    assert config == Config(semantics="published") and len(config.notices) == 6


def test_no_shuffle_data_is_negated():
    assert Config.from_dict({"no_shuffle_data": True}).shuffle_data is False
    assert Config.from_dict({"no_shuffle_data": "False"}).shuffle_data is True


def test_keep_pruned_zero_maps_to_mask_mode():
    assert Config.from_dict({"keep_pruned_zero": True}).mask_mode == "persistent"
    assert Config.from_dict({"keep_pruned_zero": False}).mask_mode == "regrow"


def test_conflicting_published_and_canonical_keys():
    assert Config.from_dict({"seed": 3, "rng_seed": 3}).seed == 3
    with pytest.raises(ConfigError, match="conflicts"):
        Config.from_dict({"seed": 3, "rng_seed": 4})
    with pytest.raises(ConfigError, match="conflicts"):
        Config.from_dict({"shuffle_data": True, "no_shuffle_data": True})


# -- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, suggestion",
    [
        ("epoch", "epochs"),
        ("learningrate", "learning_rate"),
        ("prune_shedule", "prune_schedule"),
        ("rng_sed", "rng_seed"),
    ],
)
def test_misspelled_key_suggests(key, suggestion):
    with pytest.raises(ConfigError) as info:
        Config.from_dict({key: 1})
    assert repr(key) in str(info.value) and repr(suggestion) in str(info.value)


@pytest.mark.parametrize(
    "changes, words",
    [
        # unknown choice: key, value, allowed values, closest choice
        (
            {"prune_schedule": "exponentail"},
            ["prune_schedule", "exponentail", "final_n", "'exponential'"],
        ),
        (
            {"cell_evaluation": "lipi_simpel"},
            ["cell_evaluation", "lipi_simpel", "all_vs_all", "'lipi_simple'"],
        ),
        ({"environment": "AutoencoderBinaryClustering_Tiny"}, ["environment", "small", "large"]),
        ({"backend": "cpu"}, ["backend", "numba", "numpy"]),
        ({"prune_method": "roulette"}, ["prune_method", "roulette", "conjunctive"]),
        ({"mask_mode": 3}, ["mask_mode", "persistent", "regrow"]),
        # wrong type
        ({"epochs": 5.5}, ["epochs", "5.5", "integer"]),
        ({"epochs": "400"}, ["epochs", "'400'", "integer"]),
        ({"batch_size": True}, ["batch_size", "True", "integer"]),
        ({"shuffle_data": 1}, ["shuffle_data", "1", "true or false"]),
        ({"shuffle_data": "yes"}, ["shuffle_data", "'yes'", "true or false"]),
        ({"learning_rate": "fast"}, ["learning_rate", "'fast'", "number"]),
        # out of range
        ({"prune_probability": 1.5}, ["prune_probability", "1.5", "[0, 1]"]),
        ({"prune_amount": -0.1}, ["prune_amount", "-0.1", "[0, 1]"]),
        ({"lexi_threshold": 2}, ["lexi_threshold", "2", "[0, 1]"]),
        ({"noise_probability": math.nan}, ["noise_probability", "nan", "[0, 1]"]),
        ({"learning_rate": 0.0}, ["learning_rate", "0.0", "(0, inf)"]),
        ({"epochs": 0}, ["epochs", "0", ">= 1"]),
        ({"population_size": 0}, ["population_size", "0", ">= 1"]),
        ({"seed": -1}, ["seed", "-1", ">= 0"]),
        ({"adam_betas": [0.5, 1.0]}, ["adam_betas", "1.0", "[0, 1)"]),
        ({"adam_betas": [0.5]}, ["adam_betas", "two numbers"]),
        ({"lr_min": 1.0, "lr_max": 0.1}, ["lr_min", "lr_max"]),
        (
            {"dataset_name": "binary_clustering_10_0_1000"},
            ["dataset_name", "binary_clustering_10_0_1000", "positive integers"],
        ),
        ({"dataset_name": "mnist"}, ["dataset_name", "mnist", "binary_clustering_"]),
    ],
)
def test_bad_values_name_key_value_and_allowed(changes, words):
    with pytest.raises(ConfigError) as info:
        Config.from_dict(changes)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_integral_floats_are_ints():
    config = Config.from_dict({"epochs": 5.0, "population_size": 4.0})
    assert config.epochs == 5 and isinstance(config.epochs, int)
    assert config.population_size == 4


def test_radius_rule_on_small_rings():
    assert Config(population_size=1, radius=1).radius == 1
    assert Config(population_size=1, radius=3).radius == 3
    small = Config(population_size=2, radius=1)
    assert small.radius == 1 and any("repeats cells" in n for n in small.notices)
    with pytest.raises(ConfigError, match="radius <= .* = 1"):
        Config(population_size=4, radius=2)  # offsets -2 and +2 reach the same cell
    assert Config(population_size=5, radius=2).radius == 2
    with pytest.raises(ConfigError) as info:
        Config(population_size=5, radius=3)
    assert "radius" in str(info.value) and "population_size=5" in str(info.value)
    with pytest.raises(ConfigError, match="radius"):
        Config(radius=0)


def test_config_error_is_value_error():
    assert issubclass(ConfigError, ValueError)


# -- files -------------------------------------------------------------------------


def test_json_file(tmp_path):
    path = tmp_path / "params.json"
    path.write_text(json.dumps(PUBLISHED_PARAMS))
    assert Config.from_file(path) == Config.from_dict(PUBLISHED_PARAMS)


def test_toml_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        'cell_evaluation = "lipi_simple_pte"\nepochs = 4\n'
        'prune_method = "activation"\nadam_betas = [0.9, 0.999]\n'
        "no_shuffle_data = true\n"
    )
    config = Config.from_file(path)
    assert config.cell_evaluation == "lipi_simple_pte" and config.epochs == 4
    assert config.prune_method == "variance" and config.adam_betas == (0.9, 0.999)
    assert config.shuffle_data is False


def test_bad_json_file_names_file_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "epochs": 4,\n  "radius": \n}\n')
    with pytest.raises(ConfigError) as info:
        Config.from_file(path)
    message = str(info.value)
    assert str(path) in message and "line 4" in message and "column" in message


def test_bad_toml_and_bad_values_in_files_name_the_file(tmp_path):
    toml_path = tmp_path / "broken.toml"
    toml_path.write_text("epochs = = 4\n")
    with pytest.raises(ConfigError, match="broken.toml"):
        Config.from_file(toml_path)
    json_path = tmp_path / "value.json"
    json_path.write_text('{"epoch": 4}')
    with pytest.raises(ConfigError, match=r"value\.json.*'epochs'"):
        Config.from_file(json_path)
    list_path = tmp_path / "list.json"
    list_path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="list.json"):
        Config.from_file(list_path)
    with pytest.raises(ConfigError, match="run.yaml"):
        Config.from_file(tmp_path / "run.yaml")
    with pytest.raises(ConfigError, match="missing.json"):
        Config.from_file(tmp_path / "missing.json")


def test_save_load_round_trip_is_atomic(tmp_path):
    config = Config(
        cell_evaluation="epoch-node",
        environment="large",
        prune_method="lexicase",
        prune_schedule="final_n",
        seed=11,
        trials=3,
        data_seed=5,
        out_dir=str(tmp_path / "run"),
        adam_betas=(0.9, 0.99),
        progress=False,
    )
    path = config.save(tmp_path / "sub" / "config.json")
    assert Config.from_file(path) == config
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]
    # overwriting an existing file also leaves no temporary file behind
    config.replace(seed=12).save(path)
    assert Config.from_file(path).seed == 12
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]


def test_dict_round_trip_and_serialisable():
    for config in [
        Config(),
        Config(cell_evaluation="canonical", prune_method="random"),
        Config.from_dict(PUBLISHED_PARAMS),
    ]:
        data = config.to_dict()
        assert "notices" not in data
        assert Config.from_dict(json.loads(json.dumps(data))) == config
        # ``plugins`` and the baselines' fields are written only when set, so runs
        # without them keep their records
        assert list(data) == [n for n in Config.field_names() if n not in WRITTEN_WHEN_SET]
    baseline = Config(
        cell_evaluation="canonical",
        prune_method="magnitude",
        prune_schedule="gradual",
        target_sparsity=0.3,
        prune_steps=4,
    )
    data = baseline.to_dict()
    assert data["target_sparsity"] == 0.3 and data["prune_steps"] == 4
    assert "prune_every" not in data and "initial_sparsity" not in data
    assert Config.from_dict(json.loads(json.dumps(data))) == baseline


def test_notices_do_not_affect_equality():
    published = Config(semantics="published")
    assert Config.from_dict({"visualize": "none"}) == published
    assert Config.from_dict({"visualize": "none"}).notices != published.notices
    assert hash(Config.from_dict({"visualize": "none"})) == hash(published)


def test_replace_validates():
    config = Config()
    changed = config.replace(epochs=10, prune_method="activation", rng_seed=4)
    assert (changed.epochs, changed.prune_method, changed.seed) == (10, "variance", 4)
    assert config.epochs == 400  # unchanged
    with pytest.raises(ConfigError, match="prune_probability"):
        config.replace(prune_probability=2.0)
    with pytest.raises(ConfigError, match="'epochs'"):
        config.replace(epoch=3)
    with pytest.raises(ConfigError, match="radius"):
        config.replace(population_size=3, radius=2)
    canonical = config.replace(cell_evaluation="canonical")
    assert canonical.population_size == 1 and canonical.optimizer_state == "persistent"


def test_frozen():
    with pytest.raises(AttributeError):
        Config().epochs = 3  # type: ignore[misc]


# -- presets -------------------------------------------------------------------------

EXPECTED_VARIANTS = {
    "base_pruning": 2 * 6,
    "best_base_activation": 1,
    "prune_after_base": 3,
    "activation_sched": 6,
    "lexi_prob": 2 * 6,
    "lexi_threshold": 3,
    "prune_after": 2,
    "dataset_name": 2,
    "lipi_small_4000": 1,
    "act_pop_small": 1,
    "lex_final_n_small": 1,
    "capacity": 2,
    "cell_evaluations": 4,
    "population_size": 4,
    "environment": 5,
    "no_shuffle_data": 2 * 2,
    "main_comparison": 9,
    "main_comparison_pop10": 9,
    "baselines": 9,
    "digits_comparison": 9,
}
#: Default trials per preset: 30, as the papers ran, unless listed here.
EXPECTED_TRIALS = {"capacity": 1, "baselines": 10, "digits_comparison": 5}


def test_every_spec_preset_is_present():
    assert set(PRESETS) == set(EXPECTED_VARIANTS)
    descriptions = list_presets()
    assert list(descriptions) == list(PRESETS)
    assert all(isinstance(d, str) and d and "\n" not in d for d in descriptions.values())


@pytest.mark.parametrize("name", sorted(EXPECTED_VARIANTS))
def test_preset_expands_to_valid_distinct_configs(name):
    if name == "digits_comparison":
        pytest.importorskip("sklearn", reason="the digits need scikit-learn")
    configs = expand_preset(name)
    assert len(configs) == EXPECTED_VARIANTS[name]
    assert len(set(configs)) == len(configs)
    for config in configs:
        assert isinstance(config, Config)
        assert config.learning_rate == 1e-5 and config.batch_size == 5
        assert config.radius == 1 and config.lexi_threshold == 0.1
        # the published regrow masks, except the baselines' sparsity schedules (docs/baselines.md)
        sparse = config.prune_method == "magnitude"
        assert config.calculate_test_loss and config.mask_mode == (
            "persistent" if sparse else "regrow"
        )
        assert config.test_loss_every == 10  # the study's cadence (docs/algorithm.md §6)
        assert config.seed == 1 and config.trials == EXPECTED_TRIALS.get(name, 30)
        # populations 1 and 2 with radius 1 repeat cells, said in a notice
        expected = 1 if config.population_size < 3 and not config.is_canonical else 0
        assert len(config.notices) == expected
        assert all("repeats cells" in notice for notice in config.notices)
        if config.is_canonical:
            assert config.population_size == 1 and config.optimizer_state == "persistent"
        else:
            assert config.optimizer_state == "fresh"
        assert Config.from_dict(config.to_dict()) == config


def test_preset_contents():
    base = expand_preset("base_pruning")
    assert all(c.is_canonical and c.epochs == 4000 and c.prune_probability == 0.5 for c in base)
    assert {(c.prune_method, c.prune_schedule) for c in base} == {
        (m, s) for m in ("random", "conjunctive") for s in SIX_SCHEDULES
    }
    assert {c.population_size for c in expand_preset("population_size")} == {1, 2, 5, 20}
    assert [c.environment for c in expand_preset("environment")] == [
        "default",
        "denoising",
        "variational",
        "small",
        "large",
    ]
    cells = {c.cell_evaluation: c for c in expand_preset("cell_evaluations")}
    assert set(cells) == set(CELL_EVALUATIONS) - {"lipi_simple_pte"}
    assert cells["ann_canonical"].population_size == 1
    assert cells["epoch-node"].population_size == 5
    shuffle = expand_preset("no_shuffle_data")
    assert {(c.prune_method, c.shuffle_data) for c in shuffle} == {
        (m, s) for m in (None, "variance") for s in (False, True)
    }
    assert [c.prune_probability for c in expand_preset("prune_after")] == [0.1, 0.9]
    assert expand_preset("dataset_name")[0].dataset_shape == (50, 100, 4000)
    assert expand_preset("capacity")[0].epochs == 4
    assert all(s in PRUNE_SCHEDULES for s in SIX_SCHEDULES)
    assert all(
        c.environment in ENVIRONMENTS and c.backend in BACKENDS
        for name in PRESETS
        for c in expand_preset(name)
    )


def test_preset_trials_and_overrides():
    configs = expand_preset(
        "lexi_prob", trials=2, overrides={"epochs": 3, "backend": "numpy", "rng_seed": 5}
    )
    assert len(configs) == 12
    assert all(
        c.trials == 2 and c.epochs == 3 and c.backend == "numpy" and c.seed == 5 for c in configs
    )
    # overriding a grid axis shrinks the grid
    only_random = expand_preset("lexi_prob", overrides={"prune_method": "random"})
    assert len(only_random) == 6 and {c.prune_method for c in only_random} == {"random"}
    # overrides that make variants identical keep one of each
    canonical = expand_preset("population_size", overrides={"cell_evaluation": "canonical"})
    assert len(canonical) == 1 and canonical[0].population_size == 1
    # notices of ignored published keys reach the configs
    noted = expand_preset("capacity", overrides={"visualize": "none"})
    assert all(any("visualize" in n for n in c.notices) for c in noted)


def test_preset_errors():
    with pytest.raises(ConfigError) as info:
        expand_preset("lexi_probability")
    assert "'lexi_prob'" in str(info.value)
    with pytest.raises(ConfigError, match="'epochs'"):
        expand_preset("capacity", overrides={"epoch": 3})
    with pytest.raises(ConfigError, match="trials"):
        expand_preset("capacity", trials=0)


def test_activation_signal_choices():
    assert Config().activation_signal == "pre_activation"
    assert Config.from_dict({"activation_signal": "hook_output"}).activation_signal == "hook_output"
    with pytest.raises(ConfigError, match="activation_signal.*hook_output"):
        Config.from_dict({"activation_signal": "hook_outptu"})


def test_presets_reproduce_the_published_behaviour():
    for name in ("lexi_prob", "activation_sched", "prune_after_base"):
        for config in expand_preset(name, trials=1):
            assert config.mask_mode == "regrow"
            assert config.activation_signal == "hook_output"
