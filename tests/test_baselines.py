"""The standard pruning baselines (docs/baselines.md): their defining properties.

Global magnitude pruning prunes exactly the smallest weights; the sparsity
schedules hit their targets; the lottery ticket rewinds the survivors to
their epoch-k values bit for bit and resumes bit for bit; the refusals are
one line; every baseline runs in canonical training and in the coevolution.
"""

import numpy as np
import pytest

from minievo import cli
from minievo.engine import Engine
from minievo.errors import ConfigError
from minievo.experiments.config import Config
from minievo.experiments.run import resume, run
from minievo.network import make_autoencoder
from minievo.pruning import (
    SparsitySettings,
    get_schedule,
    masked_weight_fraction,
    prune_pair,
    prune_pair_to_sparsity,
    sparsity_settings,
)
from minievo.pruning.magnitude import n_masked_weights, n_weights, weight_positions
from minievo.training.lottery import LotteryTicket
from minievo.training.records import read_stats


def _pair(seed=0, n_dim=40):
    return make_autoencoder("default", n_dim, np.random.default_rng(seed))


def _weights(pair):
    """``(|w| of every weight in global layout order, mask of them)``, encoder then decoder."""
    nets = (pair.encoder, pair.decoder)
    values = np.concatenate([net.params[weight_positions(net)] for net in nets])
    masks = np.concatenate([net.mask[weight_positions(net)] for net in nets])
    return np.abs(values), masks


def _biases_untouched(pair):
    for net in (pair.encoder, pair.decoder):
        keep = np.ones(net.n_params, bool)
        keep[weight_positions(net)] = False
        assert np.all(net.mask[keep] == 1.0)


# --------------------------------------------------------------------------
# magnitude
# --------------------------------------------------------------------------
@pytest.mark.parametrize("amount", [0.1, 0.37, 0.0, 1.0])
def test_magnitude_prunes_exactly_the_smallest_weights_of_both_networks(amount):
    pair = _pair()
    before, _ = _weights(pair)
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    prune_pair(pair, "magnitude", rng, amount=amount, mask_mode="persistent")
    assert rng.bit_generator.state == state  # deterministic: draws nothing
    _, mask = _weights(pair)
    k = round(amount * before.size)
    expected = np.zeros(before.size, bool)
    expected[np.argsort(before, kind="stable")[:k]] = True  # the sort, one global ranking
    assert np.array_equal(mask == 0, expected)
    if 0 < k < before.size:
        assert before[mask == 0].max() <= before[mask == 1].min()
    _biases_untouched(pair)


def test_magnitude_ties_go_to_the_earliest_weights_in_layout_order():
    pair = _pair()
    for net in (pair.encoder, pair.decoder):
        net.params[weight_positions(net)] = 0.5  # every weight ties
    prune_pair(pair, "magnitude", np.random.default_rng(0), amount=0.25, mask_mode="persistent")
    _, mask = _weights(pair)
    k = round(0.25 * mask.size)
    assert np.all(mask[:k] == 0) and np.all(mask[k:] == 1)


def test_magnitude_with_persistent_masks_prunes_a_fraction_of_the_survivors():
    pair = _pair()
    prune_pair(pair, "magnitude", np.random.default_rng(0), amount=0.5, mask_mode="persistent")
    W = n_weights(pair)
    assert n_masked_weights(pair) == round(0.5 * W)
    prune_pair(pair, "magnitude", np.random.default_rng(0), amount=0.5, mask_mode="persistent")
    assert n_masked_weights(pair) == round(0.5 * W) + round(0.5 * (W - round(0.5 * W)))


def test_magnitude_in_regrow_mode_ranks_every_weight_and_keeps_the_mask():
    pair = _pair()
    before, _ = _weights(pair)
    prune_pair(pair, "magnitude", np.random.default_rng(0), amount=0.2, mask_mode="regrow")
    after, mask = _weights(pair)
    assert np.all(mask == 1.0)  # regrow: the parameters are zeroed once
    zeroed = np.argsort(before, kind="stable")[: round(0.2 * before.size)]
    assert np.all(after[zeroed] == 0) and np.count_nonzero(after == 0) == zeroed.size


@pytest.mark.parametrize("target", [0.0, 0.24, 0.6])
def test_pruning_to_a_target_reaches_it_and_never_unprunes(target):
    pair = _pair()
    prune_pair_to_sparsity(pair, "magnitude", target)
    W = n_weights(pair)
    assert n_masked_weights(pair) == round(target * W)
    values, mask = _weights(pair)
    masks_before = mask.copy()
    prune_pair_to_sparsity(pair, "magnitude", target / 2)  # a lower target changes nothing
    assert np.array_equal(_weights(pair)[1], masks_before)
    prune_pair_to_sparsity(pair, "magnitude", 0.8)
    _, mask = _weights(pair)
    assert np.all(mask[masks_before == 0] == 0) and n_masked_weights(pair) == round(0.8 * W)
    _biases_untouched(pair)


# --------------------------------------------------------------------------
# schedules of kind "sparsity"
# --------------------------------------------------------------------------
S = SparsitySettings(target=0.6, initial=0.1, start=3, every=4, steps=5, epochs=40, rounds=3)


def _targets(name, settings=S):
    function = get_schedule(name).function
    return {t: function(t, settings) for t in range(settings.epochs)}


def test_gradual_is_the_cubic_of_zhu_and_gupta_at_its_steps_and_nothing_elsewhere():
    got = _targets("gradual")
    assert got[S.start] == pytest.approx(S.initial)
    assert got[S.start + S.steps * S.every] == pytest.approx(S.target)
    steps = {S.start + k * S.every for k in range(S.steps + 1)}
    for t, value in got.items():
        if t not in steps:
            assert value is None
            continue
        cubic = S.target + (S.initial - S.target) * (1 - (t - S.start) / (S.steps * S.every)) ** 3
        assert value == pytest.approx(cubic)
    values = [got[t] for t in sorted(steps)]
    assert values == sorted(values)  # rises, fastest at first


def test_one_shot_and_iterative_targets():
    shot = _targets("one_shot")
    assert {t: v for t, v in shot.items() if v is not None} == {S.start: S.target}
    iterative = {t: v for t, v in _targets("iterative").items() if v is not None}
    expected = {
        S.start + k * S.every: S.initial + (S.target - S.initial) * (k + 1) / S.steps
        for k in range(S.steps)
    }
    assert iterative == pytest.approx(expected)
    assert max(iterative.values()) == pytest.approx(S.target)


def test_lottery_rounds_prune_the_same_fraction_of_the_survivors():
    got = {t: v for t, v in _targets("lottery_ticket").items() if v is not None}
    L = S.epochs // S.rounds
    assert sorted(got) == [L - 1, 2 * L - 1]  # R - 1 prunings, the last round trains
    survivors = [1.0] + [1 - got[t] for t in sorted(got)]
    ratios = [b / a for a, b in zip(survivors, survivors[1:])]
    assert ratios == pytest.approx([ratios[0]] * len(ratios))
    assert got[2 * L - 1] == pytest.approx(S.target)


# --------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------
def _baseline(canonical_config, schedule, **changes):
    return canonical_config.replace(
        prune_method="magnitude", prune_schedule=schedule, mask_mode="persistent", **changes
    )


@pytest.mark.parametrize("schedule", ["one_shot", "iterative", "gradual"])
def test_a_canonical_run_holds_each_target_with_persistent_masks(canonical_config, schedule):
    config = _baseline(canonical_config, schedule, epochs=8, target_sparsity=0.3)
    result = run(config, None)
    assert masked_weight_fraction(result.best) == pytest.approx(0.3, abs=1e-3)
    _biases_untouched(result.best)


def test_canonical_records_follow_the_gradual_targets(canonical_config, tmp_path):
    config = _baseline(canonical_config, "gradual", epochs=8, target_sparsity=0.3)
    run(config, tmp_path / "run")
    W = n_weights(_pair(n_dim=40))
    schedule = get_schedule("gradual").function
    settings, level = sparsity_settings(config), 0
    for record in read_stats(tmp_path / "run"):
        target = schedule(record["iteration"], settings)
        level = level if target is None else round(target * W)
        assert record["pruned"] == (target is not None)
        assert record["n_pruned_encoder"] + record["n_pruned_decoder"] == level
    assert level == round(0.3 * W)


@pytest.mark.parametrize("schedule_name", ["one_shot", "iterative", "gradual"])
def test_the_coevolution_prunes_each_visited_pair_to_the_epochs_target(
    canonical_config, tmp_path, schedule_name
):
    config = _baseline(
        canonical_config, schedule_name, cell_evaluation="lipi_simple", population_size=3
    ).replace(epochs=6, target_sparsity=0.4)
    result = run(config, tmp_path / "lipi")
    W = n_weights(result.best)
    schedule, settings = get_schedule(schedule_name).function, sparsity_settings(config)
    for record in read_stats(tmp_path / "lipi"):
        target = schedule(record["iteration"], settings)
        if target is not None:  # each visit of that epoch prunes its own pair
            assert record["n_pruned_encoder"] + record["n_pruned_decoder"] >= round(target * W)
    assert masked_weight_fraction(result.best) == pytest.approx(0.4, abs=1e-3)


def test_magnitude_on_a_probability_schedule_runs_in_the_coevolution(canonical_config):
    config = canonical_config.replace(
        cell_evaluation="lipi_simple",
        population_size=3,
        prune_method="magnitude",
        prune_schedule="fixed",
        prune_probability=1.0,
        prune_amount=0.1,
        mask_mode="persistent",
        epochs=2,
    )
    result = run(config, None)
    W = n_weights(result.best)
    once = round(0.1 * W)
    assert n_masked_weights(result.best) >= once + round(0.1 * (W - once))


def _lottery(canonical_config, **changes):
    return _baseline(
        canonical_config,
        "lottery_ticket",
        epochs=6,
        lottery_rounds=3,
        rewind_epoch=1,
        target_sparsity=0.5,
        **changes,
    )


def test_a_lottery_rewind_restores_the_epoch_k_weights_bit_for_bit(canonical_config, monkeypatch):
    config = _lottery(canonical_config)
    starts, rewound = [], []
    train_epoch, rewind = Engine.train_epoch, LotteryTicket.rewind

    def spy_train(self, pair, *args, **kwargs):  # the weights at the start of each epoch
        starts.append([pair.encoder.params.copy(), pair.decoder.params.copy()])
        return train_epoch(self, pair, *args, **kwargs)

    def spy_rewind(self, pair):
        rewind(self, pair)
        rewound.append(pair.copy())

    monkeypatch.setattr(Engine, "train_epoch", spy_train)
    monkeypatch.setattr(LotteryTicket, "rewind", spy_rewind)
    result = run(config, None)
    assert len(rewound) == 2  # R - 1 = 2 prunings and rewinds
    for pair in rewound:
        for net, at_k in zip((pair.encoder, pair.decoder), starts[config.rewind_epoch]):
            alive = net.mask == 1
            assert np.array_equal(net.params[alive].view(np.uint32), at_k[alive].view(np.uint32))
            assert np.all(net.params[~alive] == 0.0)
            assert net.adam_t[0] == 0 and not net.adam_m.any() and not net.adam_v.any()
    assert n_masked_weights(result.best) == round(0.5 * n_weights(result.best))


def test_the_lottery_learning_rate_is_replayed_from_the_rewind_epoch(canonical_config, tmp_path):
    config = _lottery(canonical_config)
    run(config, tmp_path / "lt")
    rates = [r["learning_rate"] for r in read_stats(tmp_path / "lt")]
    # rounds of L = 2 epochs: round 1 at positions 0, 1; later rounds at k = 1, 2
    first = rates[:2]
    assert rates[2] == rates[4] == first[1]
    assert rates[3] == rates[5] < rates[2]


def test_a_lottery_run_resumes_bit_for_bit(canonical_config, tmp_path, monkeypatch):
    config = _lottery(canonical_config, checkpoint_every=1)
    straight = run(config, tmp_path / "straight")
    calls = {"n": 0}
    original = Engine.train_epoch

    def dying(self, *args, **kwargs):  # dies in epoch 3: after the rewind point, before a rewind
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "train_epoch", dying)
    with pytest.raises(KeyboardInterrupt):
        run(config, tmp_path / "resumed")
    monkeypatch.setattr(Engine, "train_epoch", original)
    resumed = resume(tmp_path / "resumed")

    def stable(records):
        return [
            {k: v for k, v in r.items() if k not in ("timestamp", "wall_time")} for r in records
        ]

    assert stable(read_stats(tmp_path / "resumed")) == stable(read_stats(tmp_path / "straight"))
    for a, b in (
        (resumed.best.encoder, straight.best.encoder),
        (resumed.best.decoder, straight.best.decoder),
    ):
        assert np.array_equal(a.params.view(np.uint32), b.params.view(np.uint32))
        assert np.array_equal(a.mask, b.mask)


# --------------------------------------------------------------------------
# refusals: one line naming the bad value and what is allowed
# --------------------------------------------------------------------------
SPARSE = dict(
    cell_evaluation="ann_canonical",
    prune_method="magnitude",
    prune_schedule="gradual",
    mask_mode="persistent",
)


@pytest.mark.parametrize(
    "changes, named",
    [
        ({"target_sparsity": 1.0}, "target_sparsity: 1.0 is out of range; allowed: [0, 1)"),
        ({"target_sparsity": -0.1}, "target_sparsity: -0.1 is out of range; allowed: [0, 1)"),
        (
            {"prune_schedule": "lottery_ticket", "cell_evaluation": "lipi_simple"},
            "prune_schedule: 'lottery_ticket'",
        ),
        ({"prune_method": "random"}, "prune_method: 'random'"),
        ({"mask_mode": "regrow"}, "mask_mode: 'regrow'"),
        ({"backend": "cuda"}, "backend: 'cuda'"),
        ({"initial_sparsity": 0.6, "target_sparsity": 0.5}, "initial_sparsity: 0.6"),
        ({"epochs": 10, "prune_start": 9, "prune_steps": 2}, "prune_schedule: 'gradual'"),
        (
            {"prune_schedule": "lottery_ticket", "epochs": 8, "rewind_epoch": 2},
            "rewind_epoch: 2",
        ),
    ],
)
def test_refusals_are_one_line_naming_the_value_and_what_is_allowed(changes, named):
    with pytest.raises(ConfigError) as error:
        Config(**{**SPARSE, **changes})
    message = str(error.value)
    assert "\n" not in message and message.startswith(named) and "allowed:" in message


def test_the_command_line_refuses_a_bad_target_with_status_2(capsys):
    argv = ["run", "--cell-evaluation", "ann_canonical", "--prune-method", "magnitude"]
    argv += ["--prune-schedule", "gradual", "--mask-mode", "persistent"]
    assert cli.main([*argv, "--target-sparsity", "1.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "target_sparsity: 1.0" in err and "allowed: [0, 1)" in err
    assert cli.main([*argv, "--mask-mode", "regrow"]) == 2
    assert "allowed: persistent" in capsys.readouterr().err


# --------------------------------------------------------------------------
# the baselines preset
# --------------------------------------------------------------------------
def test_the_baselines_preset_holds_the_papers_variants_and_matched_baselines():
    from minievo.experiments.presets import (
        BASELINES_MATCHED_TO,
        expand_preset,
        variant_names_of,
    )

    main = dict(zip(*_named("main_comparison", variant_names_of, expand_preset)))
    base = dict(zip(*_named("baselines", variant_names_of, expand_preset)))
    papers = [name for name in base if name in main]
    assert len(papers) == 4 and set(BASELINES_MATCHED_TO) == set(base) - set(papers)
    for name in papers:  # the same variants as the main comparison, fewer trials
        assert base[name] == main[name].replace(trials=10)
    for name, matched in BASELINES_MATCHED_TO.items():
        config, paper = base[name], base[matched]
        assert config.prune_method == "magnitude" and config.mask_mode == "persistent"
        assert config.is_canonical == paper.is_canonical
        assert config.population_size == paper.population_size and config.epochs == 400
    # 0.24 of the weights is 23.6% of the parameters: the median capacity 0.764
    pair = _pair(n_dim=1000)
    capacity = 1 - round(0.24 * n_weights(pair)) / (pair.encoder.n_params + pair.decoder.n_params)
    assert capacity == pytest.approx(0.764, abs=5e-4)


def _named(preset, variant_names_of, expand_preset):
    variants = expand_preset(preset)
    return variant_names_of(preset, variants), variants


def test_a_lottery_run_cannot_be_extended_on_resume(canonical_config, tmp_path):
    config = _lottery(canonical_config, checkpoint_every=1)
    run(config, tmp_path / "lt")
    with pytest.raises(ConfigError, match="allowed: 6"):
        resume(tmp_path / "lt", epochs=9)
