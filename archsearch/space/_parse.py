"""Parsing and validation of a space file's data (as loaded from YAML) into a
:class:`~archsearch.space.SearchSpace`. Every error names the file, the line when known, and
the field (:class:`~archsearch.SpaceError`)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from pathlib import Path as FilePath
from typing import Any

from ..architecture import HEAD_POOLS
from ..blocks.helpers import ACTIVATIONS
from ..blocks.registry import check_option, get_block, int_at_least, is_int, is_number, list_blocks
from ..errors import ArchsearchError, SpaceError
from ._yaml import Path, format_path
from .distributions import Categorical, Distribution, Fixed, FloatRange, IntRange
from .spec import (
    HYPERPARAMETERS,
    STAGE_FIELDS,
    TOP_FIELDS,
    HeadSpec,
    SearchSpace,
    StageSpec,
    StemSpec,
)

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class _Parser:
    def __init__(self, source: str, lines: dict[Path, int]) -> None:
        self.source = source
        self.lines = lines

    def fail(self, path: Path, message: str) -> SpaceError:
        line = None
        for cut in range(len(path), -1, -1):
            line = self.lines.get(path[:cut])
            if line is not None:
                break
        return SpaceError(self.source, format_path(path), message, line)

    def mapping(
        self, value: Any, path: Path, allowed: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail((*path, str(key)), "keys must be strings")
            if allowed is not None and key not in allowed:
                raise self.fail((*path, key), _unknown("key", key, allowed))
        return dict(value)

    def dist(
        self, raw: Any, path: Path, check: Callable[[Any], bool], expected: str
    ) -> Distribution:
        """A fixed value, ``{choices: [...]}``, a bare list of choices, or ``{low, high, ...}``."""
        if isinstance(raw, list):
            raw = {"choices": raw}
        if not isinstance(raw, Mapping):
            return Fixed(self.value(raw, path, check, expected))
        keys = set(raw)
        if "choices" in keys:
            if keys != {"choices"}:
                extra = sorted(keys - {"choices"})[0]
                raise self.fail((*path, str(extra)), "cannot be combined with 'choices'")
            choices = raw["choices"]
            if not isinstance(choices, list):
                raise self.fail((*path, "choices"), f"expected a list, got {_kind(choices)}")
            if not choices:
                raise self.fail((*path, "choices"), "empty: give at least one choice")
            values = [
                self.value(c, (*path, "choices", i), check, expected)
                for i, c in enumerate(choices)
            ]
            if len({repr(v) for v in values}) != len(values):
                raise self.fail((*path, "choices"), f"repeated choices in {values}")
            return Categorical(tuple(values))
        range_keys = ("low", "high", "step", "log")
        unknown = sorted(str(k) for k in keys if k not in range_keys)
        if unknown:
            raise self.fail(
                (*path, unknown[0]), _unknown("key", unknown[0], ("choices", *range_keys))
            )
        if not keys:
            raise self.fail(path, "empty: expected {choices: [...]} or {low, high, step?, log?}")
        if "low" not in keys or "high" not in keys:
            missing = "low" if "low" not in keys else "high"
            raise self.fail((*path, missing), "missing: a range needs both low and high")
        low = _number(raw["low"])
        high = _number(raw["high"])
        step = _number(raw.get("step"))
        log = raw.get("log", False)
        for name, value in (("low", low), ("high", high)):
            if not is_number(value):
                raise self.fail((*path, name), f"expected a number, got {value!r}")
        if not isinstance(log, bool):
            raise self.fail((*path, "log"), f"expected true or false, got {log!r}")
        if low > high:
            raise self.fail(path, f"empty range: low ({low}) > high ({high})")
        if step is not None and (not is_number(step) or step <= 0):
            raise self.fail((*path, "step"), f"expected a number > 0, got {step!r}")
        if log and step is not None and step != 1:
            raise self.fail((*path, "step"), "a log range cannot have a step (Optuna's rule)")
        if log and low <= 0:
            raise self.fail((*path, "low"), f"a log range needs low > 0, got {low}")
        for name, value in (("low", low), ("high", high)):
            if not check(value):
                raise self.fail((*path, name), f"expected {expected}, got {value!r}")
        if is_int(low) and is_int(high) and (step is None or is_int(step)):
            dist = IntRange(low, high, step or 1, log)
            if (high - low) % dist.step:
                raise self.fail(
                    (*path, "step"), f"high - low ({high - low}) is not a multiple of step {step}"
                )
            bad = next((v for v in dist.values()[:4096] if not check(v)), None)
            if bad is not None:
                raise self.fail(path, f"the range holds {bad}, which is not {expected}")
            return dist
        return FloatRange(float(low), float(high), None if step is None else float(step), log)

    def value(self, raw: Any, path: Path, check: Callable[[Any], bool], expected: str) -> Any:
        value = _number(raw)
        if isinstance(value, (Mapping, list)) or not check(value):
            raise self.fail(path, f"expected {expected}, got {_show(raw)}")
        return value


def _number(value: Any) -> Any:
    """Numbers PyYAML leaves as strings (YAML 1.1 reads ``1e-3`` as text) become floats."""
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    return value


def _unknown(what: str, name: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {what} '{name}'{hint} (known: {', '.join(known)})"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _show(value: Any) -> str:
    return (
        f"{_kind(value)}" if isinstance(value, (Mapping, list)) or value is None else repr(value)
    )


def parse_space(data: Any, source: str, lines: dict[Path, int] | None = None) -> SearchSpace:
    """Validate a space given as plain data (as loaded from YAML) and build a SearchSpace."""
    p = _Parser(source, lines or {})
    if data is None:
        raise p.fail((), "the file is empty")
    top = p.mapping(data, (), TOP_FIELDS)
    blocks = list_blocks()

    name = top.get("name", FilePath(source).stem)
    if not isinstance(name, str) or not name:
        raise p.fail(("name",), f"expected text, got {_show(name)}")
    description = top.get("description", "")
    if not isinstance(description, str):
        raise p.fail(("description",), f"expected text, got {_show(description)}")

    raw_sizes = top.get("input_sizes", [32])
    if not isinstance(raw_sizes, list) or not raw_sizes:
        raise p.fail(("input_sizes",), "expected a non-empty list of integers")
    sizes = tuple(
        p.value(s, ("input_sizes", i), *int_at_least(1)) for i, s in enumerate(raw_sizes)
    )
    min_feature = p.value(top.get("min_feature_size", 2), ("min_feature_size",), *int_at_least(1))

    activation = p.dist(
        top.get("activation", "relu"),
        ("activation",),
        lambda v: v in ACTIVATIONS,
        f"one of {', '.join(ACTIVATIONS)}",
    )
    multiplier = p.dist(
        top.get("width_multiplier", 1.0),
        ("width_multiplier",),
        lambda v: is_number(v) and 0 < v <= 8,
        "a number in (0, 8]",
    )

    raw_stem = p.mapping(
        top.get("stem"), ("stem",), ("block", "out_channels", "kernel_size", "stride", "pool")
    )
    stem_block = p.dist(
        raw_stem.get("block", "plain"),
        ("stem", "block"),
        lambda v: v in blocks and not get_block(v).cls.keeps_channels,
        "a block that sets its width: " + ", ".join(blocks),
    )
    stem = StemSpec(
        block=stem_block,
        out_channels=p.dist(
            raw_stem.get("out_channels", 32), ("stem", "out_channels"), *int_at_least(1)
        ),
        kernel_size=p.dist(
            raw_stem.get("kernel_size", 3),
            ("stem", "kernel_size"),
            lambda v: is_int(v) and v >= 1 and v % 2 == 1,
            "an odd integer >= 1",
        ),
        stride=None
        if raw_stem.get("stride", "auto") == "auto"
        else p.dist(
            raw_stem["stride"],
            ("stem", "stride"),
            lambda v: v in (1, 2) and is_int(v),
            "1, 2 or auto",
        ),
        pool=None
        if raw_stem.get("pool", "auto") == "auto"
        else p.dist(
            raw_stem["pool"],
            ("stem", "pool"),
            lambda v: isinstance(v, bool),
            "true, false or auto",
        ),
    )

    raw_stages = top.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise p.fail(("stages",), "expected a non-empty list of stages")
    stages = tuple(_parse_stage(p, raw, ("stages", i), blocks) for i, raw in enumerate(raw_stages))
    num_stages = p.dist(
        top.get("num_stages", len(stages)),
        ("num_stages",),
        lambda v: is_int(v) and 1 <= v <= len(stages),
        f"an integer from 1 to {len(stages)} (the number of stages listed)",
    )

    raw_head = p.mapping(
        top.get("head"), ("head",), ("conv_channels", "pool", "dropout", "hidden")
    )
    hidden = raw_head.get("hidden", [])
    if not isinstance(hidden, list):
        raise p.fail(("head", "hidden"), f"expected a list of integers, got {_show(hidden)}")
    head = HeadSpec(
        conv_channels=p.dist(
            raw_head.get("conv_channels", 0), ("head", "conv_channels"), *int_at_least(0)
        ),
        pool=p.dist(
            raw_head.get("pool", "avg"), ("head", "pool"), lambda v: v in HEAD_POOLS, "avg or max"
        ),
        dropout=p.dist(
            raw_head.get("dropout", 0.0),
            ("head", "dropout"),
            lambda v: is_number(v) and 0 <= v < 1,
            "a number in [0, 1)",
        ),
        hidden=tuple(
            p.value(h, ("head", "hidden", i), *int_at_least(1)) for i, h in enumerate(hidden)
        ),
    )

    raw_hp = p.mapping(top.get("hyperparameters"), ("hyperparameters",), tuple(HYPERPARAMETERS))
    hyperparameters = {
        key: p.dist(value, ("hyperparameters", key), *HYPERPARAMETERS[key])
        for key, value in raw_hp.items()
    }
    return SearchSpace(
        name=name,
        description=description,
        source=source,
        input_sizes=sizes,
        min_feature_size=min_feature,
        activation=activation,
        width_multiplier=multiplier,
        stem=stem,
        num_stages=num_stages,
        stages=stages,
        head=head,
        hyperparameters=hyperparameters,
    )


def _parse_stage(p: _Parser, raw: Any, path: Path, blocks: list[str]) -> StageSpec:
    stage = p.mapping(raw, path)
    block = p.dist(
        stage.get("block"),
        (*path, "block"),
        lambda v: v in blocks,
        "a registered block: " + ", ".join(blocks),
    )
    if "block" not in stage:
        raise p.fail((*path, "block"), "missing: every stage names its block type(s)")
    kinds = block.values() or []
    per_block = stage.get("per_block", False)
    if not isinstance(per_block, bool):
        raise p.fail((*path, "per_block"), f"expected true or false, got {_show(per_block)}")

    options: dict[str, Distribution] = {}
    block_options: dict[str, dict[str, Distribution]] = {}
    for key, value in stage.items():
        if key in STAGE_FIELDS:
            continue
        takers = [k for k in kinds if key in get_block(k).options]
        # An option some chosen block takes wins over a block-named section ('se' is both).
        if key in blocks and not takers:
            if key not in kinds:
                raise p.fail(
                    (*path, key),
                    f"options for block '{key}', which this stage's 'block' never picks",
                )
            own = p.mapping(value, (*path, key))
            block_options[key] = {
                name: _option_dist(p, (*path, key, name), [key], name, v)
                for name, v in own.items()
            }
            continue
        if not takers:
            known = sorted({o for k in kinds for o in get_block(k).options} | set(STAGE_FIELDS))
            raise p.fail(
                (*path, key), _unknown("key", key, known) + ", for blocks " + ", ".join(kinds)
            )
        options[key] = _option_dist(p, (*path, key), takers, key, value)

    return StageSpec(
        out_channels=p.dist(stage.get("out_channels"), (*path, "out_channels"), *int_at_least(1)),
        depth=p.dist(stage.get("depth", 1), (*path, "depth"), *int_at_least(1)),
        stride=p.dist(
            stage.get("stride", 1),
            (*path, "stride"),
            lambda v: is_int(v) and v in (1, 2),
            "1 or 2",
        ),
        block=block,
        per_block=per_block,
        options=options,
        block_options=block_options,
    )


def _option_dist(p: _Parser, path: Path, kinds: list[str], option: str, raw: Any) -> Distribution:
    """A block option's distribution; every value must suit every block type that takes it."""
    problems: dict[Any, str] = {}

    def check(value: Any) -> bool:
        for kind in kinds:
            try:
                check_option(kind, option, value)
            except ArchsearchError as err:
                problems[repr(value)] = getattr(err, "reason", str(err))
                return False
        return True

    expected = f"a valid '{option}' for {', '.join(kinds)}"
    try:
        return p.dist(raw, path, check, expected)
    except SpaceError as err:
        if problems:
            reason = next(iter(problems.values()))
            raise SpaceError(err.source, err.field, f"{err.reason} ({reason})", err.line) from None
        raise


def parse_hyperparameter(name: str, raw: Any, source: str) -> Distribution:
    """One training hyperparameter's distribution from plain data, checked as the space
    file's ``hyperparameters`` section checks it (``{low, high, log?}``, ``{choices}``, a
    value). Errors name ``source``."""
    p = _Parser(source, {})
    if name not in HYPERPARAMETERS:
        raise p.fail((), _unknown("hyperparameter", name, tuple(HYPERPARAMETERS)))
    return p.dist(raw, (), *HYPERPARAMETERS[name])
