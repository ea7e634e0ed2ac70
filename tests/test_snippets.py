"""Every code block of README.md and docs/*.md runs, or parses, as written.

* ``python``: the blocks of one page run in order in one fresh process, in an
  empty folder, as a reader copying them would run them. A page may shrink a
  block's settings for the test with an HTML comment right above the block
  (invisible on the rendered page, visible in its source), e.g.
  ``<!-- snippet test: replace "epochs=20" "epochs=1" -->``.
* ``bash``: every ``minievo ...`` line is parsed by the command's own parser
  (a misspelled subcommand or flag fails), and every repository file a line
  names (``examples/x.json``, ``benchmarks/y.py``, ``tutorials/z.py``) exists.
* ``json``, ``toml``: parsed.
* ``text``: not run (output, directory listings, pseudo-code).

A block without a language fails: say what it is.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from minievo.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LANGUAGES = {"python", "bash", "json", "toml", "text"}
FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)
DIRECTIVE = re.compile(r'<!-- snippet test:((?:\s*replace "[^"]*" "[^"]*")+)\s*-->\s*$')
REPLACE = re.compile(r'replace "([^"]*)" "([^"]*)"')
REPO_FILE = re.compile(r"^(examples|benchmarks|tutorials|docs)/[\w./-]+\.(py|json|toml|md)$")


def blocks(page: Path) -> list[tuple[str, str, int]]:
    """``(language, code, line)`` of every fenced block, directives applied."""
    text = page.read_text()
    out = []
    for match in FENCE.finditer(text):
        language, code = match.group(1), match.group(2)
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        directive = DIRECTIVE.search(before)
        if directive:
            for old, new in REPLACE.findall(directive.group(1)):
                assert old in code, f"{page.name}:{line}: {old!r} not in the block"
                code = code.replace(old, new)
        out.append((language, code, line))
    return out


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_every_block_says_what_it_is():
    unlabelled = [
        f"{page_id(page)}:{line} ({language or 'no language'})"
        for page in PAGES
        for language, _, line in blocks(page)
        if language not in LANGUAGES
    ]
    assert not unlabelled, f"label these blocks {sorted(LANGUAGES)}: {unlabelled}"


PYTHON_PAGES = [p for p in PAGES if any(lang == "python" for lang, _, _ in blocks(p))]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=page_id)
def test_python_blocks_run(page, tmp_path, data_dir):
    code = "\n\n".join(
        f"# --- {page.name}, line {line}\n{code}"
        for language, code, line in blocks(page)
        if language == "python"
    )
    script = tmp_path / "snippets.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**_env(), "MINIEVO_PROGRESS_SECONDS": "3600"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


def _env() -> dict:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def shell_lines(code: str) -> list[str]:
    """Logical lines (continuations joined, comments dropped), split at ``&&``."""
    joined = code.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        command: list[str] = []
        for word in words + ["&&"]:
            if word in ("&&", "||", ";"):
                if command:
                    out.append(command)
                command = []
            else:
                command.append(word)
    return out


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_shell_blocks_name_real_commands_and_files(page):
    parser = build_parser()
    checked = 0
    for language, code, line in blocks(page):
        if language != "bash":
            continue
        for words in shell_lines(code):
            for word in words:
                path = word.split("=", 1)[-1]
                if REPO_FILE.match(path):
                    assert (ROOT / path).exists(), f"{page.name}:{line}: no {path}"
            if words[0] == "minievo":
                checked += 1
                try:
                    parser.parse_args(words[1:])
                except SystemExit as exit_:
                    # --help and --version exit 0; a bad subcommand or flag exits 2
                    assert exit_.code == 0, f"{page.name}:{line}: {' '.join(words)}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_json_and_toml_blocks_parse(page):
    for language, code, line in blocks(page):
        try:
            if language == "json":
                json.loads(code)
            elif language == "toml":
                tomllib.loads(code)
        except ValueError as error:
            pytest.fail(f"{page.name}:{line}: {error}")


def test_default_job_is_the_commands():
    """``minievo.default_job()`` is what ``minievo run`` runs (one dictionary, in presets)."""
    from minievo import cli, default_job
    from minievo.experiments.presets import DEFAULT_JOB

    assert DEFAULT_JOB is cli.DEFAULT_JOB
    args = build_parser().parse_args(["run", "--epochs", "20", "--learning-rate", "1e-3"])
    assert cli.config_from_args(args) == default_job(epochs=20, learning_rate=1e-3)


def test_example_configurations_run_as_the_readme_says():
    """examples/: the default job as a file, and a published params.json."""
    from minievo import cli, default_job

    parser = build_parser()
    as_file = cli.config_from_args(
        parser.parse_args(["run", "--config", str(ROOT / "examples/default_job.json")])
    )
    assert as_file == default_job()
    published = cli.config_from_args(
        parser.parse_args(
            [
                "run",
                "--config",
                str(ROOT / "examples/canonical_conjunctive_exponential_params.json"),
            ]
        )
    )
    assert published.cell_evaluation == "ann_canonical"
    assert published.semantics == "published" and published.mask_mode == "regrow"


def test_readme_python_example_gives_the_commands_result(tmp_path, data_dir):
    """``run(default_job(...))`` and ``minievo run ...`` train the same numbers (1 epoch here)."""
    from minievo import cli, default_job, run

    flags = ["--epochs", "1", "--learning-rate", "1e-3", "--population-size", "4"]
    assert cli.main(["run", *flags, "--no-progress", "--out", str(tmp_path / "cli")]) == 0
    command = json.loads((tmp_path / "cli" / "summary.json").read_text())
    config = default_job(epochs=1, learning_rate=1e-3, population_size=4, progress=False)
    result = run(config, tmp_path / "py")
    assert result.test_loss == command["test_loss"]
