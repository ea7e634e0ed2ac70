"""The report of a digits sweep: reconstruction figure, no binary-data references (docs/datasets.md)."""

import csv

import numpy as np
import pytest

from minievo.cli import main
from minievo.experiments.presets import expand_preset, variant_names_of
from minievo.experiments.sweep import run_sweep

pytest.importorskip("sklearn", reason="the digits need scikit-learn: pip install -e '.[datasets]'")


@pytest.fixture(scope="module")
def digits_sweep(tmp_path_factory):
    """Two variants of digits_comparison (canonical, Lipi-AE population 5), 2 epochs, 2 trials."""
    tiny = {"epochs": 2, "batch_size": 32, "learning_rate": 1e-3, "backend": "numpy"}
    variants = expand_preset("digits_comparison", trials=2, overrides={**tiny, "progress": False})
    names = variant_names_of("digits_comparison", variants)
    picked = [0, names.index("lipi_simple-pop5-none")]
    root = tmp_path_factory.mktemp("digits") / "sweep"
    run_sweep(
        [variants[i] for i in picked], root, names=[names[i] for i in picked], in_process=True
    )
    assert main(["report", str(root)]) == 0
    return root


def test_digits_comparison_is_main_comparison_on_the_digits():
    main_variants = expand_preset("main_comparison", trials=5)
    digits = expand_preset("digits_comparison")
    assert [c.trials for c in digits] == [5] * len(main_variants)
    for ours, theirs in zip(digits, main_variants):
        assert ours.dataset_name == "digits"
        assert ours.to_dict() == {**theirs.to_dict(), "dataset_name": "digits"}


def test_report_draws_the_reconstructions_of_each_variant(digits_sweep):
    report = digits_sweep / "report"
    figure = report / "reconstructions.png"
    assert figure.stat().st_size > 5000
    assert "![reconstructions](reconstructions.png)" in (report / "report.md").read_text()
    import matplotlib.image

    pixels = matplotlib.image.imread(figure)  # (height, width, 4): 3 rows of 10 images
    assert pixels.shape[0] > pixels.shape[1] * 0.15 and not np.all(pixels == pixels[0, 0])


def test_report_leaves_out_what_belongs_to_binary_clustering(digits_sweep):
    from minievo.data import load_or_generate

    text = (digits_sweep / "report" / "report.md").read_text()
    assert "majority bit" not in text and "papers' run" not in text
    train = load_or_generate("digits", seed=1).train
    median_l1 = float(np.abs(train - np.median(train, axis=0)).mean())
    rows = list(csv.DictReader(open(digits_sweep / "report" / "hypervolume.csv")))
    assert rows and {float(r["reference_loss"]) for r in rows} == {round(median_l1, 4)}
    assert (
        f"L1 {round(median_l1, 4)}: always answering the training images' per-pixel median" in text
    )


def test_reconstruction_figure_is_skipped_on_binary_clustering(data_dir, tmp_path):
    from conftest import tiny_sweep_variants

    from minievo.experiments.report import read_sweep
    from minievo.experiments.report_reconstructions import plot_reconstructions

    root = tmp_path / "sweep"
    run_sweep(tiny_sweep_variants(data_dir, trials=1, epochs=1), root, in_process=True)
    assert plot_reconstructions(read_sweep(root), root, tmp_path) is None
