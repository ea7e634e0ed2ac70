# %% [markdown]
# # Tutorial 05: the papers' main comparison as a study: a sweep, a report, its statistics.
#
# Run it:
#
# ```bash
# python tutorials/05_reproduce_the_study.py            # 4 variants x 2 trials x 15 epochs (under a minute)
# python tutorials/05_reproduce_the_study.py --quick    # tiny data, 9 variants x 2 trials x 3 epochs
# ```
#
# The default mode runs four of the nine variants (both training modes, without
# pruning and with RANDOM-exponential), 2 trials of 15 epochs each on the papers'
# data, at a learning rate of 1e-3 instead of the papers' 1e-5 so that learning
# and pruning show within a minute on one core. The `--quick` mode only checks
# the plumbing for the tests: its networks barely train. The command line runs
# the real thing: `minievo reproduce --trials 2 --epochs 40 --workers 2` (all
# nine variants at the papers' settings, minutes), and `minievo reproduce
# --workers N` the full study, 30 trials x 400 epochs.
#
# A *study* answers the papers' question, "does pruning as a mutation operator
# keep the loss while removing parameters?", across trials, not from one run:
#
# 1. **Variants.** The preset `main_comparison` holds the nine variants of the
#    papers' main comparison: canonical training without pruning and with
#    CONJUNCTIVE, RANDOM and VARIANCE on the exponential schedule; Lipi-AE
#    (`lipi_simple`) without pruning, RANDOM-exponential and CONJUNCTIVE-final_n
#    at population 5 and VARIANCE-population at population 10; the small
#    autoencoder with RANDOM-exponential on the 4000-bit data. Each variant is
#    the published run the papers' figure took it from (docs/studies.md).
#    Probabilities 0.5 (random, conjunctive) and 0.1 (variance), the published
#    `regrow` masks and hook signal.
# 2. **Jobs.** Each variant runs `trials` seeds; a job is one (variant, seed),
#    trained into `<variant>/seed-NN` (`minievo.experiments.sweep.run_sweep`).
#    A folder holding other settings is refused, a failed job is recorded and
#    redone on the next run.
# 3. **Metrics per trial.** The papers' metric is the final training L1: the mean
#    L1 over the training batches at the last epoch, averaged over the cells,
#
#    $$\bar L = \frac{1}{n}\sum_{i=1}^{n} \frac{1}{|\mathcal B|} \sum_{B \in \mathcal B} L_1(D_i(E_i(B)), B),$$
#
#    and the preserved capacity, the share of non-zero parameters at the end.
#
# 4. **Statistics.** One value per trial (the cells of one trial are not
#    independent). Two-sided Mann-Whitney U against the unpruned baseline of
#    the same training mode, Holm-corrected, and the Vargha-Delaney effect size
#    $\hat A_{12} = P(X > Y) + \tfrac12 P(X = Y)$
#    (`minievo.experiments.stats`).
#
# The report (`05_study/report/report.md`) puts the papers' values beside
# minievo's; with a few epochs the two are not comparable (the report says so):
# the point here is the workflow. Figures: `05_boxplots.png` (final loss and
# capacity per variant) and `05_loss_over_epochs.png` (median and IQR band).


# %%
import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

from minievo.experiments.presets import expand_preset, preset_variant_names
from minievo.experiments.report import read_sweep, write_report
from minievo.experiments.stats import a12, mann_whitney
from minievo.experiments.sweep import run_sweep

TITLE = "Tutorial 05: the papers' main comparison as a study: a sweep, a report, its statistics."
# where figures go by default: tutorials/output (a notebook: ./output)
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()


# %%
def study_settings(quick: bool, out: Path) -> tuple[int, dict]:
    """Trials and overrides: tiny data (written into ``out``) for --quick.

    The default mode changes the papers' settings in two ways, so that it
    ends within a minute on one core and still shows learning and pruning:
    15 epochs instead of 400, and a learning rate of 1e-3 instead of 1e-5 (at
    1e-5, 15 epochs end on the plateau of L1 0.27 for every variant).
    """
    if quick:  # 3 clusters x 10 rows x 40 bits, generated into out/05_data on first use
        return 2, {
            "epochs": 3,
            "dataset_name": "binary_clustering_3_10_40",
            "data_dir": str(out / "05_data"),
            "batch_size": 4,
            "stats_every": 1,
            "progress": False,
        }
    return 2, {"epochs": 15, "learning_rate": 1e-3, "stats_every": 1, "progress": False}


#: The four of the nine variants the default mode runs: both training modes,
#: without pruning and with RANDOM-exponential (`minievo reproduce` runs all nine).
SHOWN = (
    "ann_canonical-none",
    "ann_canonical-random-exponential-p0.5",
    "lipi_simple-pop5-none",
    "lipi_simple-pop5-random-exponential-p0.5",
)


# %%
def main(quick: bool, out: Path) -> list:
    out.mkdir(parents=True, exist_ok=True)
    trials, overrides = study_settings(quick, out)
    variants = expand_preset("main_comparison", trials=trials, overrides=overrides)
    names = preset_variant_names("main_comparison", variants)
    keep = [k for k, name in enumerate(names) if name in SHOWN]
    variants, names = [variants[k] for k in keep], [names[k] for k in keep]
    root = out / "05_study"
    if root.exists():
        shutil.rmtree(root)  # a tutorial starts afresh; a real study resumes instead
    print(f"=== {len(variants)} variants x {trials} trials -> {root} ===")
    # the jobs one after another in this process (the kernels are loaded once);
    # `minievo reproduce --workers N` runs them N at a time in worker processes
    # (figures=False: no per-trial figures; the report draws the study's)
    outcome = run_sweep(
        variants, root, names=names, in_process=True, workers=1, progress=True, figures=False
    )
    print(outcome.summary())

    report = write_report(root)
    print(f"\n{report.summary_line()}\nreport: {report.path}")
    rows = [line for line in report.path.read_text().splitlines() if line.startswith("| `")]
    print("\n".join(rows[: len(variants)]))

    # The statistics by hand, for one pair: Lipi-AE RANDOM-exponential vs no pruning
    by_name = {v.name: v for v in read_sweep(root)}
    pruned = by_name["lipi_simple-pop5-random-exponential-p0.5"].values("final_L1")
    baseline = by_name["lipi_simple-pop5-none"].values("final_L1")
    u, p = mann_whitney(pruned, baseline)
    print(
        f"\nlipi random-exp vs none: final L1 {pruned} vs {baseline}\n"
        f"  Mann-Whitney U = {u:.1f}, p = {p:.3f} (n = {len(pruned)} / {len(baseline)}: "
        f"with 2 trials per side no p can fall below 1/3), A12 = {a12(pruned, baseline):.2f}"
    )
    assert p >= 1 / 3 - 1e-9
    if not quick:  # learning and pruning that are visible
        canonical = by_name["ann_canonical-none"].values("final_L1")
        print(
            f"Lipi-AE without pruning {np.mean(baseline):.3f}, canonical {np.mean(canonical):.3f} "
            "(an untrained network: 0.5)"
        )
        assert max(baseline) < 0.3 and max(pruned) < 0.3, (baseline, pruned)
        left = by_name["lipi_simple-pop5-random-exponential-p0.5"].values("capacity")
        print(f"parameters left after RANDOM-exponential pruning: {np.mean(left):.1%}")
        assert max(left) < 0.99, left

    paths = []
    for figure in ("boxplots", "loss_over_epochs"):
        target = out / f"05_{figure}.png"
        shutil.copyfile(report.path.parent / f"{figure}.png", target)
        paths.append(target)
        print(f"figure: {target}")
    return paths


# %%
if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--out", type=Path, default=HERE / "output")
    # in a notebook there are no arguments to read: the default mode
    args = parser.parse_args([] if "ipykernel" in sys.modules else None)
    main(args.quick, args.out)
