"""The flags of ``minievo run`` are made from the configuration's fields, with help."""

import json

import pytest
from conftest import TINY_DATASET

from minievo import cli
from minievo.experiments.config import FIELD_HELP, FIELD_RULES, Config


def _run_help() -> str:
    parser = cli.build_parser()
    run = parser._subparsers._group_actions[0].choices["run"]
    return run.format_help()


def test_every_field_has_a_rule_help_and_a_way_in_from_the_command_line():
    fields = set(Config.field_names())
    assert set(FIELD_RULES) == fields | {"defaults"}
    assert set(FIELD_HELP) == fields
    flagged = {key for _, key, _ in cli.config_flags()}
    assert flagged | set(cli.OWN_OPTIONS) == fields


def test_the_help_gives_allowed_values_and_defaults():
    text = " ".join(_run_help().split())
    assert "--prune-schedule NAME when to prune" in text
    assert (
        "allowed: fixed, increase, decrease, population, exponential, final_n, prune_after" in text
    )
    assert "default: exponential" in text  # the default job's value
    assert (
        "--lexi-rows N test rows drawn by the conjunctive operator; "
        "allowed: integers >= 1; default: 100" in text
    )
    assert "--dataset-name NAME, --dataset NAME" in text


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--dataset", TINY_DATASET], {"dataset_name": TINY_DATASET}),
        (["--dataset-name", TINY_DATASET], {"dataset_name": TINY_DATASET}),
        (["--adam-betas", "0.9", "0.99"], {"adam_betas": (0.9, 0.99)}),
        (["--shuffle-data", "false"], {"shuffle_data": False}),
        (["--semantics", "published"], {"semantics": "published", "mask_mode": "regrow"}),
        (
            ["--lexi-rows", "7", "--checkpoint-seconds", "5"],
            {"lexi_rows": 7, "checkpoint_seconds": 5.0},
        ),
    ],
)
def test_generated_flags_set_their_fields(flags, expected):
    args = cli.build_parser().parse_args(["run", *flags])
    config = cli.config_from_args(args)
    assert {k: getattr(config, k) for k in expected} == expected


def test_a_bad_flag_value_is_one_line_and_status_2(capsys):
    code = cli.main(["run", "--shuffle-data", "maybe", "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "shuffle_data: 'maybe' is not a boolean; allowed: true or false" in err
    assert "Traceback" not in err


def test_flags_on_a_config_file_still_win(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"epochs": 3, "prune_method": "variance"}))
    args = cli.build_parser().parse_args(["run", "--config", str(path), "--epochs", "5"])
    config = cli.config_from_args(args)
    assert (config.epochs, config.prune_method, config.defaults) == (5, "variance", "default job")
