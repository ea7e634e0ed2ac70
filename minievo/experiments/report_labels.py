"""Readable names, panels and line styles of a report's variants, and its reference losses.

A variant's folder name (``small-4000-lipi_simple-pop10-random-exponential-p0.5``)
says how it was run; a reader wants ``small AE · Lipi-AE (pop 10, 4000 bits) ·
RANDOM-exp``. :func:`variant_labels` builds such labels from the variants'
configurations, adding a setting (population, data set, probability, ...)
only where two variants of the report would otherwise read the same.

:func:`panel_of` puts canonical training and the coevolutionary modes
(Lipi-AE and the other cell evaluations) in separate panels; :func:`styles`
gives each variant a colour by operator, a line style by schedule and a marker
by what else differs, so no two variants of a panel look alike.

:func:`reference_losses` computes the two losses every figure of the final L1
is read against, from the data set itself: the *majority-bit* loss (every bit
predicted by its column's majority over the training rows; about 0.27 on the
papers' data) and the *noise floor* (every row predicted by its noise-free
cluster centre; the noise probability, 0.05). Both belong to binary clustering
data: on the handwritten digits (docs/datasets.md) there is no noise floor, and
no lines are drawn. :func:`hypervolume_reference_loss` gives the loss of the
loss–size front's reference point: 0.27 on binary clustering, and on the digits
the L1 of answering every image with the training rows' per-pixel median (the
constant answer with the lowest L1, as the majority bit is on 0/1 data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..digits import DIGITS_NAMES

__all__ = [
    "PANELS",
    "data_seed_of",
    "hypervolume_reference_loss",
    "panel_of",
    "reference_losses",
    "section_labels",
    "styles",
    "variant_labels",
]

OPERATOR_NAMES = {None: "no pruning", "random": "RANDOM", "conjunctive": "CONJUNCTIVE"}
OPERATOR_NAMES["variance"] = "VARIANCE"
SCHEDULE_SHORT = {"exponential": "exp"}
MODE_NAMES = {
    "ann_canonical": "canonical",
    "lipi_simple": "Lipi-AE",
    "lipi_simple_pte": "Lipi-AE (prune then evaluate)",
    "epoch-node": "epoch-node",
    "all_vs_all": "all-vs-all",
}
#: Panel titles, in the order the figures draw them.
PANELS = ("canonical training", "coevolution (Lipi-AE)")

# colour by operator (the published notebook's colour-blind palette order), line
# style by schedule, marker by what else differs
_OPERATOR_COLOURS = {
    None: "#000000",
    "random": "#029e73",
    "conjunctive": "#d55e00",
    "variance": "#cc78bc",
}
_EXTRA_COLOURS = ("#0173b2", "#de8f05", "#ca9161", "#949494", "#fbafe4", "#56b4e9")
_SCHEDULE_STYLES = {
    None: "-",
    "fixed": (0, (1, 1)),
    "increase": "--",
    "population": "-.",
    "decrease": (0, (1, 3)),
    "exponential": (0, (6, 2)),
    "final_n": (0, (3, 1, 1, 1, 1, 1)),
    "prune_after": (0, (8, 2, 2, 2)),
    # the baselines' sparsity schedules (docs/baselines.md)
    "one_shot": (0, (10, 3)),
    "iterative": (0, (4, 1, 1, 1, 1, 1, 1, 1)),
    "gradual": (0, (5, 1)),
    "lottery_ticket": (0, (1, 2, 6, 2)),
}
#: Line styles for schedules registered by plug-ins, in the order they appear.
_EXTRA_STYLES = ((0, (2, 2)), (0, (7, 1, 1, 1)), (0, (3, 3, 1, 3)), (0, (12, 2, 2, 2)))
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _get(config: Mapping[str, Any], key: str, default=None):
    value = config.get(key, default)
    return default if value is None else value


def _operator(config: Mapping[str, Any]) -> str:
    method = config.get("prune_method")
    if method is None:
        return "no pruning"
    name = OPERATOR_NAMES.get(method, str(method).upper())
    schedule = config.get("prune_schedule")
    return f"{name}-{SCHEDULE_SHORT.get(schedule, schedule)}"


def _mode(config: Mapping[str, Any]) -> str:
    cell = config.get("cell_evaluation")
    text = MODE_NAMES.get(cell, str(cell))
    environment = _get(config, "environment", "default")
    return text if environment == "default" else f"{environment} AE · {text}"


def _dataset_bits(name: str) -> str:
    try:
        return f"{int(str(name).rsplit('_', 1)[1])} bits"
    except (IndexError, ValueError):
        return str(name)


#: Settings that may tell two variants apart, how they read, and whether they
#: belong to the training mode (shown after it) or to the operator.
_DISTINGUISHING = (
    ("population_size", lambda v: f"pop {v}", True),
    ("dataset_name", _dataset_bits, True),
    ("prune_probability", lambda v: f"p={v:g}", False),
    ("prune_amount", lambda v: f"amount {v:g}", False),
    ("epochs", lambda v: f"{v} epochs", True),
    ("shuffle_data", lambda v: "shuffled" if v else "not shuffled", True),
    ("lexi_threshold", lambda v: f"threshold {v:g}", False),
    ("mask_mode", str, False),
    ("learning_rate", lambda v: f"lr {v:g}", True),
)


def variant_labels(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """One readable, distinct label per configuration, e.g. ``"Lipi-AE (pop 5) · RANDOM-exp"``.

    A setting of :data:`_DISTINGUISHING` is named where it differs between
    variants of the same training mode (population, data set: after the mode),
    or, for a pruning setting (probability, amount, threshold), between
    variants of one operator on one schedule (after the operator). The
    population is named in every coevolutionary label where populations differ
    anywhere in the sweep (canonical training has none), a data set wherever it
    is not the sweep's most common one.
    Where two labels still coincide, the later ones get ``#2``, ``#3``.
    """
    modes = [_mode(c) for c in configs]
    shown: dict[str, list[str]] = {}
    for key, _, _ in _DISTINGUISHING:
        for mode in set(modes):
            group = [c for c, m in zip(configs, modes) if m == mode]
            if key == "population_size" and all(
                c.get("cell_evaluation") == "ann_canonical" for c in group
            ):
                continue
            if key in ("prune_probability", "prune_amount", "lexi_threshold"):
                # named where one operator on one schedule runs with several values
                pruned = [c for c in group if c.get("prune_method") is not None]
                kinds = {(c.get("prune_method"), c.get("prune_schedule")) for c in pruned}
                if any(
                    len(
                        {
                            json_key(c.get(key))
                            for c in pruned
                            if (c.get("prune_method"), c.get("prune_schedule")) == kind
                        }
                    )
                    > 1
                    for kind in kinds
                ):
                    shown.setdefault(mode, []).append(key)
                continue
            if len({json_key(c.get(key)) for c in group}) > 1:
                shown.setdefault(mode, []).append(key)
    # the population of coevolution is named in every Lipi-AE mode if it differs between modes
    pops = {
        c.get("population_size") for c in configs if c.get("cell_evaluation") != "ann_canonical"
    }
    # a data set other than the sweep's most common one is named wherever it occurs
    datasets = [c.get("dataset_name") for c in configs]
    common = max(set(datasets), key=datasets.count) if datasets else None
    labels = []
    for config, mode in zip(configs, modes):
        keys = list(shown.get(mode, []))
        if len(pops) > 1 and config.get("cell_evaluation") != "ann_canonical":
            keys = ["population_size"] + [k for k in keys if k != "population_size"]
        if config.get("dataset_name") != common and "dataset_name" not in keys:
            keys.append("dataset_name")
        mode_parts, operator_parts = [], []
        for key, fmt, of_mode in _DISTINGUISHING:
            if key not in keys or config.get(key) is None:
                continue
            if key == "prune_probability" and config.get("prune_method") is None:
                continue
            (mode_parts if of_mode else operator_parts).append(fmt(config[key]))
        text = mode + (f" ({', '.join(mode_parts)})" if mode_parts else "")
        text += " · " + _operator(config)
        text += f" ({', '.join(operator_parts)})" if operator_parts else ""
        labels.append(text)
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label} #{seen[label]}"
    return labels


def json_key(value) -> str:
    return repr(value)


def panel_of(config: Mapping[str, Any]) -> str:
    """The figure panel of a variant: canonical training or coevolution."""
    return PANELS[0] if config.get("cell_evaluation") == "ann_canonical" else PANELS[1]


def styles(configs: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Matplotlib keyword arguments per variant: ``color``, ``linestyle``, ``marker``.

    Colour by operator, line style by schedule; variants of one panel with the
    same operator and schedule (another environment, population or data set)
    get different markers, and where operator and schedule are unknown names
    the next free colour.
    """
    out = []
    used: dict[tuple, int] = {}
    extra: dict[Any, str] = {}
    extra_styles: dict[Any, Any] = {}
    for config in configs:
        method = config.get("prune_method")
        schedule = config.get("prune_schedule") if method is not None else None
        if method in _OPERATOR_COLOURS:
            colour = _OPERATOR_COLOURS[method]
        else:
            colour = extra.setdefault(method, _EXTRA_COLOURS[len(extra) % len(_EXTRA_COLOURS)])
        key = (panel_of(config), method, schedule, config.get("prune_probability"))
        n = used.get(key, 0)
        used[key] = n + 1
        out.append(
            {
                "color": colour,
                "linestyle": _SCHEDULE_STYLES.get(schedule)
                or extra_styles.setdefault(
                    schedule, _EXTRA_STYLES[len(extra_styles) % len(_EXTRA_STYLES)]
                ),
                "marker": _MARKERS[n % len(_MARKERS)],
                "_shade": n,  # 0 for the first of its kind
            }
        )
    return out


def data_seed_of(config: Mapping[str, Any]) -> int:
    """The data seed of a run folder's ``config``: ``data_seed``, or ``seed`` when it is null."""
    seed = config.get("data_seed")
    return config.get("seed", 1) if seed is None else seed


def reference_losses(config: Mapping[str, Any]) -> dict | None:
    """``{"majority_bit": L, "noise_floor": L}`` on the training rows of ``config``'s data set.

    Read from the data cache when the data set is there (a sweep's runs put
    it there); None when it is not (nothing is generated for a report).
    """
    from ..data import (
        DEFAULT_NOISE_PROBABILITY,
        DEFAULT_P_ONE,
        cache_file_name,
        default_cache_dir,
        load_dataset,
    )

    name = config.get("dataset_name")
    if not name or name in DIGITS_NAMES:  # no cluster centres, no noise: no lines
        return None
    cache = Path(config.get("data_dir") or default_cache_dir())
    seed = data_seed_of(config)
    try:
        path = cache / cache_file_name(
            name,
            seed,
            noise_probability=_get(config, "noise_probability", DEFAULT_NOISE_PROBABILITY),
            p_one=_get(config, "p_one", DEFAULT_P_ONE),
        )
    except (TypeError, ValueError):
        return None
    if not path.exists():
        return None
    try:
        data = load_dataset(path)
    except Exception:  # a damaged cache file: no reference lines, never a failed report
        return None
    x = data.train.astype(np.float64)
    ones = x.mean(axis=0)
    majority = float(np.minimum(ones, 1.0 - ones).mean())
    centres = data.centroids[data.train_labels].astype(np.float64)
    noise = float(np.abs(x - centres).mean())
    return {"majority_bit": majority, "noise_floor": noise}


#: The hypervolume's reference loss on binary clustering: the majority-bit L1 of the
#: default data (binary_clustering_10_100_1000, p_one 0.75).
MAJORITY_BIT_LOSS = 0.27


def hypervolume_reference_loss(variants) -> tuple[float, str]:
    """The loss–size front's reference loss for ``variants``, and what it is (module docstring).

    The digits' per-pixel median L1 when every variant ran on the digits, else
    :data:`MAJORITY_BIT_LOSS`.
    """
    names = {v.config.get("dataset_name") for v in variants}
    if not names or not names <= set(DIGITS_NAMES):
        return MAJORITY_BIT_LOSS, "always answering the majority bit of the default data"
    from ..data import load_or_generate

    config = variants[0].config
    data = load_or_generate(config["dataset_name"], seed=data_seed_of(config))
    median = np.median(data.train, axis=0)  # (n_dim,) the L1-best constant image
    loss = round(float(np.abs(data.train - median).mean()), 4)
    return loss, "always answering the training images' per-pixel median"


def section_labels(variants, labels: Mapping[str, str]) -> list[str]:
    """The report's table of variant labels, folders and panels (markdown)."""
    from .report import _table

    rows = [
        [labels.get(v.name, v.name), f"`{v.name}`", panel_of(v.config), str(len(v.trials))]
        for v in variants
    ]
    return [
        "## Variants at a glance\n",
        "The names used in the figures and tables below, and the folders they were read from.\n",
        _table(["variant", "folder", "panel", "trials finished"], rows),
    ]
