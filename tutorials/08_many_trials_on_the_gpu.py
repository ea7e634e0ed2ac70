# %% [markdown]
# # Tutorial 08: from one CPU kernel to many trials in lockstep on the GPU.
#
# Run it:
#
# ```bash
# python tutorials/08_many_trials_on_the_gpu.py            # bigger sizes on a GPU; the small ones simulated
# python tutorials/08_many_trials_on_the_gpu.py --quick    # tiny, seconds even simulated
# ```
#
# Without a GPU the script switches on numba's CUDA **simulator**
# (`NUMBA_ENABLE_CUDASIM=1`, set before `numba.cuda` is imported, and said
# on screen): the same kernels run as Python threads, slowly, so
# everything below can be read and checked on a laptop. Timings in the
# simulator mean nothing and none are printed.
#
# ## The idea (`docs/algorithm.md §4`)
# One training step of one autoencoder (1000-30-10-30-1000, batch 5) is about
# 60,000 multiply-adds: a CPU core does it in tens of microseconds; a GPU would
# sit idle. But a study is not one step: the papers compare 9 variants x 30
# trials, and the trials are independent. Inside a trial the asynchronous ring
# must visit its cells one after another, yet trial 1's visit of its cell 4
# and trial 2's visit of its cell 7 can happen *at the same time*. So the GPU
# path keeps the algorithm and changes the batching:
#
# 1. **Slots.** All networks live on the device as stacked flat buffers
#    `(S, n_params)` (the CPU's flat layout, one row per network), so one
#    kernel launch can work on `P` pairs: lane `p` reads slot `slots[p]`
#    and its own batch rows.
# 2. **Lanes in lockstep.** In round `s` of an epoch, every trial visits the
#    `s`-th cell of its *own* visit order; each step of the visit
#    (neighbourhood evaluation, training, replacement evaluation) is one
#    batched call over all trials.
# 3. **Same random numbers.** The host draws every random number from the CPU
#    path's own generators (`visit_streams(seed, epoch, cell)`) and passes
#    them in (batch indices, tournament winners), so a GPU trial makes the
#    same choices as the CPU trial with the same seed. Only the float32 sums
#    run in another order.
#
# Section 1 runs one training step on the CPU (the NumPy reference kernel).
# Section 2 stacks `P` pairs in slots and trains them all with one call per
# step, checking each against the reference. Section 3 runs whole trials in
# lockstep and lays their records next to the CPU trials of the same seeds.
# The figure `08_many_trials_on_the_gpu.png` shows both.


# %%
import argparse
import os
import subprocess
import sys
from pathlib import Path

TITLE = "Tutorial 08: from one CPU kernel to many trials in lockstep on the GPU."
# where figures go by default: tutorials/output (a notebook: ./output)
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()


# %%
def gpu_present() -> bool:
    """Ask a child process (so this one has not imported numba.cuda yet)."""
    code = "from numba import cuda; print(cuda.is_available())"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == "True"


# %%
def choose_device() -> str:
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        return "the CUDA simulator (NUMBA_ENABLE_CUDASIM is set)"
    if gpu_present():
        return "the GPU"
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # before numba.cuda is imported
    return "the CUDA simulator: no GPU found, so NUMBA_ENABLE_CUDASIM=1 was set (slow)"


# %%
def section_1_one_step_on_the_cpu(pair, data, rows):
    """One Adam step of one pair with the reference kernels; returns the loss."""
    import numpy as np

    from minievo.kernels import Adam, make_workspace
    from minievo.kernels import reference as ref

    work = make_workspace(pair.encoder.spec, pair.decoder.spec, rows.shape[0])
    losses = np.empty(1)
    ref.train_epoch(
        pair.encoder.arrays,
        pair.decoder.arrays,
        data,
        rows,
        rows.shape[0],
        work.no_dx,
        0,
        work,
        Adam(1e-2, 0.5, 0.999, 1e-8, True),
        False,
        losses,
    )
    return float(losses[0])


# %%
def section_2_many_pairs_in_slots(P, quick):
    """``P`` pairs trained together, one call per pass, each checked against the CPU."""
    import numpy as np

    from minievo.kernels.cuda import DevicePairs
    from minievo.network import Autoencoder, custom_autoencoder_specs, init_mlp

    rng = np.random.default_rng(0)
    n_dim, hidden, latent, rows, B = (12, 6, 3, 8, 4) if quick else (60, 16, 6, 20, 5)
    enc_spec, dec_spec = custom_autoencoder_specs(n_dim, (hidden,), latent)
    pairs = [Autoencoder(init_mlp(enc_spec, rng), init_mlp(dec_spec, rng)) for _ in range(P)]
    data = (rng.random((rows, n_dim)) < 0.5).astype(np.float32)
    # one stacked buffer per kind and kind of state: slot p holds pair p
    dev = DevicePairs(
        enc_spec.layout(),
        dec_spec.layout(),
        n_slots=P,
        max_lanes=P,
        max_rows=B,
        record_rows=0,
        datasets={"train": data},
    )
    dev.upload_many(range(P), [p.encoder for p in pairs], [p.decoder for p in pairs])
    orders = np.stack([rng.permutation(rows) for _ in range(P)])  # (P, N)
    slots = np.arange(P)
    gpu = dev.train_pass(
        slots,
        slots,
        orders,
        B,
        [1e-2] * P,
        np.zeros(P, np.int64),
        np.ones(P, bool),
        np.zeros(P, bool),
    )  # (P, n_batches)
    cpu = np.empty_like(gpu)
    for p, pair in enumerate(pairs):  # the CPU does the same P passes one after another
        for b in range(gpu.shape[1]):
            cpu[p, b] = section_1_one_step_on_the_cpu(pair, data, orders[p, b * B : (b + 1) * B])
    after = dev.download(slots)["enc"]["params"]  # (P, n_params)
    gap = float(np.abs(after - np.stack([p.encoder.params for p in pairs])).max())
    print(
        f"  {P} pairs x {gpu.shape[1]} steps: largest loss difference "
        f"{np.abs(gpu - cpu).max():.2e}, largest weight difference {gap:.2e}"
    )
    # float32 sums in another order: weights agree to a small part of one step (lr 1e-2)
    assert np.allclose(gpu, cpu, rtol=1e-5, atol=1e-6) and gap < 1e-4
    return gpu, cpu


# %%
def section_3_trials_in_lockstep(out, quick):
    """Whole lipi_simple trials in lockstep against CPU trials of the same seeds."""
    import numpy as np

    from minievo.data import generate_binary_clustering
    from minievo.experiments.config import Config
    from minievo.training.coevolution import train_coevolution
    from minievo.training.lockstep import train_lockstep
    from minievo.training.records import read_stats

    dataset = generate_binary_clustering(
        2, 4 if quick else 10, 12 if quick else 40, rng=np.random.default_rng(0)
    )
    settings = {
        "population_size": 3 if quick else 5,
        "epochs": 1 if quick else 3,
        "batch_size": 3,
        "environment": "small",
        "learning_rate": 1e-2,
        "stats_every": 1,
        "progress": False,
        "prune_method": "random",
        "prune_probability": 0.5,
        "mask_mode": "regrow",
    }
    seeds = (1, 2) if quick else (1, 2, 3)
    configs = [Config(**settings, seed=s) for s in seeds]
    gpu = train_lockstep([(c, out / f"gpu_trial{s}") for c, s in zip(configs, seeds)], dataset)
    cpu = [
        train_coevolution(c.replace(backend="numpy"), dataset, out / f"cpu_trial{s}")
        for c, s in zip(configs, seeds)
    ]
    curves = {}
    for s, g, c in zip(seeds, gpu, cpu):
        a, b = read_stats(out / f"gpu_trial{s}"), read_stats(out / f"cpu_trial{s}")
        same = all(x[k] == y[k] for x, y in zip(a, b) for k in ("selected_cell", "pruned"))
        # n_pruned_* (regrow masks): zeros at the pair's last pruning event; n_zero_*: now.
        # A pruned weight whose gradient is exactly 0 in one float order and ~1e-9 in the
        # other stays 0 on one side only, so these counts can differ by a few, as losses do.
        gap = max(
            abs(x[k] - y[k])
            for x, y in zip(a, b)
            for k in ("n_pruned_encoder", "n_zero_encoder", "n_pruned_decoder", "n_zero_decoder")
        )
        print(
            f"  seed {s}: test L1 GPU {g.test_loss:.6f}  CPU {c.test_loss:.6f}; "
            f"same selections and pruning draws in all {len(a)} visits: {same}; "
            f"largest pruned/zero count difference: {gap}"
        )
        assert same and abs(g.test_loss - c.test_loss) < 1e-4, (s, same, g.test_loss, c.test_loss)
        curves[s] = ([r["test_loss"] for r in a], [r["test_loss"] for r in b])
    return curves


# %%
def draw(out, section2, curves):
    import matplotlib

    if "ipykernel" not in sys.modules:  # a script draws into files; a notebook shows them
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    gpu, cpu = section2
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.scatter(cpu.ravel(), gpu.ravel(), s=12)
    lo, hi = float(cpu.min()), float(cpu.max())
    ax1.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax1.set(
        xlabel="loss, CPU reference (pair by pair)",
        ylabel="loss, device (all pairs at once)",
        title="2: P pairs, one call per step",
    )
    for s, (g, c) in curves.items():
        ax2.plot(np.arange(len(c)), c, "-", label=f"CPU seed {s}")
        ax2.plot(np.arange(len(g)), g, "x", label=f"GPU seed {s}")
    ax2.set(
        xlabel="cell visit",
        ylabel="test L1 of the new center",
        title="3: trials in lockstep vs the CPU",
    )
    ax2.legend(fontsize=7)
    fig.tight_layout()
    path = out / "08_many_trials_on_the_gpu.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick: bool, out: Path) -> None:
    device = choose_device()
    print(f"Kernels run on {device}.")
    if not quick and os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        # the simulator runs every GPU thread as a Python thread: the bigger sizes
        # would take minutes, and show nothing the small ones do not
        print("The simulator runs the small sizes of --quick (a GPU runs the bigger ones).")
        quick = True
    out.mkdir(parents=True, exist_ok=True)
    print("1-2. one CPU kernel, then P pairs stacked in device slots:")
    section2 = section_2_many_pairs_in_slots(3 if quick else 8, quick)
    print("3. lipi_simple trials in lockstep, against the CPU trials of the same seeds:")
    curves = section_3_trials_in_lockstep(out, quick)
    print(f"figure: {draw(out, section2, curves)}")


# %%
if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--out", type=Path, default=HERE / "output")
    # in a notebook there are no arguments to read: the default mode
    args = parser.parse_args([] if "ipykernel" in sys.modules else None)
    sys.path.insert(0, str(HERE.resolve().parent))
    main(args.quick, args.out)
