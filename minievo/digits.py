r"""scikit-learn's handwritten digits, scaled and split (docs/datasets.md).

The images are the 1,797 8×8 digits bundled with scikit-learn
(``sklearn.datasets.load_digits``, no download): 16 grey levels per pixel,
0 = background, 16 = full ink, ten classes of about 180 images each.

Preprocessing. Every pixel is divided by 16,

.. math::

    x_{i,j} = p_{i,j} / 16 \in [0, 1],

because the decoders end in a sigmoid and the loss is the mean absolute
difference (L1) between values in [0, 1], as on the binary data. The variant
``digits_binary`` thresholds instead, :math:`x_{i,j} = [p_{i,j} \ge 8]`,
which gives 0/1 rows like the binary clustering data.

Split. A fixed, seeded, stratified three-way split in the proportions
3 : 1 : 1 (train, test, validation), mirroring the three splits of the
binary clustering data. The rows are ordered by class, and randomly (from
``numpy.random.default_rng(seed)``) within a class; then the sorted list is
dealt out in a cycle of five: positions :math:`r \bmod 5 \in \{0, 1, 2\}` go
to train, 3 to test, 4 to validation. Every class is thus split 3 : 1 : 1
(to one image), the sizes depend only on the number of images (1,079 / 359 /
359 of 1,797), and the same seed always gives the same split. The rows of
each split are then put in a seeded random order, so that classes are mixed
when batches are not shuffled.

This module returns plain arrays; :mod:`minievo.data` wraps them in a
:class:`~minievo.data.Dataset`.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

__all__ = [
    "DIGITS_NAMES",
    "DIGITS_N_ROWS",
    "IMAGE_SHAPE",
    "digits_split_sizes",
    "load_digits_arrays",
    "require_scikit_learn",
]

#: The accepted names: grey levels scaled to [0, 1], or thresholded to 0/1.
DIGITS_NAMES = ("digits", "digits_binary")
#: Images in scikit-learn's bundled digits.
DIGITS_N_ROWS = 1797
#: Height and width of one image; a row is the image read line by line.
IMAGE_SHAPE = (8, 8)
#: Largest grey level of the bundled images.
MAX_LEVEL = 16.0
#: Positions of a cycle of five that go to each split (3 : 1 : 1).
_CYCLE = {"train": (0, 1, 2), "test": (3,), "validation": (4,)}


def require_scikit_learn(name: str):
    """Import ``sklearn.datasets``, or raise ConfigError saying how to install it."""
    try:
        from sklearn import datasets
    except ImportError:
        raise ConfigError(
            f'dataset {name!r} needs scikit-learn: pip install -e ".[datasets]"'
        ) from None
    return datasets


def digits_split_sizes(n_rows: int = DIGITS_N_ROWS) -> dict[str, int]:
    """Rows per split when ``n_rows`` images are dealt out in cycles of five.

    >>> digits_split_sizes()
    {'train': 1079, 'test': 359, 'validation': 359}
    """
    positions = np.arange(n_rows) % 5  # (n_rows,)
    return {split: int(np.isin(positions, cycle).sum()) for split, cycle in _CYCLE.items()}


def _split_indices(labels: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Stratified 3 : 1 : 1 row indices per split (module docstring), each in random order."""
    within = rng.permutation(labels.size)  # (n,) random order ...
    ordered = within[np.argsort(labels[within], kind="stable")]  # (n,) ... grouped by class
    positions = np.arange(labels.size) % 5  # (n,)
    return {
        split: rng.permutation(ordered[np.isin(positions, cycle)])  # (n_split,)
        for split, cycle in _CYCLE.items()
    }


def load_digits_arrays(name: str, seed: int) -> dict:
    """The arrays of one digits dataset: three splits, their labels, the class means.

    Parameters
    ----------
    name : str
        ``"digits"`` (pixels / 16) or ``"digits_binary"`` (pixels >= 8).
    seed : int
        Seed of the split; the same seed gives the same split.

    Returns
    -------
    dict
        ``train``, ``test``, ``validation``: float32 ``(n_split, 64)``;
        ``*_labels``: int64 ``(n_split,)`` digit classes 0-9; ``centroids``:
        float32 ``(10, 64)``, the mean training image of each class (the
        role of the cluster centres of the binary data).

    Raises
    ------
    ConfigError
        If scikit-learn is not installed or the name is not a digits name.
    """
    if name not in DIGITS_NAMES:
        raise ConfigError(f"dataset_name: {name!r} is not allowed; allowed: {DIGITS_NAMES}")
    bunch = require_scikit_learn(name).load_digits()
    levels = np.asarray(bunch.data, dtype=np.float64)  # (1797, 64) grey levels 0..16
    labels = np.asarray(bunch.target, dtype=np.int64)  # (1797,)
    if name == "digits":
        pixels = (levels / MAX_LEVEL).astype(np.float32)  # (1797, 64) in [0, 1]
    else:
        pixels = (levels >= MAX_LEVEL / 2).astype(np.float32)  # (1797, 64) 0/1
    arrays = {}
    for split, rows in _split_indices(labels, np.random.default_rng(seed)).items():
        arrays[split] = pixels[rows]  # (n_split, 64)
        arrays[f"{split}_labels"] = labels[rows]  # (n_split,)
    train, train_labels = arrays["train"], arrays["train_labels"]
    arrays["centroids"] = np.stack(
        [train[train_labels == k].mean(axis=0) for k in range(10)]
    ).astype(np.float32)  # (10, 64)
    return arrays
