"""Tutorial 05: the papers' main comparison as a study: a sweep, a report, its statistics.

Run it::

    python tutorials/05_reproduce_the_study.py            # 2 trials x 40 epochs, paper data (minutes)
    python tutorials/05_reproduce_the_study.py --quick    # tiny data, 2 trials x 3 epochs (seconds)

The command line does the same in one step (``minievo reproduce --trials 2
--epochs 40 --workers 2``; the full study is ``minievo reproduce --workers N``:
30 trials x 400 epochs).

A *study* answers the papers' question, "does pruning as a mutation operator
keep the loss while removing parameters?", across trials, not from one run:

1. **Variants.** The preset ``main_comparison`` holds the nine variants of the
   papers' main comparison: canonical training without pruning and with
   CONJUNCTIVE, RANDOM and VARIANCE on the exponential schedule; Lipi-AE
   (``lipi_simple``, population 10) without pruning, RANDOM-exponential,
   CONJUNCTIVE-final_n and VARIANCE-population; the small autoencoder with
   RANDOM-exponential. Probabilities 0.5 (random, conjunctive) and 0.1
   (variance), the published ``regrow`` masks and hook signal.
2. **Jobs.** Each variant runs ``trials`` seeds; a job is one (variant, seed),
   trained into ``<variant>/seed-NN`` (:func:`minievo.experiments.sweep.run_sweep`).
   A folder holding other settings is refused, a failed job is recorded and
   redone on the next run.
3. **Metrics per trial.** The papers' metric is the final training L1: the mean
   L1 over the training batches at the last epoch, averaged over the cells,

   .. math:: \\bar L = \\frac{1}{n}\\sum_{i=1}^{n} \\frac{1}{|\\mathcal B|}
             \\sum_{B \\in \\mathcal B} L_1(D_i(E_i(B)), B),

   and the preserved capacity, the share of non-zero parameters at the end.
4. **Statistics.** One value per trial (the cells of one trial are not
   independent). Two-sided Mann-Whitney U against the unpruned baseline of
   the same training mode, Holm-corrected, and the Vargha-Delaney effect size
   :math:`\\hat A_{12} = P(X > Y) + \\tfrac12 P(X = Y)`
   (:mod:`minievo.experiments.stats`).

The report (``05_study/report/report.md``) puts the papers' values beside
minievo's; with a few epochs the two are not comparable (the report says so):
the point here is the workflow. Figures: ``05_boxplots.png`` (final loss and
capacity per variant) and ``05_loss_over_epochs.png`` (median and IQR band).
"""

import argparse
import shutil
from pathlib import Path

from minievo.experiments.presets import expand_preset, preset_variant_names
from minievo.experiments.report import read_sweep, write_report
from minievo.experiments.stats import a12, mann_whitney
from minievo.experiments.sweep import run_sweep


def study_settings(quick: bool, out: Path) -> tuple[int, dict]:
    """Trials and overrides: tiny data (written into ``out``) for --quick."""
    if quick:  # 3 clusters x 10 rows x 40 bits, generated into out/05_data on first use
        return 2, {
            "epochs": 3,
            "dataset_name": "binary_clustering_3_10_40",
            "data_dir": str(out / "05_data"),
            "batch_size": 4,
            "stats_every": 1,
            "progress": False,
        }
    return 2, {"epochs": 40, "stats_every": 5, "progress": False}


def main(quick: bool, out: Path) -> list:
    out.mkdir(parents=True, exist_ok=True)
    trials, overrides = study_settings(quick, out)
    variants = expand_preset("main_comparison", trials=trials, overrides=overrides)
    names = preset_variant_names("main_comparison", variants)
    root = out / "05_study"
    if root.exists():
        shutil.rmtree(root)  # a tutorial starts afresh; a real study resumes instead
    print(f"=== {len(variants)} variants x {trials} trials -> {root} ===")
    # quick: jobs in this process (the kernels are compiled once); otherwise one
    # process per job, two at a time
    # (figures=False: no per-trial figures; the report draws the study's)
    outcome = run_sweep(
        variants,
        root,
        names=names,
        in_process=quick,
        workers=1 if quick else 2,
        progress=True,
        figures=not quick,
    )
    print(outcome.summary())

    report = write_report(root)
    print(f"\n{report.summary_line()}\nreport: {report.path}")
    rows = [line for line in report.path.read_text().splitlines() if line.startswith("| `")]
    print("\n".join(rows[: len(variants)]))

    # The statistics by hand, for one pair: Lipi-AE RANDOM-exponential vs no pruning
    by_name = {v.name: v for v in read_sweep(root)}
    pruned = by_name["lipi_simple-random-exponential-p0.5"].values("final_L1")
    baseline = by_name["lipi_simple-none"].values("final_L1")
    u, p = mann_whitney(pruned, baseline)
    print(
        f"\nlipi random-exp vs none: final L1 {pruned} vs {baseline}\n"
        f"  Mann-Whitney U = {u:.1f}, p = {p:.3f} (n = {len(pruned)} / {len(baseline)}: "
        f"with 2 trials per side no p can fall below 1/3), A12 = {a12(pruned, baseline):.2f}"
    )

    paths = []
    for figure in ("boxplots", "loss_over_epochs"):
        target = out / f"05_{figure}.png"
        shutil.copyfile(report.path.parent / f"{figure}.png", target)
        paths.append(target)
        print(f"figure: {target}")
    return paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    args = parser.parse_args()
    main(args.quick, args.out)
