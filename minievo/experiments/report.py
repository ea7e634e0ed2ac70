"""``minievo report DIR``: a sweep folder turned into ``report.md``, CSV files and figures.

Works on finished, running and partly failed sweeps: only finished jobs
(``summary.json``) enter the numbers, and the report lists every job that is
missing, running or failed. The output depends only on the folder's content:
variants keep the sweep's order, trials are sorted by seed, and nothing
written carries the time of writing.

Metrics per trial (docs/algorithm.md §6 for the records):

- ``final_L1``: the papers' metric, the mean L1 over the training batches
  (``mean_L1``) at the last epoch, averaged over the cells of the trial (one
  record for canonical training). The training loops write ``mean_L1`` every
  ``stats_every`` epochs *and* at the last epoch, so it is always there for a
  finished run.
- ``test_L1``: test L1 of the returned network (the best center on the test
  set), from ``summary.json``.
- ``capacity``: share of all parameters that are non-zero at the end,
  ``(n_active_encoder + n_active_decoder) / n_params``, averaged over the
  cells at the last epoch (falling back to ``n_zero_*``, then ``n_pruned_*``,
  when ``n_active_*`` is absent).
- ``capacity_published``: ``1 - (n_pruned_encoder + n_pruned_decoder) /
  n_params``, from the published pruned count (with ``regrow`` masks: the
  count at the last pruning event); this is what the papers plot.
- ``active_encoder``, ``active_decoder``: non-zero parameters at the end,
  mean over cells; ``wall_time_s`` from ``summary.json``.
- Structural capacity (:mod:`minievo.pruning.compact`): ``compact_params``,
  ``compact_flops`` and ``live_units`` (hidden and code units, all layers
  together; ``Trial.live_per_layer`` per layer) of the compact network, mean
  over the cells at the last epoch (records ``compact_*``; compacted from the
  saved network when the records lack them, as ``--backend cuda`` runs);
  ``dense_params``/``dense_flops``: the same network unpruned;
  ``capacity_structural = compact_params / dense_params``.

The loss–size front (:mod:`minievo.experiments.front`): every trial as
(size, final L1), size the compact parameters or the papers' count of kept
parameters; per variant the hypervolume against (unpruned size,
``REFERENCE_LOSS``; on the digits the per-pixel median's L1), divided by the
reference box's area.

Statistics (:mod:`minievo.experiments.stats`): per variant over its trials;
two-sided Mann-Whitney U of ``final_L1`` and of ``capacity_published`` for
every pruning variant against the unpruned baseline of the same training
mode, and between the pruning variants of one mode, Holm-corrected within each
metric, with the smallest p each test can give for its n and the
Vargha-Delaney :math:`\\hat A_{12}` (:mod:`minievo.experiments.report_stats`).
Sweeps with baselines (a ``target_sparsity``, docs/baselines.md) get a matched-size
section: each beside the papers' operator of the same training closest in final
sparsity (:mod:`minievo.experiments.report_matched`).
The unit is the trial. The *pooled cells* view (every
cell of every trial as one value, as the papers' boxplots) is given
separately and labelled: its values are not independent.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..io import FileFormatError, atomic_write_bytes, load_json
from ..training.records import read_stats
from .config import BASELINE_FIELDS
from .provenance import section_provenance
from .report_labels import (
    MAJORITY_BIT_LOSS,
    hypervolume_reference_loss,
    section_labels,
    variant_labels,
)
from .report_matched import section_matched
from .report_papers import section_published
from .report_stats import section_tests
from .run import CONFIG_FILE, SUMMARY_FILE
from .stats import summarize
from .sweep import FAILED_FILE, JOBS_FILE, VARIANTS_FILE, job_status

REPORT_DIR = "report"
METRICS = (
    "final_L1",
    "test_L1",
    "capacity",
    "capacity_published",
    "active_encoder",
    "active_decoder",
    "wall_time_s",
    "capacity_structural",
    "compact_params",
    "compact_flops",
    "live_units",
    "dense_params",
    "dense_flops",
    "dense_units",
    "published_params",
    "n_params",
)
#: Reference loss of the hypervolume on binary clustering (on the digits:
#: :func:`~minievo.experiments.report_labels.hypervolume_reference_loss`).
REFERENCE_LOSS = MAJORITY_BIT_LOSS
#: Settings that make up a variant's pruning; the rest is its training mode.
PRUNING_KEYS = (
    "prune_method",
    "prune_schedule",
    "prune_probability",
    "prune_amount",
    "lexi_threshold",
    "activation_signal",
    "mask_mode",
    *BASELINE_FIELDS,  # the baselines' sparsity schedules and lottery ticket
)
METHOD_ORDER = ("none", "random", "conjunctive", "variance")
SCHEDULE_ORDER = (
    "–",
    "fixed",
    "increase",
    "population",
    "decrease",
    "exponential",
    "final_n",
    "prune_after",
)
NOT_MODE_KEYS = PRUNING_KEYS + ("seed", "trials", "progress", "out_dir", "data_dir")


# ---------------------------------------------------------------------------
# Reading one trial
# ---------------------------------------------------------------------------


@dataclass
class Trial:
    """The numbers of one finished job."""

    job: str
    seed: int
    metrics: dict
    cells_final_L1: list  # one value per cell at the last epoch
    curves: dict  # key -> {epoch: mean over cells}
    live_per_layer: list = field(default_factory=list)  # mean live units per hidden/code layer


def _last_epoch_records(records: list[dict]) -> list[dict]:
    last = max(r["iteration"] for r in records)
    return [r for r in records if r["iteration"] == last]


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _active(record: dict, part: str, n_params: int) -> float | None:
    """Non-zero parameters of ``part`` in a record: n_active, else from n_zero, else n_pruned."""
    for key in (f"n_active_{part}",):
        if record.get(key) is not None:
            return record[key]
    for key in (f"n_zero_{part}", f"n_pruned_{part}"):
        if record.get(key) is not None:
            return n_params - record[key]
    return None


def _curves(records: list[dict], keys) -> dict:
    per_epoch = defaultdict(lambda: defaultdict(list))
    for r in records:
        for key in keys:
            if r.get(key) is not None:
                per_epoch[key][r["iteration"]].append(r[key])
    return {
        key: {epoch: sum(v) / len(v) for epoch, v in sorted(per_epoch[key].items())} for key in keys
    }


def read_trial(job_dir: Path, job: str, seed: int) -> Trial:
    """A finished job's metrics from its ``summary.json`` and ``stats.jsonl``."""
    summary = load_json(job_dir / SUMMARY_FILE)
    records = read_stats(job_dir)
    last = _last_epoch_records(records)
    n_enc, n_dec = summary["n_params_encoder"], summary["n_params_decoder"]
    total = n_enc + n_dec
    cells_l1 = [r["mean_L1"] for r in last if r.get("mean_L1") is not None]
    active_enc = _mean(_active(r, "encoder", n_enc) for r in last)
    active_dec = _mean(_active(r, "decoder", n_dec) for r in last)
    published = _mean(
        1 - (r["n_pruned_encoder"] + r["n_pruned_decoder"]) / total
        for r in last
        if r.get("n_pruned_encoder") is not None
    )
    capacity = (
        None if active_enc is None or active_dec is None else (active_enc + active_dec) / total
    )
    for r in records:  # non-zero counts for the curves
        r["_active_encoder"] = _active(r, "encoder", n_enc)
        r["_active_decoder"] = _active(r, "decoder", n_dec)
    metrics = {
        "final_L1": _mean(cells_l1),
        "test_L1": summary.get("test_loss"),
        "capacity": capacity,
        "capacity_published": published,
        "active_encoder": active_enc,
        "active_decoder": active_dec,
        "wall_time_s": summary.get("wall_time_s"),
        "published_params": None if published is None else published * total,
        "n_params": total,
    }
    structure = _structure(job_dir, last, n_enc + n_dec)
    live_per_layer = structure.pop("live_per_layer")
    metrics.update(structure)
    curves = _curves(records, ("mean_L1", "_active_encoder", "_active_decoder"))
    return Trial(job, seed, metrics, cells_l1, curves, live_per_layer)


def _structure(job_dir: Path, last: list[dict], n_params: int) -> dict:
    """Structural capacity of a trial: the last epoch's records, else its saved network.

    ``dense_*`` is the saved network's chain unpruned (without a saved network:
    ``n_params``, which is the chain's size except for the variational kind).
    """
    from ..network import Autoencoder
    from ..pruning.compact import masked_chain, structural_capacity
    from .run import BEST_FILE, FINAL_FILE

    pair = None
    for name in (FINAL_FILE, BEST_FILE):
        if (job_dir / name).exists():
            pair = Autoencoder.load(job_dir / name)
            break
    rows = [r for r in last if r.get("compact_params") is not None]
    if not rows and pair is not None:
        rows = [structural_capacity(pair)]
    dense = masked_chain(pair) if pair is not None else None
    result = {
        "compact_params": _mean(r["compact_params"] for r in rows),
        "compact_flops": _mean(r["compact_flops"] for r in rows),
        "live_units": _mean(sum(r["live_units"]) for r in rows),
        "live_per_layer": [_mean(col) for col in zip(*(r["live_units"] for r in rows))],
        "dense_params": dense.n_params if dense is not None else n_params,
        "dense_flops": dense.flops if dense is not None else None,
        "dense_units": sum(dense.widths[1:-1]) if dense is not None else None,
    }
    result["capacity_structural"] = (
        None
        if result["compact_params"] is None
        else result["compact_params"] / result["dense_params"]
    )
    return result


# ---------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    config: dict  # the config of its first job (seed aside)
    jobs: list = field(default_factory=list)  # (job, seed, status, error)
    trials: list = field(default_factory=list)  # Trial, finished ones, by seed

    @property
    def is_baseline(self) -> bool:
        return self.config.get("prune_method") is None

    @property
    def mode(self) -> str:
        """Training mode: what the variant shares with its unpruned baseline."""
        c = self.config
        text = f"{c['cell_evaluation']}, {c['environment']}"
        return text + (
            f", population {c['population_size']}"
            if c["cell_evaluation"] != "ann_canonical"
            else ""
        )

    def mode_key(self) -> str:
        return json.dumps(
            {k: v for k, v in sorted(self.config.items()) if k not in NOT_MODE_KEYS}, sort_keys=True
        )

    def values(self, metric: str) -> list:
        return [t.metrics[metric] for t in self.trials]


def read_sweep(root) -> list[Variant]:
    """The sweep's variants in their order, with every job's status and the finished trials.

    A folder of the published code's trial folders (no ``jobs.json``) is read by
    :func:`~minievo.experiments.published_runs.read_published`.
    """
    root = Path(root)
    path = root / JOBS_FILE
    if not path.exists():
        from .published_runs import is_published_folder, read_published

        if is_published_folder(root):  # trial folders of the published code
            return read_published(root)
        raise FileNotFoundError(
            f"{root}: not a sweep folder ({JOBS_FILE} is missing) nor a folder of the "
            "published code's trial_*_{variant}_{timestamp} folders"
        )
    try:
        jobs = load_json(path)
    except FileFormatError as err:
        raise FileFormatError(
            f"{err}; delete it and rerun the sweep command, which writes it again"
        ) from None
    for job, config in jobs.items():
        if not isinstance(config, dict) or not isinstance(config.get("seed"), int):
            raise FileFormatError(
                f"{path}: job {job!r} has no configuration with a seed (damaged, or written "
                "by another version); delete it and rerun the sweep command, which writes it again"
            )
    variants: dict[str, Variant] = {}
    for job, config in jobs.items():  # jobs.json keeps the sweep's order
        name = job.rsplit("/", 1)[0]
        variant = variants.setdefault(name, Variant(name, config))
        job_dir = root / job
        status = job_status(job_dir)
        error = None
        if status == "failed":
            try:
                error = load_json(job_dir / FAILED_FILE).get("error")
            except (OSError, ValueError) as err:
                status, error = "unreadable", str(err)
        if status == "done":
            try:
                variant.trials.append(read_trial(job_dir, job, config["seed"]))
            except (OSError, ValueError, KeyError) as err:
                status, error = "unreadable", f"{type(err).__name__}: {err}"
        elif status == "partial" and (job_dir / CONFIG_FILE).exists():
            status = "running or interrupted"
        variant.jobs.append((job, config["seed"], status, error))
    for variant in variants.values():
        variant.trials.sort(key=lambda t: t.seed)
        variant.jobs.sort(key=lambda j: j[1])
    order = sorted(variants)
    if (root / VARIANTS_FILE).exists():  # the sweep's own order
        try:
            listed = load_json(root / VARIANTS_FILE, list)
        except FileFormatError as err:
            raise FileFormatError(
                f"{err}; delete it and rerun the sweep command, which writes it again"
            ) from None
        if not all(isinstance(v, dict) and isinstance(v.get("name"), str) for v in listed):
            raise FileFormatError(
                f"{root / VARIANTS_FILE}: a variant without a name (damaged, or written by "
                "another version); delete it and rerun the sweep command, which writes it again"
            )
        listed = [v["name"] for v in listed]
        order = [n for n in listed if n in variants] + [n for n in order if n not in listed]
    return [variants[name] for name in order]


def comparison_pairs(variants: list[Variant]) -> list[tuple[str, str, str]]:
    """``(kind, a, b)``: every pruning variant vs the baseline of its mode, then
    every two pruning variants of one mode."""
    by_mode = defaultdict(list)
    for v in variants:
        by_mode[v.mode_key()].append(v)
    pairs = []
    for group in by_mode.values():
        baselines = [v for v in group if v.is_baseline]
        pruned = [v for v in group if not v.is_baseline]
        if len(baselines) == 1:
            pairs += [("vs baseline", v.name, baselines[0].name) for v in pruned]
    for group in by_mode.values():
        pruned = [v for v in group if not v.is_baseline]
        pairs += [
            ("between operators", a.name, b.name)
            for i, a in enumerate(pruned)
            for b in pruned[i + 1 :]
        ]
    return pairs


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _fmt(value, digits=4) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _p(value) -> str:
    if value is None:
        return "–"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _csv(header: list[str], rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(
        [
            ["" if c is None else (repr(c) if isinstance(c, float) else c) for c in row]
            for row in rows
        ]
    )
    return buffer.getvalue().encode()


@dataclass
class Report:
    path: Path
    n_variants: int
    n_done: int
    n_jobs: int

    def summary_line(self) -> str:
        return f"{self.n_done}/{self.n_jobs} trials finished in {self.n_variants} variant(s)" + (
            "" if self.n_done == self.n_jobs else "; the report lists what is missing"
        )


def write_report(root, out=None, command: str | None = None) -> Report:
    """Write ``report.md``, CSV files and figures for the sweep in ``root``.

    Parameters
    ----------
    root : path
        A sweep folder (``jobs.json`` and one folder per job).
    out : path, optional
        Output folder; default ``root/report``.
    command : str, optional
        The command that writes the report, named in its provenance section
        (with the minievo version and commit, and the sweep's recorded commands).
    """
    root = Path(root)
    variants = read_sweep(root)
    out = Path(out) if out is not None else root / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    md = [f"# Study report: `{root.name}`\n"]
    n_jobs = sum(len(v.jobs) for v in variants)
    n_done = sum(len(v.trials) for v in variants)
    md.append(
        f"{len(variants)} variants, {n_done} of {n_jobs} trials finished. "
        "Every statistic below is over **trials** (one seed = one value); "
        "n is stated with each.\n"
    )
    labels = dict(zip((v.name for v in variants), variant_labels([v.config for v in variants])))
    md += section_provenance(root, command)
    md += section_labels(variants, labels)
    md += _section_missing(variants)
    md += _section_variants(variants, out)
    md += _section_structure(variants)
    md += _section_front(variants, out)
    md += section_published(variants, labels)
    md += _section_grid(variants, out)
    md += section_tests(variants, out, comparison_pairs(variants), labels)
    md += section_matched(variants, labels)
    md += _section_pooled(variants, out)
    md += _section_figures(variants, root, out)
    md += _section_definitions()
    path = out / "report.md"
    atomic_write_bytes(path, "\n".join(md).encode())
    _write_trials_csv(variants, out)
    return Report(path, len(variants), n_done, n_jobs)


def _section_missing(variants) -> list[str]:
    missing = [
        (job, status, error)
        for v in variants
        for job, _, status, error in v.jobs
        if status != "done"
    ]
    if not missing:
        return ["All trials finished.\n"]
    rows = [[f"`{job}`", status, (error or "").replace("|", "/")] for job, status, error in missing]
    return [
        "## Missing trials\n",
        (
            f"{len(missing)} trial(s) not in the numbers below "
            "(rerun the same `minievo sweep` command to run them):\n"
        ),
        _table(["job", "status", "error"], rows),
    ]


def _section_variants(variants, out) -> list[str]:
    header = [
        "variant",
        "trials",
        "final L1 median",
        "mean",
        "std",
        "IQR",
        "test L1 median",
        "capacity median",
        "published-count capacity median",
        "structural capacity median",
        "live units per layer (median)",
        "compact params median",
        "compact FLOPs median",
        "active enc median",
        "active dec median",
        "wall time s median",
    ]
    rows, csv_rows = [], []
    for v in variants:
        s = {m: summarize(v.values(m)) for m in METRICS}
        rows.append(
            [
                f"`{v.name}`",
                f"{len(v.trials)}/{len(v.jobs)}",
                _fmt(s["final_L1"]["median"]),
                _fmt(s["final_L1"]["mean"]),
                _fmt(s["final_L1"]["std"]),
                _fmt(s["final_L1"]["iqr"]),
                _fmt(s["test_L1"]["median"]),
                _fmt(s["capacity"]["median"], 3),
                _fmt(s["capacity_published"]["median"], 3),
                _fmt(s["capacity_structural"]["median"], 3),
                _live_per_layer(v),
                _fmt(s["compact_params"]["median"], 0),
                _fmt(s["compact_flops"]["median"], 0),
                _fmt(s["active_encoder"]["median"], 0),
                _fmt(s["active_decoder"]["median"], 0),
                _fmt(s["wall_time_s"]["median"], 1),
            ]
        )
        for metric in METRICS:
            csv_rows.append(
                [v.name, metric]
                + [
                    s[metric][k]
                    for k in ("n", "median", "mean", "std", "q25", "q75", "iqr", "min", "max")
                ]
            )
    atomic_write_bytes(
        out / "variants.csv",
        _csv(
            ["variant", "metric", "n", "median", "mean", "std", "q25", "q75", "iqr", "min", "max"],
            csv_rows,
        ),
    )
    return [
        "## Variants\n",
        (
            "Final L1: mean L1 over the training batches at the last epoch, averaged over "
            "the cells of a trial. Capacity: non-zero share of all parameters at the end; "
            "published-count capacity: from the published pruned count (see Definitions); "
            "structural capacity: parameters of the compact network (whole units removed) "
            "over the unpruned network's. "
            "All statistics across trials (`variants.csv` has every quartile).\n"
        ),
        _table(header, rows),
    ]


def _section_grid(variants, out) -> list[str]:
    by_mode = defaultdict(list)
    for v in variants:
        by_mode[v.mode].append(v)
    md = [
        "## Operator × schedule\n",
        (
            "Median final L1 across trials (median published-count capacity in brackets), "
            "one table per training mode; rows are operators, columns schedules.\n"
        ),
    ]
    csv_rows = []
    for mode, group in by_mode.items():
        methods = sorted(
            {v.config["prune_method"] or "none" for v in group},
            key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else 99, m),
        )
        schedules = sorted(
            {"–" if v.is_baseline else v.config["prune_schedule"] for v in group},
            key=lambda s: (SCHEDULE_ORDER.index(s) if s in SCHEDULE_ORDER else 99, s),
        )
        cells = defaultdict(list)
        for v in group:
            key = (
                v.config["prune_method"] or "none",
                "–" if v.is_baseline else v.config["prune_schedule"],
            )
            l1 = summarize(v.values("final_L1"))["median"]
            cap = summarize(v.values("capacity_published"))["median"]
            cells[key].append(f"{_fmt(l1)} ({_fmt(cap, 2)})")
            csv_rows.append(
                [
                    mode,
                    key[0],
                    key[1],
                    v.config.get("prune_probability") if not v.is_baseline else None,
                    v.name,
                    l1,
                    cap,
                ]
            )
        rows = [[m] + [" / ".join(cells.get((m, s), [])) or "" for s in schedules] for m in methods]
        md += [f"**{mode}**\n", _table(["operator"] + schedules, rows)]
    atomic_write_bytes(
        out / "grid.csv",
        _csv(
            [
                "mode",
                "operator",
                "schedule",
                "probability",
                "variant",
                "final_L1_median",
                "capacity_published_median",
            ],
            csv_rows,
        ),
    )
    return md


def _section_pooled(variants, out) -> list[str]:
    rows, csv_rows = [], []
    for v in variants:
        pooled = [x for t in v.trials for x in t.cells_final_L1]
        s = summarize(pooled)
        rows.append(
            [f"`{v.name}`", str(s["n"]), _fmt(s["median"]), _fmt(s["mean"]), _fmt(s["iqr"])]
        )
        csv_rows += [
            [v.name, t.seed, i, x] for t in v.trials for i, x in enumerate(t.cells_final_L1)
        ]
    atomic_write_bytes(
        out / "pooled_cells.csv", _csv(["variant", "seed", "cell", "final_L1"], csv_rows)
    )
    return [
        "## Pooled cells (the papers' boxplot view)\n",
        (
            "Every cell of every trial as one value (n = trials × cells). The cells of a "
            "trial are **not independent**; shown for comparison with the papers' "
            "boxplots, not for testing.\n"
        ),
        _table(["variant", "n cells", "final L1 median", "mean", "IQR"], rows),
    ]


def _section_figures(variants, root, out) -> list[str]:
    from .report_plots import draw_report_figures
    from .report_reconstructions import plot_reconstructions

    paths = draw_report_figures(variants, out)
    images = plot_reconstructions(variants, root, out)  # digits sweeps only
    paths += [] if images is None else [images]
    return ["## Figures\n"] + [f"![{p.stem}]({p.name})\n" for p in paths]


def _section_definitions() -> list[str]:
    return [
        "## Definitions\n",
        (
            "- **final L1**: `mean_L1` records (mean L1 over the training batches) at the "
            "last epoch, averaged over the cells; written every `stats_every` epochs and "
            "always at the last one.\n"
            "- **test L1**: the returned network (best center on the test set), "
            "`summary.json`.\n"
            "- **capacity**: (non-zero encoder + decoder parameters) / all parameters at the "
            "end, mean over cells (`n_active_*`; from `n_zero_*` or `n_pruned_*` when "
            "absent).\n"
            "- **published-count capacity**: 1 − (`n_pruned_encoder` + `n_pruned_decoder`) / "
            "all parameters, the papers' capacity.\n"
            "- **structural capacity**: parameters of the compact network (units without "
            "input folded into the next bias, units without output removed, repeated; "
            "`minievo compact`) / parameters of the same network unpruned, mean over cells at "
            "the last epoch; live units and FLOPs per example of the same network. It counts "
            "the current weights: with `regrow` masks, zeros that grew back count as weights.\n"
            "- CSV files: `trials.csv` (one row per finished trial), `variants.csv`, "
            "`grid.csv`, `tests.csv` (final L1), `tests_capacity.csv` (published-count "
            "capacity), `pooled_cells.csv`, `front.csv`, `hypervolume.csv`.\n"
        ),
    ]


def _write_trials_csv(variants, out) -> None:
    rows = [
        [v.name, t.seed, t.job] + [t.metrics[m] for m in METRICS]
        for v in variants
        for t in v.trials
    ]
    atomic_write_bytes(out / "trials.csv", _csv(["variant", "seed", "job"] + list(METRICS), rows))


def _live_per_layer(v) -> str:
    """Median across trials of each layer's live units, ``a-b-c`` (hidden and code layers)."""
    layers = [t.live_per_layer for t in v.trials if t.live_per_layer]
    if not layers or len({len(x) for x in layers}) != 1:
        return "–"
    medians = [summarize(list(col))["median"] for col in zip(*layers)]
    return "-".join(f"{m:.0f}" if float(m).is_integer() else f"{m:.1f}" for m in medians)


def _section_structure(variants) -> list[str]:
    """What each variant frees in whole units, parameters and FLOPs (medians across trials)."""
    lines = []
    for v in variants:
        trials = [
            t
            for t in v.trials
            if t.metrics["compact_params"] is not None and t.metrics["dense_units"] is not None
        ]
        if not trials:
            continue
        freed_units = [t.metrics["dense_units"] - t.metrics["live_units"] for t in trials]
        freed_params = [t.metrics["dense_params"] - t.metrics["compact_params"] for t in trials]
        with_units = sum(1 for f in freed_units if f > 0)
        share = summarize([t.metrics["capacity_structural"] for t in trials])["median"]
        lines.append(
            f"- `{v.name}`: frees {_fmt(summarize(freed_units)['median'], 1)} whole units "
            f"(median; any at all in {with_units} of {len(trials)} trials), "
            f"{_fmt(summarize(freed_params)['median'], 0)} parameters (compact network "
            f"{_fmt(share, 3)} of the unpruned one) and "
            f"{_fmt(summarize(_freed_flops(trials))['median'], 0)} FLOPs per example.\n"
        )
    if not lines:
        return []
    return [
        "## What pruning frees\n",
        (
            "A zeroed weight in a dense matrix costs as much as any other; only whole "
            "units that compaction removes make the network smaller. Per variant, medians "
            "across trials (the compact network of each cell at the last epoch, mean over "
            "cells):\n"
        ),
        "".join(lines),
    ]


def _freed_flops(trials) -> list:
    return [
        t.metrics["dense_flops"] - t.metrics["compact_flops"]
        for t in trials
        if t.metrics["dense_flops"] is not None
    ]


#: The two size axes of the front: metric, its reference size, label.
FRONT_AXES = (
    ("compact_params", "dense_params", "compact parameters"),
    ("published_params", "n_params", "parameters by the papers' count"),
)


def front_points(variants) -> list[dict]:
    """One row per trial with a final L1: its sizes and whether it is non-dominated (all
    variants together) on each axis."""
    from .front import non_dominated

    rows = [
        {
            "variant": v.name,
            "seed": t.seed,
            "final_L1": t.metrics["final_L1"],
            "compact_params": t.metrics["compact_params"],
            "published_params": t.metrics["published_params"],
            "dense_params": t.metrics["dense_params"],
        }
        for v in variants
        for t in v.trials
        if t.metrics["final_L1"] is not None
    ]
    for size, _, _ in FRONT_AXES:
        usable = [r for r in rows if r[size] is not None]
        flags = non_dominated([(r[size], r["final_L1"]) for r in usable]) if usable else []
        for r, flag in zip(usable, flags):
            r[f"front_{size}"] = bool(flag)
    return rows


def hypervolumes(variants, rows, reference_loss: float = REFERENCE_LOSS) -> list[dict]:
    """Per variant and axis: the hypervolume against (unpruned size, ``reference_loss``),
    divided by the reference box's area, and the variants' rank (1 = largest; ties share)."""
    from .front import hypervolume_2d

    table = []
    for v in variants:
        mine = [r for r in rows if r["variant"] == v.name]
        if not mine:
            continue
        entry = {"variant": v.name, "n": len(mine), "reference_loss": reference_loss}
        for size, _, _ in FRONT_AXES:
            points = [(r[size], r["final_L1"]) for r in mine if r[size] is not None]
            reference = mine[0]["dense_params"] if size == "compact_params" else None
            if size == "published_params":
                reference = v.trials[0].metrics.get("n_params")
            entry[f"reference_{size}"] = reference
            entry[f"hv_{size}"] = (
                None
                if reference is None or not points
                else hypervolume_2d(points, (reference, reference_loss))
                / (reference * reference_loss)
            )
        table.append(entry)
    for size, _, _ in FRONT_AXES:  # rank 1 + variants with a strictly larger hypervolume
        values = [e[f"hv_{size}"] for e in table if e[f"hv_{size}"] is not None]
        for e in table:
            if e[f"hv_{size}"] is not None:
                e[f"rank_{size}"] = 1 + sum(1 for x in values if x > e[f"hv_{size}"])
    return table


def _section_front(variants, out) -> list[str]:
    from .report_plots import plot_front

    rows = front_points(variants)
    if not rows:
        return []
    reference_loss, meaning = hypervolume_reference_loss(variants)
    table = hypervolumes(variants, rows, reference_loss)
    sizes = [size for size, _, _ in FRONT_AXES]
    atomic_write_bytes(
        out / "front.csv",
        _csv(
            ["variant", "seed", "final_L1", *sizes, *(f"front_{s}" for s in sizes)],
            [
                [r["variant"], r["seed"], r["final_L1"], *(r[s] for s in sizes)]
                + [r.get(f"front_{s}") for s in sizes]
                for r in rows
            ],
        ),
    )
    columns = ["variant", "n", "reference_loss"] + [
        f"{k}_{s}" for s in sizes for k in ("reference", "hv", "rank")
    ]
    atomic_write_bytes(
        out / "hypervolume.csv", _csv(columns, [[e.get(c) for c in columns] for e in table])
    )
    path = plot_front(variants, rows, out)
    ranked = sorted(table, key=lambda e: e.get("rank_compact_params", len(table) + 1))
    md_rows = [
        [
            e.get("rank_compact_params", "–"),
            f"`{e['variant']}`",
            e["n"],
            _fmt(e["hv_compact_params"]),
            _fmt(e["reference_compact_params"], 0),
            _fmt(e["hv_published_params"]),
            e.get("rank_published_params", "–"),
            _fmt(e["reference_published_params"], 0),
        ]
        for e in ranked
    ]
    return [
        "## The loss–size front\n",
        (
            f"Every trial as (size, final L1), both minimised; the non-dominated trials of "
            f"all variants together are ringed in the figure. Hypervolume per variant: the "
            f"area its trials dominate below the reference point (the unpruned network's "
            f"size, L1 {reference_loss}: {meaning}), divided by the reference box's area (0: no trial inside it; a trial "
            f"at the unpruned size adds nothing, so an unpruned baseline scores 0). Sizes: "
            f"the compact network's parameters, and the papers' count of kept parameters "
            f"(all parameters minus `n_pruned_*`). `front.csv` and `hypervolume.csv` have "
            f"the numbers.\n"
        ),
        _table(
            [
                "rank (compact)",
                "variant",
                "trials",
                "hypervolume (compact)",
                "reference size (compact)",
                "hypervolume (papers' count)",
                "rank (papers' count)",
                "reference size (papers' count)",
            ],
            md_rows,
        ),
        f"![{path.stem}]({path.name})\n",
    ]
