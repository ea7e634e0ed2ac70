"""Operators and schedules as plug-ins: one registration reaches config, CLI, training and sweeps."""

import json
import textwrap

import numpy as np
import pytest
from conftest import TINY_DATASET

from minievo.cli import main
from minievo.experiments.config import Config, ConfigError
from minievo.experiments.sweep import run_sweep
from minievo.network import make_autoencoder
from minievo.pruning import prune_pair, prune_probability, registry
from minievo.pruning.registry import (
    PruneSettings,
    get_operator,
    operator_names,
    register_operator,
    register_schedule,
    schedule_names,
)

#: A user's plug-in file: magnitude pruning and a schedule, one registration each.
PLUGIN = textwrap.dedent('''
    import numpy as np
    from minievo.pruning.registry import register_operator, register_schedule


    def magnitude_mask(net, amount):
        """0 on the round(amount * n) active parameters of smallest |w|, 1 elsewhere."""
        active = np.flatnonzero(net.mask)
        k = round(amount * active.size)
        mask = np.ones(net.n_params, dtype=np.float32)
        mask[active[np.argsort(np.abs(net.params[active]), kind="stable")[:k]]] = 0.0
        return mask


    @register_operator("test_magnitude")
    def magnitude_masks(pair, rng, settings):
        return (magnitude_mask(pair.encoder, settings.amount),
                magnitude_mask(pair.decoder, settings.amount))


    @register_schedule("test_always")
    def always(p, t, T, n_solutions):
        return 1.0
''')


@pytest.fixture
def clean_registry(monkeypatch):
    """Registrations made by a test are forgotten after it."""
    monkeypatch.setattr(registry, "_OPERATORS", dict(registry._OPERATORS))
    monkeypatch.setattr(registry, "_SCHEDULES", dict(registry._SCHEDULES))


@pytest.fixture
def plugin_file(tmp_path, clean_registry):
    path = tmp_path / "my_operators.py"
    path.write_text(PLUGIN)
    return path


def test_the_published_operators_and_schedules_are_registered():
    assert operator_names()[:3] == ("random", "variance", "conjunctive")
    assert get_operator("activation").name == "variance"
    assert get_operator("lexicase").published_name == "lexicase"
    assert get_operator("variance").needs_records and not get_operator("random").needs_records
    assert schedule_names()[:7] == (
        "fixed",
        "increase",
        "decrease",
        "population",
        "exponential",
        "final_n",
        "prune_after",
    )


def test_an_operator_registered_after_import_is_accepted_by_the_config(clean_registry):
    with pytest.raises(ConfigError, match="prune_method: 'halve'.*allowed: none, random"):
        Config(prune_method="halve")

    @register_operator("halve", aliases=("half",))
    def halve(pair, rng, settings):
        return (
            np.where(rng.random(pair.encoder.n_params) < 0.5, 0, 1).astype(np.float32),
            np.ones(pair.decoder.n_params, np.float32),
        )

    assert Config(prune_method="half").prune_method == "halve"
    assert Config(prune_method="halve").to_published_dict()["prune_method"] == "halve"
    pair = make_autoencoder("small", 8, np.random.default_rng(0))
    result = prune_pair(pair, "halve", np.random.default_rng(1))
    assert 0 < result.n_pruned_encoder < pair.encoder.n_params and result.n_pruned_decoder == 0


def test_a_schedule_registered_after_import_is_used(clean_registry):
    @register_schedule("halfway")
    def halfway(p, t, T, n_solutions):
        return p if 2 * t >= T else 0.0

    assert Config(prune_method="random", prune_schedule="halfway").prune_schedule == "halfway"
    assert prune_probability("halfway", 0.3, 4, 10) == 0.0
    assert prune_probability("halfway", 0.3, 5, 10) == 0.3
    with pytest.raises(ValueError, match="did you mean 'halfway'"):
        prune_probability("halfwya", 0.3, 5, 10)


def test_a_name_is_registered_once(clean_registry):
    with pytest.raises(ValueError, match="'random' is already registered"):
        register_operator("random")(lambda pair, rng, settings: None)
    with pytest.raises(ValueError, match="lower-case"):
        register_schedule("Fixed2")(lambda p, t, T, n: p)


def test_a_plugin_file_named_in_the_config_registers_its_operator(plugin_file):
    assert "test_magnitude" not in operator_names()
    config = Config(
        prune_method="test_magnitude", prune_schedule="test_always", plugins=[str(plugin_file)]
    )
    assert config.plugins == (str(plugin_file.resolve()),)
    assert config.to_dict()["plugins"] == [str(plugin_file.resolve())]
    assert Config.from_dict(config.to_dict()) == config
    assert "plugins" not in Config().to_dict()  # no plug-ins: records unchanged
    pair = make_autoencoder("small", 8, np.random.default_rng(0))
    smallest = np.sort(np.abs(pair.encoder.params))[: round(0.1 * pair.encoder.n_params)]
    prune_pair(pair, "test_magnitude", np.random.default_rng(0), amount=0.1)
    pruned = pair.encoder.mask == 0
    assert pruned.sum() == smallest.size
    assert np.abs(pair.encoder.params[~pruned]).min() >= smallest.max()


def test_a_bad_plugin_is_one_clear_error(tmp_path):
    with pytest.raises(
        ConfigError,
        match="plugins: plugin 'no_such_module_xyz' cannot be imported: ModuleNotFoundError",
    ):
        Config(plugins=["no_such_module_xyz"])
    with pytest.raises(ConfigError, match="plugin file .*missing.py' does not exist"):
        Config(plugins=[str(tmp_path / "missing.py")])
    with pytest.raises(ConfigError, match="plugins: 3 is not allowed"):
        Config(plugins=3)


def test_the_cli_takes_a_plugin_and_its_operator(plugin_file, data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--plugin",
            str(plugin_file),
            "--prune-method",
            "test_magnitude",
            "--prune-schedule",
            "test_always",
            "--epochs",
            "2",
            "--population-size",
            "2",
            "--dataset",
            TINY_DATASET,
            "--batch-size",
            "4",
            "--backend",
            "numpy",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    saved = json.loads((out / "config.json").read_text())
    assert saved["prune_method"] == "test_magnitude"
    assert saved["plugins"] == [str(plugin_file.resolve())]
    records = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert all(r["n_pruned_encoder"] > 0 for r in records)


def test_every_sweep_job_imports_the_plugins_of_its_config(plugin_file, data_dir, tmp_path):
    """Jobs run in fresh processes: the operator reaches them through ``plugins`` only."""
    base = dict(
        dataset_name=TINY_DATASET,
        data_dir=str(data_dir),
        epochs=2,
        population_size=2,
        batch_size=4,
        backend="numpy",
        progress=False,
        prune_schedule="test_always",
        plugins=[str(plugin_file)],
    )
    variants = [Config(prune_method=m, **base) for m in ("random", "test_magnitude")]
    outcome = run_sweep(variants, tmp_path / "sweep", figures=False)
    assert not outcome.failed, outcome
    records = [
        json.loads(line)
        for line in (tmp_path / "sweep" / "test_magnitude" / "seed-01" / "stats.jsonl")
        .read_text()
        .splitlines()
    ]
    assert records and all(r["n_pruned_encoder"] > 0 for r in records)


def test_prune_settings_carry_the_run_settings():
    settings = PruneSettings(amount=0.2, mask_mode="regrow")
    assert settings.amount == 0.2 and settings.lexi_rows == 100 and settings.test_data is None
