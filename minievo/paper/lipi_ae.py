"""Lipi-AE, coevolution on a ring ([H24], docs/algorithm.md §4), and canonical training (§3).

``run(cfg, train, test)`` reads these fields of ``cfg`` (a ``minievo.Config`` has them): seed,
epochs, population_size, radius, batch_size, learning_rate, lr_mutation_std, lr_min, lr_max,
environment, activation_signal, cell_evaluation, optimizer_state, and the pruning fields
of ``pruning.py``.
"""

import numpy as np

from .networks import evaluate, new_pair, train_step
from .pruning import maybe_prune, pruned_counts

#: Randomness (§4 "Order of updates"): every generator is keyed by (kind, epoch, cell), so the
#: numbers never depend on thread timing, and a resumed run needs no generator state.
INIT, EPOCH, VISIT = 0, 1, 2
VISIT_STREAMS = ("data", "select", "partners", "noise", "prune", "mutate")
EPOCH_STREAMS = ("order", "mutate")


def generators(seed, key, names):
    """Stream names[i] draws from SeedSequence(seed, spawn_key=key + (i,))."""
    seeds = (np.random.SeedSequence(seed, spawn_key=(*key, i)) for i in range(len(names)))
    return dict(zip(names, map(np.random.default_rng, seeds)))


def visit_order(seed, t, n):
    """The cells in index order at epoch 0, in a fresh permutation after (§4)."""
    if t == 0:
        return np.arange(n, dtype=np.int64)
    return generators(seed, (EPOCH, t), EPOCH_STREAMS)["order"].permutation(n)


def batches(train, B, rng):
    """One pass (§1): every row once in a fresh order, B at a time (the last may be smaller).
    'One batch' for an evaluation is the first batch of such a pass."""
    order = rng.permutation(len(train))
    return [train[order[k : k + B]] for k in range(0, len(order), B)]


def neighbourhood(i, n, r):
    """N(i) = (i, i+1, i-1, ..., i+r, i-r) mod n, the published get_neighbors (§4 step 1)."""
    offsets = np.zeros(2 * r + 1, dtype=np.int64)  # (2r+1,)
    offsets[1::2], offsets[2::2] = np.arange(1, r + 1), -np.arange(1, r + 1)
    return (i + offsets) % n


def best_case_fitness(L):
    """f^E_k = min_j L_kj, f^D_j = min_k L_kj: as good as the best partner (§4 step 2)."""
    return L.min(axis=1), L.min(axis=0)


def tournament(fitness, rng, size=2):
    """`size` draws with replacement; the lowest fitness wins, a tie the later draw (§4 step 3)."""
    contestants = rng.integers(0, len(fitness), size=size)
    winner = int(contestants[0])
    for challenger in contestants[1:]:
        if not fitness[winner] < fitness[challenger]:  # the published `a if f[a] < f[b] else b`
            winner = int(challenger)
    return winner


def mutate_learning_rate(lr, rng, cfg):
    """eta <- clip(eta + N(0, sigma^2), lr_min, lr_max), sigma = lr_mutation_std (§4 step 8)."""
    return float(min(cfg.lr_max, max(cfg.lr_min, lr + rng.normal(0.0, cfg.lr_mutation_std))))


def step_learning_rate(lr0, t, E):
    """Canonical StepLR (§3 step 1): eta_t = eta_0 0.1^floor(t / max(1, floor(E / 4)))."""
    return lr0 * 0.1 ** (t // max(1, E // 4))


def loss_matrix(hood, x):
    """L_kj: encoder k with decoder j of the neighbourhood on one batch x, (K, K) (§4 step 2)."""
    return np.array([[evaluate((e, d), x) for _, d in hood] for e, _ in hood])


def train_selected(cfg, hood, s, passes, lr, rng):
    """Step 4: one Adam step on the selected pair (E_s, D_s) per batch."""
    for x in passes:
        train_step(hood[s], x, lr, cfg.optimizer_state == "fresh")


def train_with_partners(cfg, hood, s, passes, lr, rng):
    """epoch-node's step 4 ([H24]): per batch a step on (E_s, D_rho), then on (E_rho', D_s), rho
    and rho' uniform over the neighbourhood; each step trains both networks of its pair."""
    partners = rng.integers(0, len(hood), size=(len(passes), 2))  # (batches, [rho, rho'])
    for x, (rho, rho2) in zip(passes, partners):
        for pair in ((hood[s][0], hood[rho][1]), (hood[rho2][0], hood[s][1])):
            train_step(pair, x, lr, cfg.optimizer_state == "fresh")


def evaluate_then_prune(cfg, pair, batch, when, rng, test):
    """Steps 5-6: the trained pair's loss on one new batch, then pruning."""
    loss = evaluate(pair, batch)
    return loss, maybe_prune(cfg, pair, when, rng, test)


def prune_then_evaluate(cfg, pair, batch, when, rng, test):
    """lipi_simple_pte ([J25]): steps 5 and 6 swapped, the pair is pruned before its evaluation."""
    pruned = maybe_prune(cfg, pair, when, rng, test)
    return evaluate(pair, batch), pruned


#: §4 Variants: step 4, steps 5-6, and whether the cell's own center keeps its activation
#: records across visits (the published epoch-node works on the center object itself).
VARIANTS = {
    "lipi_simple": (train_selected, evaluate_then_prune, False),
    "lipi_simple_pte": (train_selected, prune_then_evaluate, False),
    "epoch-node": (train_with_partners, evaluate_then_prune, True),
}


def visit(cfg, pop, i, t, train, test):
    """Cell i's update at epoch t, the eight steps of [H24]'s cell update (§4)."""
    rng, lr, B = generators(cfg.seed, (VISIT, t, i), VISIT_STREAMS), pop.lrs[i], cfg.batch_size
    train_pair, evaluate_and_prune, keep_records = VARIANTS[cfg.cell_evaluation]
    cells = neighbourhood(i, len(pop.centers), cfg.radius)  # 1. (K,)
    hood = [tuple(net.copy(keep_records and k == 0) for net in pop.centers[c])
            for k, c in enumerate(cells)]  # copies; records start empty  # fmt: skip
    L = loss_matrix(hood, batches(train, B, rng["data"])[0])  # 2. (K, K)
    s = tournament(best_case_fitness(L)[0], rng["select"])  # 3.
    train_pair(cfg, hood, s, batches(train, B, rng["data"]), lr, rng["partners"])  # 4.
    batch, when = batches(train, B, rng["data"])[0], (t, cfg.epochs - 1, len(hood))
    replacement, pruned = evaluate_and_prune(cfg, hood[s], batch, when, rng["prune"], test)  # 5-6.
    if pruned or not keep_records:  # a new center starts its next visit with empty records
        for net in hood[s]:
            net.clear_records()
    pop.centers[i] = hood[s]  # 7. always, even when worse
    pop.lrs[i] = mutate_learning_rate(lr, rng["mutate"], cfg)  # 8.
    return {"iteration": t, "node_idx": i, "learning_rate": lr,
            "min_selection_loss": float(L.min()), "min_replacement_loss": replacement,
            "selected_cell": int(cells[s]), "pruned": pruned,
            **pruned_counts(hood[s], cfg.mask_mode)}  # fmt: skip


def all_vs_all_epoch(cfg, pop, t, train, test):
    """The non-spatial baseline (§4 Variants): every encoder with every decoder, trained in place,
    two Adam steps per batch (the published quirk), pruned with n = 1; one shared rate."""
    n, lr, B, history = len(pop.centers), pop.lrs[0], cfg.batch_size, []
    order = [int(c) for c in visit_order(cfg.seed, t, n)]
    for a, b in ((a, b) for a in order for b in order):
        rng = generators(cfg.seed, (VISIT, t, a * n + b), VISIT_STREAMS)
        pair = pop.centers[a][0], pop.centers[b][1]
        selection = evaluate(pair, batches(train, B, rng["data"])[0])
        for x in batches(train, B, rng["data"]):
            train_step(pair, x, lr, cfg.optimizer_state == "fresh")
            train_step(pair, x, lr, cfg.optimizer_state == "fresh")
        when, batch = (t, cfg.epochs - 1, 1), batches(train, B, rng["data"])[0]
        replacement, pruned = evaluate_then_prune(cfg, pair, batch, when, rng["prune"], test)
        if pruned:
            for net in pair:
                net.clear_records()
        history.append({"iteration": t, "node_idx": a, "encoder_idx": a, "decoder_idx": b,
                        "learning_rate": lr, "min_selection_loss": selection,
                        "min_replacement_loss": replacement, "pruned": pruned,
                        **pruned_counts(pair, cfg.mask_mode)})  # fmt: skip
    mutate = generators(cfg.seed, (EPOCH, t), EPOCH_STREAMS)["mutate"]
    pop.lrs = [mutate_learning_rate(lr, mutate, cfg)] * n
    return history


class Population:
    """Cell i holds a center pop.centers[i] = (encoder, decoder) and a learning rate pop.lrs[i]."""

    def __init__(self, cfg, D):
        rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(INIT,)))
        new = cfg.environment, D, rng, record_rows(cfg), cfg.activation_signal
        self.centers = [new_pair(*new) for _ in range(cfg.population_size)]
        self.lrs = [float(cfg.learning_rate)] * cfg.population_size


def run(cfg, train, test):
    """A whole run: (final centers, one record per visit). Asynchronous update (§4): a cell
    visited later in an epoch sees the centers replaced before it."""
    if cfg.cell_evaluation == "ann_canonical":
        return train_canonical(cfg, train, test)
    pop, history = Population(cfg, train.shape[1]), []
    for t in range(cfg.epochs):
        if cfg.cell_evaluation == "all_vs_all":
            history += all_vs_all_epoch(cfg, pop, t, train, test)
            continue
        for i in visit_order(cfg.seed, t, cfg.population_size):
            history.append(visit(cfg, pop, int(i), t, train, test))
    return pop.centers, history


def train_canonical(cfg, train, test):
    """§3: one autoencoder, one persistent Adam, StepLR, pruning with p(t, T = E, n = 1)."""
    seeds = np.random.SeedSequence(cfg.seed).spawn(4)
    rng = dict(zip(("init", "shuffle", "noise", "prune"), map(np.random.default_rng, seeds)))
    D, history = train.shape[1], []
    pair = new_pair(cfg.environment, D, rng["init"], record_rows(cfg), cfg.activation_signal)
    for t in range(cfg.epochs):
        lr = step_learning_rate(cfg.learning_rate, t, cfg.epochs)
        passes = batches(train, cfg.batch_size, rng["shuffle"])
        losses = [train_step(pair, x, lr, False) for x in passes]  # a persistent Adam
        pruned = maybe_prune(cfg, pair, (t, cfg.epochs, 1), rng["prune"], test)
        if pruned:
            for net in pair:
                net.clear_records()
        history.append({"iteration": t, "learning_rate": lr, "min_batch_loss": min(losses),
                        "pruned": pruned, **pruned_counts(pair, cfg.mask_mode)})  # fmt: skip
    return [pair], history


def record_rows(cfg):
    """Batch positions of the activation records: only VARIANCE reads them (§5)."""
    return cfg.batch_size if cfg.prune_method == "variance" else 0
