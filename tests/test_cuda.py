"""The CUDA kernels and the lockstep driver, held to the NumPy reference and the CPU path.

CI has no GPU, so the checks run in numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``), which must be set before ``numba.cuda`` is first
imported and would change nothing for the CPU kernels but is still kept out
of the main test process: :func:`test_simulator_checks_pass_in_a_subprocess`
runs this very file again in a subprocess with the variable set, and the
checks marked ``simulated`` run only there (or wherever the variable is set,
or a GPU is present). Sizes are tiny (12-6-3-6-12 networks, 2-3 trials):
the simulator runs every GPU thread as a Python thread.

Tolerances (float32; the device sums in another order than NumPy/BLAS):

* kernels against the reference: ``rtol = 1e-5``, ``atol = 1e-6``
  (losses, outputs, gradients, Adam updates; records in float64 ``1e-9``);
* a GPU trial against the CPU trial of the same seed, first 2 epochs: every
  discrete choice equal (``selected_cell``, ``pruned``, pruned counts), every
  loss within ``atol = 1e-4``: fresh Adam steps by about ``lr * sign(g)``, so
  a gradient that is ~0 and rounds to the other sign moves one weight by
  ``lr`` and the losses by up to ~1e-5 after one visit.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minievo.data import generate_binary_clustering
from minievo.experiments.config import Config, ConfigError

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
RUN_HERE = os.environ.get("MINIEVO_CUDA_TESTS") == "1"
simulated = pytest.mark.skipif(
    not (SIMULATED or RUN_HERE),
    reason="CUDA checks run in the simulator subprocess "
    "(test_simulator_checks_pass_in_a_subprocess)",
)
TINY_ENV = {"hidden": (6,), "latent": 3}


def _numba_cuda_importable() -> bool:
    try:
        import numba_cuda  # noqa: F401

        return True
    except ImportError:
        return False


# ---------------------------------------------------------------------------
# In the main process (no simulator): safety of the optional GPU path
# ---------------------------------------------------------------------------


@pytest.mark.skipif(SIMULATED or RUN_HERE, reason="main-process check")
@pytest.mark.skipif(not _numba_cuda_importable(), reason="numba-cuda is not installed")
def test_simulator_checks_pass_in_a_subprocess():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_the_package_imports_without_touching_numba_cuda():
    code = (
        "import sys, minievo, minievo.cli, minievo.training.lockstep, "
        "minievo.experiments.lockstep_sweep; "
        "print(any(m.startswith('numba.cuda') or m.startswith('numba_cuda') "
        "for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(SIMULATED or RUN_HERE, reason="needs a process without the simulator")
def test_cuda_without_a_device_is_a_one_line_error_with_exit_status_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    code = "from numba import cuda; print(cuda.is_available())"
    probe = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    if probe.stdout.strip() == "True":
        pytest.skip("a CUDA device is present")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "minievo",
            "sweep",
            "--preset",
            "lexi_prob",
            "--trials",
            "1",
            "--set",
            "epochs=1",
            "--backend",
            "cuda",
            "--out",
            str(tmp_path / "s"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "cuda" in last and 'pip install -e ".[cuda]"' in last
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "s").exists()  # refused before anything was written


def test_cuda_refuses_the_variants_it_does_not_run():
    from minievo.training.lockstep import check_lockstep_config

    with pytest.raises(
        ConfigError, match="epoch-node.*allowed: lipi_simple, lipi_simple_pte, ann_canonical"
    ):
        check_lockstep_config(Config(cell_evaluation="epoch-node", backend="cuda"))
    with pytest.raises(ConfigError, match="variational"):
        check_lockstep_config(Config(environment="variational", backend="cuda"))
    with pytest.raises(ConfigError, match="denoising_noise_std 0.4.*allowed: 0"):
        check_lockstep_config(Config(environment="denoising", backend="cuda"))
    check_lockstep_config(Config(environment="denoising", denoising_noise_std=0.0, backend="cuda"))
    check_lockstep_config(Config(cell_evaluation="lipi_simple_pte", backend="cuda"))


def test_adam_constants_equal_the_reference_formula_bit_for_bit():
    from types import SimpleNamespace

    from minievo.kernels.cuda import DevicePairs

    rng = np.random.default_rng(0)
    lrs, adam_t, fresh = rng.random(20) * 1e-3, np.arange(20) * 7, np.arange(20) % 3 == 0
    steps, bias2 = DevicePairs.adam_constants(
        SimpleNamespace(beta1=0.5, beta2=0.999), lrs, adam_t, fresh, 50
    )  # (50, 20)
    for b in range(50):
        for p in range(20):  # reference.adam_update's Python-float formulas
            t = 1 if fresh[p] else int(adam_t[p]) + 1 + b
            assert steps[b, p] == np.float32(lrs[p] / (1.0 - 0.5**t))
            assert bias2[b, p] == np.float32(np.sqrt(1.0 - 0.999**t))


def test_a_cuda_sweep_groups_trials_by_shape_and_data_set(tmp_path):
    from minievo.experiments.lockstep_sweep import group_jobs

    base = Config(backend="cuda", epochs=2, data_seed=1, population_size=5)
    jobs = [
        (base.replace(seed=1), tmp_path / "a"),
        (base.replace(seed=2, prune_method="random"), tmp_path / "b"),  # same group
        (base.replace(seed=3, data_seed=None), tmp_path / "c"),  # its own data set
        (base.replace(seed=4, population_size=3), tmp_path / "d"),
    ]  # another ring
    groups = group_jobs(jobs)
    assert sorted(len(members) for _, members in groups) == [1, 1, 2]
    assert [m[1].name for _, members in groups for m in members if len(members) == 2] == ["a", "b"]


def test_a_cuda_sweep_refuses_workers(tmp_path):
    from minievo.experiments.sweep import run_sweep

    with pytest.raises(ConfigError, match="without --workers"):
        run_sweep([Config(backend="cuda", epochs=1)], tmp_path, workers=2)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {
            "update": "synchronous",
            "prune_method": "variance",
            "prune_probability": 1.0,
            "cell_evaluation": "lipi_simple_pte",
            "optimizer_state": "persistent",
        },
        {
            "prune_method": "conjunctive",
            "prune_probability": 0.7,
            "mask_mode": "regrow",
            "test_loss_every": 2,
        },
        {
            "prune_method": "random",
            "prune_probability": 1.0,
            "mask_mode": "persistent",
            "optimizer_state": "fresh",
        },
        {"cell_evaluation": "ann_canonical", "prune_method": "variance", "prune_probability": 0.6},
        {
            "cell_evaluation": "ann_canonical",
            "prune_method": "random",
            "prune_probability": 0.6,
            "mask_mode": "regrow",
        },
        {
            "environment": "denoising",
            "denoising_noise_std": 0.0,
            "prune_method": "random",
            "prune_probability": 0.5,
        },
    ],
)
def test_the_lockstep_driver_on_the_host_device_is_the_cpu_path(tmp_path, monkeypatch, changes):
    """Driver logic alone: with the reference kernels as its "device" the lockstep run is the CPU run.

    Same kernels, so only float64 summation orders (records, whole-set L1) may differ.
    """
    from minievo import network
    from minievo.training.coevolution import train_coevolution
    from minievo.training.lockstep import host_device, train_lockstep
    from minievo.training.records import read_stats

    monkeypatch.setitem(network.ENVIRONMENTS, "small", TINY_ENV)
    monkeypatch.setitem(network.ENVIRONMENTS, "denoising", TINY_ENV)
    dataset = generate_binary_clustering(2, 5, 12, rng=np.random.default_rng(0))
    configs = [
        Config(
            **{
                "population_size": 3,
                "epochs": 3,
                "batch_size": 3,
                "environment": "small",
                "learning_rate": 1e-2,
                "stats_every": 2,
                "progress": False,
                "seed": seed,
                **changes,
            }
        )
        for seed in (1, 2, 3)
    ]
    host = train_lockstep(
        [(c, tmp_path / f"host{i}") for i, c in enumerate(configs)],
        dataset,
        device_factory=host_device,
    )
    for i, config in enumerate(configs):
        cpu = train_coevolution(config.replace(backend="numpy"), dataset, tmp_path / f"cpu{i}")
        a, b = read_stats(tmp_path / f"host{i}"), read_stats(tmp_path / f"cpu{i}")
        assert len(a) == len(b) and [list(r) for r in a] == [list(r) for r in b]
        for x, y in zip(a, b):
            for key in y:
                if key not in ("timestamp", "wall_time"):
                    assert x[key] == pytest.approx(y[key], rel=1e-12, abs=1e-12), (key, x, y)
        assert host[i].test_loss == pytest.approx(cpu.test_loss, rel=1e-12)
        np.testing.assert_array_equal(host[i].best.encoder.mask, cpu.best.encoder.mask)
        assert host[i].best.kind == cpu.best.kind
    assert (
        any(r["pruned"] for i in range(3) for r in read_stats(tmp_path / f"host{i}"))
        or "prune_method" not in changes
    )
    records = [r for i in range(3) for r in read_stats(tmp_path / f"host{i}")]
    if changes.get("mask_mode") == "regrow":  # the count at the last pruning event, not now
        assert any(
            r[f"n_pruned_{part}"] != r[f"n_zero_{part}"]
            for r in records
            for part in ("encoder", "decoder")
        )
    if changes.get("test_loss_every") == 2:  # epochs 0 and 2 (the last) only
        assert {r["iteration"] for r in records if "test_loss" in r} == {0, 2}


@pytest.mark.parametrize("killed", ["lockstep", "cpu"])
def test_a_checkpoint_resumes_on_the_other_backend(tmp_path, monkeypatch, killed):
    """Regrow masks, fresh Adam (checkpoints without moments): a run killed in epoch 2 on
    one path resumes on the other to the uninterrupted CPU run's records, pruned counts
    at the last pruning event included (carried by the checkpoint)."""
    from minievo import network
    from minievo.training import coevolution
    from minievo.training.lockstep import Lockstep, host_device, train_lockstep
    from minievo.training.records import read_stats

    monkeypatch.setitem(network.ENVIRONMENTS, "small", TINY_ENV)
    dataset = generate_binary_clustering(2, 5, 12, rng=np.random.default_rng(0))
    config = Config(
        population_size=3,
        epochs=3,
        batch_size=3,
        environment="small",
        learning_rate=1e-2,
        progress=False,
        seed=7,
        prune_method="random",
        prune_probability=0.5,
        mask_mode="regrow",
        checkpoint_every=1,
        backend="numpy",
    )
    coevolution.train_coevolution(config, dataset, tmp_path / "whole")

    def kill_in_epoch_2(run_epoch):
        def killed_run(*args):
            if args[-1] == 2:
                raise KeyboardInterrupt
            return run_epoch(*args)

        return killed_run

    out = tmp_path / "killed"
    if killed == "lockstep":
        monkeypatch.setattr(Lockstep, "run_epoch", kill_in_epoch_2(Lockstep.run_epoch))
        with pytest.raises(KeyboardInterrupt):
            train_lockstep([(config, out)], dataset, device_factory=host_device)
        monkeypatch.undo()
        monkeypatch.setitem(network.ENVIRONMENTS, "small", TINY_ENV)
        coevolution.train_coevolution(config, dataset, out, resume=True)
    else:
        epoch_run = coevolution.run_asynchronous_epoch
        monkeypatch.setattr(
            coevolution,
            "run_asynchronous_epoch",
            lambda c, d, p, epoch, *rest: kill_in_epoch_2(lambda *a: epoch_run(c, d, p, *a, *rest))(
                epoch
            ),
        )
        with pytest.raises(KeyboardInterrupt):
            coevolution.train_coevolution(config, dataset, out)
        monkeypatch.setattr(coevolution, "run_asynchronous_epoch", epoch_run)
        train_lockstep([(config, out)], dataset, resume=True, device_factory=host_device)
    whole, resumed = read_stats(tmp_path / "whole"), read_stats(out)
    assert [list(r) for r in resumed] == [list(r) for r in whole]
    for x, y in zip(resumed, whole):
        for key in y:
            if key not in ("timestamp", "wall_time"):
                assert x[key] == pytest.approx(y[key], rel=1e-12, abs=1e-12), (key, x, y)
    # seed 7: the first visit of epoch 2 does not prune; its count comes from the checkpoint
    assert any(
        not r["pruned"] and r["n_pruned_decoder"] > r["n_zero_decoder"]
        for r in whole
        if r["iteration"] == 2
    )


@pytest.mark.parametrize("canonical", [False, True])
def test_sigint_finishes_the_epoch_writes_a_checkpoint_and_stops(tmp_path, monkeypatch, canonical):
    """As on the CPU (``checkpoint_seconds`` far off, ``checkpoint_every`` 0): SIGINT in
    epoch 0 lets the epoch finish, checkpoints it, then raises KeyboardInterrupt."""
    import signal

    from minievo import network
    from minievo.training.checkpoint import checkpoint_progress
    from minievo.training.lockstep import CanonicalLockstep, Lockstep, host_device, train_lockstep
    from minievo.training.records import read_stats

    monkeypatch.setitem(network.ENVIRONMENTS, "small", TINY_ENV)
    dataset = generate_binary_clustering(2, 5, 12, rng=np.random.default_rng(0))
    config = Config(
        population_size=3,
        epochs=3,
        batch_size=3,
        environment="small",
        progress=False,
        seed=1,
        checkpoint_seconds=3600,
        cell_evaluation="ann_canonical" if canonical else "lipi_simple",
    )
    cls = CanonicalLockstep if canonical else Lockstep
    run_epoch = cls.run_epoch

    def interrupted(self, epoch, *rest):
        if epoch == 0:
            os.kill(os.getpid(), signal.SIGINT)
        return run_epoch(self, epoch, *rest)

    monkeypatch.setattr(cls, "run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_lockstep([(config, tmp_path)], dataset, device_factory=host_device)
    assert checkpoint_progress(tmp_path) == 1
    assert {r["iteration"] for r in read_stats(tmp_path)} == {0}


# ---------------------------------------------------------------------------
# In the simulator: kernels against the reference
# ---------------------------------------------------------------------------


@pytest.fixture
def tiny_pairs():
    from minievo.network import Autoencoder, custom_autoencoder_specs, init_mlp

    rng = np.random.default_rng(3)
    enc_spec, dec_spec = custom_autoencoder_specs(12, (6,), 3)
    pairs = [Autoencoder(init_mlp(enc_spec, rng, 4), init_mlp(dec_spec, rng, 4)) for _ in range(3)]
    data = (rng.random((10, 12)) < 0.6).astype(np.float32)
    return enc_spec, dec_spec, pairs, data


def _device(enc_spec, dec_spec, pairs, data, signal="pre_activation"):
    from minievo.kernels.cuda import DevicePairs

    dev = DevicePairs(
        enc_spec.layout(signal),
        dec_spec.layout(signal),
        len(pairs) + 2,
        len(pairs),
        4,
        4,
        {"train": data, "test": data[:7]},
    )
    dev.upload_many(range(len(pairs)), [p.encoder for p in pairs], [p.decoder for p in pairs])
    return dev


@simulated
@pytest.mark.parametrize("signal", ["pre_activation", "hook_output"])
def test_evaluation_and_records_match_the_reference(tiny_pairs, signal):
    from minievo.kernels import make_workspace
    from minievo.kernels import reference as ref
    from minievo.network import MLP, Autoencoder

    enc_spec, dec_spec, pairs, data = tiny_pairs
    if signal == "hook_output":
        pairs = [
            Autoencoder(
                MLP(enc_spec, p.encoder.params, None, 4, signal),
                MLP(dec_spec, p.decoder.params, None, 4, signal),
            )
            for p in pairs
        ]
    dev = _device(enc_spec, dec_spec, pairs, data, signal)
    rows = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [9, 8, 1, 0]])
    got = dev.evaluate(np.arange(3), np.array([1, 2, 0]), rows, np.ones(3, bool))
    work = make_workspace(enc_spec, dec_spec, 4)
    want = [
        ref.evaluate_pair(
            pairs[i].encoder.arrays, pairs[(i + 1) % 3].decoder.arrays, data[rows[i]], 0, work, True
        )
        for i in range(3)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    back = dev.download(range(3))
    for key, part in (("enc", "encoder"), ("dec", "decoder")):
        for name in ("rec_sum", "rec_sumsq"):
            np.testing.assert_allclose(
                back[key][name],
                np.stack([getattr(getattr(p, part), name) for p in pairs]),
                rtol=1e-5,
                atol=1e-9,
            )


@simulated
def test_gradients_match_the_reference(tiny_pairs):
    from minievo.kernels import make_workspace
    from minievo.kernels import reference as ref

    enc_spec, dec_spec, pairs, data = tiny_pairs
    dev = _device(enc_spec, dec_spec, pairs, data)
    cuda = dev.k.cuda
    rows = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [9, 8, 1, 0]])
    slots = cuda.to_device(np.arange(3, dtype=np.int64))
    no = cuda.to_device(np.zeros(3, np.uint8))
    y_off = dev._forward(slots, slots, cuda.to_device(rows), 4, dev.data["train"], no)
    row_abs = cuda.device_array((3, 4), np.float64)
    dev._loss_rows(4, y_off, row_abs, 0, True)
    dev._backward(slots, slots, 4)
    work = make_workspace(enc_spec, dec_spec, 4)
    for i, pair in enumerate(pairs):
        batch = data[rows[i]]
        loss = ref.pair_loss_and_gradients(
            pair.encoder.arrays, pair.decoder.arrays, batch, batch, work.no_dx, 0, work, False
        )
        assert row_abs.copy_to_host()[i].sum() / 48 == pytest.approx(loss, rel=1e-6)
        np.testing.assert_allclose(
            dev.enc_grad.copy_to_host()[i], pair.encoder.grad, rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            dev.dec_grad.copy_to_host()[i], pair.decoder.grad, rtol=1e-5, atol=1e-6
        )


@simulated
def test_training_with_fresh_and_persistent_adam_matches_the_reference(tiny_pairs):
    from minievo.kernels import Adam, make_workspace
    from minievo.kernels import reference as ref

    enc_spec, dec_spec, pairs, data = tiny_pairs
    for p in pairs[1:]:  # a pruned entry must stay 0 and get no update
        p.encoder.apply_mask((np.arange(enc_spec.n_params) % 5 != 0).astype(np.float32))
    dev = _device(enc_spec, dec_spec, pairs, data)
    orders = np.stack([np.random.default_rng(i).permutation(10) for i in range(3)])
    lrs, ts, fresh = [1e-3, 2e-3, 3e-3], [0, 5, 0], [True, False, False]
    got = dev.train_pass(np.arange(3), np.arange(3), orders, 4, lrs, ts, fresh, [False] * 3)
    work = make_workspace(enc_spec, dec_spec, 4)
    back = dev.download(range(3))
    for i, pair in enumerate(pairs):
        pair.encoder.adam_t[0] = pair.decoder.adam_t[0] = ts[i]
        want = np.empty(3)
        ref.train_epoch(
            pair.encoder.arrays,
            pair.decoder.arrays,
            data,
            orders[i],
            4,
            work.no_dx,
            0,
            work,
            Adam(lrs[i], 0.5, 0.999, 1e-8, fresh[i]),
            False,
            want,
        )
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-6)
        for key, net in (("enc", pair.encoder), ("dec", pair.decoder)):
            np.testing.assert_allclose(back[key]["params"][i], net.params, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(back[key]["m"][i], net.adam_m, rtol=1e-5, atol=1e-8)
            np.testing.assert_allclose(back[key]["v"][i], net.adam_v, rtol=1e-5, atol=1e-10)
            assert np.all(back[key]["params"][i][net.mask == 0] == 0.0)


@simulated
def test_slot_copies_counts_and_whole_set_errors(tiny_pairs, monkeypatch):
    from minievo.engine import Engine

    monkeypatch.setattr("minievo.kernels.cuda.EVAL_ROWS", 3)  # 7 test rows: chunks 3, 3, 1
    enc_spec, dec_spec, pairs, data = tiny_pairs
    pairs[0].decoder.apply_mask((np.arange(dec_spec.n_params) % 3 != 0).astype(np.float32))
    dev = _device(enc_spec, dec_spec, pairs, data)
    dev.copy_slots([0, 2], [3, 4])
    back = dev.download([3, 4])
    np.testing.assert_array_equal(back["dec"]["mask"][0], pairs[0].decoder.mask)
    np.testing.assert_array_equal(back["enc"]["params"][1], pairs[2].encoder.params)
    dev.BULK_SLOTS = 0  # whole-buffer transfers give the same rows
    dev.upload_many([4], [pairs[1].encoder], [pairs[1].decoder])
    bulk = dev.download([3, 4])
    np.testing.assert_array_equal(bulk["dec"]["mask"][0], pairs[0].decoder.mask)
    np.testing.assert_array_equal(bulk["enc"]["params"][1], pairs[1].encoder.params)
    counts = dev.zero_counts([3, 4], [3, 4])
    assert counts[0].tolist() == [
        0,
        pairs[0].encoder.n_zero,
        pairs[0].decoder.n_pruned,
        pairs[0].decoder.n_zero,
    ]
    errors = dev.row_errors(np.arange(3), np.arange(3), "test")  # (3, 7)
    engine = Engine(pairs[0], 4, backend="numpy")
    for i, pair in enumerate(pairs):
        assert errors[i].sum() / (7 * 12) == pytest.approx(
            engine.reconstruction_l1(pair, data[:7]), rel=1e-6
        )


# ---------------------------------------------------------------------------
# In the simulator: GPU trials against CPU trials of the same seeds
# ---------------------------------------------------------------------------

FLOAT_KEYS = (
    "learning_rate",
    "min_selection_loss",
    "min_replacement_loss",
    "test_loss",
    "mean_L1",
    "std_L1",
    "min_batch_loss",
    "train_L1",
)


def _compare_records(gpu, cpu):
    assert len(gpu) == len(cpu)
    for g, c in zip(gpu, cpu):
        assert list(g) == list(c)  # same keys, same order
        for key in c:
            if key in ("timestamp", "wall_time"):
                continue
            if key in FLOAT_KEYS:
                assert g[key] == pytest.approx(c[key], abs=1e-4), (key, g, c)
            else:
                assert g[key] == c[key], (key, g, c)


@simulated
@pytest.mark.parametrize(
    "changes",
    [
        {
            "update": "synchronous",
            "prune_method": "variance",
            "prune_probability": 1.0,
            "cell_evaluation": "lipi_simple_pte",
            "optimizer_state": "persistent",
        },
        {"prune_method": "random", "prune_probability": 0.5, "mask_mode": "regrow"},
    ],
)
def test_gpu_trials_follow_the_cpu_trials_of_the_same_seeds(tmp_path, monkeypatch, changes):
    from minievo import network
    from minievo.training.coevolution import train_coevolution
    from minievo.training.lockstep import train_lockstep
    from minievo.training.records import read_stats

    monkeypatch.setitem(network.ENVIRONMENTS, "small", TINY_ENV)
    dataset = generate_binary_clustering(2, 4, 12, rng=np.random.default_rng(0))
    configs = [
        Config(
            population_size=3,
            epochs=2,
            batch_size=3,
            environment="small",
            learning_rate=1e-2,
            stats_every=1,
            progress=False,
            seed=seed,
            **changes,
        )
        for seed in (1, 2)
    ]
    gpu = train_lockstep([(c, tmp_path / f"gpu{i}") for i, c in enumerate(configs)], dataset)
    cpu = [
        train_coevolution(c.replace(backend="numpy"), dataset, tmp_path / f"cpu{i}")
        for i, c in enumerate(configs)
    ]
    for i in range(len(configs)):
        _compare_records(read_stats(tmp_path / f"gpu{i}"), read_stats(tmp_path / f"cpu{i}"))
        assert gpu[i].test_loss == pytest.approx(cpu[i].test_loss, abs=1e-4)
    records = [r for i in range(len(configs)) for r in read_stats(tmp_path / f"gpu{i}")]
    assert {"n_zero_encoder", "n_active_decoder"} <= set(records[0])
    if "prune_method" in changes:
        assert any(r["n_pruned_encoder"] > 0 for r in records)
    if changes.get("mask_mode") == "regrow":  # the count at the last pruning event, not now
        assert any(
            r[f"n_pruned_{part}"] != r[f"n_zero_{part}"]
            for r in records
            for part in ("encoder", "decoder")
        )


@simulated
@pytest.mark.parametrize("method, mask_mode", [("random", "regrow"), ("variance", "persistent")])
def test_gpu_canonical_trials_follow_the_cpu_trials_of_the_same_seeds(
    tmp_path, monkeypatch, method, mask_mode
):
    from minievo import network
    from minievo.training.canonical import train_canonical
    from minievo.training.lockstep import train_lockstep
    from minievo.training.records import read_stats

    monkeypatch.setitem(network.ENVIRONMENTS, "small", TINY_ENV)
    dataset = generate_binary_clustering(2, 4, 12, rng=np.random.default_rng(0))
    configs = [
        Config(
            cell_evaluation="ann_canonical",
            epochs=4,
            stats_every=2,  # mean_L1/std_L1 at epochs 0, 2, 3; test_loss at 0, 3
            test_loss_every=3,
            batch_size=3,
            environment="small",
            learning_rate=1e-2,
            progress=False,
            seed=seed,
            prune_method=method,
            prune_probability=0.6,
            mask_mode=mask_mode,
        )
        for seed in (1, 2)
    ]
    gpu = train_lockstep([(c, tmp_path / f"gpu{i}") for i, c in enumerate(configs)], dataset)
    for i, config in enumerate(configs):
        cpu = train_canonical(config.replace(backend="numpy"), dataset, tmp_path / f"cpu{i}")
        records = read_stats(tmp_path / f"cpu{i}")
        assert any(r["pruned"] for r in records)
        assert records[0]["min_selection_loss"] == records[0]["min_batch_loss"]
        assert [r["iteration"] for r in records if "mean_L1" in r] == [0, 2, 3]
        assert [r["iteration"] for r in records if "test_loss" in r] == [0, 3]
        _compare_records(read_stats(tmp_path / f"gpu{i}"), records)
        assert gpu[i].test_loss == pytest.approx(cpu.test_loss, abs=1e-4)


@simulated
def test_a_cuda_sweep_writes_run_folders_the_report_reads_and_resumes(tmp_path, monkeypatch):
    """``run_sweep(..., backend cuda)``: the report reads its folders; a killed trial resumes."""
    from minievo import network
    from minievo.experiments.report import write_report
    from minievo.experiments.run import BEST_FILE, CONFIG_FILE, SUMMARY_FILE
    from minievo.experiments.sweep import run_sweep
    from minievo.training.records import read_stats

    monkeypatch.setitem(network.ENVIRONMENTS, "small", TINY_ENV)
    base = Config(
        population_size=3,
        epochs=2,
        batch_size=4,
        environment="small",
        dataset_name="binary_clustering_2_4_12",
        data_dir=str(tmp_path / "data"),
        data_seed=1,
        progress=False,
        backend="cuda",
        mask_mode="regrow",
        checkpoint_every=1,
        keep_checkpoint=False,
    )
    variants = [base.replace(prune_method="random", prune_probability=0.5), base.replace(seed=2)]
    outcome = run_sweep(variants, tmp_path / "sweep", figures=False)
    assert (outcome.ran, outcome.failed) == (2, []), outcome.summary()
    folders = sorted(p.parent for p in (tmp_path / "sweep").rglob(SUMMARY_FILE))
    assert len(folders) == 2
    for out in folders:
        for name in (CONFIG_FILE, BEST_FILE, "stats.jsonl"):
            assert (out / name).exists()
        assert not (out / "checkpoint.npz").exists()  # keep_checkpoint=False
        records = read_stats(out)
        assert len(records) == 2 * 3
        assert {"n_pruned_decoder", "n_zero_decoder", "n_active_decoder"} <= set(records[-1])
        assert json.loads((out / SUMMARY_FILE).read_text())["n_records"] == 6
    report = write_report(tmp_path / "sweep")
    assert (report.n_variants, report.n_done, report.n_jobs) == (2, 2, 2)
    assert run_sweep(variants, tmp_path / "sweep", figures=False).skipped == 2
    # a trial killed in epoch 1 resumes from its epoch-0 checkpoint to the same records
    pruning = [
        out
        for out in folders
        if json.loads((out / CONFIG_FILE).read_text())["prune_method"] == "random"
    ]
    from minievo.training.lockstep import Lockstep

    run_epoch = Lockstep.run_epoch

    def killed_in_epoch_1(self, epoch):
        if epoch == 1:
            raise KeyboardInterrupt
        run_epoch(self, epoch)

    monkeypatch.setattr(Lockstep, "run_epoch", killed_in_epoch_1)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(variants[:1], tmp_path / "again", figures=False)
    monkeypatch.setattr(Lockstep, "run_epoch", run_epoch)
    again = next((tmp_path / "again").rglob("checkpoint.npz")).parent
    assert json.loads(str(np.load(again / "checkpoint.npz")["state"]))["next_epoch"] == 1
    run_sweep(variants[:1], tmp_path / "again", figures=False)

    def strip(out):
        return [
            {k: v for k, v in r.items() if k not in ("timestamp", "wall_time")}
            for r in read_stats(out)
        ]

    assert len(pruning) == 1 and strip(again) == strip(pruning[0])


@simulated
def test_a_killed_canonical_gpu_run_resumes_to_the_same_records(tmp_path, monkeypatch):
    from minievo import network
    from minievo.training.lockstep import CanonicalLockstep, train_lockstep
    from minievo.training.records import read_stats

    monkeypatch.setitem(network.ENVIRONMENTS, "small", TINY_ENV)
    dataset = generate_binary_clustering(2, 4, 12, rng=np.random.default_rng(0))
    config = Config(
        cell_evaluation="ann_canonical",
        epochs=3,
        batch_size=3,
        environment="small",
        learning_rate=1e-2,
        progress=False,
        seed=6,
        prune_method="variance",
        prune_probability=0.5,
        checkpoint_every=1,
    )
    whole = train_lockstep([(config, tmp_path / "whole")], dataset)[0]
    # seed 6 prunes first in epoch 2, after the resume, from records of epochs 0-2:
    # the checkpoint must carry the records of epochs 0-1
    assert [r["pruned"] for r in read_stats(tmp_path / "whole")] == [False, False, True]
    run_epoch = CanonicalLockstep.run_epoch

    def killed_in_epoch_2(self, epoch, t0):
        if epoch == 2:
            raise KeyboardInterrupt
        run_epoch(self, epoch, t0)

    monkeypatch.setattr(CanonicalLockstep, "run_epoch", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train_lockstep([(config, tmp_path / "killed")], dataset)
    monkeypatch.setattr(CanonicalLockstep, "run_epoch", run_epoch)
    resumed = train_lockstep([(config, tmp_path / "killed")], dataset, resume=True)[0]

    def strip(path):
        return [
            {k: v for k, v in r.items() if k not in ("timestamp", "wall_time")}
            for r in read_stats(path)
        ]

    assert strip(tmp_path / "killed") == strip(tmp_path / "whole")
    assert resumed.test_loss == whole.test_loss
    np.testing.assert_array_equal(resumed.best.encoder.params, whole.best.encoder.params)
