"""Each kind of bad space file: one message naming the file, the line and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest

import archsearch
from archsearch.errors import SpaceError
from archsearch.train import TrainConfig

GOOD = """\
name: tiny
input_sizes: [8, 28]
stem:
  out_channels: 8
stages:
  - out_channels: {choices: [8, 16]}
    depth: {low: 1, high: 2}
    stride: 2
    block: {choices: [mbconv, dwsep]}
    kernel_size: {choices: [3, 5]}
hyperparameters:
  lr: {low: 1e-3, high: 0.1, log: true}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def test_course_hyperparameters_are_searchable(tmp_path: Path) -> None:
    text = GOOD + (
        "  momentum: {choices: [0.0, 0.9]}\n  nesterov: {choices: [true, false]}\n"
        "  schedule: {choices: [cosine, step, constant]}\n  init: {choices: [kaiming, xavier]}\n"
    )
    space = archsearch.load_space(write(tmp_path, text))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(40):
        config = TrainConfig.from_hyperparameters(space.sample_hyperparameters(study.ask()))
        seen.add((config.momentum, config.nesterov, config.schedule, config.init))
    # 2 x 2 x 3 x 2 = 24 combinations; 40 draws see most, each field both ways
    assert {s[0] for s in seen} == {0.0, 0.9} and {s[1] for s in seen} == {True, False}
    assert {s[2] for s in seen} == {"cosine", "step", "constant"}
    assert {s[3] for s in seen} == {"kaiming", "xavier"}


def test_good_file_loads(tmp_path: Path) -> None:
    space = archsearch.load_space(write(tmp_path, GOOD))
    assert space.name == "tiny"
    # YAML 1.1 reads 1e-3 as text: numeric text is taken as the number it spells
    assert space.hyperparameters["lr"].low == 0.001


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("    stride: 2\n", "    stride: [2\n", None, "", "YAML syntax error"),
        (
            "{choices: [mbconv, dwsep]}",
            "{choices: [mbconv, warp]}",
            9,
            "stages[0].block.choices[1]",
            "expected a registered block",
        ),
        (
            "    stride: 2\n",
            "    stride: 2\n    strides: 2\n",
            9,
            "stages[0].strides",
            "unknown key 'strides'; did you mean 'stride'?",
        ),
        (
            "  out_channels: 8\n",
            "  out_channels: eight\n",
            4,
            "stem.out_channels",
            "expected an integer >= 1, got 'eight'",
        ),
        ("{choices: [3, 5]}", "{choices: []}", 10, "stages[0].kernel_size.choices", "empty"),
        (
            "{low: 1, high: 2}",
            "{low: 3, high: 2}",
            7,
            "stages[0].depth",
            "empty range: low (3) > high (2)",
        ),
        (
            "{low: 1e-3, high: 0.1, log: true}",
            "{low: 0, high: 0.1, log: true}",
            12,
            "hyperparameters.lr.low",
            "a log range needs low > 0",
        ),
        (
            "{choices: [3, 5]}",
            "{choices: [3, 4]}",
            10,
            "stages[0].kernel_size.choices[1]",
            "an odd integer >= 1",
        ),
        (
            "{choices: [3, 5]}",
            "{low: 3, high: 5}",
            10,
            "stages[0].kernel_size",
            "the range holds 4",
        ),
        ("  lr:", "  learning_rate:", 12, "hyperparameters.learning_rate", "unknown key"),
        (
            "  lr: {low: 1e-3, high: 0.1, log: true}\n",
            "  lr: 0.1\n  schedule: {choices: [cosine, linear]}\n",
            13,
            "hyperparameters.schedule.choices[1]",
            "one of cosine, step, constant",
        ),
        (
            "  lr: {low: 1e-3, high: 0.1, log: true}\n",
            "  lr: 0.1\n  init: he\n",
            13,
            "hyperparameters.init",
            "one of default, kaiming, xavier",
        ),
        (
            "  lr: {low: 1e-3, high: 0.1, log: true}\n",
            "  lr: 0.1\n  nesterov: yes please\n",
            13,
            "hyperparameters.nesterov",
            "true or false",
        ),
        (
            "    stride: 2\n",
            "    stride: 2\n    stride: 1\n",
            9,
            "stages[0].stride",
            "key given twice",
        ),
        (
            "    kernel_size: {choices: [3, 5]}\n",
            "    groups: 2\n",
            10,
            "stages[0].groups",
            "unknown key 'groups'",
        ),
        ("{low: 1, high: 2}", "{low: 1, hi: 2}", 7, "stages[0].depth.hi", "unknown key 'hi'"),
    ],
    ids=[
        "syntax",
        "unknown-block",
        "unknown-key",
        "wrong-type",
        "empty-choices",
        "impossible-range",
        "log-nonpositive",
        "bad-option-value",
        "range-holds-bad-value",
        "unknown-hyperparameter",
        "bad-schedule",
        "bad-init",
        "bad-nesterov",
        "duplicate-key",
        "option-no-block-takes",
        "unknown-range-key",
    ],
)
def test_each_error_names_file_line_and_field(
    tmp_path: Path, old: str, new: str, line: int | None, field: str, message: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(SpaceError) as info:
        archsearch.load_space(path)
    error = info.value
    assert error.source == str(path)
    assert error.field == field
    if line is not None:
        assert error.line == line
        assert str(error).startswith(f"{path}:{line}: {field}:")
    else:
        assert error.line == 9  # where the parser found the unclosed bracket's trouble
    assert message in str(error)


def test_impossible_architecture_is_reported(tmp_path: Path) -> None:
    text = GOOD.replace("{choices: [mbconv, dwsep]}", "shuffle").replace(
        "{choices: [8, 16]}", "15"
    )
    with pytest.raises(SpaceError) as info:
        archsearch.load_space(write(tmp_path, text))
    assert info.value.field == "stages"
    assert "impossible architecture" in str(info.value)
    assert "stage 1, block 1 (shuffle), field 'out_channels': must be even" in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("- 1\n- 2\n", "expected a mapping"),
        (b"\xff\xfe\x00bad", "not a text file"),
    ],
)
def test_empty_or_wrong_document(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = tmp_path / "space.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(SpaceError, match=message):
        archsearch.load_space(path)


def test_stages_must_be_a_list(tmp_path: Path) -> None:
    with pytest.raises(SpaceError) as info:
        archsearch.load_space(write(tmp_path, "name: x\nstages: 3\n"))
    assert (info.value.line, info.value.field) == (2, "stages")
    assert "expected a non-empty list of stages" in str(info.value)


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match="file not found"):
        archsearch.load_space(tmp_path / "nope.yaml")
    with pytest.raises(SpaceError, match="no built-in space of this name"):
        archsearch.load_space("nope")


def test_cli_reports_bad_space_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("{choices: [3, 5]}", "{choices: []}"))
    result = subprocess.run(
        [sys.executable, "-m", "archsearch", "show", "--space", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert f"{path}:10: stages[0].kernel_size.choices: empty" in " ".join(result.stderr.split())
