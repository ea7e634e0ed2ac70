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
# The script first trains a small population for a few epochs (so the
# neighbours differ), walks through one visit with the building blocks of
# `minievo.training.coevolution`, checks that the steps reproduce
# `visit_cell` exactly, and then runs the whole algorithm with
# `train_coevolution` and draws its records. Figures:
# `04_cell_visit.png` (loss matrix heatmap and training curve) and
# `04_run/coevolution_*.png` (selection and replacement loss per cell, learning
# rates, pruned counts, test loss).


# %%
import argparse
import copy
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a script draws into files; a notebook shows them
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minievo.data import batch_order, dataset_name, generate_binary_clustering  # noqa: E402
from minievo.experiments.coevolution_plots import plot_coevolution  # noqa: E402
from minievo.experiments.presets import default_job  # noqa: E402
from minievo.pruning import prune_probability  # noqa: E402
from minievo.training import coevolution as co  # noqa: E402
from minievo.training.records import read_stats  # noqa: E402
from minievo.training.ring import best_case_fitness, neighbourhood_indices, select_by_tournament  # noqa: E402

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
def warm_up(config, data, epochs):
    """A population trained ``epochs`` epochs, so the walk-through has diverse neighbours."""
    population = co.initial_population(config, data.n_dim)
    engine = co.make_engine(config, population.centers[0])
    log = co.VisitLog(None, population, 0.0)
    for epoch in range(epochs):
        co.run_asynchronous_epoch(config, data, population, epoch, engine, log)
    return population, engine


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


# %%
def walk_through_one_visit(config, data, population, engine, epoch, cell):
    """Steps 1-8 of the module docstring, printed, with the generators ``visit_cell`` uses."""
    streams = co.visit_streams(config.seed, epoch, cell)  # every draw of this visit
    n, r, rows = config.population_size, config.radius, config.batch_size
    lr = population.learning_rates[cell]
    print(f"\n=== visiting cell {cell} in epoch {epoch} (learning rate {lr:.2e}) ===")

    # 1. neighbourhood: the cell itself, then i+1, i-1, ..., i+r, i-r (mod n)
    cells = neighbourhood_indices(cell, n, r)
    neighbourhood = co.gather_neighbourhood(population.centers, cell, r)
    print(f"1. neighbourhood cells {cells.tolist()}: {len(neighbourhood)} copied pairs")

    # 2. every encoder with every decoder on one random batch
    batch = co.evaluation_batch(data.train, rows, streams["data"], config.shuffle_data)
    losses = co.evaluate_neighbourhood(engine, neighbourhood, batch, record=False)  # (K, K)
    encoder_fitness, decoder_fitness = best_case_fitness(losses)
    print("2. loss matrix (rows: encoders, columns: decoders)")
    for k, c in enumerate(cells):
        print(
            f"   E{c}: "
            + "  ".join(f"{v:.4f}" for v in losses[k])
            + f"   -> best case {encoder_fitness[k]:.4f}"
        )

    # 3. tournament of size 2 on the encoder fitness (peek at the two draws first)
    contestants = copy.deepcopy(streams["select"]).integers(0, len(cells), size=2)
    selected = select_by_tournament(encoder_fitness, streams["select"])
    pair = neighbourhood[selected]
    print(
        f"3. tournament between rows {contestants.tolist()} "
        f"(fitness {encoder_fitness[contestants[0]]:.4f} vs "
        f"{encoder_fitness[contestants[1]]:.4f}): row {selected}, "
        f"the pair of cell {cells[selected]}"
    )

    # 4. one Adam step per batch of a fresh shuffle, one compiled call
    order = batch_order(data.train.shape[0], streams["data"], config.shuffle_data)
    noise = engine.draw_noise(streams["noise"], data.train.shape[0])
    batch_losses = co.train_pair(
        engine,
        pair,
        data.train,
        order,
        rows,
        lr,
        fresh=config.optimizer_state == "fresh",
        record=False,
        noise=noise,
    )
    print(
        f"4. trained on {batch_losses.shape[0]} batches: loss {batch_losses[0]:.4f} "
        f"-> {batch_losses[-1]:.4f}"
    )

    # 5. replacement loss on a new batch
    replacement_batch = co.evaluation_batch(data.train, rows, streams["data"], config.shuffle_data)
    replacement = co.evaluate_replacement(engine, pair, replacement_batch, record=False)
    print(f"5. replacement loss {replacement:.4f} (selection: {losses.min():.4f})")

    # 6. prune with the schedule's probability
    p = prune_probability(
        config.prune_schedule, config.prune_probability, epoch, config.epochs - 1, len(cells)
    )
    pruned = co.prune_cell(pair, config, epoch, len(cells), streams["prune"], data.test)
    print(
        f"6. {config.prune_schedule} schedule: p = {p:.3f} -> "
        f"{'pruned' if pruned else 'not pruned'}; "
        f"{pair.encoder.n_pruned + pair.decoder.n_pruned} parameters pruned in all"
    )
    co.clear_records(pair)

    # 7-8. replace (always) and mutate the learning rate
    old_center = population.centers[cell]
    next_lr = co.mutate_learning_rate(
        lr, streams["mutate"], config.lr_mutation_std, config.lr_min, config.lr_max
    )
    co.replace_center(population, cell, pair, next_lr)
    print(
        f"7. cell {cell}'s center replaced: test L1 "
        f"{engine.reconstruction_l1(old_center, data.test):.4f} -> "
        f"{engine.reconstruction_l1(pair, data.test):.4f}"
    )
    print(f"8. learning rate {lr:.3e} -> {next_lr:.3e}")
    return losses, cells, selected, batch_losses


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
    population, engine = warm_up(config, data, epochs=2)
    centers_before = list(population.centers)
    rates_before = list(population.learning_rates)
    epoch, cell = 2, 1
    losses, cells, selected, batch_losses = walk_through_one_visit(
        config, data, population, engine, epoch, cell
    )
    # The same visit through visit_cell gives the same center, bit for bit.
    visit = co.visit_cell(
        config,
        data,
        centers_before,
        cell,
        rates_before[cell],
        epoch,
        engine,
        co.visit_streams(config.seed, epoch, cell),
    )
    same = all(
        np.array_equal(a, b)
        for a, b in (
            (visit.center.encoder.params, population.centers[cell].encoder.params),
            (visit.center.decoder.params, population.centers[cell].decoder.params),
        )
    )
    print(f"   visit_cell reproduces these steps exactly: {same}")
    assert same
    paths = [plot_visit(losses, cells, selected, batch_losses, out)]

    # Part 2: the whole algorithm, its records, its figures
    run_dir = out / "04_run"
    print(f"\n=== a whole run: {config.population_size} cells x {config.epochs} epochs ===")
    result = co.train_coevolution(config, data, run_dir)
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
