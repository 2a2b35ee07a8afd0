"""Tuning the training hyperparameters of one fixed architecture (``archsearch tune``).

Hyperparameters come from a space file's ``hyperparameters`` section, or from short texts —
``1e-4:1e-1:log`` (a log range), ``32,64`` (choices), ``0.9`` (a value) — which are read into
the space file's own form and checked by the space's own parser, so a value a space file
refuses is refused here too, with the same message.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import yaml

from ..architecture import Architecture
from ..errors import ConfigError, SpaceError, choice
from ..objective import Candidates
from ..searchers import grid_size
from ..space import Distribution, load_space, parse_hyperparameter
from ._loop import search_grid
from .config import Pruner, RunConfig, RunProgress, RunResult
from .search import run_search

TuneSampler = Literal["random", "grid"]
TUNE_SAMPLERS: tuple[TuneSampler, ...] = get_args(TuneSampler)


def parse_hyperparameter_text(name: str, text: str) -> Distribution:
    """``1e-4:1e-1:log`` → a log range; ``32,64`` → choices; ``0.9`` → a fixed value."""
    try:
        return parse_hyperparameter(name, _as_space_data(name, text), f"'{text}'")
    except SpaceError as error:
        raise ConfigError(name, f"'{text}': {error.reason}") from None


def _as_space_data(name: str, text: str) -> Any:
    """The text as a space file would write it (its scalars read as YAML reads them)."""

    def scalar(part: str) -> Any:
        try:
            return yaml.safe_load(part.strip())
        except yaml.YAMLError:
            return part.strip()

    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
            raise ConfigError(name, f"'{text}': expected LOW:HIGH or LOW:HIGH:log")
        return {"low": scalar(parts[0]), "high": scalar(parts[1]), "log": len(parts) == 3}
    if "," in text:
        return {"choices": [scalar(p) for p in text.split(",") if p.strip()]}
    return scalar(text)


def tune_config(
    sampler: str,
    pruner: str,
    *,
    label: str,
    name: str | None = None,
    **options: Any,
) -> RunConfig:
    """The run of tuning one network (``label``) with ``sampler`` (random or grid): one
    objective, accuracy; no proxies (one network: its scores would rank nothing). ``options``
    are other :class:`RunConfig` fields; errors name ``sampler`` where the run says searcher."""
    try:
        return RunConfig(
            searcher=choice("sampler", sampler, TUNE_SAMPLERS),
            pruner=choice("pruner", pruner, get_args(Pruner)),
            objectives=("accuracy",),
            name=name or f"tune-{label}-{sampler}",
            proxies=(),
            **options,
        )
    except ConfigError as error:
        raise ConfigError(
            "sampler" if error.field == "searcher" else error.field, error.reason
        ) from None


def tune(
    config: RunConfig,
    architecture: Architecture,
    hyperparameters: dict[str, str],
    *,
    progress: RunProgress | None = None,
    finish_interrupted: bool = False,
) -> RunResult:
    """Tune ``architecture``'s training with ``config.searcher`` (random or grid).

    ``hyperparameters`` maps names to texts (see :func:`parse_hyperparameter_text`); without
    any, the hyperparameters section of ``config.space`` is searched. ``finish_interrupted``:
    as :func:`.search.run_search`'s.
    """
    if config.searcher not in TUNE_SAMPLERS:
        raise ConfigError("searcher", f"'{config.searcher}': choose random or grid")
    given = {k: parse_hyperparameter_text(k, v) for k, v in hyperparameters.items()}
    searched = given or dict(load_space(config.space).hyperparameters)
    candidates = Candidates(
        architecture=architecture, hyperparameters=searched, epochs=config.epochs
    )
    progress = progress or RunProgress()
    if config.searcher == "grid" and progress.on_message is not None:
        progress.on_message(f"grid: {grid_size(search_grid(candidates))} points")
    # what must match for a re-run to continue: the architecture and which flags were given
    text = f"tune {architecture.to_json()} {sorted(given)}"
    return run_search(
        config,
        candidates=candidates,
        space_text=text,
        progress=progress,
        finish_interrupted=finish_interrupted,
    )
