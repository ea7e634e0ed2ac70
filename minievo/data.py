r"""The binary clustering problem: generate, save, load and batch it (docs/algorithm.md §1).

The handwritten digits (:mod:`minievo.digits`, docs/datasets.md) are the
other dataset: :func:`load_or_generate` reads them from scikit-learn, and a
:class:`Dataset` holds them as it holds the binary data.

A dataset named ``binary_clustering_{K}_{M}_{D}`` holds ``K`` clusters of
``M`` noisy copies of a random ``D``-bit centroid, in three splits (train,
test, validation) of ``N = K * M`` rows each.

The generator
-------------
Centroid bits are independent coin flips with probability ``p_one``:

.. math::

    c_{k,j} \sim \mathrm{Bernoulli}(p_{one}),
    \qquad k = 0 \dots K-1,\; j = 0 \dots D-1.

The published code draws each coordinate from Binomial(2, 0.5) and treats any
non-zero value as 1, so :math:`p_{one} = 1 - 0.5^2 = 0.75` is the default.

Row ``i`` of a split belongs to cluster :math:`y_i = i \bmod K` (clusters
interleaved, as the published generator orders them; this matters when
batches are not shuffled) and is its centroid with every bit flipped independently with probability
``noise_probability`` (:math:`q`):

.. math::

    x_{i,j} = c_{y_i,j} \oplus b_{i,j},
    \qquad b_{i,j} \sim \mathrm{Bernoulli}(q),

so a data bit is 1 with probability :math:`p_{one}(1-q) + (1-p_{one})q`, and
two rows of the same cluster differ in about :math:`2q(1-q)D` bits. Rows are
float32 0/1 values; labels :math:`y_i` are kept (int64) for clustering
metrics on the latent codes.

Test and validation rows come from the same centroids with fresh noise. In
the published code the test and validation sets reuse one noise mask for all
clusters, so they hold only ``M`` distinct flip patterns, each applied to all
``K`` centroids; minievo draws every row of every split independently.

Batches (docs/algorithm.md §1): training passes over the rows in a fresh random order per
pass, ``batch_size`` rows at a time (the last batch may be smaller); "one
batch" for an evaluation is the first batch of a fresh shuffle.

File format: version :data:`FORMAT_VERSION` (an int array ``format_version``
in the ``.npz``). Version 1 files (no ``format_version``) held the same rows
grouped by cluster; :func:`load_dataset` refuses them (naming the file and
how to regenerate it) and :func:`load_or_generate` regenerates such a cached
file in place with a notice on stderr, so an old order is never reused
silently.

Randomness: every function that draws takes an explicit
:class:`numpy.random.Generator`; nothing here touches global random state.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import re
import sys
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .digits import DIGITS_N_ROWS, DIGITS_NAMES, IMAGE_SHAPE, digits_split_sizes, load_digits_arrays
from .io import atomic_savez_compressed, npz_problem, reason_without_pickle

__all__ = [
    "DataFileError",
    "Dataset",
    "generate_binary_clustering",
    "parse_dataset_name",
    "dataset_name",
    "dataset_sizes",
    "load_digits",
    "save_dataset",
    "load_dataset",
    "default_cache_dir",
    "cache_file_name",
    "load_or_generate",
    "batch_order",
    "iterate_batches",
    "first_batch",
    "sample_rows",
]

PathLike = str | os.PathLike

#: Version of the dataset file format. 2: rows interleaved by cluster (row r
#: belongs to cluster r mod n_clusters, as published); 1 (files without a
#: ``format_version`` array): rows grouped by cluster.
FORMAT_VERSION = 2

DEFAULT_NOISE_PROBABILITY = 0.05
DEFAULT_P_ONE = 0.75

SPLITS = ("train", "test", "validation")
LABELS = tuple(f"{split}_labels" for split in SPLITS)
REQUIRED_ARRAYS = SPLITS + LABELS + ("centroids", "params")
PARAM_KEYS = (
    "n_clusters",
    "n_examples_per_cluster",
    "n_dim",
    "noise_probability",
    "p_one",
    "seed",
)

#: The params of an image dataset (:mod:`minievo.digits`).
IMAGE_PARAM_KEYS = ("name", "n_classes", "n_dim", "image_shape", "seed")

_NAME_PATTERN = re.compile(r"binary_clustering_(\d+)_(\d+)_(\d+)")
#: What a dataset name looks like (the configuration's error messages quote it).
DATASET_NAME_FORMAT = (
    "'binary_clustering_{n_clusters}_{n_examples_per_cluster}_{n_dim}' "
    "with positive integers, e.g. 'binary_clustering_10_100_1000', or "
    + " or ".join(repr(n) for n in DIGITS_NAMES)
    + " (scikit-learn's 8x8 handwritten digits)"
)
_NAME_HELP = "expected " + DATASET_NAME_FORMAT


class DataFileError(ValueError):
    """A dataset file is missing, unreadable or inconsistent.

    Parameters
    ----------
    path : str or os.PathLike
        The offending file; the message starts with it.
    problem : str
        What is wrong with it.
    """

    def __init__(self, path: PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"dataset file '{self.path}': {problem}")

    def __reduce__(self):
        # Exceptions are rebuilt from ``args`` when unpickled (e.g. when they
        # cross a process pool); ours needs both constructor arguments.
        return (type(self), (self.path, self.problem))


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------


def _check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int, or raise ValueError if it is not >= 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1), got {value!r}")
    return int(value)


def _check_probability(value, name: str) -> float:
    """Return ``value`` as a float, or raise ValueError if it is not in [0, 1]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    value = float(value)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return value


def _check_rows(x: np.ndarray) -> np.ndarray:
    """Return ``x`` if it is a 2-D array of rows, else raise ValueError."""
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        shape = getattr(x, "shape", None)
        raise ValueError(f"x must be a 2-D array (n_rows, n_dim), got shape {shape}")
    return x


# --------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------


def _dataset_problems(arrays: dict, params: dict) -> str | None:
    """Describe the first inconsistency of a dataset's arrays, or return None.

    Shared by :class:`Dataset` (which raises ValueError) and
    :func:`load_dataset` (which raises DataFileError naming the file).
    """
    centroids = arrays["centroids"]
    for key in SPLITS + ("centroids",):
        a = arrays[key]
        if not isinstance(a, np.ndarray) or a.dtype != np.float32:
            return f"array '{key}' must be float32, got {getattr(a, 'dtype', type(a))}"
        if a.ndim != 2:
            return f"array '{key}' must be 2-D (n_rows, n_dim), got shape {a.shape}"
    n_clusters, n_dim = centroids.shape
    if n_clusters < 1 or n_dim < 1:
        return f"array 'centroids' must be non-empty, got shape {centroids.shape}"
    for split in SPLITS:
        a = arrays[split]
        if a.shape[1] != n_dim:
            return (
                f"array '{split}' has n_dim {a.shape[1]} but 'centroids' has "
                f"n_dim {n_dim} (shapes {a.shape} and {centroids.shape})"
            )
        labels = arrays[f"{split}_labels"]
        if not isinstance(labels, np.ndarray) or labels.dtype != np.int64:
            return (
                f"array '{split}_labels' must be int64, "
                f"got {getattr(labels, 'dtype', type(labels))}"
            )
        if labels.shape != (a.shape[0],):
            return (
                f"array '{split}_labels' has shape {labels.shape} but "
                f"'{split}' has {a.shape[0]} rows"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= n_clusters):
            bad = np.flatnonzero((labels < 0) | (labels >= n_clusters))
            return (
                f"array '{split}_labels' has {bad.size} label(s) outside "
                f"[0, {n_clusters}), e.g. {labels[bad[0]]} at index {bad[0]}"
            )
    if not isinstance(params, dict):
        return f"params must be a dict, got {type(params).__name__}"
    images = params.get("name") in DIGITS_NAMES
    allowed = "values in [0, 1]" if images else "only 0 and 1"
    for key in SPLITS + ("centroids",):
        a = arrays[key]
        if images:
            outside = ~((a >= 0) & (a <= 1))  # (n_rows, n_dim); NaN counts too
        else:
            outside = (a != 0) & (a != 1)  # (n_rows, n_dim); NaN counts too
        n_bad = int(np.count_nonzero(outside))
        if n_bad:
            index = tuple(int(i) for i in np.argwhere(outside)[0])
            return (
                f"array '{key}' must hold {allowed}, found {n_bad} other "
                f"value(s), e.g. {a[index]!r} at index {index}"
            )
    required = IMAGE_PARAM_KEYS if images else PARAM_KEYS
    missing = [k for k in required if k not in params]
    if missing:
        return f"params lack key(s) {missing}; required: {list(required)}"
    n_named = params["n_classes" if images else "n_clusters"]
    if params["n_dim"] != n_dim or n_named != n_clusters:
        return (
            f"params say n_clusters={n_named}, n_dim={params['n_dim']} "
            f"but 'centroids' has shape {centroids.shape}"
        )
    return None


@dataclass(frozen=True, eq=False)
class Dataset:
    """One dataset: three splits, their labels, the centroids.

    A binary clustering dataset (built by :func:`generate_binary_clustering`
    or :func:`load_dataset`) or the handwritten digits (:mod:`minievo.digits`,
    built by :func:`load_or_generate`); checked on construction (dtypes,
    shapes, 0/1 values or, for images, values in [0, 1], label range).

    Attributes
    ----------
    train, test, validation : numpy.ndarray of float32, shape (n_rows, n_dim)
        0/1 rows; digits: pixels in [0, 1], an 8×8 image line by line.
    train_labels, test_labels, validation_labels : numpy.ndarray of int64, shape (n_rows,)
        Cluster index of every row, in ``[0, n_clusters)``; digits: the digit 0-9.
    centroids : numpy.ndarray of float32, shape (n_clusters, n_dim)
        The noise-free cluster centers; digits: the mean training image of
        each class, so :attr:`n_clusters` is 10.
    params : dict
        ``n_clusters``, ``n_examples_per_cluster``, ``n_dim``,
        ``noise_probability``, ``p_one``, ``seed`` (None when the generator
        was given a Generator rather than a seed); digits: ``name``,
        ``n_classes``, ``n_dim``, ``image_shape``, ``seed`` (of the split).

    Raises
    ------
    ValueError
        If the arrays are inconsistent.
    """

    train: np.ndarray  # (n_rows, n_dim) float32
    test: np.ndarray  # (n_rows, n_dim) float32
    validation: np.ndarray  # (n_rows, n_dim) float32
    train_labels: np.ndarray  # (n_rows,) int64
    test_labels: np.ndarray  # (n_rows,) int64
    validation_labels: np.ndarray  # (n_rows,) int64
    centroids: np.ndarray  # (n_clusters, n_dim) float32
    params: dict

    def __post_init__(self):
        problem = _dataset_problems(self._arrays(), self.params)
        if problem is not None:
            raise ValueError(problem)

    def _arrays(self) -> dict:
        return {key: getattr(self, key) for key in REQUIRED_ARRAYS if key != "params"}

    @property
    def n_dim(self) -> int:
        """Number of bits per row."""
        return int(self.centroids.shape[1])

    @property
    def n_clusters(self) -> int:
        """Number of clusters (centroids)."""
        return int(self.centroids.shape[0])

    @property
    def name(self) -> str:
        """The dataset's name: ``binary_clustering_{K}_{M}_{D}``, or ``digits``/``digits_binary``."""
        if "name" in self.params:
            return self.params["name"]
        return dataset_name(
            self.params["n_clusters"], self.params["n_examples_per_cluster"], self.params["n_dim"]
        )

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """``(height, width)`` of a row read as an image (digits: (8, 8)); None for bit vectors."""
        shape = self.params.get("image_shape")
        return None if shape is None else (int(shape[0]), int(shape[1]))


# --------------------------------------------------------------------------
# Generation (docs/algorithm.md §1)
# --------------------------------------------------------------------------


def draw_centroids(
    n_clusters: int, n_dim: int, p_one: float, rng: np.random.Generator
) -> np.ndarray:
    r"""Draw centroid bits :math:`c_{k,j} \sim \mathrm{Bernoulli}(p_{one})`.

    Returns
    -------
    numpy.ndarray of float32, shape (n_clusters, n_dim)
    """
    return (rng.random((n_clusters, n_dim)) < p_one).astype(np.float32)  # (K, D)


def draw_noisy_copies(
    centroids: np.ndarray,
    n_examples_per_cluster: int,
    noise_probability: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw ``n_examples_per_cluster`` noisy copies of every centroid.

    Each bit is flipped independently with probability ``noise_probability``:
    :math:`x_{i,j} = c_{y_i,j} \oplus b_{i,j}`. Clusters are interleaved as
    in the published generator: row ``r`` is a copy of centroid
    ``r mod n_clusters`` (:math:`y_r = r \bmod K`), so consecutive rows, and
    every unshuffled batch, cycle through the clusters. Every row gets its own
    noise. (The noise is drawn one cluster at a time, so the rows are those
    of format 1, which grouped them by cluster, in the published order.)

    Returns
    -------
    rows : numpy.ndarray of float32, shape (n_clusters * n_examples_per_cluster, n_dim)
    labels : numpy.ndarray of int64, shape (n_clusters * n_examples_per_cluster,)
    """
    n_clusters, n_dim = centroids.shape
    m = n_examples_per_cluster
    rows = np.empty((n_clusters * m, n_dim), dtype=np.float32)  # (K*M, D)
    for k in range(n_clusters):  # one cluster at a time bounds the temporaries
        flips = rng.random((m, n_dim)) < noise_probability  # (M, D) bool
        rows[k::n_clusters] = np.logical_xor(centroids[k] != 0, flips)  # rows k, k+K, ...
    labels = np.tile(np.arange(n_clusters, dtype=np.int64), m)  # (K*M,): r mod K
    return rows, labels


def generate_binary_clustering(
    n_clusters: int,
    n_examples_per_cluster: int,
    n_dim: int,
    *,
    noise_probability: float = DEFAULT_NOISE_PROBABILITY,
    p_one: float = DEFAULT_P_ONE,
    rng: np.random.Generator,
) -> Dataset:
    r"""Generate a binary clustering dataset (docs/algorithm.md §1).

    Draws ``n_clusters`` centroids with bits
    :math:`c_{k,j} \sim \mathrm{Bernoulli}(p_{one})`, then three splits of
    ``n_clusters * n_examples_per_cluster`` rows each (train, test, validation,
    in that order from ``rng``): row ``i`` of cluster ``k`` is ``c_k`` with
    each bit flipped independently with probability ``noise_probability``.

    Every row of every split has its own noise. This differs from the
    published code, whose test and validation sets reuse one noise mask for
    all clusters (so only ``n_examples_per_cluster`` distinct flip patterns,
    each applied to every centroid).

    Parameters
    ----------
    n_clusters, n_examples_per_cluster, n_dim : int
        Positive integers.
    noise_probability : float, default 0.05
        Probability that a bit is flipped, in [0, 1].
    p_one : float, default 0.75
        Probability that a centroid bit is 1, in [0, 1]. The published code's
        Binomial(2, 0.5) != 0 gives 0.75.
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    Dataset
        With ``params["seed"] = None`` (the seed is unknown here;
        :func:`load_or_generate` records it).

    Raises
    ------
    ValueError
        If a count is not a positive integer or a probability is outside [0, 1].
    """
    n_clusters = _check_positive_int(n_clusters, "n_clusters")
    n_examples_per_cluster = _check_positive_int(n_examples_per_cluster, "n_examples_per_cluster")
    n_dim = _check_positive_int(n_dim, "n_dim")
    noise_probability = _check_probability(noise_probability, "noise_probability")
    p_one = _check_probability(p_one, "p_one")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")

    centroids = draw_centroids(n_clusters, n_dim, p_one, rng)  # (K, D)
    splits = {}
    for split in SPLITS:
        rows, labels = draw_noisy_copies(
            centroids, n_examples_per_cluster, noise_probability, rng
        )  # (K*M, D), (K*M,)
        splits[split] = rows
        splits[f"{split}_labels"] = labels
    params = {
        "n_clusters": n_clusters,
        "n_examples_per_cluster": n_examples_per_cluster,
        "n_dim": n_dim,
        "noise_probability": noise_probability,
        "p_one": p_one,
        "seed": None,
    }
    return Dataset(centroids=centroids, params=params, **splits)


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------


def dataset_name(n_clusters: int, n_examples_per_cluster: int, n_dim: int) -> str:
    """Return ``'binary_clustering_{n_clusters}_{n_examples_per_cluster}_{n_dim}'``."""
    return f"binary_clustering_{n_clusters}_{n_examples_per_cluster}_{n_dim}"


def parse_dataset_name(name: str) -> tuple[int, int, int]:
    """Split a dataset name into its sizes (docs/algorithm.md §1).

    Parameters
    ----------
    name : str
        ``binary_clustering_{n_clusters}_{n_examples_per_cluster}_{n_dim}``,
        e.g. ``'binary_clustering_10_100_1000'``.

    Returns
    -------
    (n_clusters, n_examples_per_cluster, n_dim) : tuple of int

    Raises
    ------
    ValueError
        If the name does not follow the pattern or a size is 0.
    """
    match = _NAME_PATTERN.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"unknown dataset name {name!r}: {_NAME_HELP}")
    sizes = tuple(int(g) for g in match.groups())
    if min(sizes) < 1:
        raise ValueError(f"dataset name {name!r} has a zero size: {_NAME_HELP}")
    return sizes


def dataset_sizes(name: str) -> tuple[int, int]:
    """``(training rows, n_dim)`` of the dataset called ``name``, without building it.

    >>> dataset_sizes("binary_clustering_10_100_1000")
    (1000, 1000)
    >>> dataset_sizes("digits")
    (1079, 64)

    Raises
    ------
    ValueError
        If the name is neither a binary clustering name nor a digits name.
    """
    if name in DIGITS_NAMES:
        return digits_split_sizes(DIGITS_N_ROWS)["train"], IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    n_clusters, per_cluster, n_dim = parse_dataset_name(name)
    return n_clusters * per_cluster, n_dim


def load_digits(name: str, seed: int) -> Dataset:
    """The digits dataset ``name`` split with ``seed`` (:mod:`minievo.digits`); no cache file."""
    arrays = load_digits_arrays(name, seed)
    params = {
        "name": name,
        "n_classes": int(arrays["centroids"].shape[0]),
        "n_dim": int(arrays["centroids"].shape[1]),
        "image_shape": list(IMAGE_SHAPE),
        "seed": seed,
    }
    return Dataset(params=params, **arrays)


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def save_dataset(dataset: Dataset, path: PathLike) -> Path:
    """Write ``dataset`` to a compressed ``.npz`` file, atomically.

    The archive holds the seven arrays under their attribute names and
    ``params`` as a 0-d string array holding JSON. It is written to a
    temporary file in the same folder and moved into place with
    :func:`os.replace`, so readers never see a half-written file, even when
    several processes write the same dataset at once.

    Parameters
    ----------
    dataset : Dataset
    path : str or os.PathLike
        Written exactly as given (no ``.npz`` suffix is added); missing
        folders are created.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    arrays = dataset._arrays()
    arrays["params"] = np.array(json.dumps(dataset.params, sort_keys=True))  # () str
    arrays["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)  # () int
    atomic_savez_compressed(path, **arrays)
    return path


def _read_npz(path: Path) -> dict:
    """Read every member of an ``.npz`` archive, or raise DataFileError."""
    if not path.exists():
        raise DataFileError(path, "not found")
    if not path.is_file():
        raise DataFileError(path, "is not a regular file")
    problem = npz_problem(path)
    if problem:
        raise DataFileError(path, problem)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataFileError(path, "holds a single .npy array, not an .npz archive")
        with archive:
            return {key: archive[key] for key in archive.files}
    except DataFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as err:
        raise DataFileError(
            path,
            f"not a valid .npz archive or truncated ({type(err).__name__}: {reason_without_pickle(err)})",
        ) from err


def _read_params(path: Path, raw: np.ndarray) -> dict:
    """Decode the JSON ``params`` array, or raise DataFileError."""
    try:
        if raw.dtype.kind != "U" or raw.size != 1:
            raise ValueError(f"expected one JSON string, got dtype {raw.dtype}, shape {raw.shape}")
        params = json.loads(str(raw.reshape(())))
        if not isinstance(params, dict):
            raise ValueError(f"expected a JSON object, got {type(params).__name__}")
    except ValueError as err:  # json.JSONDecodeError is a ValueError
        raise DataFileError(path, f"params unreadable: {err}") from err
    return params


class OldFormatError(DataFileError):
    """A dataset file of an older format version (see :data:`FORMAT_VERSION`)."""


def file_format_version(arrays: dict) -> int:
    """The format version of a read archive: its ``format_version``, 1 when absent."""
    raw = arrays.get("format_version")
    if raw is None:
        return 1
    try:
        return int(np.asarray(raw).reshape(()))
    except (TypeError, ValueError):
        return -1


def _check_format_version(path: Path, arrays: dict) -> None:
    version = file_format_version(arrays)
    if version == FORMAT_VERSION:
        return
    if version == 1:
        raise OldFormatError(
            path,
            "format version 1 (rows grouped by cluster); this "
            f"minievo reads version {FORMAT_VERSION} (rows interleaved "
            "by cluster, as published): delete the file, or regenerate "
            "it with 'minievo data --name NAME --seed SEED'",
        )
    raise DataFileError(
        path,
        f"unknown format_version {arrays.get('format_version')!r}; "
        f"this minievo reads version {FORMAT_VERSION}",
    )


def load_dataset(path: PathLike) -> Dataset:
    """Read and check a dataset written by :func:`save_dataset`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Dataset

    Raises
    ------
    DataFileError
        If the file is missing, is not a readable ``.npz`` archive, lacks an
        array, or holds arrays of the wrong dtype, shape or values (non-binary
        rows, labels out of range), or unreadable params. The message names
        the file and the problem.
    OldFormatError
        If the file has an older format version (module docstring).
    """
    path = Path(path)
    arrays = _read_npz(path)
    missing = [key for key in REQUIRED_ARRAYS if key not in arrays]
    if missing:
        raise DataFileError(path, f"missing array(s) {missing}; required: {list(REQUIRED_ARRAYS)}")
    _check_format_version(path, arrays)
    params = _read_params(path, arrays.pop("params"))
    for key in LABELS:  # any integer type on disk is fine; int64 in memory
        if arrays[key].dtype.kind in "iu":
            arrays[key] = arrays[key].astype(np.int64, copy=False)
    arrays = {key: arrays[key] for key in REQUIRED_ARRAYS if key != "params"}
    problem = _dataset_problems(arrays, params)
    if problem is not None:
        raise DataFileError(path, problem)
    return Dataset(params=params, **arrays)


# --------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Folder for generated datasets: ``$MINIEVO_DATA_DIR`` or ``~/.cache/minievo/data``."""
    env = os.environ.get("MINIEVO_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "minievo" / "data"


def cache_file_name(
    name: str,
    seed: int,
    *,
    noise_probability: float = DEFAULT_NOISE_PROBABILITY,
    p_one: float = DEFAULT_P_ONE,
) -> str:
    """File name that encodes every generation parameter.

    ``{name}_seed{seed}.npz`` for the defaults; a non-default noise or p_one
    adds ``_noise{q}`` / ``_pone{p}`` (exact ``repr`` of the float), so
    different parameters never share a file.

    Examples
    --------
    >>> cache_file_name("binary_clustering_10_100_1000", 3)
    'binary_clustering_10_100_1000_seed3.npz'
    >>> cache_file_name("binary_clustering_10_100_1000", 3, noise_probability=0.1)
    'binary_clustering_10_100_1000_seed3_noise0.1.npz'
    """
    stem = f"{name}_seed{seed}"
    if noise_probability != DEFAULT_NOISE_PROBABILITY:
        stem += f"_noise{float(noise_probability)!r}"
    if p_one != DEFAULT_P_ONE:
        stem += f"_pone{float(p_one)!r}"
    return stem + ".npz"


def _is_old_format(path: Path) -> bool:
    try:
        load_dataset(path)
    except OldFormatError:
        return True
    except DataFileError:
        return False  # reported by load_dataset in the caller
    return False


def load_or_generate(
    name: str,
    *,
    cache_dir: PathLike | None = None,
    seed: int = 0,
    noise_probability: float = DEFAULT_NOISE_PROBABILITY,
    p_one: float = DEFAULT_P_ONE,
) -> Dataset:
    """Load a dataset from the cache, generating and caching it if absent.

    The file is ``{cache_dir}/{cache_file_name(name, seed, ...)}``. When
    absent, the dataset is generated with ``numpy.random.default_rng(seed)``
    and saved atomically. The same arguments always give identical arrays.

    Parameters
    ----------
    name : str
        ``binary_clustering_{n_clusters}_{n_examples_per_cluster}_{n_dim}``,
        or ``digits`` / ``digits_binary`` (:func:`load_digits`: read from
        scikit-learn and split with ``seed``; ``cache_dir``,
        ``noise_probability`` and ``p_one`` are not used).
    cache_dir : str or os.PathLike, optional
        Defaults to :func:`default_cache_dir`; created if needed.
    seed : int, default 0
        Non-negative.
    noise_probability, p_one : float
        As in :func:`generate_binary_clustering`.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        If the name or a parameter is invalid.
    DataFileError
        If a cached file exists but is invalid or was made with other
        parameters (delete it to regenerate). A cached file of format
        version 1 is regenerated, with a notice on stderr.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    if name in DIGITS_NAMES:  # bundled with scikit-learn: read, never cached
        return load_digits(name, seed)
    n_clusters, n_examples_per_cluster, n_dim = parse_dataset_name(name)
    noise_probability = _check_probability(noise_probability, "noise_probability")
    p_one = _check_probability(p_one, "p_one")
    params = {
        "n_clusters": n_clusters,
        "n_examples_per_cluster": n_examples_per_cluster,
        "n_dim": n_dim,
        "noise_probability": noise_probability,
        "p_one": p_one,
        "seed": seed,
    }
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = folder / cache_file_name(name, seed, noise_probability=noise_probability, p_one=p_one)
    if path.exists() and _is_old_format(path):
        print(
            f"minievo: notice: {path} was written in dataset format 1 (rows grouped by "
            f"cluster); regenerating it in format {FORMAT_VERSION} (rows interleaved by "
            f"cluster, as published)",
            file=sys.stderr,
        )
    elif path.exists():
        try:
            dataset = load_dataset(path)
        except DataFileError as err:  # a cached file: generated again once it is deleted
            raise DataFileError(
                path, f"{err.problem}; delete the file to generate it again"
            ) from None
        if dataset.params != params:
            raise DataFileError(
                path,
                f"made with params {dataset.params}, expected "
                f"{params}; delete the file to regenerate it",
            )
        return dataset
    dataset = generate_binary_clustering(
        n_clusters,
        n_examples_per_cluster,
        n_dim,
        noise_probability=noise_probability,
        p_one=p_one,
        rng=np.random.default_rng(seed),
    )
    dataset = dataclasses.replace(dataset, params=params)
    folder.mkdir(parents=True, exist_ok=True)
    save_dataset(dataset, path)
    return dataset


# --------------------------------------------------------------------------
# Batches (docs/algorithm.md §1)
# --------------------------------------------------------------------------


def batch_order(n_rows: int, rng: np.random.Generator | None, shuffle: bool = True) -> np.ndarray:
    """Row indices of one pass: a fresh permutation, or ``0 .. n_rows-1``.

    Batch ``b`` of the pass is ``order[b * batch_size:(b + 1) * batch_size]``;
    compiled kernels can take this index array directly.

    Parameters
    ----------
    n_rows : int
        Positive.
    rng : numpy.random.Generator or None
        Draws the permutation; not used (and may be None) when
        ``shuffle=False``.
    shuffle : bool, default True

    Returns
    -------
    numpy.ndarray of int64, shape (n_rows,)
    """
    n_rows = _check_positive_int(n_rows, "n_rows")
    if not shuffle:
        return np.arange(n_rows, dtype=np.int64)  # (n_rows,)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator when shuffle=True, got {type(rng).__name__}"
        )
    return rng.permutation(n_rows).astype(np.int64, copy=False)  # (n_rows,)


def iterate_batches(
    x: np.ndarray, batch_size: int, rng: np.random.Generator | None, *, shuffle: bool = True
) -> Iterator[np.ndarray]:
    """Yield the mini-batches of one pass over the rows of ``x`` (docs/algorithm.md §1).

    The order is drawn from ``rng`` when the generator starts (one fresh
    permutation per call, i.e. per pass); every row appears exactly once and
    the last batch holds the remaining ``n_rows % batch_size`` rows if that
    is not zero.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_rows, n_dim)
    batch_size : int
        Positive; larger than ``n_rows`` gives one batch of all rows.
    rng : numpy.random.Generator or None
        May be None when ``shuffle=False``.
    shuffle : bool, default True
        False gives the rows in order.

    Yields
    ------
    numpy.ndarray, shape (<= batch_size, n_dim)
        Copies when shuffled, views of ``x`` when not.
    """
    x = _check_rows(x)
    batch_size = _check_positive_int(batch_size, "batch_size")
    order = batch_order(x.shape[0], rng, shuffle)  # (n_rows,)

    def batches():
        for start in range(0, x.shape[0], batch_size):
            if shuffle:
                yield x[order[start : start + batch_size]]  # (b, n_dim) copy
            else:
                yield x[start : start + batch_size]  # (b, n_dim) view

    # Checks and the permutation happen now, not at the first next().
    return batches()


def first_batch(x: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """The first batch of a fresh shuffle: "one batch" for an evaluation (docs/algorithm.md §1).

    Draws the same permutation as :func:`iterate_batches` would, so for equal
    generator states it equals that pass's first batch: ``batch_size``
    distinct random rows (all rows, shuffled, if ``batch_size >= n_rows``).

    Returns
    -------
    numpy.ndarray, shape (min(batch_size, n_rows), n_dim)
    """
    x = _check_rows(x)
    batch_size = _check_positive_int(batch_size, "batch_size")
    order = batch_order(x.shape[0], rng, shuffle=True)  # (n_rows,)
    return x[order[:batch_size]]  # (b, n_dim)


def sample_rows(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` rows of ``x`` uniformly with replacement.

    Used by the CONJUNCTIVE pruning operator for its 100 test rows (docs/algorithm.md §5).

    Returns
    -------
    numpy.ndarray, shape (n, n_dim)
        A copy.
    """
    x = _check_rows(x)
    n = _check_positive_int(n, "n")
    if x.shape[0] == 0:
        raise ValueError("cannot sample rows from an empty array")
    return x[rng.integers(0, x.shape[0], size=n)]  # (n, n_dim)
