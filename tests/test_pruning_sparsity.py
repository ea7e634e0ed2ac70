"""Tests of minievo.pruning.sparsity: per-layer counts, dead nodes, removable parameters."""

import numpy as np

from minievo.network import Autoencoder, MLPSpec, init_mlp, make_autoencoder
from minievo.pruning import dead_nodes, format_report, sparsity_report, structurally_removable

# encoder 6 -> 4 -> 3, decoder 3 -> 5 -> 6
ENC, DEC = MLPSpec((6, 4, 3), ("relu", "relu")), MLPSpec((3, 5, 6), ("relu", "sigmoid"))


def pair(seed=0):
    rng = np.random.default_rng(seed)
    return Autoencoder(init_mlp(ENC, rng), init_mlp(DEC, rng))


def prune(net, l, rows=(), cols=(), bias=()):
    """Mask rows/columns of layer l's weight and entries of its bias (persistent)."""
    mask = net.mask.copy()
    w, b = net.weight(l, mask), net.bias(l, mask)
    w[list(rows), :] = 0.0
    w[:, list(cols)] = 0.0
    b[list(bias)] = 0.0
    net.apply_mask(mask)


def test_sparsity_report_counts_pruned_and_zero_entries():
    p = pair()
    prune(p.encoder, 0, rows=[1], bias=[1, 2])  # 6 weights, 2 biases
    p.encoder.weight(1)[0, 0] = 0.0  # a zero that is not pruned
    report = sparsity_report(p.encoder)
    assert [r["shape"] for r in report] == [(4, 6), (3, 4)]
    first, second = report
    assert (first["n_weights"], first["n_biases"]) == (24, 4)
    assert (first["pruned_weights"], first["pruned_biases"]) == (6, 2)
    assert (first["zero_weights"], first["zero_biases"]) == (6, 2)
    assert first["sparsity"] == first["zero_fraction"] == 8 / 28
    assert (second["pruned_weights"], second["zero_weights"]) == (0, 1)
    assert second["sparsity"] == 0.0 and second["zero_fraction"] == 1 / 15


def test_a_fresh_network_has_no_dead_nodes():
    p = pair()
    dead = dead_nodes(p)
    assert [d.size for d in dead["encoder"] + dead["decoder"]] == [0, 0, 0, 0]
    assert structurally_removable(p) == 0


def test_dead_nodes_without_input_or_without_output():
    p = pair()
    prune(p.encoder, 0, rows=[2])  # encoder node (0, 2): no input
    prune(p.encoder, 1, cols=[3])  # encoder node (0, 3): no output
    prune(p.decoder, 0, cols=[1])  # code node 1: decoder ignores it
    prune(p.decoder, 1, cols=[4])  # decoder hidden node 4: no output
    prune(p.decoder, 1, rows=[0])  # an output node: never dead
    dead = dead_nodes(p)
    assert [d.tolist() for d in dead["encoder"]] == [[2, 3], [1]]
    assert [d.tolist() for d in dead["decoder"]] == [[4], []]
    # removable: node (0,2): row 6 + bias 1 + column 3 = 10; node (0,3): 6 + 1 + 3 = 10;
    # code node 1: row 4 + bias 1 + decoder column 5 = 10, minus the weight shared with
    # node (0, 2) or (0, 3) entering it (2 entries counted twice); decoder node 4: row 3 +
    # bias 1 + column 6 = 10, minus its entry in code node 1's column (1 entry)
    assert structurally_removable(p) == 10 + 10 + 10 - 2 + 10 - 1


def test_dead_nodes_use_zeros_so_regrow_mode_is_described_too():
    p = pair()
    p.encoder.weight(0)[1, :] = 0.0  # zeroed, mask still ones
    assert dead_nodes(p)["encoder"][0].tolist() == [1]
    assert p.encoder.n_pruned == 0


def test_variational_code_nodes_map_to_decoder_columns():
    rng = np.random.default_rng(1)
    p = make_autoencoder("variational", 8, rng)
    z = p.latent
    mask = p.decoder.mask.copy()
    p.decoder.weight(0, mask)[:, 2] = 0.0  # code 2 unused
    p.decoder.apply_mask(mask)
    head = dead_nodes(p)["encoder"][-1]
    assert head.tolist() == [2, 2 + z]  # its mean and log-variance
    mask = p.encoder.mask.copy()
    p.encoder.weight(1, mask)[5, :] = 0.0  # constant mean 5: still used
    p.encoder.apply_mask(mask)
    assert dead_nodes(p)["encoder"][-1].tolist() == [2, 2 + z]


def test_format_report_lists_every_layer_and_the_totals():
    p = pair()
    prune(p.encoder, 0, rows=[2])
    text = format_report(p)
    lines = text.splitlines()
    assert sum(line.startswith("encoder ") for line in lines) == 3  # 2 layers + total
    assert sum(line.startswith("decoder ") for line in lines) == 3
    # one named count each: masked (persistent), zero now, non-zero now, at last pruning
    assert "masked 6 (n_pruned with persistent masks)" in text
    assert f"n_zero {p.encoder.n_zero} (exactly 0 now)" in text
    assert f"n_active {p.encoder.n_params - p.encoder.n_zero} (non-zero now)" in text
    assert "pruned at last pruning event 0 (n_pruned with regrow masks)" in text


def test_format_report_names_the_regrow_count_at_the_last_pruning_event():
    from minievo.pruning.operators import apply_prune_mask

    p = pair()
    mask = np.ones(p.encoder.n_params, dtype=np.float32)
    mask[:5] = 0.0
    apply_prune_mask(p.encoder, mask, "regrow")
    p.encoder.params[:5] = 0.5  # the zeros regrow
    text = format_report(p)
    assert "pruned at last pruning event 5 (n_pruned with regrow masks)" in text
    assert "masked 0 " in text and f"n_zero {p.encoder.n_zero} " in text
    assert f"structurally removable parameters: {structurally_removable(p)}" in text
