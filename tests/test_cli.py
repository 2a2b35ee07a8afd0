"""The command line: every command's output and its bad-input exit status."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

import archsearch
from archsearch.build import count_parameters
from archsearch.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"archsearch {archsearch.__version__}"


def test_spaces_json() -> None:
    result = runner.invoke(app, ["spaces", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {r["name"] for r in rows} >= {"mobile", "resnet", "inception", "mixed"}
    assert all(r["description"] for r in rows)


def test_show_samples_match_the_library() -> None:
    result = runner.invoke(
        app,
        [
            "show",
            "--space",
            "mobile",
            "--sample",
            "5",
            "--seed",
            "0",
            "--input-size",
            "28",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    expected = archsearch.load_space("mobile").sample(5, seed=0, input_size=28)
    assert [r["id"] for r in rows] == [a.id for a in expected]
    for row, arch in zip(rows, expected, strict=True):
        assert archsearch.Architecture.from_dict(row["architecture"]) == arch
        assert row["params"] == count_parameters(arch, 10, 3)
        assert row["summary"] == str(arch)


def test_show_table() -> None:
    result = runner.invoke(app, ["show", "--sample", "2"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "2 samples of 'mobile'" in result.stdout


def test_zoo_json() -> None:
    result = runner.invoke(app, ["zoo", "--json"])
    rows = {r["name"]: r["params"] for r in json.loads(result.stdout)}
    assert rows["resnet50"] == 25_557_032 and rows["mobilenet_v2"] == 3_504_872


def _commands(group: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand of ``group``, by the words that call it."""
    found = [prefix]
    for info in group.registered_commands:
        found.append((*prefix, info.name or info.callback.__name__.replace("_", "-")))
    for sub in group.registered_groups:
        found += _commands(sub.typer_instance, (*prefix, sub.name))
    return found


def test_every_command_has_help_with_an_example() -> None:
    commands = _commands(app)
    # the root, its 11 commands, the bench group and its 6 (4 benchmarks, tabulate, tables)
    assert len(commands) == 1 + 11 + 1 + 6, commands
    for command in commands:
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (command, result.output)
        assert "Example: archsearch" in " ".join(result.stdout.split()), command


def test_bad_input_exits_2_with_one_message() -> None:
    result = runner.invoke(app, ["show", "--space", "no-such-space"])
    assert result.exit_code == 2
    assert "no built-in space of this name" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    usage = runner.invoke(app, ["show", "--sample", "0"])
    assert usage.exit_code == 2
