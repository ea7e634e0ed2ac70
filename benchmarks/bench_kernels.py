"""Every kernel of minievo: the NumPy reference against its Numba twin, on the same inputs.

One benchmark ``group`` per operation and size; inside it ``numpy`` (the
reference) and ``numba`` (the kernel), so that the table shows them side by
side and ``conftest.py`` prints their ratio. Before timing, every benchmark
checks that the two backends agree (the tolerances of ``tests/test_kernels.py``);
that first call is also the warm-up that compiles (or loads) the Numba code.

Sizes: ``paper`` is the papers' setting (batch 5, 1000 dimensions, the
default 1000-30-10-30-1000 network, 61,670 parameters); ``large`` is batch 100
and 4000 dimensions. Networks have 20% of every buffer pruned.

Run ``pytest benchmarks/`` from the repository root (see ``benchmarks/README.md``).
"""

from types import SimpleNamespace

import numpy as np
import pytest

from minievo.engine import Engine
from minievo.kernels import Adam, cpu, make_workspace
from minievo.kernels import reference as ref
from minievo.network import make_autoencoder

SIZES = {"paper": (5, 1000), "large": (100, 4000)}  # (batch, n_dim)
KERNELS = {"numpy": ref, "numba": cpu}
LR, BETAS, EPS = 1e-5, (0.5, 0.999), 1e-8
N_ROWS = 1000  # rows of the training data
f32 = np.float32


def assert_close(actual, expected, rtol=1e-4, scaled_atol=1e-5):
    expected = np.asarray(expected)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=scaled_atol * scale)


@pytest.fixture(scope="module", params=list(SIZES))
def size(request):
    """A pruned default autoencoder, training data, a batch and its activations."""
    batch_size, n_dim = SIZES[request.param]
    rng = np.random.default_rng(0)
    pair = make_autoencoder("default", n_dim, rng, record_rows=batch_size)
    for net in (pair.encoder, pair.decoder):
        net.apply_mask((rng.random(net.n_params) >= 0.2).astype(f32))
    data = (rng.random((N_ROWS, n_dim)) < 0.75).astype(f32)
    batch = data[:batch_size].copy()
    work = make_workspace(pair.encoder.spec, pair.decoder.spec, batch_size)
    ref.pair_loss_and_gradients(
        pair.encoder.arrays, pair.decoder.arrays, batch, batch, work.no_dx, ref.PLAIN, work, False
    )
    B = batch_size
    enc_acts = [ref.rows_view(pair.encoder.layout, work.enc_act, B, l).copy() for l in range(2)]
    dec_acts = [ref.rows_view(pair.decoder.layout, work.dec_act, B, l).copy() for l in range(2)]
    # inputs and outputs of every layer: enc x -> h -> code, dec code -> h -> y
    acts = {"enc": [batch] + enc_acts, "dec": [enc_acts[1]] + dec_acts}
    deltas = {
        net: [
            rng.standard_normal((B, n)).astype(f32) * (acts[net][l + 1] > 0)
            for l, n in enumerate(sizes)
        ]
        for net, sizes in (("enc", (30, 10)), ("dec", (30, n_dim)))
    }
    return SimpleNamespace(
        name=request.param,
        batch_size=batch_size,
        n_dim=n_dim,
        pair=pair,
        data=data,
        batch=batch,
        acts=acts,
        deltas=deltas,
    )


def group(size, operation):
    return f"{operation} [{size.name}]"


def set_backend(benchmark, backend, steps=1):
    benchmark.extra_info["backend"] = backend
    benchmark.extra_info["steps"] = steps


# Layers of the default network: (network, layer, label)
LAYERS = [
    ("enc", 0, "enc L0 n_dim->30"),
    ("enc", 1, "enc L1 30->10"),
    ("dec", 0, "dec L0 10->30"),
    ("dec", 1, "dec L1 30->n_dim"),
]


def layer_operands(size, net_name, l):
    net = size.pair.encoder if net_name == "enc" else size.pair.decoder
    W, b = net.weight(l), net.bias(l)
    return net, W, b, size.acts[net_name][l], size.deltas[net_name][l]


# --------------------------------------------------------------------------
# Dense layers
# --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", list(KERNELS))
@pytest.mark.parametrize("net_name, l, label", LAYERS, ids=[x[2] for x in LAYERS])
def bench_dense_forward(benchmark, size, backend, net_name, l, label):
    _, W, b, x, _ = layer_operands(size, net_name, l)
    outs = {name: np.empty((x.shape[0], W.shape[0]), f32) for name in KERNELS}
    for name, mod in KERNELS.items():
        mod.dense_forward(x, W, b, outs[name])
    assert_close(outs["numba"], outs["numpy"])
    benchmark.group = group(size, f"dense forward {label}")
    set_backend(benchmark, backend)
    benchmark(KERNELS[backend].dense_forward, x, W, b, outs[backend])


@pytest.mark.parametrize("backend", list(KERNELS))
@pytest.mark.parametrize("net_name, l, label", LAYERS, ids=[x[2] for x in LAYERS])
def bench_dense_backward(benchmark, size, backend, net_name, l, label):
    """Weight and bias gradient, and the input gradient (except for the first layer)."""
    _, W, b, x, d = layer_operands(size, net_name, l)
    want_dx = not (net_name == "enc" and l == 0)
    outs = {name: (np.empty_like(W), np.empty_like(b), np.empty_like(x)) for name in KERNELS}

    def backward(mod, dW, db, dx):
        mod.dense_backward_params(x, d, dW, db)
        if want_dx:
            mod.dense_backward_input(W, d, dx)

    for name, mod in KERNELS.items():
        backward(mod, *outs[name])
    for got, expected in list(zip(outs["numba"], outs["numpy"]))[: 3 if want_dx else 2]:
        assert_close(got, expected)
    benchmark.group = group(size, f"dense backward {label}")
    set_backend(benchmark, backend)
    benchmark(backward, KERNELS[backend], *outs[backend])


@pytest.mark.parametrize("net_name, l, label", [LAYERS[3]], ids=[LAYERS[3][2]])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def bench_dense_transposed(benchmark, size, direction, net_name, l, label):
    """The short-row layer as ``train_epoch`` computes it, weights stored (n_in, n_out);
    shown in the groups above as ``numba (epoch layout)``."""
    _, W, b, x, d = layer_operands(size, net_name, l)
    Wt = np.ascontiguousarray(W.T)
    if direction == "forward":
        out = np.empty((x.shape[0], W.shape[0]), f32)
        cpu._dense_forward_t(x, Wt, b, out)
        assert_close(out, x @ W.T + b)
        run = lambda: cpu._dense_forward_t(x, Wt, b, out)  # noqa: E731
    else:
        dWt, db, dx = np.empty_like(Wt), np.empty_like(b), np.empty_like(x)

        def run():
            cpu._dense_backward_params_t(x, d, dWt, db)
            cpu._dense_backward_input_t(Wt, d, dx)

        run()
        assert_close(dWt.T, d.T @ x)
        assert_close(dx, d @ W)
    benchmark.group = group(size, f"dense {direction} {label}")
    set_backend(benchmark, "numba (epoch layout)")
    benchmark(run)


# --------------------------------------------------------------------------
# Loss and optimizer
# --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", list(KERNELS))
def bench_l1_loss(benchmark, size, backend):
    y, target = size.acts["dec"][2], size.batch
    grads = {name: np.empty_like(y) for name in KERNELS}
    values = {name: mod.l1_loss(y, target, grads[name]) for name, mod in KERNELS.items()}
    assert values["numba"] == pytest.approx(values["numpy"], rel=1e-6)
    np.testing.assert_array_equal(grads["numba"], grads["numpy"])
    benchmark.group = group(size, "L1 loss and gradient")
    set_backend(benchmark, backend)
    benchmark(KERNELS[backend].l1_loss, y, target, grads[backend])


def adam_operands(size):
    """One flat buffer as large as the whole autoencoder (61,670 parameters at paper size)."""
    enc, dec = size.pair.encoder, size.pair.decoder
    params = np.concatenate([enc.params, dec.params])
    mask = np.concatenate([enc.mask, dec.mask])
    grad = np.random.default_rng(1).standard_normal(params.shape).astype(f32) * 1e-3
    return params, mask, grad


@pytest.mark.parametrize("backend", list(KERNELS))
@pytest.mark.parametrize("fresh", [False, True], ids=["persistent", "fresh"])
def bench_masked_adam(benchmark, size, backend, fresh):
    params, mask, grad = adam_operands(size)
    state = {
        name: [params.copy(), np.zeros_like(params), np.zeros_like(params)] for name in KERNELS
    }

    def step(mod, p, m, v):
        if fresh:
            mod.adam_fresh_update(p, grad, mask, Adam(LR, *BETAS, EPS, True))
        else:
            mod.adam_update(p, grad, mask, m, v, 10, Adam(LR, *BETAS, EPS, False))

    for name, mod in KERNELS.items():
        step(mod, *state[name])
    np.testing.assert_allclose(state["numba"][0], state["numpy"][0], rtol=1e-6, atol=1e-9)
    benchmark.group = group(
        size, f"masked Adam, {'fresh' if fresh else 'persistent'}, {params.size} params"
    )
    set_backend(benchmark, backend)
    benchmark(step, KERNELS[backend], *state[backend])


# --------------------------------------------------------------------------
# A training step, an epoch, a neighbourhood evaluation
# --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", list(KERNELS))
@pytest.mark.parametrize("fresh", [False, True], ids=["persistent", "fresh"])
def bench_train_step(benchmark, size, backend, fresh):
    """One call of ``train_step``: forward, L1, backward, masked Adam on one batch."""
    pairs = {name: size.pair.copy() for name in KERNELS}
    works = {
        name: make_workspace(size.pair.encoder.spec, size.pair.decoder.spec, size.batch_size)
        for name in KERNELS
    }

    def step(mod, pair, work):
        return mod.train_step(
            pair.encoder.arrays,
            pair.decoder.arrays,
            size.batch,
            size.batch,
            work.no_dx,
            ref.PLAIN,
            work,
            Adam(LR, *BETAS, EPS, fresh),
            True,
        )

    losses = {name: step(mod, pairs[name], works[name]) for name, mod in KERNELS.items()}
    assert losses["numba"] == pytest.approx(losses["numpy"], rel=1e-5)
    assert_close(pairs["numba"].decoder.grad, pairs["numpy"].decoder.grad)
    benchmark.group = group(size, f"train_step, {'fresh' if fresh else 'persistent'} Adam")
    set_backend(benchmark, backend)
    benchmark(step, KERNELS[backend], pairs[backend], works[backend])


@pytest.mark.parametrize("backend", list(KERNELS))
@pytest.mark.parametrize("fresh", [False, True], ids=["persistent", "fresh"])
def bench_train_epoch(benchmark, size, backend, fresh):
    """``Engine.train_epoch`` over the 1000 training rows: the real training loop
    (one compiled call for the whole pass with Numba). The summary also shows
    the time per step."""
    order = np.random.default_rng(2).permutation(N_ROWS).astype(np.int64)
    engines = {name: Engine(size.pair, size.batch_size, name) for name in KERNELS}
    pairs = {name: size.pair.copy() for name in KERNELS}

    def epoch(name):
        return engines[name].train_epoch(
            pairs[name], size.data, order, size.batch_size, LR, fresh=fresh, record=True
        )

    losses = {name: epoch(name) for name in KERNELS}
    assert_close(losses["numba"], losses["numpy"], rtol=1e-4)
    benchmark.group = group(size, f"train_epoch, {'fresh' if fresh else 'persistent'} Adam")
    set_backend(benchmark, backend, steps=losses["numpy"].shape[0])
    benchmark(epoch, backend)


@pytest.mark.parametrize("backend", list(KERNELS))
def bench_neighbourhood_evaluation(benchmark, size, backend):
    """The 3x3 neighbourhood of a cell: 9 (encoder, decoder) pairs of 3 cells on one
    batch, recording activations (docs/algorithm.md §4)."""
    cells = {
        name: [
            make_autoencoder(
                "default", size.n_dim, np.random.default_rng(seed), record_rows=size.batch_size
            )
            for seed in range(3)
        ]
        for name in KERNELS
    }
    works = {
        name: make_workspace(size.pair.encoder.spec, size.pair.decoder.spec, size.batch_size)
        for name in KERNELS
    }

    def evaluate(name):
        mod, work = KERNELS[name], works[name]
        return [
            mod.evaluate_pair(e.encoder.arrays, d.decoder.arrays, size.batch, ref.PLAIN, work, True)
            for e in cells[name]
            for d in cells[name]
        ]

    losses = {name: evaluate(name) for name in KERNELS}
    assert_close(losses["numba"], losses["numpy"], rtol=1e-5)
    benchmark.group = group(size, "3x3 neighbourhood evaluation")
    set_backend(benchmark, backend)
    benchmark(evaluate, backend)


# --------------------------------------------------------------------------
# Pruning operators (NumPy only: there is no Numba twin to compare)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["random", "variance", "conjunctive"])
def bench_pruning_operator(benchmark, size, method):
    operators = pytest.importorskip("minievo.pruning.operators")
    pair = size.pair.copy()
    engine = Engine(pair, size.batch_size, "numba")
    for start in range(0, 50, size.batch_size):  # records for the variance operator
        engine.evaluate(pair, size.data[start : start + size.batch_size], record=True)
    rng = np.random.default_rng(3)

    def run():
        if method == "random":
            return operators.random_mask(pair.decoder, 0.1, rng, mask_mode="persistent")
        if method == "variance":
            return operators.variance_mask(pair.decoder, rng)
        return operators.conjunctive_masks(pair, size.data, 0.1, rng)

    mask = run()
    mask = mask[1] if isinstance(mask, tuple) else mask
    assert mask.shape == (pair.decoder.n_params,) and set(np.unique(mask)) <= {0.0, 1.0}
    benchmark.group = group(size, f"pruning operator {method}")
    set_backend(benchmark, "numpy")
    benchmark(run)
