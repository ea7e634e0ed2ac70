"""Pages generated at build time (mkdocs-gen-files), so that nothing here lists modules.

* ``api/<name>.md``: one page per module or package of ``minievo``, found on
  disk; a package's page documents its submodules (``show_submodules``), so a
  module added to or moved inside a package appears without editing anything.
* ``tutorials/<name>.md``: each tutorial's ``# %%`` cells, markdown cells as
  text (with their ``$...$`` math) and code cells as code.
* ``index.md``: the README, its links made relative to the site.
* ``SUMMARY.md``: the navigation, read by mkdocs-literate-nav.
"""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: The hand-written pages in reading order: (title, file); a file that does not
#: exist is left out of the navigation.
GUIDE = [
    ("The algorithm, with the math", "algorithm.md"),
    ("The command line", "command-line.md"),
    ("The configuration", "configuration.md"),
    ("Studies: sweep, report, reproduce", "studies.md"),
    ("Real data: the handwritten digits", "datasets.md"),
    ("The main comparison: report", "results/main_comparison/report.md"),
    ("The lexi_prob schedule sweep: report", "results/lexi_prob/report.md"),
    ("The activation_sched schedule sweep: report", "results/activation_sched/report.md"),
    ("The digits comparison: report", "results/digits/report.md"),
    ("The baselines at matched size: report", "results/baselines/report.md"),
    (
        "The main comparison at population 10 (before issue 19)",
        "results/main_comparison_pop10/report.md",
    ),
    ("Extending: operators and schedules", "extending.md"),
    ("Standard pruning baselines", "baselines.md"),
    ("When something goes wrong", "troubleshooting.md"),
    ("How the code is laid out", "layout.md"),
    ("Where minievo differs from the published code", "differences.md"),
    ("Benchmarks", "benchmarks.md"),
    ("GPU: many trials in lockstep", "gpu.md"),
]


def cells(source: str) -> list[tuple[str, str]]:
    """``(kind, text)`` of a ``# %%`` file: kind ``"markdown"`` or ``"code"``."""
    out: list[tuple[str, list[str]]] = []
    kind, lines = "code", []
    for line in source.splitlines():
        if line.startswith("# %%"):
            out.append((kind, lines))
            kind = "markdown" if "[markdown]" in line else "code"
            lines = []
        elif kind == "markdown":
            lines.append(re.sub(r"^# ?", "", line))
        else:
            lines.append(line)
    out.append((kind, lines))
    return [(k, "\n".join(text).strip("\n")) for k, text in out if "\n".join(text).strip()]


def four_space_lists(markdown: str) -> str:
    """List continuation lines indented 4 spaces, as Python-Markdown needs.

    The cells are written for CommonMark (Jupyter), where a continuation line
    of ``- item`` or ``1. item`` is indented 2 or 3 spaces; Python-Markdown
    wants 4, or the item's display math and paragraphs fall out of the list.
    """
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"^ {2,3}\S", line):
            line = "    " + line.lstrip()
        out.append(line)
    return "\n".join(out)


def tutorial_page(path: Path) -> tuple[str, str]:
    """(title, markdown) of one tutorial."""
    source = path.read_text()
    parts = cells(source)
    if not any(kind == "markdown" for kind, _ in parts):  # not in cell format
        parts = [("markdown", f"# {path.stem}"), ("code", source)]
    text = []
    for kind, body in parts:
        text.append(four_space_lists(body) if kind == "markdown" else f"```python\n{body}\n```")
    page = "\n\n".join(text) + "\n"
    page += (
        f"\n---\n\nThe source: `tutorials/{path.name}`. Run it with "
        f"`python tutorials/{path.name}`, or open it as a notebook "
        "(`jupytext --to notebook`, or VS Code / PyCharm, which run `# %%` cells).\n"
    )
    match = re.search(r"^# (.+)$", page, re.M)
    return (match.group(1) if match else path.stem), page


def home_page() -> str:
    """The README as the site's home: ``docs/X`` links to pages, tutorials to theirs."""

    def link(match: re.Match) -> str:
        text, target = match.group(1), match.group(2)
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        if target.startswith("docs/"):
            return f"[{text}]({target[len('docs/') :]})"
        tutorial = re.fullmatch(r"tutorials/(\d\d_\w+)\.py", target)
        if tutorial:
            return f"[{text}](tutorials/{tutorial.group(1)}.md)"
        return text if text.startswith("`") else f"`{text}`"  # a file outside the site

    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", link, (ROOT / "README.md").read_text())


def main() -> None:
    with mkdocs_gen_files.open("index.md", "w") as f:
        f.write(home_page().replace("](docs/figures/", "](figures/"))
    nav = ["* [Home](index.md)"]
    nav += [f"* [{title}]({name})" for title, name in GUIDE if (DOCS / name).exists()]

    nav.append("* Tutorials")
    for path in sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py")):
        title, page = tutorial_page(path)
        with mkdocs_gen_files.open(f"tutorials/{path.stem}.md", "w") as f:
            f.write(page)
        mkdocs_gen_files.set_edit_path(f"tutorials/{path.stem}.md", f"../tutorials/{path.name}")
        short = re.sub(r"^Tutorial (\d+): ", r"\1 ", title).rstrip(".")
        nav.append(f"    * [{short}](tutorials/{path.stem}.md)")

    nav.append("* API reference")
    modules = sorted(pkgutil.iter_modules([str(ROOT / "minievo")]), key=lambda m: (m.ispkg, m.name))
    for module in modules:
        if module.name.startswith("_"):
            continue
        name = f"minievo.{module.name}"
        with mkdocs_gen_files.open(f"api/{module.name}.md", "w") as f:
            f.write(f"# `{name}`\n\n::: {name}\n")
        nav.append(f"    * [{name}](api/{module.name}.md)")
    with mkdocs_gen_files.open("api/index.md", "w") as f:
        f.write(
            "# `minievo`: the public API\n\n::: minievo\n    options:\n      show_submodules: false\n"
        )
    nav.insert(nav.index("* API reference") + 1, "    * [minievo](api/index.md)")

    with mkdocs_gen_files.open("SUMMARY.md", "w") as f:
        f.write("\n".join(nav) + "\n")


main()
