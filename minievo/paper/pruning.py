"""Pruning as a mutation ([J25], docs/algorithm.md §5): when (schedules), what (operators), how.

An operator returns, for each network of an (encoder, decoder) pair, one 0/1 float32 mask per
tensor of ``net.params`` (0 prunes); ``apply_masks`` applies them. Fields of ``cfg`` read here:
prune_method, prune_schedule, prune_probability, prune_amount, lexi_threshold, lexi_rows,
mask_mode.
"""

import numpy as np

from .networks import forward


def progress(t, T):
    """t/T, the fraction of training done; 1 when T = 0 (the published code divides by 0)."""
    return t / T if T > 0 else 1.0


#: §5 "When": p(t, T, n) for base probability p, epoch t, final epoch T, n solutions.
SCHEDULES = {
    "fixed": lambda p, t, T, n: p,
    "increase": lambda p, t, T, n: p * progress(t, T),
    "decrease": lambda p, t, T, n: 1.0 - p * progress(t, T),
    "population": lambda p, t, T, n: p * progress(t, T) / n,
    "exponential": lambda p, t, T, n: p * (1.0 - np.exp(-2.0 * progress(t, T))),
    "final_n": lambda p, t, T, n: p if t >= T - 0.25 * T else 0.0,
    "prune_after": lambda p, t, T, n: p if t >= T else 0.0,
}


def random_tensor(mask, amount, rng):
    """Prune k = round(amount m) of a tensor's m active entries, drawn without replacement
    (with regrow masks every entry is active, so zeros can be drawn again)."""
    active = np.flatnonzero(mask)  # (m,) flat indices
    keep = np.ones(mask.size, dtype=np.float32)
    k = round(amount * active.size)  # half to even, as PyTorch's random_unstructured
    if k:
        keep[rng.choice(active, size=k, replace=False)] = 0.0
    return keep.reshape(mask.shape)


def random_pruning(cfg, pair, rng, test):
    """RANDOM: every tensor of the encoder, then of the decoder."""
    return [[random_tensor(m, cfg.prune_amount, rng) for m in net.masks] for net in pair]


def position_std(count, total, total_sq, ddof=0):
    """sigma_bj of node j at batch position b over its n_b recorded passes, from running sums:
    sigma_bj^2 = (Q_bj - S_bj^2 / n_b) / (n_b - ddof)   (ddof 0: the published np.std)."""
    used = count > ddof  # (R,) positions with enough passes
    n = np.where(used, count, 1.0)[:, None]  # (R, 1)
    centred = total_sq - total * total / n  # (R, n_out): sum of (z - mean)^2
    centred[centred <= 1e-12 * total_sq] = 0.0  # rounding of a constant node: exactly 0
    return np.sqrt(centred / np.maximum(n - ddof, 1.0)) * used[:, None]  # (R, n_out)


def keep_probabilities(scores):
    """t_j: 1 - |s_j| min-max scaled across the layer's nodes; unscaled when all are equal."""
    keep = 1.0 - np.abs(scores)  # (n_out,)
    span = keep.max() - keep.min()
    return np.clip((keep - keep.min()) / span if span > 0.0 else keep, 0.0, 1.0)


def thin(keep, shape, rng):
    """Masks of W (n_out, n_in) and b (n_out,): an entry of node j kept when t_j > u ~ U[0, 1)."""
    W = (keep[:, None] > rng.random(shape)).astype(np.float32)
    return W, (keep > rng.random(shape[0])).astype(np.float32)


def variance_pruning(cfg, pair, rng, test):
    """VARIANCE: score each node s_j = sum_b sigma_bj and thin it with its keep probability; the
    most varying node of a layer (t_j = 0) loses every entry, the steadiest (t_j = 1) none."""
    masks = [[], []]
    for net, out in zip(pair, masks):
        for l in range(len(net.acts)):
            scores = position_std(net.count, net.sums[l], net.sqs[l]).sum(axis=0)  # (n_out,)
            out += thin(keep_probabilities(scores), net.params[2 * l].shape, rng)
    return masks


def passing_nodes(values, threshold):
    """Node j passes row r when (v_rj - min_k v_rk) / (max_k v_rk - min_k v_rk) < threshold;
    a row whose values are all equal passes none (the published 0/0 is NaN)."""
    values = np.asarray(values, dtype=np.float64)  # (rows, nodes)
    low = values.min(axis=1, keepdims=True)  # (rows, 1)
    span = values.max(axis=1, keepdims=True) - low
    varies = span > 0.0
    return ((values - low) / np.where(varies, span, 1.0) < threshold) & varies


def lexicase_filter(passes):
    """The nodes passing row 1, then row 2, ... until at most one is left or rows run out."""
    remaining = passes[0].copy()  # (nodes,) bool
    for row in passes[1:]:
        if np.count_nonzero(remaining) <= 1:
            break
        remaining &= row
    return remaining


def conjunctive_pruning(cfg, pair, rng, test):
    """CONJUNCTIVE: prune the whole nodes (entering weights and bias) that the lexicase filter
    leaves, over lexi_rows test rows drawn with replacement."""
    x = test[rng.integers(0, test.shape[0], size=cfg.lexi_rows)]  # (rows, D)
    masks = []
    for net in pair:
        outs, signals = forward(net, x)
        x, mask = outs[-1], [np.ones_like(p) for p in net.params]
        for l, s in enumerate(signals):  # s: (rows, n_out)
            gone = lexicase_filter(passing_nodes(s, cfg.lexi_threshold))  # (n_out,)
            mask[2 * l][gone], mask[2 * l + 1][gone] = 0.0, 0.0
        masks.append(mask)
    return masks


#: §5 "What": the three operators of [J25], by the names the configuration uses.
OPERATORS = {"random": random_pruning, "variance": variance_pruning}
OPERATORS["conjunctive"] = conjunctive_pruning


def apply_masks(net, masks, mask_mode):
    """§5 Mask semantics. Persistent: M <- M * mask; pruned entries and their Adam moments
    stay 0. Regrow (published): theta <- theta * mask once; training may grow them back."""
    for i, mask in enumerate(masks):
        if mask_mode == "persistent":
            net.masks[i] = mask = net.masks[i] * mask
            net.m[i] *= mask
            net.v[i] *= mask
        net.params[i] *= mask
    net.n_pruned = sum(int(np.count_nonzero(p == 0.0)) for p in net.params)  # zeros now


def pruned_counts(pair, mask_mode):
    """The recorded n_pruned of both networks: the masked entries (persistent), or the zeros
    at the network's last pruning event, carried by copies even after they regrow (regrow)."""
    if mask_mode == "persistent":
        n = [sum(int(np.count_nonzero(m == 0.0)) for m in net.masks) for net in pair]
    else:
        n = [net.n_pruned for net in pair]
    return {"n_pruned_encoder": n[0], "n_pruned_decoder": n[1]}


def maybe_prune(cfg, pair, when, rng, test):
    """One uniform draw: with probability p(t, T, n) of the run's schedule, when = (t, T, n),
    apply the run's operator to both networks. True if it did."""
    schedule = SCHEDULES.get(cfg.prune_schedule)
    if cfg.prune_method is None or not rng.random() < schedule(cfg.prune_probability, *when):
        return False
    for net, masks in zip(pair, OPERATORS[cfg.prune_method](cfg, pair, rng, test)):
        apply_masks(net, masks, cfg.mask_mode)
    return True
