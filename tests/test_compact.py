"""Compaction (minievo.pruning.compact, ``minievo compact``): the compact network computes
what the masked one does, on random masks, whole-unit masks, every environment and real
pruned runs of each operator; bad input is refused in one line."""

import functools

import numpy as np
import pytest
from conftest import TINY_DATASET, tiny_config

from minievo.cli import main
from minievo.engine import Engine
from minievo.network import make_autoencoder
from minievo.pruning.compact import CompactAutoencoder, compact, masked_chain, structural_capacity
from minievo.training import coevolution as co
from minievo.training.records import read_stats

#: Largest allowed |compact - masked| on the sigmoid outputs in [0, 1]: float32 rounding of
#: a folded bias (measured largest: 1.2e-7, two units in the last place near 1).
OUTPUT_TOLERANCE = 1e-6

tiny = functools.partial(tiny_config, epochs=3)


def _binary(rng, rows, n_dim):
    return (rng.random((rows, n_dim)) < 0.3).astype(np.float32)


def _masked_outputs(pair, x):
    """The masked network's reconstruction as the engine computes it (test_loss's forward)."""
    return Engine(pair, 1, backend="numpy").reconstruct(pair, x)


def _random_masks(pair, rng, p_prune):
    for net in (pair.encoder, pair.decoder):
        net.apply_mask((rng.random(net.n_params) >= p_prune).astype(np.float32))


def _assert_held(pair, x):
    small = compact(pair)
    assert small.widths[0] == small.widths[-1] == pair.n_dim  # input and output widths stay
    assert np.max(np.abs(small.forward(x) - _masked_outputs(pair, x))) <= OUTPUT_TOLERANCE
    return small


@pytest.mark.parametrize("environment", ["default", "small", "large", "denoising", "variational"])
def test_random_masks_compact_to_the_same_outputs(environment):
    rng = np.random.default_rng(1)
    x = _binary(rng, 200, 40)
    removed = 0
    for p_prune in (0.0, 0.5, 0.9, 0.97, 1.0):
        pair = make_autoencoder(environment, 40, rng)
        _random_masks(pair, rng, p_prune)
        small = _assert_held(pair, x)
        removed += masked_chain(pair).n_params - small.n_params
        if p_prune == 0.0 and environment != "small":  # nothing to remove when nothing is zero
            assert small.widths == masked_chain(pair).widths
    assert removed > 0


def test_the_variational_chain_decodes_the_posterior_mean():
    pair = make_autoencoder("variational", 40, np.random.default_rng(2))
    chain = masked_chain(pair)
    assert chain.widths == (40, 30, 10, 30, 40)  # the log-variance head is not in the chain
    pair.encoder.weight(1)[10:] = 0.0  # a dead log-variance head changes no output
    pair.encoder.bias(1)[10:] = 0.0
    _assert_held(pair, _binary(np.random.default_rng(3), 50, 40))


def test_a_unit_without_input_is_folded_into_the_next_bias():
    pair = make_autoencoder("default", 40, np.random.default_rng(4))
    pair.encoder.weight(0)[3, :] = 0.0
    pair.encoder.bias(0)[3] = 0.7  # a constant ReLU(0.7) = 0.7 reaches the code
    small = _assert_held(pair, _binary(np.random.default_rng(5), 100, 40))
    assert small.widths == (40, 29, 10, 30, 40)
    expected = pair.encoder.bias(1) + 0.7 * pair.encoder.weight(1)[:, 3]
    np.testing.assert_allclose(small.biases[1], expected, rtol=0, atol=1e-7)


def test_removing_a_unit_can_kill_another():
    pair = make_autoencoder("default", 40, np.random.default_rng(6))
    pair.decoder.weight(0)[:, 2] = 0.0  # code unit 2 has no output
    pair.encoder.weight(1)[:, 5] = 0.0  # hidden unit 5 feeds only code unit 2
    pair.encoder.weight(1)[2, 5] = 0.4
    small = _assert_held(pair, _binary(np.random.default_rng(7), 100, 40))
    assert small.widths == (40, 29, 9, 30, 40)


def test_whole_unit_masks_of_the_large_environment():
    rng = np.random.default_rng(8)
    pair = make_autoencoder("large", 40, rng)
    killed = {0: [0, 7, 59], 1: [3, 4]}  # encoder layer -> units without input
    for l, units in killed.items():
        pair.encoder.weight(l)[units, :] = 0.0
    pair.decoder.weight(2)[:, [1, 2, 3]] = 0.0  # three decoder units of width 60 without output
    small = _assert_held(pair, _binary(rng, 100, 40))
    assert small.widths == (40, 57, 28, 10, 30, 57, 40)


def test_a_network_with_no_weights_left_outputs_its_constant():
    pair = make_autoencoder("default", 40, np.random.default_rng(9))
    for net in (pair.encoder, pair.decoder):
        for l in range(net.spec.n_layers):
            net.weight(l)[...] = 0.0
    small = _assert_held(pair, _binary(np.random.default_rng(10), 20, 40))
    assert small.widths == (40, 0, 0, 0, 40)
    assert small.n_params == 40 * 0 + 40  # the output biases alone


@pytest.mark.parametrize("method", ["random", "conjunctive", "variance"])
@pytest.mark.parametrize("mask_mode", ["regrow", "persistent"])
def test_real_pruned_runs_of_each_operator(dataset, tmp_path, method, mask_mode):
    config = tiny(
        prune_method=method,
        prune_schedule="fixed",
        prune_probability=1.0,
        prune_amount=0.5,
        mask_mode=mask_mode,
    )
    result = co.train_coevolution(config, dataset, tmp_path)
    small = _assert_held(result.best, dataset.test)
    assert small.n_params < masked_chain(result.best).n_params  # pruning freed whole units
    last = [r for r in read_stats(tmp_path) if r["iteration"] == 2]  # the last epoch's visits
    assert last and all(r["compact_params"] <= masked_chain(result.best).n_params for r in last)


def test_save_load_and_the_documented_forward_pass(tmp_path):
    rng = np.random.default_rng(11)
    pair = make_autoencoder("large", 40, rng)
    _random_masks(pair, rng, 0.9)
    x = _binary(rng, 30, 40)
    small = compact(pair)
    small.save(tmp_path / "c.npz")
    again = CompactAutoencoder.load(tmp_path / "c.npz")
    assert again.widths == small.widths and again.kind == "plain"
    np.testing.assert_array_equal(again.forward(x), small.forward(x))
    # docs/command-line.md's forward pass, plain NumPy over the saved arrays
    f = np.load(tmp_path / "c.npz")
    act = {"relu": lambda z: np.maximum(z, 0), "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
           "identity": lambda z: z}  # fmt: skip
    a = x
    for l, name in enumerate(f["activations"]):
        a = act[str(name)](a @ f[f"W{l}"].T + f[f"b{l}"])
    np.testing.assert_array_equal(a, small.forward(x))


def test_structural_capacity_counts_the_compact_network():
    pair = make_autoencoder("default", 40, np.random.default_rng(12))
    pair.encoder.weight(0)[[1, 2], :] = 0.0
    cap = structural_capacity(pair)
    assert cap["live_units"] == [28, 10, 30]
    n = 28 * 40 + 28 + 10 * 28 + 10 + 30 * 10 + 30 + 40 * 30 + 40
    assert cap["compact_params"] == n
    assert cap["compact_flops"] == 2 * n - (28 + 10 + 30 + 40)


# -- the command -------------------------------------------------------------------


def _canonical_run(out):
    main(
        [
            "run",
            "--cell-evaluation",
            "ann_canonical",
            "--epochs",
            "2",
            "--dataset",
            TINY_DATASET,
            "--batch-size",
            "4",
            "--prune-method",
            "random",
            "--prune-schedule",
            "fixed",
            "--prune-probability",
            "1",
            "--prune-amount",
            "0.5",
            "--out",
            str(out),
            "--no-progress",
        ]  # fmt: skip
    )


def test_compact_command_writes_beside_its_input(data_dir, tmp_path, capsys):
    _canonical_run(tmp_path / "r")
    capsys.readouterr()
    assert main(["compact", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "widths" in out and "parameters" in out and "FLOPs/example" in out
    written = CompactAutoencoder.load(tmp_path / "r" / "final_autoencoder_compact.npz")
    assert f"=>  {' -> '.join(map(str, written.widths))}" in out
    assert main(["compact", str(tmp_path / "r"), "--out", str(tmp_path / "mine.npz")]) == 0
    assert (tmp_path / "mine.npz").exists()


def test_compact_command_reads_a_coevolution_run_and_its_centers(dataset, tmp_path, capsys):
    config = tiny(prune_method="random", prune_schedule="fixed", prune_probability=1.0,
                  prune_amount=0.5, save_all_centers=True)  # fmt: skip
    from minievo.experiments.run import write_outputs

    result = co.train_coevolution(config, dataset, tmp_path)
    write_outputs(config, result, tmp_path, figures=False)
    assert main(["compact", str(tmp_path)]) == 0
    assert (tmp_path / "best_autoencoder_compact.npz").exists()
    cell = sorted((tmp_path / "centers").glob("*.npz"))[0]
    assert main(["compact", str(cell)]) == 0


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda d: d / "missing.npz", "no such file"),
        (lambda d: d, "a folder without"),
        (lambda d: d / "r" / "config.json", "a JSON file"),
        (lambda d: d / "r" / "checkpoint.npz", "a checkpoint"),
        (lambda d: d / "r" / "final_autoencoder_compact.npz", "already a compact network"),
        (lambda d: d / "damaged.npz", "not a readable .npz"),
    ],
)
def test_compact_command_refuses_anything_else_in_one_line(data_dir, tmp_path, capsys, make, says):
    _canonical_run(tmp_path / "r")
    main(["compact", str(tmp_path / "r")])
    (tmp_path / "damaged.npz").write_bytes(
        (tmp_path / "r" / "final_autoencoder.npz").read_bytes()[:100]
    )
    capsys.readouterr()
    path = make(tmp_path)
    assert main(["compact", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and says in err
    assert "compact reads a run folder" in err


# -- records -------------------------------------------------------------------------


def test_records_carry_structural_capacity_on_the_test_loss_cadence(canonical_config, tmp_path):
    from minievo.experiments.run import load_dataset_for
    from minievo.training.canonical import train_canonical

    config = canonical_config.replace(
        epochs=5, test_loss_every=2, calculate_test_loss=False, prune_method="random",
        prune_schedule="fixed", prune_probability=1.0, prune_amount=0.5,
    )  # fmt: skip
    result = train_canonical(config, load_dataset_for(config), tmp_path)
    records = read_stats(tmp_path)
    assert [("compact_params" in r) for r in records] == [True, False, True, False, True]
    assert structural_capacity(result.best) == {
        k: records[-1][k] for k in ("live_units", "compact_params", "compact_flops")
    }
