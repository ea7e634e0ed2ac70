"""Experiments: one validated run configuration, the papers' grids, sweeps, reports.

- :mod:`minievo.experiments.config`: :class:`~minievo.experiments.config.Config`,
  the single validated description of one run (docs/algorithm.md §3-§7), loaded from a dict,
  JSON or TOML, and saved beside every run; its value rules are in
  :mod:`minievo.experiments.validation`, the published keys in
  :mod:`minievo.experiments.published`.
- :mod:`minievo.experiments.presets`: the GECCO 2025 experiment grids (docs/algorithm.md §7)
  as data, expanded into lists of ``Config``.
"""
