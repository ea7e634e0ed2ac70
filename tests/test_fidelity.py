"""Fidelity to the published code: counts, row order, configuration, denoising, records."""

import functools

import numpy as np
import pytest
from conftest import tiny_config

from minievo.data import generate_binary_clustering
from minievo.experiments.config import Config
from minievo.network import Autoencoder, make_autoencoder
from minievo.pruning import prune_pair
from minievo.training import coevolution as co
from minievo.training import epochs as ep
from minievo.training import population as pop
from minievo.training import streams as st
from minievo.training import visit as cv
from minievo.training.records import pruned_counts, read_stats

# this module's tiny runs: 3 epochs
tiny = functools.partial(tiny_config, epochs=3)


# ---------------------------------------------------------------------------
# 1. the published pruned count: zeros at the last pruning event
# ---------------------------------------------------------------------------


def test_regrow_count_is_kept_through_copies_regrowth_and_saving(tmp_path):
    pair = make_autoencoder("default", 20, np.random.default_rng(0))
    prune_pair(pair, "random", np.random.default_rng(1), amount=0.3, mask_mode="regrow")
    at_prune = pair.encoder.n_zero
    assert at_prune > 0 and pair.encoder.n_pruned_at_last_prune == at_prune
    pair.encoder.params[pair.encoder.params == 0.0] = 0.01  # every zero regrows
    assert pair.encoder.n_zero == 0
    counts = pruned_counts(pair, "regrow")
    assert counts["n_pruned_encoder"] == at_prune  # the published count
    assert counts["n_zero_encoder"] == 0
    assert counts["n_active_encoder"] == pair.encoder.n_params
    copy = pair.copy()
    assert copy.encoder.n_pruned_at_last_prune == at_prune
    pair.save(tmp_path / "ae.npz")
    assert Autoencoder.load(tmp_path / "ae.npz").encoder.n_pruned_at_last_prune == at_prune
    # persistent masks: the published key counts the masked entries
    assert pruned_counts(pair, "persistent")["n_pruned_encoder"] == 0


def test_regrow_records_keep_the_count_of_the_last_pruning_event(dataset, tmp_path):
    config = tiny(
        epochs=4,
        prune_method="random",
        prune_schedule="fixed",
        prune_probability=0.5,
        prune_amount=0.2,
        mask_mode="regrow",
    )
    co.train_coevolution(config, dataset, tmp_path)
    records = read_stats(tmp_path)
    last = {}  # cell -> its center's count at its last pruning event
    checked = 0
    for r in records:
        cell = r["node_idx"]
        if r["pruned"]:
            last[cell] = r["n_pruned_encoder"]
            assert r["n_pruned_encoder"] == r["n_zero_encoder"]  # counted at pruning time
        elif cell in last and r["selected_cell"] == cell:
            # a visit without pruning that kept the cell's own (pruned) center
            assert r["n_pruned_encoder"] == last[cell]
            checked += 1
        if not r["pruned"] and r["selected_cell"] != cell:
            last.pop(cell, None)  # a neighbour's copy, with its own count
        assert r["n_zero_encoder"] + r["n_active_encoder"] == 20 * 30 + 30 + 30 * 10 + 10
    assert any(r["pruned"] for r in records)
    assert any(not r["pruned"] and r["n_pruned_encoder"] > r["n_zero_encoder"] for r in records), (
        "zeros regrew but the published count stayed"
    )
    assert checked > 0


# ---------------------------------------------------------------------------
# 2. row order: clusters interleaved; old files are not reused silently
# ---------------------------------------------------------------------------


def test_row_r_belongs_to_cluster_r_mod_n_clusters():
    ds = generate_binary_clustering(4, 6, 200, noise_probability=0.05, rng=np.random.default_rng(3))
    for split in ("train", "test", "validation"):
        x, labels = getattr(ds, split), getattr(ds, f"{split}_labels")
        np.testing.assert_array_equal(labels, np.arange(24) % 4)
        # the row really is a noisy copy of that centroid: its nearest one
        distance = np.abs(x[:, None, :] - ds.centroids[None, :, :]).sum(axis=2)  # (N, K)
        np.testing.assert_array_equal(distance.argmin(axis=1), np.arange(24) % 4)
    # an unshuffled batch of K rows holds every cluster once
    assert sorted(ds.train_labels[:4]) == [0, 1, 2, 3]


def old_format_file(path):
    """A dataset file as minievo wrote it before format 2: no version, grouped rows."""
    from minievo.data import save_dataset
    from minievo.io import load_npz

    ds = generate_binary_clustering(3, 4, 10, rng=np.random.default_rng(0))
    save_dataset(ds, path)
    arrays = dict(load_npz(path))
    del arrays["format_version"]
    for split in ("train", "test", "validation"):
        order = np.argsort(arrays[f"{split}_labels"], kind="stable")
        arrays[split], arrays[f"{split}_labels"] = (
            arrays[split][order],
            arrays[f"{split}_labels"][order],
        )
    np.savez(path, **arrays)
    return path


def test_an_old_format_file_is_refused_with_a_way_out(tmp_path):
    from minievo.data import DataFileError, load_dataset

    path = old_format_file(tmp_path / "old.npz")
    with pytest.raises(DataFileError, match="format version 1.*minievo data --name") as info:
        load_dataset(path)
    assert "old.npz" in str(info.value)


def test_an_old_cached_file_is_regenerated_with_a_notice(tmp_path, capsys):
    from minievo.data import cache_file_name, load_dataset, load_or_generate

    name = "binary_clustering_3_4_10"
    path = tmp_path / cache_file_name(name, 1)
    old_format_file(path)
    ds = load_or_generate(name, cache_dir=tmp_path, seed=1)
    assert "format 1" in capsys.readouterr().err
    np.testing.assert_array_equal(ds.train_labels, np.arange(12) % 3)
    np.testing.assert_array_equal(load_dataset(path).train, ds.train)  # rewritten


# ---------------------------------------------------------------------------
# 3. a published params.json runs with the published semantics
# ---------------------------------------------------------------------------

PUBLISHED = {
    "cell_evaluation": "lipi_simple",
    "environment": "AutoencoderBinaryClustering",
    "dataset_name": "binary_clustering_10_100_1000",
    "population_size": 5,
    "radius": 1,
    "epochs": 400,
    "learning_rate": 1e-5,
    "batch_size": 5,
    "rng_seed": 1,
    "no_shuffle_data": False,
    "prune_method": "activation",
    "prune_schedule": "exponential",
    "prune_probability": 0.1,
    "prune_amount": 0.1,
    "lexi_threshold": 0.1,
    "calculate_test_loss": True,
}


def test_a_published_params_json_runs_with_published_semantics(tmp_path):
    import json

    path = tmp_path / "params.json"
    path.write_text(json.dumps(PUBLISHED))
    config = Config.from_file(path)
    assert config.semantics == "published"
    assert config.mask_mode == "regrow" and config.activation_signal == "hook_output"
    assert any("published-format configuration" in n and "rng_seed" in n for n in config.notices)
    assert any("mask_mode='regrow'" in n for n in config.notices)
    # what was applied is kept in config.json, so a resume runs the same way
    config.save(tmp_path / "config.json")
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["semantics"] == "published" and saved["mask_mode"] == "regrow"
    assert Config.from_file(tmp_path / "config.json") == config


def test_the_command_line_path_detects_a_published_params_json_too(tmp_path):
    """``minievo run --config params.json`` merges the file onto the default job."""
    import json

    from minievo.cli import DEFAULT_JOB

    path = tmp_path / "params.json"
    path.write_text(json.dumps({**PUBLISHED, "prune_method": "activation"}))
    config = Config.from_file(path, defaults=DEFAULT_JOB, label="default job")
    assert config.semantics == "published"
    assert config.activation_signal == "hook_output" and config.mask_mode == "regrow"


def test_published_semantics_yield_to_explicit_fields():
    config = Config.from_dict({**PUBLISHED, "mask_mode": "persistent"})
    assert config.mask_mode == "persistent" and config.activation_signal == "hook_output"
    config = Config.from_dict({**PUBLISHED, "semantics": "minievo"})
    assert config.mask_mode == "persistent" and config.activation_signal == "pre_activation"
    minievo = Config.from_dict({"dataset_name": "binary_clustering_10_100_1000"})
    assert minievo.semantics == "minievo" and minievo.mask_mode == "persistent"


# ---------------------------------------------------------------------------
# 4. denoising: minievo's adds noise, the published one none
# ---------------------------------------------------------------------------


def test_denoising_noise_std_defaults_and_refusals():
    from minievo.experiments.config import ConfigError

    assert Config(environment="denoising").denoising_noise_std == 0.4
    published = Config.from_dict(
        {**PUBLISHED, "environment": "DenoisingAutoencoderBinaryClustering"}
    )
    assert published.denoising_noise_std == 0.0
    assert any("denoising_noise_std=0.0" in n for n in published.notices)
    with pytest.raises(ConfigError, match="denoising_noise_std.*only to environment"):
        Config(environment="default", denoising_noise_std=0.1)
    with pytest.raises(ConfigError, match="denoising_noise_std"):
        Config(environment="denoising", denoising_noise_std=-1.0)
    # switching environment re-resolves the noise under published semantics
    assert Config.from_dict(PUBLISHED).replace(environment="denoising").denoising_noise_std == 0.0
    from minievo.experiments.presets import expand_preset

    denoising = [c for c in expand_preset("environment") if c.environment == "denoising"]
    assert denoising[0].denoising_noise_std == 0.0


@pytest.mark.parametrize("std, noisy", [(0.0, False), (0.4, True)])
def test_published_denoising_trains_exactly_as_the_plain_autoencoder(dataset, std, noisy):
    from minievo.engine import Engine

    rng = np.random.default_rng(5)
    plain = make_autoencoder("default", dataset.n_dim, rng)
    denoising = Autoencoder(plain.encoder.copy(), plain.decoder.copy(), "denoising")
    order = np.arange(dataset.train.shape[0])
    losses = {}
    for name, pair in (("plain", plain), ("denoising", denoising)):
        engine = Engine(pair, max_rows=4, backend="numpy", noise_std=std)
        noise = engine.draw_noise(np.random.default_rng(0), order.shape[0])
        losses[name] = engine.train_epoch(
            pair, dataset.train, order, 4, 1e-3, fresh=True, record=False, noise=noise
        )
    same = np.array_equal(denoising.encoder.params, plain.encoder.params)
    assert same is not noisy
    assert np.array_equal(losses["plain"], losses["denoising"]) is not noisy


# ---------------------------------------------------------------------------
# 5. canonical records carry the published keys
# ---------------------------------------------------------------------------


def test_canonical_records_carry_the_published_loss_keys(dataset, tmp_path):
    from minievo.training.canonical import train_canonical

    config = tiny(cell_evaluation="ann_canonical", epochs=2)
    train_canonical(config, dataset, tmp_path)
    for r in read_stats(tmp_path):
        assert r["min_selection_loss"] == r["min_replacement_loss"] == r["min_batch_loss"]
        assert {"n_pruned_encoder", "n_zero_encoder", "n_active_encoder"} <= set(r)


def test_training_loops_use_the_configured_denoising_noise(dataset):
    config = tiny(environment="denoising", denoising_noise_std=0.0)
    pair = pop.initial_population(config, dataset.n_dim).centers[0]
    engine = pop.make_engine(config, pair)
    assert engine.noise_std == 0.0
    assert not engine.draw_noise(np.random.default_rng(0), 3).any()


# ---------------------------------------------------------------------------
# 6. epoch-node and all_vs_all keep activation records until a pruning
# ---------------------------------------------------------------------------


def run_one_epoch(config, dataset):
    population = pop.initial_population(config, dataset.n_dim)
    engine = pop.make_engine(config, population.centers[0])
    visits = []
    for cell in range(config.population_size):
        streams = st.visit_streams(config.seed, 0, cell)
        visit = cv.visit_cell(
            config,
            dataset,
            population.centers,
            cell,
            population.learning_rates[cell],
            0,
            engine,
            streams,
        )
        pop.replace_center(population, cell, visit.center, visit.learning_rate)
        visits.append(visit)
    return population, visits


@pytest.mark.parametrize("variant, kept", [("epoch-node", True), ("lipi_simple", False)])
def test_records_survive_a_visit_without_pruning_only_in_epoch_node(dataset, variant, kept):
    config = tiny(cell_evaluation=variant, prune_method="variance", prune_probability=0.0)
    population, visits = run_one_epoch(config, dataset)
    assert not any(v.record["pruned"] for v in visits)
    counts = [c.encoder.rec_count.max() for c in population.centers]
    assert all(n > 0 for n in counts) is kept and any(n > 0 for n in counts) is kept


def test_epoch_node_works_on_the_own_center_with_its_records(dataset):
    config = tiny(cell_evaluation="epoch-node", prune_method="variance", prune_probability=0.0)
    population, _ = run_one_epoch(config, dataset)
    own = population.centers[1].encoder.rec_count.copy()
    neighbourhood = cv.gather_neighbourhood(population.centers, 1, 1, keep_own_records=True)
    np.testing.assert_array_equal(neighbourhood[0].encoder.rec_count, own)  # carried on
    assert all(p.encoder.rec_count.max() == 0 for p in neighbourhood[1:])  # clones: empty
    # population 1: the cell's own center appears three times, only once as itself
    alone = cv.gather_neighbourhood(population.centers[1:2], 0, 1, keep_own_records=True)
    assert alone[0].encoder.rec_count.max() > 0
    assert all(p.encoder.rec_count.max() == 0 for p in alone[1:])


def test_epoch_node_records_are_cleared_by_a_pruning(dataset):
    config = tiny(
        cell_evaluation="epoch-node",
        prune_method="variance",
        prune_schedule="fixed",
        prune_probability=1.0,
    )
    population, visits = run_one_epoch(config, dataset)
    assert all(v.record["pruned"] for v in visits)
    assert all(c.encoder.rec_count.max() == 0 for c in population.centers)


def test_all_vs_all_keeps_records_until_a_pruning(dataset, tmp_path):
    config = tiny(
        cell_evaluation="all_vs_all",
        prune_method="variance",
        prune_probability=0.0,
        epochs=1,
        population_size=2,
    )
    result = co.train_coevolution(config, dataset, tmp_path)
    assert result.best.encoder.rec_count.max() > 0


def test_epoch_node_resume_with_persistent_records_is_bit_for_bit(dataset, tmp_path, monkeypatch):
    from minievo.io import load_npz

    config = tiny(
        cell_evaluation="epoch-node",
        epochs=4,
        prune_method="variance",
        prune_schedule="fixed",
        prune_probability=0.3,
        save_all_centers=True,
        checkpoint_every=1,
    )  # a checkpoint after every epoch, as the kill needs
    straight = co.train_coevolution(config, dataset, tmp_path / "straight")
    original, calls = cv.visit_cell, []

    def dies_in_epoch_2(config, dataset, centers, cell, lr, epoch, engine, streams):
        if epoch == 2 and calls:
            raise KeyboardInterrupt
        if epoch == 2:
            calls.append(cell)
        return original(config, dataset, centers, cell, lr, epoch, engine, streams)

    monkeypatch.setattr(ep, "visit_cell", dies_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        co.train_coevolution(config, dataset, tmp_path / "resumed")
    monkeypatch.setattr(ep, "visit_cell", original)
    resumed = co.train_coevolution(config, dataset, tmp_path / "resumed", resume=True)
    strip = [
        {k: v for k, v in r.items() if k not in ("timestamp", "wall_time")}
        for r in read_stats(tmp_path / "straight")
    ]
    assert strip == [
        {k: v for k, v in r.items() if k not in ("timestamp", "wall_time")}
        for r in read_stats(tmp_path / "resumed")
    ]
    assert resumed.test_loss == straight.test_loss
    for cell in range(3):
        a = load_npz(tmp_path / "straight" / "centers" / f"cell_{cell:03d}.npz")
        b = load_npz(tmp_path / "resumed" / "centers" / f"cell_{cell:03d}.npz")
        assert set(a) == set(b)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


# ---------------------------------------------------------------------------
# one named pruned count in summary.json, records and figures
# ---------------------------------------------------------------------------


def test_median_band_summarises_the_cells_per_epoch():
    from minievo.experiments.coevolution_plots import median_band

    records = [
        {"iteration": t, "node_idx": c, "n_pruned_encoder": v}
        for t, values in enumerate(([0, 3000, 3000], [10, 20, 30]))
        for c, v in enumerate(values)
    ]
    epochs, q25, median, q75 = median_band(records, "n_pruned_encoder")
    np.testing.assert_array_equal(epochs, [0, 1])
    np.testing.assert_allclose(median, [3000, 20])
    np.testing.assert_allclose(q25, [1500, 15])
    np.testing.assert_allclose(q75, [3000, 25])


def test_summary_json_reports_the_named_counts_of_the_returned_pair(dataset, tmp_path, monkeypatch):
    import json

    from minievo.experiments import run as runner

    monkeypatch.setattr(runner, "load_or_generate", lambda *a, **k: dataset)
    config = tiny(
        epochs=3,
        prune_method="random",
        prune_schedule="fixed",
        prune_probability=1.0,
        prune_amount=0.2,
        mask_mode="regrow",
    )
    result = runner.run(config, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / runner.SUMMARY_FILE).read_text())
    best = result.best
    assert summary["mask_mode"] == "regrow"
    assert summary["n_pruned_encoder"] == best.encoder.n_pruned_at_last_prune > 0
    assert summary["n_zero_encoder"] == best.encoder.n_zero
    assert summary["n_active_encoder"] == best.encoder.n_params - best.encoder.n_zero
    assert "last pruning event" in summary["n_pruned_definition"]
    assert (tmp_path / "run" / "figures" / "coevolution_pruned.png").exists()


def test_switching_semantics_with_replace_re_resolves_the_fields():
    config = Config(dataset_name="binary_clustering_10_100_1000")
    published = config.replace(semantics="published")
    assert published.mask_mode == "regrow" and published.activation_signal == "hook_output"
    kept = config.replace(semantics="published", mask_mode="persistent")
    assert kept.mask_mode == "persistent"
    assert published.replace(semantics="minievo").mask_mode == "persistent"


@pytest.mark.parametrize(
    "argv, field, expected",
    [
        (
            ["run", "--set", "semantics=published", "--environment", "denoising"],
            "denoising_noise_std",
            0.0,
        ),
        (
            ["run", "--semantics", "published", "--prune-method", "variance"],
            "activation_signal",
            "hook_output",
        ),
        (["run", "--environment", "denoising"], "denoising_noise_std", 0.4),
    ],
)
def test_flags_that_change_semantics_or_environment_resolve_the_dependent_fields(
    argv, field, expected
):
    """Flags merge only the keys given, so resolved fields follow the new settings."""
    from minievo.cli import build_parser, config_from_args

    config = config_from_args(build_parser().parse_args(argv))
    assert getattr(config, field) == expected
