"""A whole Lipi-AE cell visit (docs/algorithm.md §4): the NumPy reference against the Numba kernels.

One visit is everything a cell does in an epoch: copy the 3 neighbours,
evaluate the 3x3 neighbourhood on one batch, tournament, train the selected
pair on every batch (200 Adam steps at paper size), evaluate the replacement,
prune (random, exponential schedule, at the last epoch so the probability is
high), mutate the learning rate, and measure the new center's test L1 over the
whole test set. Both backends get the same random draws, so the visit's
records must agree before anything is timed.

Run with the other benchmarks: ``pytest benchmarks/ -k cell_visit``. For a
whole trial see ``benchmarks/end_to_end.py``.
"""

import numpy as np
import pytest

from minievo.data import generate_binary_clustering
from minievo.experiments.config import Config
from minievo.training.population import initial_population, make_engine
from minievo.training.streams import visit_streams
from minievo.training.visit import visit_cell

SIZES = {"paper": (5, 10, 100, 1000), "large": (100, 10, 100, 4000)}  # batch, clusters, rows, dims
BACKENDS = ("numpy", "numba")


@pytest.fixture(scope="module", params=list(SIZES))
def setting(request):
    batch, clusters, per_cluster, n_dim = SIZES[request.param]
    dataset = generate_binary_clustering(clusters, per_cluster, n_dim, rng=np.random.default_rng(1))
    base = Config(
        population_size=10,
        epochs=400,
        batch_size=batch,
        seed=1,
        dataset_name=f"binary_clustering_{clusters}_{per_cluster}_{n_dim}",
        prune_method="random",
        prune_schedule="exponential",
        prune_probability=0.5,
        progress=False,
    )
    return request.param, base, dataset


def _visit(config, dataset, population, engine):
    """Visit cell 3 in the last epoch; the population is not modified."""
    epoch = config.epochs - 1
    return visit_cell(
        config,
        dataset,
        population.centers,
        3,
        population.learning_rates[3],
        epoch,
        engine,
        visit_streams(config.seed, epoch, 3),
    )


@pytest.mark.parametrize("backend", BACKENDS)
def bench_cell_visit(benchmark, setting, backend):
    name, base, dataset = setting
    runs = {}
    for b in BACKENDS:
        config = base.replace(backend=b)
        population = initial_population(config, dataset.n_dim)
        engine = make_engine(config, population.centers[0])
        runs[b] = (config, population, engine, _visit(config, dataset, population, engine))
    expected, got = runs["numpy"][3].record, runs["numba"][3].record
    for key in ("min_selection_loss", "min_replacement_loss", "test_loss"):
        assert got[key] == pytest.approx(expected[key], rel=1e-3), key
    assert got["selected_cell"] == expected["selected_cell"]
    assert got["n_pruned_encoder"] == expected["n_pruned_encoder"]

    config, population, engine, _ = runs[backend]
    benchmark.group = f"cell visit [{name}]"
    benchmark.extra_info["backend"] = backend
    benchmark.pedantic(
        _visit, args=(config, dataset, population, engine), rounds=5, iterations=1, warmup_rounds=1
    )
