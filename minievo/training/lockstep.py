"""Many coevolution trials in lockstep on a GPU, the algorithm unchanged (``docs/algorithm.md §4``).

Inside one trial the asynchronous ring visits its cells one after another,
but the trials of a study are independent. :func:`train_lockstep` advances
``T`` trials together, one *round* at a time: in round ``s`` of an epoch
every trial visits the ``s``-th cell of its own visit order
(:func:`~minievo.training.streams.visit_order` of its seed), and each
step of the visit is one batched call on
:class:`~minievo.kernels.cuda.DevicePairs` over all trials (the *lanes*).
With ``update="synchronous"`` a round holds all ``T x n`` visits of an epoch
(every cell reads the centers of the start of the epoch, as on the CPU).

Faithfulness
------------
Every random number is drawn on the host from the very generators the CPU
path uses (:func:`~minievo.training.streams.visit_streams`, in the same
order): the evaluation batch, the tournament, the training order, the
replacement batch, the pruning draws and the learning-rate mutation. A GPU
trial therefore makes the CPU trial's choices as long as the float32 losses
agree to the tournament's resolution; they agree to float32 rounding (the
sums run in another order), so the records match the CPU's for the first
epochs and may drift apart later, as any two float orders do.

Where the work happens
----------------------
On the device: the neighbourhood copies (slot copies), the ``K x K``
evaluation of every lane's neighbourhood, training (one launch sequence per
batch for all lanes), the replacement evaluation, ``test_loss``,
``mean_L1``/``std_L1`` and the pruned counts. On the host: the draws,
the tournament, the learning rates and **pruning**: a pair that the schedule
prunes is copied back (parameters, mask, Adam moments and, for VARIANCE, the
activation records: ``2 (4 n_params + 2 B n_nodes)`` numbers), pruned by
:func:`minievo.pruning.prune_pair` exactly as on the CPU, and copied up
again. Pruning happens with probability ``p`` per visit, so this costs about
``p`` round trips per visit. The host keeps each slot's zeros at its last
pruning event (``MLP.n_pruned_at_last_prune``) and carries them with every
slot copy, so the records' ``n_pruned_*``/``n_zero_*``/``n_active_*`` mean
what :func:`~minievo.training.records.pruned_counts` says on the CPU.
Checkpoints follow the CPU's
:class:`~minievo.training.checkpoint.CheckpointCadence` (seconds and/or
epochs, the last epoch, SIGINT/SIGTERM via
:func:`~minievo.training.checkpoint.stop_requests`), copy the due
trials' centers back and are the CPU's ``checkpoint.npz``, so a run resumes
on either backend.

:class:`HostPairs` (:func:`host_device`) is the same interface on the host
with the NumPy reference kernels: the driver's logic checked against the CPU
path without CUDA.

Supported: ``lipi_simple`` and ``lipi_simple_pte`` (the papers' main
variants), asynchronous or synchronous, ``ann_canonical`` (many canonical
trials, one lane each: :class:`CanonicalLockstep`), the plain autoencoder of every
environment but ``variational``, every prune method, every probability
schedule and mask mode, fresh or persistent Adam (the baselines' sparsity
schedules are refused by the configuration, docs/baselines.md); the ``denoising`` environment only
without noise (``denoising_noise_std=0``, the published behaviour). Others are refused with
:class:`~minievo.errors.ConfigError`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Dataset, batch_order
from ..errors import ConfigError
from ..kernels import Adam
from ..network import MLP, Autoencoder, autoencoder_specs, make_autoencoder
from ..paper.lipi_ae import mutate_learning_rate, step_learning_rate
from ..pruning import prune_pair, prune_probability, should_prune
from ..pruning.compact import structural_capacity
from .canonical import canonical_l1
from .checkpoint import CheckpointCadence, load_checkpoint, restore_generator, stop_requests
from .coevolution import save_centers
from .epochs import VisitLog
from .population import Population, checkpoint_population, initial_population, restore_population
from .records import StatsWriter, due
from .ring import best_case_fitness, neighbourhood_indices, select_by_tournament
from .runs import RunResult, check_finite, checkpoint_canonical, make_streams, records_activations
from .streams import visit_order, visit_streams
from .variants import CANONICAL, variant_of

#: Variants the lockstep driver runs; everything else is refused.
LOCKSTEP_VARIANTS = ("lipi_simple", "lipi_simple_pte", CANONICAL)
#: Settings every trial of one lockstep group must share (they fix shapes and rounds).
SHARED_SETTINGS = (
    "environment",
    "activation_signal",
    "batch_size",
    "population_size",
    "radius",
    "epochs",
    "update",
    "shuffle_data",
    "adam_betas",
    "adam_eps",
)
#: Settings that pick the data set: a sweep groups only trials that train on the same one
#: (with ``data_seed`` unset every seed has its own data set, hence its own group).
DATA_SETTINGS = ("dataset_name", "effective_data_seed", "noise_probability", "p_one", "data_dir")


def check_lockstep_config(config) -> None:
    """Refuse, in one line, a configuration the lockstep driver cannot run faithfully."""
    if config.cell_evaluation not in LOCKSTEP_VARIANTS:
        raise ConfigError(
            f"backend 'cuda': cell_evaluation {config.cell_evaluation!r} is not "
            f"supported on the GPU; allowed: {', '.join(LOCKSTEP_VARIANTS)} "
            "(use backend 'numba' for the others)"
        )
    if config.environment == "variational":
        raise ConfigError(
            "backend 'cuda': environment 'variational' is not supported on the "
            "GPU (the kernels have the L1 loss of the plain autoencoder); "
            "use backend 'numba'"
        )
    if config.environment == "denoising" and config.denoising_noise_std != 0.0:
        raise ConfigError(
            f"backend 'cuda': denoising_noise_std {config.denoising_noise_std!r}: "
            "the GPU kernels add no input noise; allowed: 0 (the published "
            "denoising behaviour, semantics 'published'), or use backend 'numba'"
        )


def pair_kind(config) -> str:
    """The :class:`~minievo.network.Autoencoder` kind of a trial's pairs (saved with them).

    A ``denoising`` pair without noise (``denoising_noise_std=0``) trains as a plain one.
    """
    return "denoising" if config.environment == "denoising" else "plain"


def lockstep_group_key(config, with_data: bool = True) -> tuple:
    """Settings that must agree for two trials to share lockstep rounds (and, ``with_data``, data)."""
    names = SHARED_SETTINGS + (DATA_SETTINGS if with_data else ())
    return (
        ("canonical", variant_of(config).canonical),
        *((name, getattr(config, name, None)) for name in names),
    )


def make_device(
    configs, dataset: Dataset, n_slots: int, max_lanes: int, max_train_lanes: int | None = None
):
    """The :class:`~minievo.kernels.cuda.DevicePairs` of a group; ConfigError without CUDA."""
    from ..kernels import cuda as cuda_kernels

    problem = cuda_kernels.cuda_problem()
    if problem is not None:
        raise ConfigError(f"backend 'cuda': {problem}")
    first = configs[0]
    enc_spec, dec_spec = autoencoder_specs(first.environment, dataset.n_dim)
    record_rows = first.batch_size if any(records_activations(c) for c in configs) else 0
    rows = first.batch_size
    return cuda_kernels.DevicePairs(
        enc_spec.layout(first.activation_signal),
        dec_spec.layout(first.activation_signal),
        n_slots,
        max_lanes,
        rows,
        record_rows,
        {"train": dataset.train, "test": dataset.test},
        first.adam_betas,
        first.adam_eps,
        max_train_lanes,
    )


@dataclass
class Trial:
    """One trial of the group: its config, folder, host state and record log."""

    config: object
    out_dir: Path | None
    population: Population
    writer: StatsWriter | None
    log: VisitLog


class Lockstep:
    """``T`` trials of the same shape on one device; see the module docstring.

    Slots: trial ``t``'s center of cell ``c`` is slot ``t n + c``; the ``K``
    neighbourhood copies of lane ``i`` of a round are slots
    ``T n + i K + k``. The host keeps each slot's Adam step count and
    activation-record counts (the sums stay on the device).
    """

    def __init__(self, trials: list[Trial], dataset: Dataset, device_factory=make_device):
        self.trials, self.dataset = trials, dataset
        first = trials[0].config
        self.n, self.radius, self.rows = first.population_size, first.radius, first.batch_size
        self.K = len(neighbourhood_indices(0, self.n, self.radius))
        self.synchronous = first.update == "synchronous"
        self.max_round = len(trials) * (self.n if self.synchronous else 1)
        self.n_centers = len(trials) * self.n
        n_slots = self.n_centers + self.max_round * self.K
        # every (encoder, decoder) combination of every lane's neighbourhood in one launch
        self.device = device_factory(
            [t.config for t in trials],
            dataset,
            n_slots,
            self.max_round * self.K * self.K,
            self.max_round,
        )
        self.adam_t = np.zeros(n_slots, np.int64)
        self.rec_count = np.zeros((n_slots, self.device.record_rows), np.float64)
        # (encoder, decoder) zeros at each slot's last pruning event, carried by slot copies
        self.last_prune = np.zeros((n_slots, 2), np.int64)
        self.enc_spec, self.dec_spec = autoencoder_specs(first.environment, dataset.n_dim)
        self._upload_centers()

    # -- host <-> device ------------------------------------------------------------
    def _upload_centers(self) -> None:
        slots, encs, decs = [], [], []
        for t, trial in enumerate(self.trials):
            for c, pair in enumerate(trial.population.centers):
                slots.append(t * self.n + c)
                encs.append(pair.encoder)
                decs.append(pair.decoder)
                self.adam_t[t * self.n + c] = int(pair.encoder.adam_t[0])
                self.last_prune[t * self.n + c] = last_prune_counts(pair)
        self.device.upload_many(slots, encs, decs)

    def download_pairs(self, slots, config) -> list[Autoencoder]:
        """Host :class:`Autoencoder` copies of ``slots`` (with activation records when kept)."""
        got = self.device.download(slots)
        pairs = []
        for i, slot in enumerate(slots):
            nets = []
            for j, (key, spec) in enumerate((("enc", self.enc_spec), ("dec", self.dec_spec))):
                part = got[key]
                net = MLP(
                    spec,
                    part["params"][i],
                    part["mask"][i],
                    self.device.record_rows,
                    config.activation_signal,
                )
                net.adam_m[:] = part["m"][i]
                net.adam_v[:] = part["v"][i]
                net.adam_t[0] = self.adam_t[slot]
                net.n_pruned_at_last_prune = int(self.last_prune[slot, j])
                if self.device.record_rows:
                    net.rec_count[:] = self.rec_count[slot]
                    net.rec_sum[:] = part["rec_sum"][i]
                    net.rec_sumsq[:] = part["rec_sumsq"][i]
                nets.append(net)
            pairs.append(Autoencoder(nets[0], nets[1], pair_kind(config)))
        return pairs

    def centers_of(self, t: int) -> list[Autoencoder]:
        return self.download_pairs(range(t * self.n, (t + 1) * self.n), self.trials[t].config)

    # -- one round: the visits of many lanes, step by step ------------------------------
    def scratch(self, lane: int, k) -> np.ndarray:
        return self.n_centers + lane * self.K + np.asarray(k)

    def run_round(self, lanes: list[tuple[int, int]], epoch: int) -> None:
        """Visit cell ``c`` of trial ``t`` for every ``(t, c)`` in ``lanes`` (steps 1-8)."""
        dev, K, B, N = self.device, self.K, self.rows, self.dataset.train.shape[0]
        L = len(lanes)
        cfgs = [self.trials[t].config for t, _ in lanes]
        streams = [visit_streams(cfg.seed, epoch, c) for cfg, (_, c) in zip(cfgs, lanes)]
        record = np.array([records_activations(cfg) for cfg in cfgs])
        shuffle = cfgs[0].shuffle_data

        # 1: neighbourhood copies (records start empty)
        cells = np.stack([neighbourhood_indices(c, self.n, self.radius) for _, c in lanes])
        src = np.concatenate([t * self.n + cells[i] for i, (t, _) in enumerate(lanes)])
        dst = np.concatenate([self.scratch(i, np.arange(K)) for i in range(L)])
        dev.copy_slots(src, dst)
        self.adam_t[dst] = self.adam_t[src]
        self.last_prune[dst] = self.last_prune[src]
        dev.clear_records(dst)
        self.rec_count[dst] = 0.0

        # 2: the K x K loss matrix of every lane on its own batch
        eval_rows = np.stack([batch_order(N, s["data"], shuffle)[:B] for s in streams])
        losses = self.evaluate_neighbourhoods(eval_rows, record)  # (L, K, K)
        selected = np.empty(L, np.int64)
        for i, (s, (_, c)) in enumerate(zip(streams, lanes)):
            check_finite(losses[i].ravel(), epoch, f"cell {c} selection")
            # 3: tournament on the encoders' best-case fitness
            selected[i] = select_by_tournament(best_case_fitness(losses[i])[0], s["select"])
        pair_slots = self.scratch(np.arange(L), selected)  # (L,)

        # 4: one Adam step per batch of a fresh shuffle
        orders = np.stack([batch_order(N, s["data"], shuffle) for s in streams])
        lrs = [self.trials[t].population.learning_rates[c] for t, c in lanes]
        fresh = np.array([cfg.optimizer_state == "fresh" for cfg in cfgs])
        batch_losses = dev.train_pass(
            pair_slots, pair_slots, orders, B, lrs, self.adam_t[pair_slots], fresh, record
        )
        self.adam_t[pair_slots] += np.where(fresh, 0, batch_losses.shape[1])
        for start in range(0, N, B):
            self.rec_count[pair_slots[record], : min(B, N - start)] += 1.0
        for i, (_, c) in enumerate(lanes):
            check_finite(batch_losses[i], epoch, f"cell {c} training")

        # 5-6: replacement evaluation and pruning (swapped for lipi_simple_pte)
        rep_rows = np.stack([batch_order(N, s["data"], shuffle)[:B] for s in streams])
        pte = np.array([variant_of(cfg).prune_before_replacement_eval for cfg in cfgs])
        pruned = np.zeros(L, bool)
        replacement = np.empty(L, np.float64)
        if pte.any():
            pruned |= self.prune_lanes(pair_slots, cfgs, streams, epoch, pte)
        replacement[pte] = self.evaluate_pairs(pair_slots[pte], rep_rows[pte], record[pte])
        replacement[~pte] = self.evaluate_pairs(pair_slots[~pte], rep_rows[~pte], record[~pte])
        if (~pte).any():
            pruned |= self.prune_lanes(pair_slots, cfgs, streams, epoch, ~pte)
        for i, (_, c) in enumerate(lanes):
            check_finite(replacement[i : i + 1], epoch, f"cell {c} replacement")
        dev.clear_records(pair_slots)
        self.rec_count[pair_slots] = 0.0

        # 7-8: replace the centers (after every lane has read its neighbourhood), new rates
        centers = np.array([t * self.n + c for t, c in lanes], np.int64)
        dev.copy_slots(pair_slots, centers)
        self.adam_t[centers] = self.adam_t[pair_slots]
        self.last_prune[centers] = self.last_prune[pair_slots]
        stats = self.center_statistics(centers, cfgs, epoch)
        for i, ((t, c), cfg, s) in enumerate(zip(lanes, cfgs, streams)):
            population = self.trials[t].population
            learning_rate = population.learning_rates[c]
            population.learning_rates[c] = mutate_learning_rate(learning_rate, s["mutate"], cfg)
            self.trials[t].log.write(
                {
                    "iteration": epoch,
                    "node_idx": int(c),
                    "learning_rate": learning_rate,
                    "min_selection_loss": float(losses[i].min()),
                    "min_replacement_loss": float(replacement[i]),
                    "selected_cell": int(cells[i, selected[i]]),
                    "pruned": bool(pruned[i]),
                    **stats[i],
                }
            )

    def evaluate_neighbourhoods(self, rows, record) -> np.ndarray:
        """``(L, K, K)`` losses ``L[i, k, j]`` of encoder copy ``k`` with decoder copy ``j``.

        Without records it is one call over all ``L K^2`` triples; with
        records, ``K`` calls whose triples ``(k, (k + r) mod K)`` name every
        slot once, so no two threads add to one record (deterministic sums).
        """
        L, K = rows.shape[0], self.K
        lane = np.repeat(np.arange(L), K)  # (L K,)
        k = np.tile(np.arange(K), L)
        out = np.empty((L, K, K), np.float64)
        shifts = range(K) if record.any() else [None]
        for r in shifts:
            if r is None:
                lane2 = np.repeat(np.arange(L), K * K)
                kk, jj = np.tile(np.repeat(np.arange(K), K), L), np.tile(np.arange(K), L * K)
            else:
                lane2, kk, jj = lane, k, (k + r) % K
            got = self.device.evaluate(
                self.scratch(lane2, kk), self.scratch(lane2, jj), rows[lane2], record[lane2]
            )
            out[lane2, kk, jj] = got
        if record.any():
            self.rec_count[
                self.scratch(np.arange(L)[record][:, None], np.arange(K)), : rows.shape[1]
            ] += K
        return out

    def evaluate_pairs(self, slots, rows, record) -> np.ndarray:
        """Loss of each slot's own pair on its batch (step 5), recording where asked."""
        if slots.shape[0] == 0:
            return np.empty(0, np.float64)
        got = self.device.evaluate(slots, slots, rows, record)
        self.rec_count[slots[record], : rows.shape[1]] += 1.0
        return got

    def prune_lanes(self, slots, cfgs, streams, epoch, which) -> np.ndarray:
        """Step 6 on the host: draw, and prune the drawn pairs on copies sent back up."""
        pruned = np.zeros(len(cfgs), bool)
        for i in np.flatnonzero(which):
            cfg = cfgs[i]
            if cfg.pruning_enabled:
                pruned[i] = should_prune(
                    cfg.prune_schedule,
                    cfg.prune_probability,
                    epoch,
                    cfg.epochs - 1,
                    self.K,
                    streams[i]["prune"],
                )
        chosen = np.flatnonzero(pruned)
        if chosen.size == 0:
            return pruned
        pairs = self.download_pairs(slots[chosen], cfgs[0])
        for i, pair in zip(chosen, pairs):
            cfg = cfgs[i]
            prune_pair(
                pair,
                cfg.prune_method,
                streams[i]["prune"],
                amount=cfg.prune_amount,
                lexi_threshold=cfg.lexi_threshold,
                test_data=self.dataset.test,
                lexi_rows=cfg.lexi_rows,
                mask_mode=cfg.mask_mode,
                signal=cfg.activation_signal,
                report=False,
            )
        self.device.upload_many(
            slots[chosen], [p.encoder for p in pairs], [p.decoder for p in pairs]
        )
        self.last_prune[slots[chosen]] = [last_prune_counts(p) for p in pairs]
        return pruned

    def center_statistics(self, centers, cfgs, epoch) -> list[dict]:
        """Pruned counts, then ``test_loss``, the structural capacity (of the centers copied
        back to the host) and ``mean_L1``/``std_L1``, each on its cadence.

        ``test_loss`` every ``test_loss_every`` epochs, ``mean_L1``/``std_L1``
        every ``stats_every``, both at the last epoch (as the CPU's
        :func:`~minievo.training.records.full_set_statistics`).
        """
        counts = device_counts(
            self.device,
            centers,
            self.last_prune[centers],
            cfgs,
            (self.enc_spec.n_params, self.dec_spec.n_params),
        )
        d = self.dataset.n_dim
        testing = [c.calculate_test_loss and due(epoch, c.test_loss_every, c.epochs) for c in cfgs]
        test = self.device.row_errors(centers, centers, "test") if any(testing) else None
        report = [due(epoch, c.stats_every, c.epochs) for c in cfgs]
        train = self.device.row_errors(centers, centers, "train") if any(report) else None
        stats = []
        for i, cfg in enumerate(cfgs):
            entry = dict(counts[i])
            if testing[i]:
                entry["test_loss"] = float(test[i].sum() / (test.shape[1] * d))
            if due(epoch, cfg.test_loss_every, cfg.epochs):  # the CPU's structural capacity
                entry.update(structural_capacity(self.download_pairs([centers[i]], cfg)[0]))
            if report[i]:
                batch_l1 = batch_means(train[i] / d, cfg.batch_size)
                entry["mean_L1"] = float(batch_l1.mean())
                entry["std_L1"] = float(batch_l1.std())
            stats.append(entry)
        return stats

    # -- epochs ------------------------------------------------------------------------
    def run_epoch(self, epoch: int) -> None:
        """Asynchronous: ``n`` rounds of one visit per trial; synchronous: one round of all."""
        orders = [[int(c) for c in visit_order(t.config.seed, epoch, self.n)] for t in self.trials]
        if self.synchronous:
            self.run_round([(t, c) for t in range(len(self.trials)) for c in orders[t]], epoch)
        else:
            for s in range(self.n):
                self.run_round([(t, orders[t][s]) for t in range(len(self.trials))], epoch)

    def checkpoint(self, due: list[int], elapsed: float) -> None:
        """The CPU's ``checkpoint.npz`` of every trial in ``due``.

        The centers of all trials come back in one contiguous copy (slots
        ``0 .. T n - 1``), then each trial's file is written (compressed) as on
        the CPU: for long GPU runs choose a larger ``checkpoint_every``.
        """
        pairs = self.download_pairs(range(self.n_centers), self.trials[0].config)
        for t in due:
            trial = self.trials[t]
            trial.population.centers = pairs[t * self.n : (t + 1) * self.n]
            checkpoint_population(
                trial.out_dir, trial.writer, trial.population, trial.config, elapsed
            )

    def results(self, wall: float) -> list[RunResult]:
        """Per trial: the center with the lowest whole-test-set L1, copied back."""
        slots = np.arange(self.n_centers)
        test = self.device.row_errors(slots, slots, "test")
        losses = test.sum(axis=1) / (test.shape[1] * self.dataset.n_dim)
        out = []
        for t, trial in enumerate(self.trials):
            mine = losses[t * self.n : (t + 1) * self.n]
            best = int(np.argmin(mine))
            pair = self.download_pairs([t * self.n + best], trial.config)[0]
            if trial.out_dir is not None and trial.config.save_all_centers:
                save_centers(trial.out_dir, self.centers_of(t))
            out.append(RunResult(pair, float(mine[best]), trial.out_dir, wall, trial.config.epochs))
        return out


def last_prune_counts(pair) -> tuple[int, int]:
    """``(encoder, decoder)`` zeros at the pair's last pruning event (``MLP.n_pruned_at_last_prune``)."""
    return int(pair.encoder.n_pruned_at_last_prune), int(pair.decoder.n_pruned_at_last_prune)


def device_counts(device, slots, last_prune, cfgs, n_params) -> list[dict]:
    """The records' pruning counts of the pairs in ``slots``, as the CPU's ``pruned_counts``.

    ``n_pruned_*``: the masked entries counted on the device (persistent
    masks) or the host's count at the slot's last pruning event
    (``last_prune``, ``(L, 2)``; regrow); ``n_zero_*``: exact zeros counted on
    the device now; ``n_active_*``: ``n_params - n_zero_*``.
    """
    counts = device.zero_counts(slots, slots)  # (L, 4): enc masked, zero; dec ...
    out = []
    for i, cfg in enumerate(cfgs):
        entry = {}
        for j, name in enumerate(("encoder", "decoder")):
            masked, zero = int(counts[i, 2 * j]), int(counts[i, 2 * j + 1])
            entry[f"n_pruned_{name}"] = (
                masked if cfg.mask_mode == "persistent" else int(last_prune[i, j])
            )
            entry[f"n_zero_{name}"] = zero
            entry[f"n_active_{name}"] = n_params[j] - zero
        out.append(entry)
    return out


def batch_means(row_means: np.ndarray, batch_size: int) -> np.ndarray:
    """Mean of consecutive groups of ``batch_size`` rows (the last may be short)."""
    starts = np.arange(0, row_means.shape[0], batch_size)
    return np.add.reduceat(row_means, starts) / np.diff(np.append(starts, row_means.shape[0]))


def open_trial(config, out_dir, dataset: Dataset, resume: bool) -> Trial:
    """Initial (or restored) population, stats writer and log of one trial."""
    population = initial_population(config, dataset.n_dim)
    stats_bytes = None
    if resume:
        population, stats_bytes = restore_population(out_dir, config, pair_kind(config))
    writer = StatsWriter(out_dir, truncate_to=stats_bytes) if out_dir is not None else None
    log = VisitLog(writer, population, time.perf_counter() - population.elapsed)
    return Trial(config, Path(out_dir) if out_dir is not None else None, population, writer, log)


def train_lockstep(
    jobs, dataset: Dataset, *, resume: bool = False, device_factory=make_device
) -> list[RunResult]:
    """Train every ``(config, out_dir)`` of ``jobs`` in lockstep; one :class:`RunResult` each.

    Parameters
    ----------
    jobs : list of (Config, path or None)
        Trials sharing :data:`SHARED_SETTINGS` (seeds, pruning, learning
        rates and the optimizer may differ). Each folder gets the CPU run's
        ``stats.jsonl`` and ``checkpoint.npz``; :func:`minievo.experiments.run.write_outputs`
        adds ``best_autoencoder.npz`` and ``summary.json``.
    dataset : Dataset
    resume : bool
        Continue every trial from its checkpoint; all must be at the same epoch.
    device_factory : callable
        Builds the device buffers (tests may pass another implementation).

    Raises
    ------
    ConfigError
        For an unsupported variant, mismatched settings, or no usable CUDA.
    """
    configs = [c for c, _ in jobs]
    for config in configs:
        check_lockstep_config(config)
    keys = {lockstep_group_key(c, with_data=False) for c in configs}  # the data set is given
    if len(keys) > 1:
        raise ConfigError(
            "lockstep trials must share "
            + ", ".join(SHARED_SETTINGS)
            + "; group them with lockstep_group_key first"
        )
    if variant_of(configs[0]).canonical:
        return CanonicalLockstep(jobs, dataset, resume, device_factory).run()
    trials = [open_trial(c, d, dataset, resume) for c, d in jobs]
    start_epoch = {t.population.next_epoch for t in trials}
    if len(start_epoch) > 1:
        raise ConfigError(f"lockstep trials resume from different epochs {sorted(start_epoch)}")
    cadences = [CheckpointCadence.from_config(c) for c in configs]
    try:
        group = Lockstep(trials, dataset, device_factory)
        start = time.perf_counter()
        elapsed0 = max(t.population.elapsed for t in trials)
        with stop_requests() as stop:
            for epoch in range(start_epoch.pop(), configs[0].epochs):
                group.run_epoch(epoch)
                due = []
                for t, trial in enumerate(trials):
                    trial.population.next_epoch = epoch + 1
                    if trial.writer and cadences[t].due(epoch + 1, stop.requested):
                        due.append(t)
                if due:
                    group.checkpoint(due, elapsed0 + time.perf_counter() - start)
                    for t in due:
                        cadences[t].done()
                if stop.requested:
                    stop.stop()
        return group.results(elapsed0 + time.perf_counter() - start)
    finally:
        for trial in trials:
            if trial.writer is not None:
                trial.writer.close()


class CanonicalLockstep:
    """Many canonical trials (``docs/algorithm.md §3``) at once: trial ``t`` is slot and lane ``t``.

    Every epoch of every trial is what :func:`~minievo.training.canonical.train_canonical`
    does, with the trial's own generators (``make_streams(seed)``): the step
    learning rate, a fresh shuffle, one persistent-Adam step per batch (one
    :meth:`~minievo.kernels.cuda.DevicePairs.train_pass` for all trials),
    pruning on the host on a copied-back pair, then ``mean_L1``/``std_L1``
    and ``test_loss`` on the device. Activation records accumulate over
    epochs and are cleared after a pruning, as on the CPU. Checkpoints are
    the CPU's (generator states, records), so a run resumes on either backend.
    """

    def __init__(self, jobs, dataset: Dataset, resume: bool, device_factory=make_device):
        self.dataset = dataset
        self.configs = [c for c, _ in jobs]
        self.dirs = [Path(d) if d is not None else None for _, d in jobs]
        first = self.configs[0]
        self.variance = np.array([records_activations(c) for c in self.configs])  # VARIANCE-like
        self.T, self.rows = len(jobs), first.batch_size
        self.device = device_factory(self.configs, dataset, self.T, self.T)
        R = self.device.record_rows
        self.rec_count = np.zeros((self.T, R), np.float64)
        self.adam_t = np.zeros(self.T, np.int64)
        self.last_prune = np.zeros((self.T, 2), np.int64)  # zeros at the last pruning event
        self.streams, pairs, self.start, self.elapsed, self.writers = [], [], set(), [], []
        for config, out in zip(self.configs, self.dirs):
            streams = make_streams(config.seed)
            pair = make_autoencoder(
                config.environment, dataset.n_dim, streams["init"], R, config.activation_signal
            )
            start, elapsed, stats_bytes = 0, 0.0, None
            if resume:
                state, nets, extra = load_checkpoint(out, R)
                pair = Autoencoder(nets["encoder"], nets["decoder"], pair.kind)
                for name, net in nets.items():
                    if f"{name}_rec_sum" in extra:
                        net.rec_count[:] = extra[f"{name}_rec_count"]
                        net.rec_sum[:] = extra[f"{name}_rec_sum"]
                        net.rec_sumsq[:] = extra[f"{name}_rec_sumsq"]
                streams = {name: restore_generator(g) for name, g in state["rngs"].items()}
                start, elapsed = state["next_epoch"], state["elapsed"]
                stats_bytes = state["stats_bytes"]
            self.streams.append(streams)
            pairs.append(pair)
            self.start.add(int(start))
            self.elapsed.append(float(elapsed))
            self.writers.append(
                StatsWriter(out, truncate_to=stats_bytes) if out is not None else None
            )
        if len(self.start) > 1:
            raise ConfigError(f"lockstep trials resume from different epochs {sorted(self.start)}")
        self.enc_spec, self.dec_spec = pairs[0].encoder.spec, pairs[0].decoder.spec
        self.device.upload_many(
            range(self.T), [p.encoder for p in pairs], [p.decoder for p in pairs]
        )
        self.upload_records(range(self.T), pairs)
        for t, pair in enumerate(pairs):
            self.adam_t[t] = int(pair.encoder.adam_t[0])
            self.last_prune[t] = last_prune_counts(pair)

    def upload_records(self, slots, pairs) -> None:
        """Restore activation records (a resumed VARIANCE trial) on the device and the host."""
        self.device.upload_records(slots, [p.encoder for p in pairs], [p.decoder for p in pairs])
        for s, pair in zip(slots, pairs):
            if self.device.record_rows and pair.encoder.record_rows:
                self.rec_count[s] = pair.encoder.rec_count

    def download(self, t: int) -> Autoencoder:
        got = self.device.download([t])
        nets = []
        for j, (key, spec) in enumerate((("enc", self.enc_spec), ("dec", self.dec_spec))):
            part = got[key]
            net = MLP(
                spec,
                part["params"][0],
                part["mask"][0],
                self.device.record_rows,
                self.configs[t].activation_signal,
            )
            net.adam_m[:], net.adam_v[:] = part["m"][0], part["v"][0]
            net.adam_t[0] = self.adam_t[t]
            net.n_pruned_at_last_prune = int(self.last_prune[t, j])
            if self.device.record_rows:
                net.rec_count[:] = self.rec_count[t]
                net.rec_sum[:], net.rec_sumsq[:] = part["rec_sum"][0], part["rec_sumsq"][0]
            nets.append(net)
        return Autoencoder(nets[0], nets[1], pair_kind(self.configs[t]))

    def run_epoch(self, epoch: int, t0: float) -> None:
        dev, B, cfgs = self.device, self.rows, self.configs
        N = self.dataset.train.shape[0]
        lrs = [step_learning_rate(c.learning_rate, epoch, c.epochs) for c in cfgs]
        orders = np.stack(
            [
                batch_order(N, s["shuffle"], shuffle=c.shuffle_data)
                for s, c in zip(self.streams, cfgs)
            ]
        )
        slots = np.arange(self.T)
        losses = dev.train_pass(
            slots, slots, orders, B, lrs, self.adam_t, np.zeros(self.T, bool), self.variance
        )
        self.adam_t += losses.shape[1]
        for start in range(0, N, B):
            self.rec_count[self.variance, : min(B, N - start)] += 1.0
        pruned = np.zeros(self.T, bool)
        for t, (config, streams) in enumerate(zip(cfgs, self.streams)):
            writer = self.writers[t]
            check_finite(losses[t], epoch, "training", writer and writer.path)
            if config.pruning_enabled:
                p = prune_probability(
                    config.prune_schedule, config.prune_probability, epoch, config.epochs, 1
                )
                pruned[t] = streams["prune"].random() < p
            if pruned[t]:
                pair = self.download(t)
                prune_pair(
                    pair,
                    config.prune_method,
                    streams["prune"],
                    amount=config.prune_amount,
                    lexi_threshold=config.lexi_threshold,
                    test_data=self.dataset.test,
                    lexi_rows=config.lexi_rows,
                    mask_mode=config.mask_mode,
                    signal=config.activation_signal,
                    report=False,
                )
                dev.upload_many([t], [pair.encoder], [pair.decoder])
                dev.clear_records([t])
                self.rec_count[t] = 0.0
                self.last_prune[t] = last_prune_counts(pair)
        counts = device_counts(
            dev, slots, self.last_prune, cfgs, (self.enc_spec.n_params, self.dec_spec.n_params)
        )
        # test_loss, mean_L1/std_L1 on their cadences, as the CPU's canonical records
        testing = [c.calculate_test_loss and due(epoch, c.test_loss_every, c.epochs) for c in cfgs]
        report = [due(epoch, c.stats_every, c.epochs) for c in cfgs]
        train = dev.row_errors(slots, slots, "train") / self.dataset.n_dim if any(report) else None
        test = dev.row_errors(slots, slots, "test") if any(testing) else None
        for t in range(len(cfgs)):
            stats = {}
            if report[t]:
                batch_l1 = batch_means(train[t], B)
                stats.update(mean_L1=float(batch_l1.mean()), std_L1=float(batch_l1.std()))
            min_loss = float(losses[t].min())
            record = {
                "iteration": epoch,
                "node_idx": 0,
                "learning_rate": lrs[t],
                "min_batch_loss": min_loss,
                # the published canonical records set both to the epoch's minimum batch loss
                "min_selection_loss": min_loss,
                "min_replacement_loss": min_loss,
                **canonical_l1(stats),
                "pruned": bool(pruned[t]),
                **counts[t],
                "fe_cnt": epoch + 1,
                "timestamp": time.time(),
                "wall_time": self.elapsed[t] + time.perf_counter() - t0,
            }
            if testing[t]:
                record["test_loss"] = float(test[t].sum() / (test.shape[1] * self.dataset.n_dim))
            if due(epoch, cfgs[t].test_loss_every, cfgs[t].epochs):  # as the CPU's records
                record.update(structural_capacity(self.download(t)))
            if self.writers[t]:
                self.writers[t].write(record)

    def run(self) -> list[RunResult]:
        """Every epoch; checkpoints on each trial's cadence and at SIGINT/SIGTERM (as the CPU)."""
        t0 = time.perf_counter()
        epochs = self.configs[0].epochs
        cadences = [CheckpointCadence.from_config(c) for c in self.configs]
        try:
            with stop_requests() as stop:
                for epoch in range(min(self.start), epochs):
                    self.run_epoch(epoch, t0)
                    for t, cadence in enumerate(cadences):
                        if self.writers[t] and cadence.due(epoch + 1, stop.requested):
                            checkpoint_canonical(
                                self.dirs[t],
                                self.writers[t],
                                self.download(t),
                                self.streams[t],
                                epoch + 1,
                                self.elapsed[t] + time.perf_counter() - t0,
                                bool(self.variance[t]),
                            )
                            cadence.done()
                    if stop.requested:
                        stop.stop()
        finally:
            for writer in self.writers:
                if writer is not None:
                    writer.close()
        slots = np.arange(self.T)
        test = self.device.row_errors(slots, slots, "test")
        losses = test.sum(axis=1) / (test.shape[1] * self.dataset.n_dim)
        return [
            RunResult(
                self.download(t),
                float(losses[t]),
                self.dirs[t],
                self.elapsed[t] + time.perf_counter() - t0,
                self.configs[t].epochs,
            )
            for t in range(self.T)
        ]


class HostPairs:
    """The :class:`~minievo.kernels.cuda.DevicePairs` interface on the host, lane by lane.

    Every slot is a host :class:`~minievo.network.MLP` pair and every lane
    runs the NumPy reference kernels (:mod:`minievo.kernels.reference`), so
    the lockstep driver's logic (slots, rounds, draws, records) can be
    tested against the CPU path without CUDA and without float32
    reordering. Build one with :func:`host_device` as ``device_factory``.
    """

    def __init__(
        self,
        enc_spec,
        dec_spec,
        n_slots: int,
        max_rows: int,
        record_rows: int,
        datasets: dict,
        signal: str,
        betas=(0.5, 0.999),
        eps=1e-8,
    ):
        from ..kernels import make_workspace, reference

        self.kernels = reference
        self.record_rows = record_rows
        self.enc = [MLP(enc_spec, None, None, record_rows, signal) for _ in range(n_slots)]
        self.dec = [MLP(dec_spec, None, None, record_rows, signal) for _ in range(n_slots)]
        self.data = {k: np.ascontiguousarray(v, np.float32) for k, v in datasets.items()}
        self.work = make_workspace(enc_spec, dec_spec, max(max_rows, 100))
        self.beta1, self.beta2, self.eps = float(betas[0]), float(betas[1]), float(eps)

    _BUFFERS = (("params", "params"), ("mask", "mask"), ("m", "adam_m"), ("v", "adam_v"))

    def upload_many(self, slots, encoders, decoders) -> None:
        for s, e, d in zip(slots, encoders, decoders):
            for mine, theirs in ((self.enc[s], e), (self.dec[s], d)):
                for _, attr in self._BUFFERS:
                    getattr(mine, attr)[:] = getattr(theirs, attr)

    def upload_records(self, slots, encoders, decoders) -> None:
        for s, e, d in zip(slots, encoders, decoders):
            for mine, theirs in ((self.enc[s], e), (self.dec[s], d)):
                mine.rec_sum[:], mine.rec_sumsq[:] = theirs.rec_sum, theirs.rec_sumsq

    def download(self, slots) -> dict:
        names = self._BUFFERS + (
            (("rec_sum", "rec_sum"), ("rec_sumsq", "rec_sumsq")) if self.record_rows else ()
        )
        return {
            key: {name: np.stack([getattr(nets[s], attr) for s in slots]) for name, attr in names}
            for key, nets in (("enc", self.enc), ("dec", self.dec))
        }

    def copy_slots(self, src, dst) -> None:
        for a, b in zip(src, dst):
            for nets in (self.enc, self.dec):
                for _, attr in self._BUFFERS:
                    getattr(nets[b], attr)[:] = getattr(nets[a], attr)

    def clear_records(self, slots) -> None:
        for s in slots:
            self.enc[s].clear_records()
            self.dec[s].clear_records()

    def zero_counts(self, enc_slots, dec_slots) -> np.ndarray:
        return np.array(
            [
                [self.enc[e].n_pruned, self.enc[e].n_zero, self.dec[d].n_pruned, self.dec[d].n_zero]
                for e, d in zip(enc_slots, dec_slots)
            ],
            np.int64,
        )

    def evaluate(self, enc_slots, dec_slots, rows, record, data="train") -> np.ndarray:
        table = self.data[data]
        return np.array(
            [
                self.kernels.evaluate_pair(
                    self.enc[e].arrays, self.dec[d].arrays, table[r], 0, self.work, bool(rec)
                )
                for e, d, r, rec in zip(enc_slots, dec_slots, rows, record)
            ]
        )

    def row_errors(self, enc_slots, dec_slots, data="test") -> np.ndarray:
        table = self.data[data]
        out = np.empty((len(enc_slots), table.shape[0]), np.float64)
        for i, (e, d) in enumerate(zip(enc_slots, dec_slots)):
            for start in range(0, table.shape[0], 100):
                chunk = table[start : start + 100]
                enc_out = self.kernels.mlp_forward(
                    self.enc[e].arrays, chunk, self.work.enc_act, False
                )
                y = self.kernels.mlp_forward(self.dec[d].arrays, enc_out, self.work.dec_act, False)
                out[i, start : start + chunk.shape[0]] = np.abs(y - chunk).sum(
                    axis=1, dtype=np.float64
                )
        return out

    def train_pass(
        self, enc_slots, dec_slots, orders, batch_size, lrs, adam_t, fresh, record, data="train"
    ) -> np.ndarray:
        table = self.data[data]
        n_batches = -(-orders.shape[1] // batch_size)
        losses = np.empty((len(enc_slots), n_batches), np.float64)
        for i, (e, d) in enumerate(zip(enc_slots, dec_slots)):
            self.enc[e].adam_t[0] = self.dec[d].adam_t[0] = adam_t[i]
            self.kernels.train_epoch(
                self.enc[e].arrays,
                self.dec[d].arrays,
                table,
                np.ascontiguousarray(orders[i]),
                batch_size,
                self.work.no_dx,
                0,
                self.work,
                Adam(float(lrs[i]), self.beta1, self.beta2, self.eps, bool(fresh[i])),
                bool(record[i]),
                losses[i],
            )
        return losses


def host_device(
    configs, dataset: Dataset, n_slots: int, max_lanes: int, max_train_lanes: int | None = None
) -> HostPairs:
    """A ``device_factory`` for :func:`train_lockstep` that runs on the host (:class:`HostPairs`)."""
    first = configs[0]
    enc_spec, dec_spec = autoencoder_specs(first.environment, dataset.n_dim)
    record_rows = first.batch_size if any(records_activations(c) for c in configs) else 0
    return HostPairs(
        enc_spec,
        dec_spec,
        n_slots,
        first.batch_size,
        record_rows,
        {"train": dataset.train, "test": dataset.test},
        first.activation_signal,
        first.adam_betas,
        first.adam_eps,
    )
