"""Which code and which command made a study: recorded by the CLI, read by the report.

``minievo sweep`` and ``minievo reproduce`` append one line to
``DIR/commands.jsonl`` each time they run on a sweep folder: the command as
typed (``minievo sweep --preset lexi_prob --trials 5 ...``), the minievo
version and the git commit of the code that ran it (``-dirty`` when the
package's files differ from that commit). ``minievo report`` lists them in
``report.md`` with the version and commit of the code that wrote the report,
and the report's own command. Nothing here carries the time of writing, so
the same folder still gives the same report.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .. import __version__

__all__ = ["COMMANDS_FILE", "code_version", "command_line", "read_commands", "record_command"]

COMMANDS_FILE = "commands.jsonl"
_PACKAGE = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(_PACKAGE), *args],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code_version() -> dict:
    """``{"minievo": version, "commit": sha or None}``; the commit ends in ``-dirty``
    when files of the package differ from it, and is None outside a git checkout."""
    commit = _git("rev-parse", "--short=12", "HEAD")
    if commit is not None:
        status = _git("status", "--porcelain", "--untracked-files=no", "--", str(_PACKAGE))
        if status:
            commit += "-dirty"
    return {"minievo": __version__, "commit": commit}


def command_line(argv: Sequence[str]) -> str:
    """``minievo`` followed by the arguments, quoted as a shell would need them."""
    return " ".join(["minievo", *(shlex.quote(str(a)) for a in argv)])


def record_command(root, argv: Sequence[str]) -> None:
    """Append the command and the code's version to ``root/commands.jsonl``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"command": command_line(argv), **code_version()}, sort_keys=True)
    with open(root / COMMANDS_FILE, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def read_commands(root) -> list[dict]:
    """The recorded commands of a sweep folder, oldest first; unreadable lines are skipped."""
    path = Path(root) / COMMANDS_FILE
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("command"), str):
            out.append(record)
    return out


def section_provenance(root, command: str | None) -> list[str]:
    """The report's "Provenance" lines: who wrote the report, and what ran the sweep."""
    here = code_version()
    lines = [
        "## Provenance\n",
        f"- report written by minievo {here['minievo']}, commit "
        f"`{here['commit'] or 'unknown (not a git checkout)'}`"
        + (f", command `{command}`" if command else "")
        + "\n",
    ]
    commands = read_commands(root)
    if commands:
        lines += [
            f"- sweep run by `{c['command']}` (minievo {c.get('minievo')}, commit "
            f"`{c.get('commit') or 'unknown'}`)\n"
            for c in commands
        ]
    else:
        lines.append(
            f"- the sweep's command is not recorded (no `{COMMANDS_FILE}`: run from Python, "
            "or by an earlier minievo, or by the published code)\n"
        )
    return ["".join(lines[:1])] + ["".join(lines[1:])]
