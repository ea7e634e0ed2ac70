"""The command line's conventions (issue 22, point 5): help on every flag, argument
groups, ``--x/--no-x`` booleans, one name per concept (old names still work),
``--plugin`` on the study commands, plain progress lines in logs."""

import argparse
import io
import json

import pytest
from conftest import TINY_DATASET, tiny_sweep_args
from test_plugins import PLUGIN, clean_registry  # noqa: F401 - the fixture is used below

from minievo import cli
from minievo.experiments.config import Config, ConfigError
from minievo.experiments.validation import Boolean
from minievo.training.progress import CountLines, count_progress

BOOLEAN_FIELDS = [key for _, key, rule in cli.config_flags() if isinstance(rule, Boolean)]


def _subparsers(parser):
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def _run_parser():
    return _subparsers(cli.build_parser())["run"]


def test_every_flag_of_every_command_has_help():
    parser = cli.build_parser()
    missing = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, sub in _subparsers(parser).items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction)
        if action.help != argparse.SUPPRESS and not (action.help or "").strip()
    ]
    assert missing == []
    assert all(sub.description or sub.format_help() for sub in _subparsers(parser).values())


def test_run_help_is_in_argument_groups_with_every_configuration_flag_in_one():
    run = _run_parser()
    titles = [group.title for group in run._action_groups]
    assert titles[-len(cli.FLAG_GROUPS) :] == list(cli.FLAG_GROUPS)
    assert list(cli.FLAG_GROUPS) == [
        "data",
        "network",
        "training",
        "coevolution",
        "pruning",
        "records",
        "execution",
    ]
    grouped = [key for keys in cli.FLAG_GROUPS.values() for key in keys]
    assert sorted(grouped) == sorted(key for _, key, _ in cli.config_flags())
    text = run.format_help()
    for title in cli.FLAG_GROUPS:
        assert f"\n{title}:\n" in text
    assert text.startswith("usage: minievo run [--config FILE] [--out DIR] [--resume DIR]")


@pytest.mark.parametrize("key", BOOLEAN_FIELDS)
def test_every_boolean_field_is_a_flag_and_a_no_flag_and_takes_the_old_value(key):
    flag = "--" + key.replace("_", "-")
    parse = cli.build_parser().parse_args

    def value(*flags):
        return getattr(cli.config_from_args(parse(["run", *flags])), key)

    assert value(flag) is True
    assert value("--no-" + flag[2:]) is False
    assert value(flag, "false") is False  # the form before issue 22
    assert value(flag, "True") is True


@pytest.mark.parametrize("flags", [["--save-all-centers"], ["--progress"]])
def test_the_commands_own_switches_take_both_forms(flags):
    parse = cli.build_parser().parse_args
    on = cli.config_from_args(parse(["run", *flags]))
    off = cli.config_from_args(parse(["run", "--no-" + flags[0][2:]]))
    key = flags[0][2:].replace("-", "_")
    assert (getattr(on, key), getattr(off, key)) == (True, False)


def test_a_no_flag_with_a_value_is_refused_naming_both_forms(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args(["run", "--no-shuffle-data", "false"])
    assert stop.value.code == 2
    assert "--no-shuffle-data takes no value" in capsys.readouterr().err


def test_the_help_shows_both_forms_of_a_boolean():
    text = " ".join(_run_parser().format_help().split())
    assert "--shuffle-data, --no-shuffle-data shuffle the training rows" in text
    assert "--progress, --no-progress" in text


def test_data_refuses_data_dir_with_out(tmp_path, capsys):
    code = cli.main(["data", "--out", str(tmp_path / "d.npz"), "--data-dir", str(tmp_path)])
    assert code == 2 and "give one" in capsys.readouterr().err


def test_data_takes_data_dir_and_still_the_old_cache_dir(tmp_path, capsys):
    for flag in ("--data-dir", "--cache-dir"):
        folder = tmp_path / flag.strip("-")
        code = cli.main(["data", "--name", TINY_DATASET, flag, str(folder)])
        assert code == 0 and any(folder.glob("*.npz")), flag
    assert "--cache-dir" not in _subparsers(cli.build_parser())["data"].format_help()


def test_run_threads_and_the_older_workers(capsys):
    parse = cli.build_parser().parse_args
    assert cli._run_threads(parse(["run"])) == 1
    assert cli._run_threads(parse(["run", "--threads", "2"])) == 2
    assert cli._run_threads(parse(["run", "--workers", "3"])) == 3
    assert "--workers` is now --threads" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="--threads: 0 is out of range; allowed: integers >= 1"):
        cli._run_threads(parse(["run", "--threads", "0"]))
    with pytest.raises(ConfigError, match="give only --threads"):
        cli._run_threads(parse(["run", "--threads", "2", "--workers", "2"]))
    help_text = _run_parser().format_help()
    assert "--threads N" in help_text and "--workers" not in help_text


@pytest.fixture
def plugin_file(tmp_path, clean_registry):  # noqa: F811 - the fixture of test_plugins
    path = tmp_path / "my_operators.py"
    path.write_text(PLUGIN)
    return path


def test_sweep_plugin_reaches_every_job_and_its_log_has_plain_lines(
    plugin_file, data_dir, tmp_path, capsys
):
    out = tmp_path / "s"
    args = tiny_sweep_args(
        out,
        "--plugin",
        str(plugin_file),
        "--set",
        "prune_schedule=test_always",  # the plug-in's schedule, in each job's process
        "--set",
        "backend=numpy",
        "--progress",
    )
    args.remove("--no-progress")
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "\r" not in err and "sweep: 3/3 jobs (100.0%), failed=0" in err
    jobs = sorted(out.glob("*/seed-*"))
    assert len(jobs) == 3
    for job in jobs:
        saved = json.loads((job / "config.json").read_text())
        assert saved["plugins"] == [str(plugin_file.resolve())]
        records = [json.loads(line) for line in (job / "stats.jsonl").read_text().splitlines()]
        assert records and all(r["n_pruned_encoder"] > 0 for r in records)
        assert "\r" not in (job / "worker.log").read_text()


def test_reproduce_plugin_is_imported_and_recorded_in_every_variant(
    plugin_file, monkeypatch, tmp_path
):
    seen = {}

    def capture(args, variants, names, out):
        seen["variants"] = variants
        args.sweep_folder = out
        return 0

    monkeypatch.setattr(cli, "_run_study_sweep", capture)
    monkeypatch.setattr(
        "minievo.experiments.report.write_report", lambda folder, **kwargs: _NoReport()
    )
    code = cli.main(
        [
            "reproduce",
            "--plugin",
            str(plugin_file),
            "--set",
            "prune_schedule=test_always",
            "--trials",
            "1",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 0
    assert len(seen["variants"]) == 9
    assert all(v.plugins == (str(plugin_file.resolve()),) for v in seen["variants"])
    assert all(v.prune_schedule == "test_always" for v in seen["variants"])


class _NoReport:
    path = "-"

    def summary_line(self):
        return ""


def test_a_bad_plugin_of_a_sweep_is_one_line(tmp_path, capsys):
    code = cli.main(tiny_sweep_args(tmp_path / "s", "--plugin", "no_such_module_xyz"))
    err = capsys.readouterr().err
    assert code == 2
    assert "minievo: error: --plugin: plugin 'no_such_module_xyz' cannot be imported" in err


def test_reproduce_help_says_what_it_runs_and_how_long():
    text = " ".join(_subparsers(cli.build_parser())["reproduce"].format_help().split())
    assert "main_comparison: 9 variants" in text
    assert "270 jobs, about 6 core-hours" in text and "docs/studies.md" in text
    assert "--plugin MODULE_OR_FILE" in text


@pytest.mark.parametrize(
    "changes, registration",
    [
        ({"prune_method": "roulette"}, "register_operator"),
        ({"prune_method": "no_such_operator"}, "register_operator"),
        ({"prune_schedule": "no_such_schedule"}, "register_schedule"),
    ],
)
def test_an_unknown_operator_or_schedule_names_the_plugin_route(changes, registration):
    with pytest.raises(ConfigError) as error:
        Config(**changes)
    assert "--plugin" in str(error.value) and registration in str(error.value)


def test_the_cli_names_the_plugin_route_for_roulette(capsys):
    assert cli.main(["run", "--prune-method", "roulette"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--plugin" in err and "docs/extending.md" in err


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_job_progress_is_a_bar_on_a_terminal_and_plain_lines_elsewhere():
    log = io.StringIO()
    bar = count_progress(total=2, desc="sweep", stream=log)
    assert isinstance(bar, CountLines)
    bar.interval = 0
    for failed in (0, 1):
        bar.set_postfix(failed=failed)
        bar.update(1)
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("sweep: 1/2 jobs (50.0%), failed=0, ETA ")
    assert lines[1] == "sweep: 2/2 jobs (100.0%), failed=1"
    assert "\r" not in log.getvalue()
    quiet = io.StringIO()
    off = count_progress(total=1, stream=quiet, enabled=False)
    off.update(1)
    assert quiet.getvalue() == ""
    terminal = _Terminal()
    count_progress(total=1, stream=terminal).close()
    assert not isinstance(count_progress(total=1, stream=_Terminal()), CountLines)
