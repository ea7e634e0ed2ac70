# %% [markdown]
# # Tutorial 04: spatial coevolution (Lipi-AE), one cell visit step by step, then a whole run.
#
# Run it:
#
# ```bash
# python tutorials/04_coevolution.py            # paper-size data, small run (about 10 s)
# python tutorials/04_coevolution.py --quick    # tiny, a few seconds
# ```
#
# Instead of training one autoencoder, Lipi-AE (docs/algorithm.md §4) trains a *population*:
# `n` cells on a ring, each holding a center pair (encoder $E_i$,
# decoder $D_i$) and a learning rate $\eta_i$. Every epoch visits
# each cell once. A visit of cell $i$:
#
# 1. **Neighbourhood.** Copies of the centers of
#    $N(i) = (i, i+1, i-1, \dots, i+r, i-r) \bmod n$, so
#    $K = 2r + 1$ encoders and $K$ decoders.
# 2. **Evaluate every combination** on one random batch $B$:
#
#    $$L_{kj} = \tfrac{1}{|B|\,d} \textstyle\sum |D_j(E_k(x)) - x|, \qquad f^E_k = \min_j L_{kj}$$
#
#    An encoder is as good as its best partner ("best case").
#
# 3. **Tournament** of size 2 on $f^E$: two indices drawn with
#    replacement, the lower loss wins (ties: the second). The winner's
#    encoder *and* decoder form the selected pair.
# 4. **Train** the pair on every batch of the data, one Adam step per batch at
#    $\eta_i$.
# 5. **Replacement loss**: the trained pair on a new random batch.
# 6. **Prune** with the schedule's probability $p(t, T = epochs - 1, n = K)$.
# 7. **Replace** the center by the trained pair, always, even when worse.
# 8. **Mutate** $\eta_i \leftarrow \mathrm{clip}(\eta_i + \mathcal N(0, 10^{-10}), 10^{-9}, 10)$.
#
# Good genes spread along the ring: a strong center is copied into both
# neighbours' neighbourhoods, wins their tournaments, and becomes their center.
#
# **Settings.** The runs below use the default job (`minievo.default_job`, what
# `minievo run` runs): random pruning with probability 0.5 and amount 0.1 on
# the exponential schedule, a fresh Adam per step, and the papers' *regrow*
# masks: a pruning event zeroes the chosen weights once and training may grow
# them back. Only the population (6), the epochs (30) and the learning rate
# (1e-4, ten times the papers', so that 30 epochs show learning) are smaller.
# `Config()`'s persistent masks would keep every pruned weight at zero for
# good: random pruning then removes 10% of the *remaining* weights at every
# event, and 30 epochs end with about half the parameters masked, which is
# not the papers' behaviour.
#
# **Part 1** reads the visit where it is written out: the *reading edition*,
# `minievo/paper/lipi_ae.py`, whose `visit` is these eight steps in plain NumPy
# (docs/algorithm.md §4 names each step's function). The script trains a small
# population there for two epochs (so the neighbours differ), walks through one
# visit with the reading edition's functions, printing every intermediate, and
# then *asserts* two things: the walk-through equals `lipi_ae.visit`, and the
# fast engine's `visit_cell` (`minievo/training/visit.py`, with the NumPy
# backend) gives the same records and the same weights, bit for bit.
# **Part 2** runs the whole algorithm on the fast engine (Numba kernels) with
# `train_coevolution` and draws its records. Figures:
# `04_cell_visit.png` (loss matrix heatmap and training curve) and
# `04_run/coevolution_*.png` (selection and replacement loss per cell, learning
# rates, pruned counts, test loss).


# %%
import argparse
import copy
import inspect
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a script draws into files; a notebook shows them
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minievo.data import dataset_name, generate_binary_clustering  # noqa: E402
from minievo.experiments.coevolution_plots import plot_coevolution  # noqa: E402
from minievo.experiments.presets import default_job  # noqa: E402
from minievo.paper import lipi_ae  # noqa: E402
from minievo.paper.networks import train_step  # noqa: E402
from minievo.paper.pruning import SCHEDULES  # noqa: E402
from minievo.training import epochs, population, streams  # noqa: E402
from minievo.training.coevolution import train_coevolution  # noqa: E402
from minievo.training.records import read_stats  # noqa: E402
from minievo.training.visit import visit_cell  # noqa: E402

TITLE = "Tutorial 04: spatial coevolution (Lipi-AE), one cell visit step by step, then a whole run."
# where figures go by default: tutorials/output (a notebook: ./output)
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()


# %%
def settings(quick: bool):
    """Data sizes and run settings: tiny for --quick, the papers' data otherwise."""
    if quick:
        return (4, 15, 40), dict(population_size=4, epochs=4, learning_rate=1e-3)
    # the papers' data (10 clusters x 100 rows x 1000 bits); a learning rate 10x the
    # paper's 1e-5 so that a few dozen epochs show progress
    return (10, 100, 1000), dict(population_size=6, epochs=30, learning_rate=1e-4)


# %%
def warm_up(config, data, n_epochs):
    """The reading edition's population after ``n_epochs`` epochs of visits."""
    pop = lipi_ae.Population(config, data.n_dim)
    for t in range(n_epochs):
        for i in lipi_ae.visit_order(config.seed, t, config.population_size):
            lipi_ae.visit(config, pop, int(i), t, data.train, data.test)
    return pop


# %%
def plot_visit(losses, cells, selected, batch_losses, out):
    """Left: the K x K loss matrix; right: the selected pair's training curve."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    image = left.imshow(losses, cmap="viridis_r")
    for k in range(losses.shape[0]):
        for j in range(losses.shape[1]):
            left.text(
                j,
                k,
                f"{losses[k, j]:.3f}",
                ha="center",
                va="center",
                color="black" if losses[k, j] < np.median(losses) else "white",
                fontweight="bold" if k == selected else "normal",
            )
    left.set_xticks(range(len(cells)), [f"D{c}" for c in cells])
    left.set_yticks(range(len(cells)), [f"E{c}" for c in cells])
    left.set_xlabel("decoder (from cell)")
    left.set_ylabel("encoder (from cell)")
    left.set_title(
        f"L1 of every pair on one batch\n(selected: row {selected}, cell {cells[selected]})"
    )
    fig.colorbar(image, ax=left, shrink=0.8)
    steps = np.arange(1, batch_losses.shape[0] + 1)
    right.plot(steps, batch_losses, lw=0.6, alpha=0.5, label="batch loss (before its step)")
    window = max(1, batch_losses.shape[0] // 20)
    smooth = np.convolve(batch_losses, np.ones(window) / window, mode="valid")
    right.plot(steps[window - 1 :], smooth, lw=2, label=f"moving mean ({window} batches)")
    right.set_xlabel("Adam step (one per batch)")
    right.set_ylabel("L1 loss")
    right.set_title("training the selected pair for one pass")
    right.legend()
    fig.tight_layout()
    path = out / "04_cell_visit.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# %% [markdown]
# ## Part 1: one visit in the reading edition
#
# This is the whole visit (`minievo/paper/lipi_ae.py`); the numbered comments
# are the eight steps. The walk-through below runs the same lines one at a time.

# %%
print(inspect.getsource(lipi_ae.visit))


# %%
def walk_through_one_visit(config, data, pop, t, i):
    """``lipi_ae.visit`` step by step, with the same generators, printing what each step does."""
    rng = lipi_ae.generators(config.seed, (lipi_ae.VISIT, t, i), lipi_ae.VISIT_STREAMS)
    lr, B = pop.lrs[i], config.batch_size
    print(f"\n=== visiting cell {i} in epoch {t} (learning rate {lr:.2e}) ===")

    # 1. neighbourhood: the cell itself, then i+1, i-1, ..., i+r, i-r (mod n), copied
    cells = lipi_ae.neighbourhood(i, config.population_size, config.radius)  # (K,)
    hood = [tuple(net.copy() for net in pop.centers[c]) for c in cells]
    print(f"1. neighbourhood cells {cells.tolist()}: {len(hood)} copied (encoder, decoder) pairs")

    # 2. every encoder with every decoder on one batch: the first of a fresh shuffle
    L = lipi_ae.loss_matrix(hood, lipi_ae.batches(data.train, B, rng["data"])[0])  # (K, K)
    f_encoder, _ = lipi_ae.best_case_fitness(L)  # (K,)
    print("2. loss matrix (rows: encoders, columns: decoders)")
    for k, c in enumerate(cells):
        row = "  ".join(f"{v:.4f}" for v in L[k])
        print(f"   E{c}: {row}   -> best case {f_encoder[k]:.4f}")

    # 3. tournament of size 2 on the encoder fitness (peek at the two draws first)
    contestants = copy.deepcopy(rng["select"]).integers(0, len(cells), size=2)
    s = lipi_ae.tournament(f_encoder, rng["select"])
    print(
        f"3. tournament between rows {contestants.tolist()} "
        f"(fitness {f_encoder[contestants[0]]:.4f} vs {f_encoder[contestants[1]]:.4f}): "
        f"row {s}, the pair of cell {cells[s]}"
    )

    # 4. one Adam step per batch of a fresh shuffle (lipi_ae.train_selected, written out
    #    to keep each batch's loss before its step)
    passes = lipi_ae.batches(data.train, B, rng["data"])
    fresh = config.optimizer_state == "fresh"
    curve = np.array([train_step(hood[s], x, lr, fresh) for x in passes])  # (n_batches,)
    print(f"4. trained on {len(passes)} batches: loss {curve[0]:.4f} -> {curve[-1]:.4f}")

    # 5-6. replacement loss on a new batch, then pruning with p(t, T = E - 1, n = K)
    batch = lipi_ae.batches(data.train, B, rng["data"])[0]
    p = SCHEDULES[config.prune_schedule](config.prune_probability, t, config.epochs - 1, len(cells))
    when = (t, config.epochs - 1, len(cells))
    replacement, pruned = lipi_ae.evaluate_then_prune(
        config, hood[s], batch, when, rng["prune"], data.test
    )
    print(f"5. replacement loss {replacement:.4f} (selection: {L.min():.4f})")
    print(
        f"6. {config.prune_schedule} schedule: p = {p:.3f} -> {'pruned' if pruned else 'not pruned'}"
    )

    # 7-8. replace (always, even when worse) and mutate the learning rate
    old_center, pop.centers[i] = pop.centers[i], hood[s]
    pop.lrs[i] = lipi_ae.mutate_learning_rate(lr, rng["mutate"], config)
    print(
        f"7. cell {i}'s center replaced: L1 on the replacement batch "
        f"{lipi_ae.evaluate(old_center, batch):.4f} -> {replacement:.4f}"
    )
    print(f"8. learning rate {lr:.3e} -> {pop.lrs[i]:.3e}")
    record = {"iteration": t, "node_idx": i, "learning_rate": lr, "selected_cell": int(cells[s])}
    record |= {"min_selection_loss": float(L.min()), "min_replacement_loss": replacement}
    return L, cells, s, curve, record | {"pruned": pruned}


# %%
def same_bits(engine_pair, pair):
    """True when an engine pair (flat buffers) and a reading-edition pair hold equal weights."""
    for mlp, net in zip((engine_pair.encoder, engine_pair.decoder), pair):
        for l in range(mlp.spec.n_layers):
            for flat, tensor in (
                (mlp.weight(l), net.params[2 * l]),
                (mlp.bias(l), net.params[2 * l + 1]),
            ):
                if not np.array_equal(flat.view(np.uint32), tensor.view(np.uint32)):
                    return False
    return True


# %%
def the_engine_agrees(config, data, pop_before, t, i, walked):
    """The fast engine's visit_cell (NumPy backend) from the same start: same record and
    weights as the reading edition, to the bit. ``walked``: the reading edition's record."""
    config = config.replace(backend="numpy")
    engine_pop = population.initial_population(config, data.n_dim)
    engine = population.make_engine(config, engine_pop.centers[0])
    log = epochs.VisitLog(None, engine_pop, 0.0)
    for epoch in range(t):
        epochs.run_asynchronous_epoch(config, data, engine_pop, epoch, engine, log)
    assert all(same_bits(e, p) for e, p in zip(engine_pop.centers, pop_before.centers))
    visit = visit_cell(
        config, data, engine_pop.centers, i, engine_pop.learning_rates[i], t, engine,
        streams.visit_streams(config.seed, t, i),
    )  # fmt: skip
    for key, value in walked.items():
        assert visit.record[key] == value, key
    return visit


# %%
def main(quick: bool, out: Path) -> list:
    sizes, run = settings(quick)
    data = generate_binary_clustering(*sizes, rng=np.random.default_rng(4))
    # the default job (the papers' setting: random pruning, p = 0.5, amount 0.1,
    # exponential schedule, regrow masks, a fresh Adam per step), smaller and shorter
    config = default_job(dataset_name=dataset_name(*sizes), progress=False, seed=4, **run)
    assert config.mask_mode == "regrow" and config.optimizer_state == "fresh"
    out.mkdir(parents=True, exist_ok=True)

    # Part 1: one visit, step by step, in a population trained a little
    t, i = 2, 1
    pop = warm_up(config, data, n_epochs=t)
    start = copy.deepcopy(pop)  # the population before the visit
    L, cells, selected, curve, walked = walk_through_one_visit(config, data, pop, t, i)
    # the walk-through is lipi_ae.visit: the same record and the same new center
    again = copy.deepcopy(start)
    record = lipi_ae.visit(config, again, i, t, data.train, data.test)
    assert all(record[key] == value for key, value in walked.items())
    for net, walked_net in zip(again.centers[i], pop.centers[i]):
        assert all(np.array_equal(a, b) for a, b in zip(net.params, walked_net.params))
    print("   the walk-through equals lipi_ae.visit: the same record, the same new center")
    # and the fast engine's visit (NumPy backend) is the same visit, to the bit
    visit = the_engine_agrees(config, data, start, t, i, walked)
    assert same_bits(visit.center, pop.centers[i])
    print("   the engine's visit_cell (NumPy backend): the same record and weights, bit for bit")
    paths = [plot_visit(L, cells, selected, curve, out)]

    # Part 2: the whole algorithm, its records, its figures
    run_dir = out / "04_run"
    print(f"\n=== a whole run: {config.population_size} cells x {config.epochs} epochs ===")
    result = train_coevolution(config, data, run_dir)
    records = read_stats(run_dir)
    last = [r for r in records if r["iteration"] == config.epochs - 1]
    for r in sorted(last, key=lambda r: r["node_idx"]):
        print(
            f"cell {r['node_idx']}: selected cell {r['selected_cell']}, replacement "
            f"{r['min_replacement_loss']:.4f}, test {r['test_loss']:.4f}, "
            f"lr {r['learning_rate']:.2e}, pruned {r['n_pruned_encoder'] + r['n_pruned_decoder']}"
        )
    print(f"best center: test L1 {result.test_loss:.4f} ({result.wall_time:.1f} s)")
    # regrow masks: a pruning event zeroes weights once and training grows them
    # back, so the centers keep (almost) all their parameters, as in the papers
    zero = max(
        float(np.mean(net.params == 0)) for net in (result.best.encoder, result.best.decoder)
    )
    print(f"share of exactly-zero parameters of the best center: {zero:.1%} at most per network")
    pruned_counts = [r["n_pruned_encoder"] + r["n_pruned_decoder"] for r in last]
    print(f"pruned at the cells' last pruning events: {max(pruned_counts)} parameters at most")
    if not quick:  # learning that is visible: from 0.5 to below the majority plateau (0.27)
        assert result.test_loss < 0.25, result.test_loss
        assert zero < 0.2, zero  # persistent masks would leave about half of them masked
    paths += plot_coevolution(records, run_dir)
    for path in paths:
        print(f"figure: {path}")
    return paths


# %%
if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--out", type=Path, default=HERE / "output")
    # in a notebook there are no arguments to read: the default mode
    args = parser.parse_args([] if "ipykernel" in sys.modules else None)
    main(args.quick, args.out)
