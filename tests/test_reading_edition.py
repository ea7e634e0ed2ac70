"""The executable specification: the fast engine computes what the reading edition says.

``minievo.paper`` (plain NumPy, docs/algorithm.md §2-§5) and ``minievo.training`` run side
by side over a grid of the settings that change numbers: the variant, the operator, the
mask mode, the Adam mode, the signal and the environment, on a population of 5 for a few
epochs. The schedules are spread over the cases, so every one of the seven fires somewhere.

* ``backend="numpy"``: every field the reading edition records (epoch, cell, learning rate,
  selection and replacement losses, selected cell, pruning event, pruned counts) is equal
  with ``==``, and every final parameter and mask is equal to the bit. What the reading
  edition leaves out (the cadenced test loss and training L1, ``fe_cnt``, time keys) is
  checked elsewhere (tests/test_cadence.py, tests/test_truthful_runs.py).
* ``backend="numba"``: in the first epoch the selections and pruning events are equal and
  the losses agree within the kernels' tolerance (tests/test_kernels.py).

The CI runs a covering subset: every value of every axis, and every pair of values of any
two axes, at least once. ``MINIEVO_FULL_GRID=1`` runs the whole grid (480 cases).
"""

import itertools
import os

import numpy as np
import pytest
from conftest import tiny_config

from minievo import paper
from minievo.network import Autoencoder
from minievo.training.coevolution import train_coevolution
from minievo.training.records import read_stats

AXES = {
    "cell_evaluation": ("lipi_simple", "lipi_simple_pte", "epoch-node", "all_vs_all", "ann_canonical"),
    "prune_method": (None, "random", "variance", "conjunctive"),
    "environment": ("default", "small", "large"),
    "mask_mode": ("regrow", "persistent"),
    "optimizer_state": ("fresh", "persistent"),
    "activation_signal": ("pre_activation", "hook_output"),
}  # fmt: skip
SCHEDULES = tuple(paper.pruning.SCHEDULES)


def covering_cases(axes):
    """A greedy pairwise covering array: rows of settings such that every pair of values of
    any two axes occurs in some row (deterministic, about as many rows as the two largest
    axes' product)."""
    names = list(axes)
    pairs = lambda row: {  # noqa: E731
        ((a, row[a]), (b, row[b])) for a, b in itertools.combinations(names, 2)
    }
    uncovered = set().union(
        *(pairs(dict(zip(names, r))) for r in itertools.product(*axes.values()))
    )
    rows = []
    while uncovered:
        (a, va), (b, vb) = min(uncovered, key=repr)
        row = {a: va, b: vb}
        for name in names:
            if name not in row:
                row[name] = max(
                    axes[name],
                    key=lambda v: len(
                        {
                            p
                            for p in uncovered
                            if (name, v) in p and all(row.get(k) == x for k, x in p if k != name)
                        }  # fmt: skip
                    ),
                )
        uncovered -= pairs(row)
        rows.append({name: row[name] for name in names})
    return rows


def _case_id(case):
    return "-".join(str(v) for v in case.values())


def with_schedules(cases):
    """The cases, each with one of the seven schedules in turn."""
    return [{**c, "prune_schedule": SCHEDULES[i % len(SCHEDULES)]} for i, c in enumerate(cases)]


def _config(case, epochs, backend="numpy"):
    return tiny_config(
        epochs=epochs,
        population_size=5,
        backend=backend,
        save_all_centers=True,
        prune_probability=0.5,
        prune_amount=0.2,
        **case,
    )


def run_both(config, dataset, tmp_path):
    """The engine's records and final pairs, and the reading edition's."""
    result = train_coevolution(config, dataset, tmp_path)
    if config.cell_evaluation == "ann_canonical":
        engine_pairs = [result.best]
    else:
        centers = tmp_path / "centers"
        engine_pairs = [
            Autoencoder.load(centers / f"cell_{i:03d}.npz") for i in range(config.population_size)
        ]
    pairs, records = paper.run(config, dataset.train, dataset.test)
    return read_stats(tmp_path), engine_pairs, records, pairs


def _bits(array):
    return np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)


def assert_same_run(config, dataset, tmp_path):
    engine_records, engine_pairs, records, pairs = run_both(config, dataset, tmp_path)
    assert len(engine_records) == len(records)
    for mine, theirs in zip(records, engine_records):
        for key, value in mine.items():
            assert theirs[key] == value, f"epoch {mine['iteration']}: {key}"
    for engine_pair, pair in zip(engine_pairs, pairs):
        for mlp, net in zip((engine_pair.encoder, engine_pair.decoder), pair):
            for l in range(mlp.spec.n_layers):
                for kind, flat in (("params", None), ("mask", mlp.mask)):
                    tensors = net.params if kind == "params" else net.masks
                    np.testing.assert_array_equal(_bits(mlp.weight(l, flat)), _bits(tensors[2 * l]))
                    np.testing.assert_array_equal(_bits(mlp.bias(l, flat)), _bits(tensors[2 * l + 1]))  # fmt: skip
    return records


CASES = with_schedules(covering_cases(AXES))


def test_the_covering_subset_covers_every_pair():
    covered = {
        frozenset([(a, case[a]), (b, case[b])])
        for case in CASES
        for a, b in itertools.combinations(AXES, 2)
    }
    for a, b in itertools.combinations(AXES, 2):
        for va, vb in itertools.product(AXES[a], AXES[b]):
            assert frozenset([(a, va), (b, vb)]) in covered
    assert len(CASES) <= 30


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_the_engine_equals_the_reading_edition(case, dataset, tmp_path):
    records = assert_same_run(_config(case, epochs=3), dataset, tmp_path)
    if case["prune_method"] is not None and case["cell_evaluation"] != "ann_canonical":
        assert any(r["pruned"] for r in records), "no pruning event: the case tests too little"


FULL_GRID = with_schedules([dict(zip(AXES, v)) for v in itertools.product(*AXES.values())])


@pytest.mark.parametrize(
    "case", FULL_GRID if os.environ.get("MINIEVO_FULL_GRID") == "1" else [], ids=_case_id
)
def test_the_full_grid(case, dataset, tmp_path):
    """Opt-in (``MINIEVO_FULL_GRID=1``, a few minutes): every combination of the axes."""
    assert_same_run(_config(case, epochs=3), dataset, tmp_path)


NUMBA_CASES = CASES[:: max(1, len(CASES) // 6)]


@pytest.mark.parametrize("case", NUMBA_CASES, ids=_case_id)
def test_the_numba_engine_follows_the_reading_edition(case, dataset, tmp_path):
    config = _config(case, epochs=1, backend="numba")
    engine_records, _, records, _ = run_both(config, dataset, tmp_path)
    assert len(engine_records) == len(records)
    for mine, theirs in zip(records, engine_records):
        for key in ("node_idx", "selected_cell", "pruned", "learning_rate"):
            if key in mine:
                assert theirs[key] == mine[key], key
        for key in ("min_selection_loss", "min_replacement_loss", "min_batch_loss"):
            if key in mine:
                assert theirs[key] == pytest.approx(mine[key], rel=1e-4, abs=1e-5), key
