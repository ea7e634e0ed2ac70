"""Spatial coevolution (docs/algorithm.md §4): the steps of a visit, the update modes, the variants, resume."""

import functools
import json
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import tiny_config

from minievo.engine import Engine, NonFiniteLossError
from minievo.experiments.config import ConfigError
from minievo.io import load_npz
from minievo.network import Autoencoder
from minievo.training import coevolution as co
from minievo.training import epochs as ep
from minievo.training import population as pop
from minievo.training import streams as st
from minievo.training import visit as cv
from minievo.training.records import read_stats

VOLATILE = ("timestamp", "wall_time")


# this module's tiny runs: 2 epochs
tiny = functools.partial(tiny_config, epochs=2)


def stable(records):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]


def params_of(pair):
    return np.concatenate([pair.encoder.params, pair.decoder.params])


# ---------------------------------------------------------------------------
# The steps of one visit
# ---------------------------------------------------------------------------


def test_neighbourhood_copies_are_independent_of_their_originals(dataset):
    config = tiny(population_size=1, radius=1)
    population = pop.initial_population(config, dataset.n_dim)
    center = population.centers[0]
    before = params_of(center).copy()
    neighbourhood = cv.gather_neighbourhood(population.centers, 0, 1)
    assert len(neighbourhood) == 3
    ids = {id(net) for pair in neighbourhood for net in (pair.encoder, pair.decoder)}
    assert len(ids) == 6 and id(center.encoder) not in ids
    for pair in neighbourhood:
        np.testing.assert_array_equal(params_of(pair), before)
    neighbourhood[0].encoder.params[:] = 1.0
    neighbourhood[1].decoder.mask[:5] = 0.0
    np.testing.assert_array_equal(params_of(center), before)
    assert center.decoder.n_pruned == 0
    assert not np.array_equal(neighbourhood[0].encoder.params, neighbourhood[1].encoder.params)


def test_evaluate_neighbourhood_scores_every_combination(dataset):
    config = tiny()
    population = pop.initial_population(config, dataset.n_dim)
    engine = pop.make_engine(config, population.centers[0])
    neighbourhood = cv.gather_neighbourhood(population.centers, 1, 1)
    batch = dataset.train[:4]
    losses = cv.evaluate_neighbourhood(engine, neighbourhood, batch, record=False)
    assert losses.shape == (3, 3)
    e, d = neighbourhood[2].encoder, neighbourhood[0].decoder
    assert losses[2, 0] == engine.evaluate(Autoencoder(e, d), batch, record=False)


def test_evaluate_neighbourhood_records_every_pass(dataset):
    config = tiny(prune_method="variance")
    population = pop.initial_population(config, dataset.n_dim)
    engine = pop.make_engine(config, population.centers[0])
    neighbourhood = cv.gather_neighbourhood(population.centers, 0, 1)
    assert all(p.encoder.rec_count.sum() == 0 for p in neighbourhood)  # copies start empty
    cv.evaluate_neighbourhood(engine, neighbourhood, dataset.train[:4], record=True)
    for pair in neighbourhood:  # each network met 3 partners, one pass each
        np.testing.assert_array_equal(pair.encoder.rec_count, [3, 3, 3, 3])
        np.testing.assert_array_equal(pair.decoder.rec_count, [3, 3, 3, 3])


class FixedNormal:
    def __init__(self, value):
        self.value = value

    def normal(self, loc, scale):
        return self.value


def test_learning_rate_mutation_is_clipped_at_both_ends():
    bounds = SimpleNamespace(lr_mutation_std=1e-5, lr_min=1e-9, lr_max=10.0)
    assert cv.mutate_learning_rate(1e-5, FixedNormal(-1.0), bounds) == 1e-9
    assert cv.mutate_learning_rate(9.0, FixedNormal(5.0), bounds) == 10.0
    assert cv.mutate_learning_rate(1e-3, FixedNormal(2e-4), bounds) == pytest.approx(1.2e-3)
    rng = np.random.default_rng(0)
    wide = SimpleNamespace(lr_mutation_std=1.0, lr_min=1e-9, lr_max=1e-3)
    rates = [cv.mutate_learning_rate(1e-9, rng, wide) for _ in range(200)]
    assert min(rates) == 1e-9 and max(rates) == 1e-3


def test_the_center_is_replaced_even_when_worse(dataset, monkeypatch):
    # training that ruins the pair: every output becomes sigmoid(-50) ~ 0, so the L1
    # loss is the fraction of ones (~0.7), far above an initial network's ~0.5
    def ruinous_training(engine, pair, data, order, batch_size, lr, *, fresh, record, noise):
        last = pair.decoder.spec.n_layers - 1
        pair.decoder.weight(last)[...] = 0.0
        pair.decoder.bias(last)[...] = -50.0
        return np.zeros(1)

    monkeypatch.setattr(cv, "train_pair", ruinous_training)
    config = tiny()
    population = pop.initial_population(config, dataset.n_dim)
    engine = pop.make_engine(config, population.centers[0])
    old_test = engine.reconstruction_l1(population.centers[1], dataset.test)
    visit = cv.visit_cell(
        config, dataset, population.centers, 1, 1e-3, 0, engine, st.visit_streams(config.seed, 0, 1)
    )
    assert visit.record["min_replacement_loss"] > visit.record["min_selection_loss"] + 0.1
    assert visit.record["test_loss"] > old_test + 0.1
    pop.replace_center(population, 1, visit.center, visit.learning_rate)
    assert population.centers[1] is visit.center
    assert population.learning_rates[1] == visit.learning_rate


def test_a_visit_does_not_change_the_centers_it_reads(dataset):
    config = tiny()
    population = pop.initial_population(config, dataset.n_dim)
    engine = pop.make_engine(config, population.centers[0])
    before = [params_of(c).copy() for c in population.centers]
    cv.visit_cell(
        config, dataset, population.centers, 0, 1e-3, 0, engine, st.visit_streams(config.seed, 0, 0)
    )
    for center, params in zip(population.centers, before):
        np.testing.assert_array_equal(params_of(center), params)


def test_train_with_partners_takes_two_steps_per_batch(dataset):
    config = tiny()
    population = pop.initial_population(config, dataset.n_dim)
    engine = pop.make_engine(config, population.centers[0])
    neighbourhood = cv.gather_neighbourhood(population.centers, 0, 1)
    order = np.arange(30, dtype=np.int64)
    losses = cv.train_with_partners(
        engine,
        neighbourhood,
        1,
        dataset.train,
        order,
        4,
        1e-3,
        np.random.default_rng(0),
        fresh=True,
        record=False,
    )
    assert losses.shape == (16,)  # 8 batches (the last of 2 rows) x 2 steps


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_train_with_partners_equals_stepping_pair_by_pair(dataset, backend):
    config = tiny(backend=backend)
    population = pop.initial_population(config, dataset.n_dim)
    engine = pop.make_engine(config, population.centers[0])
    neighbourhood = cv.gather_neighbourhood(population.centers, 0, 1)
    twins = [pair.copy() for pair in neighbourhood]
    order = np.random.default_rng(1).permutation(30).astype(np.int64)
    losses = cv.train_with_partners(
        engine,
        neighbourhood,
        2,
        dataset.train,
        order,
        4,
        1e-3,
        np.random.default_rng(7),
        fresh=True,
        record=False,
    )
    partners = np.random.default_rng(7).integers(0, 3, size=(8, 2))
    expected = []
    for b in range(8):
        rows = order[4 * b : 4 * b + 4]
        for e, d in ((2, partners[b, 0]), (partners[b, 1], 2)):
            pair = Autoencoder(twins[e].encoder, twins[d].decoder)
            expected.append(
                engine.train_epoch(pair, dataset.train, rows, 4, 1e-3, fresh=True, record=False)[0]
            )
    # numpy: the same calls, bit for bit; numba: one compiled loop whose inlined steps
    # may round differently in the last bits (fastmath)
    tolerance = dict(rtol=0, atol=0) if backend == "numpy" else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses, expected, **tolerance)
    for pair, twin in zip(neighbourhood, twins):  # the partners were trained too
        np.testing.assert_allclose(params_of(pair), params_of(twin), **tolerance)


def test_two_steps_per_batch_in_one_call_equals_stepping_batch_by_batch(dataset):
    config = tiny()
    pair = pop.initial_population(config, dataset.n_dim).centers[0]
    twin = pair.copy()
    engine = pop.make_engine(config, pair)
    order = np.random.default_rng(1).permutation(30).astype(np.int64)  # 7 full batches + 2 rows
    losses = cv.train_pair_twice_per_batch(
        engine, pair, dataset.train, order, 4, 1e-3, fresh=False, record=False
    )
    expected = []
    for start in range(0, 30, 4):
        for _ in range(2):
            expected.append(
                engine.train_epoch(
                    twin,
                    dataset.train,
                    order[start : start + 4],
                    4,
                    1e-3,
                    fresh=False,
                    record=False,
                )[0]
            )
    np.testing.assert_array_equal(params_of(pair), params_of(twin))
    np.testing.assert_array_equal(np.sort(losses), np.sort(expected))
    assert losses.shape == (16,)


# ---------------------------------------------------------------------------
# Epochs: order, update modes, randomness
# ---------------------------------------------------------------------------


def test_visit_order_is_index_order_first_then_reshuffled():
    assert st.visit_order(1, 0, 5).tolist() == [0, 1, 2, 3, 4]
    later = [st.visit_order(1, epoch, 5).tolist() for epoch in range(1, 6)]
    assert all(sorted(order) == [0, 1, 2, 3, 4] for order in later)
    assert any(order != [0, 1, 2, 3, 4] for order in later)
    assert st.visit_order(1, 3, 5).tolist() == st.visit_order(1, 3, 5).tolist()


def spy_on_gather(monkeypatch):
    """Record, at every visit, which object each center is."""
    seen = []
    original = cv.gather_neighbourhood

    def spy(centers, cell, radius, **options):
        seen.append((cell, [id(c) for c in centers]))
        return original(centers, cell, radius, **options)

    monkeypatch.setattr(cv, "gather_neighbourhood", spy)
    return seen


@pytest.mark.parametrize("update", ["asynchronous", "synchronous"])
def test_a_later_cell_sees_an_earlier_update_only_when_asynchronous(dataset, monkeypatch, update):
    config = tiny(epochs=1, update=update)
    seen = spy_on_gather(monkeypatch)
    population = pop.initial_population(config, dataset.n_dim)
    initial = [id(c) for c in population.centers]
    monkeypatch.setattr(co, "initial_population", lambda config, n_dim: population)
    co.train_coevolution(config, dataset)
    assert [cell for cell, _ in seen] == [0, 1, 2]  # epoch 0 in index order
    cell, ids_at_cell_1 = seen[1]
    if update == "asynchronous":
        assert ids_at_cell_1[0] != initial[0]  # cell 0 was replaced already
        assert ids_at_cell_1[1:] == initial[1:]
    else:
        assert ids_at_cell_1 == initial


def test_synchronous_serial_and_parallel_runs_are_identical(dataset, tmp_path):
    config = tiny(
        update="synchronous",
        population_size=4,
        epochs=3,
        backend="numba",
        prune_method="random",
        save_all_centers=True,
    )
    serial = co.train_coevolution(config, dataset, tmp_path / "serial", workers=1)
    parallel = co.train_coevolution(config, dataset, tmp_path / "parallel", workers=2)
    assert stable(read_stats(tmp_path / "serial")) == stable(read_stats(tmp_path / "parallel"))
    assert serial.test_loss == parallel.test_loss
    for cell in range(4):
        a = load_npz(tmp_path / "serial" / "centers" / f"cell_{cell:03d}.npz")
        b = load_npz(tmp_path / "parallel" / "centers" / f"cell_{cell:03d}.npz")
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


# ---------------------------------------------------------------------------
# Records, checkpoints, errors
# ---------------------------------------------------------------------------


def test_records_one_line_per_visit_with_the_published_keys(dataset, tmp_path):
    config = tiny(epochs=3, stats_every=2, prune_method="random")
    co.train_coevolution(config, dataset, tmp_path)
    records = read_stats(tmp_path)
    assert len(records) == 9
    assert [r["fe_cnt"] for r in records] == list(range(1, 10))
    for epoch in range(3):
        cells = [r["node_idx"] for r in records if r["iteration"] == epoch]
        assert sorted(cells) == [0, 1, 2]
    for r in records:
        for key in (
            "learning_rate",
            "min_selection_loss",
            "min_replacement_loss",
            "n_pruned_encoder",
            "n_pruned_decoder",
            "n_active_encoder",
            "n_active_decoder",
            "pruned",
            "test_loss",
            "timestamp",
            "wall_time",
        ):
            assert key in r
        assert ("mean_L1" in r) == (r["iteration"] in (0, 2))  # every 2 epochs and the last
        assert r["n_zero_encoder"] + r["n_active_encoder"] == 20 * 30 + 30 + 30 * 10 + 10


@pytest.mark.parametrize("update", ["asynchronous", "synchronous"])
def test_resume_equals_an_uninterrupted_run(dataset, tmp_path, monkeypatch, update):
    config = tiny(
        epochs=4,
        update=update,
        prune_method="random",
        prune_probability=0.5,
        optimizer_state="persistent",
        save_all_centers=True,
        checkpoint_every=1,
    )  # a checkpoint after every epoch
    straight = co.train_coevolution(config, dataset, tmp_path / "straight")

    # kill the second run in its third epoch, after one visit of that epoch was recorded
    original, calls = cv.visit_cell, []

    def dies_in_epoch_2(config, dataset, centers, cell, lr, epoch, engine, streams):
        if epoch == 2 and len(calls) == 1:
            raise KeyboardInterrupt
        if epoch == 2:
            calls.append(cell)
        return original(config, dataset, centers, cell, lr, epoch, engine, streams)

    monkeypatch.setattr(ep, "visit_cell", dies_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        co.train_coevolution(config, dataset, tmp_path / "resumed")
    partial = read_stats(tmp_path / "resumed")
    assert len(partial) == (7 if update == "asynchronous" else 6)
    monkeypatch.setattr(ep, "visit_cell", original)
    resumed = co.train_coevolution(config, dataset, tmp_path / "resumed", resume=True)

    assert stable(read_stats(tmp_path / "resumed")) == stable(read_stats(tmp_path / "straight"))
    assert resumed.test_loss == straight.test_loss
    np.testing.assert_array_equal(params_of(resumed.best), params_of(straight.best))
    for cell in range(3):
        a = load_npz(tmp_path / "straight" / "centers" / f"cell_{cell:03d}.npz")
        b = load_npz(tmp_path / "resumed" / "centers" / f"cell_{cell:03d}.npz")
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_resume_refuses_a_checkpoint_of_another_run(dataset, tmp_path):
    co.train_coevolution(tiny(), dataset, tmp_path)
    with pytest.raises(ValueError, match="seed"):
        co.train_coevolution(tiny(seed=2), dataset, tmp_path, resume=True)
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        co.train_coevolution(tiny(), dataset, tmp_path / "empty", resume=True)


def test_a_nan_loss_names_epoch_and_cell_and_keeps_the_records(dataset, tmp_path, monkeypatch):
    config = tiny(population_size=5)
    population = pop.initial_population(config, dataset.n_dim)
    population.centers[3].encoder.params[0] = np.nan  # first met by cell 2
    monkeypatch.setattr(co, "initial_population", lambda config, n_dim: population)
    with pytest.raises(NonFiniteLossError, match=r"epoch 0: cell 2 selection"):
        co.train_coevolution(config, dataset, tmp_path)
    assert [r["node_idx"] for r in read_stats(tmp_path)] == [0, 1]


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(population_size=4, radius=3), "radius"),
        (dict(population_size=0), "population_size"),
        (dict(cell_evaluation="lipi_fancy"), "cell_evaluation"),
    ],
)
def test_bad_configurations_are_refused_with_a_clear_message(changes, message):
    with pytest.raises(ConfigError, match=message):
        tiny(**changes)


def test_workers_must_be_positive(dataset):
    with pytest.raises(ValueError, match="workers"):
        co.train_coevolution(tiny(), dataset, workers=0)


# ---------------------------------------------------------------------------
# Every variant, every prune method, both mask modes, end to end
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mask_mode", ["persistent", "regrow"])
@pytest.mark.parametrize("method", [None, "random", "variance", "conjunctive"])
@pytest.mark.parametrize(
    "variant", ["lipi_simple", "lipi_simple_pte", "epoch-node", "all_vs_all", "ann_canonical"]
)
def test_every_variant_runs_end_to_end(dataset, tmp_path, variant, method, mask_mode):
    population = 1 if variant == "ann_canonical" else 3
    config = tiny(
        cell_evaluation=variant,
        population_size=population,
        prune_method=method,
        prune_probability=1.0,
        mask_mode=mask_mode,
    )
    result = co.train_coevolution(config, dataset, tmp_path)
    records = read_stats(tmp_path)
    visits = {"all_vs_all": 2 * 9, "ann_canonical": 2}.get(variant, 2 * 3)
    assert len(records) == visits
    assert np.isfinite(result.test_loss)
    engine = Engine(result.best, 30, backend="numpy")
    assert result.test_loss == pytest.approx(engine.reconstruction_l1(result.best, dataset.test))
    pruned = records[-1]["n_pruned_encoder"] + records[-1]["n_pruned_decoder"]
    if method is None:
        assert pruned == 0
    elif method in ("random", "variance"):
        assert pruned > 0
    if method is not None and variant != "ann_canonical":
        assert all(r["pruned"] for r in records)  # p = 1 with the fixed schedule
    if mask_mode == "persistent" and method is not None:
        assert result.best.encoder.n_pruned == np.count_nonzero(result.best.encoder.mask == 0)
        assert np.all(result.best.encoder.params[result.best.encoder.mask == 0] == 0)
    if variant == "all_vs_all":
        pairs = {(r["encoder_idx"], r["decoder_idx"]) for r in records if r["iteration"] == 1}
        assert len(pairs) == 9
        assert len({r["learning_rate"] for r in records if r["iteration"] == 1}) == 1


def test_save_all_centers_writes_one_file_per_cell(dataset, tmp_path):
    co.train_coevolution(tiny(save_all_centers=True), dataset, tmp_path)
    files = sorted(p.name for p in (tmp_path / "centers").iterdir())
    assert files == ["cell_000.npz", "cell_001.npz", "cell_002.npz"]
    loaded = Autoencoder.load(tmp_path / "centers" / "cell_001.npz")
    assert loaded.n_dim == 20
    state = json.loads(str(load_npz(tmp_path / "checkpoint.npz")["state"]))
    assert state["next_epoch"] == 2 and len(state["learning_rates"]) == 3


def test_the_returned_pair_is_the_best_center_on_the_test_set(dataset, tmp_path):
    config = tiny(save_all_centers=True)
    result = co.train_coevolution(config, dataset, tmp_path)
    engine = Engine(result.best, 30, backend="numpy")
    losses = [
        engine.reconstruction_l1(
            Autoencoder.load(tmp_path / "centers" / f"cell_{c:03d}.npz"), dataset.test
        )
        for c in range(3)
    ]
    assert result.test_loss == pytest.approx(min(losses))


def test_plot_coevolution_writes_figures(dataset, tmp_path):
    from minievo.experiments.coevolution_plots import plot_coevolution

    co.train_coevolution(tiny(prune_method="random"), dataset, tmp_path)
    paths = plot_coevolution(read_stats(tmp_path), tmp_path / "figures")
    assert len(paths) >= 4 and all(p.exists() and p.stat().st_size > 0 for p in paths)


@pytest.mark.parametrize(
    ("make", "names", "key"),
    [
        (lambda: st.visit_streams(7, 3, 2), st.VISIT_STREAMS, (2, 3, 2)),
        (lambda: st.epoch_streams(7, 3), st.EPOCH_STREAMS, (1, 3)),
    ],
)
def test_streams_built_on_first_use_are_the_spawned_children(make, names, key):
    """A stream built on demand draws what the i-th child of ``spawn`` draws, in any order."""
    children = np.random.SeedSequence(7, spawn_key=key).spawn(len(names))
    spawned = {name: np.random.default_rng(c) for name, c in zip(names, children)}
    streams = make()
    assert len(streams) == 0  # nothing is built before it is read
    for name in reversed(names):
        assert np.array_equal(streams[name].random(4), spawned[name].random(4))
    assert streams[names[0]] is streams[names[0]]  # built once, then kept
    with pytest.raises(KeyError):
        streams["no such stream"]
