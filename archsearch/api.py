"""The Python way in: a search in a notebook or a script, on data as the user holds it.

    import archsearch
    result = archsearch.search("mobile", data=(x_train, y_train), timeout=600)
    result.front            # the Pareto-optimal networks, a DataFrame
    result.report           # the HTML report
    final = archsearch.train_final(result.name, epochs=30)    # `archsearch train`
    archsearch.tune(model="lenet5", data=(x_train, y_train))  # `archsearch tune`

The run's options are :class:`~archsearch.runs.RunConfig`'s, by the same names, defaults and
checks as the command line's flags (``--train-limit`` is ``train_limit=``). Data that is not
a data-set name (arrays, tensors, a torch ``Dataset``, an :class:`archsearch.data.Dataset`) is
checked, written once into the run's folder as ``data-<digest>.npz`` and read from there like
``npz:FILE``: the run resumes with the same call, its workers read the same file, and a call
with other data under the same run name is refused instead of mixed in.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .architecture import Architecture
from .data import as_image_arrays, save_npz
from .errors import ConfigError
from .runs.config import _GROUPS, DEFAULT_TRIALS, RunConfig, RunProgress, RunResult

if TYPE_CHECKING:
    from .runs.final import FinalResult

Result = TypeVar("Result")


def search(
    space: str = "mobile",
    data: Any = "digits",
    *,
    objectives: Sequence[str] = ("accuracy", "flops"),
    trials: int = DEFAULT_TRIALS,
    timeout: float | None = None,
    progress: bool = True,
    **options: Any,
) -> RunResult:
    """Search ``space`` (a built-in name or a YAML file) on ``data`` and return the run.

    ``data``: a data-set name as on the command line (``"digits"``, ``"mnist:DIR"``,
    ``"npz:FILE"``, ...); ``(x, y)`` or ``(x_train, y_train, x_test, y_test)`` as numpy arrays
    or torch tensors, images (N, H, W), (N, C, H, W) or (N, H, W, C), uint8 or float, labels
    any integers; a map-style torch ``Dataset`` of (image, label); or an
    :class:`archsearch.data.Dataset` (its splits kept). ``options``: any other run option
    (``searcher="random"``, ``train_limit=5000``, ``name=``, ``runs_dir=`` ...).

    Ctrl-C (a notebook's interrupt) stops the search cleanly: the front so far is tested and
    reported, the result says ``interrupted``, and the same call resumes the study.
    """
    from .runs import run_search

    _check_names(options, {*RunConfig().options(), *_GROUPS}, "a run")
    config = RunConfig.from_options(
        space=space, objectives=tuple(objectives), trials=trials, timeout=timeout, **options
    )
    dataset, written = dataset_text(data, config.run_dir)
    config = RunConfig.from_options(**{**config.options(), "dataset": dataset})
    return _with_trial_bar(
        config,
        progress,
        written,
        lambda bar: run_search(config, progress=bar, finish_interrupted=True),
    )


def tune(
    model: str | None = None,
    *,
    arch: str | Architecture | None = None,
    data: Any = "digits",
    sampler: str = "random",
    trials: int = 20,
    hyperparameters: dict[str, str] | None = None,
    pruner: str = "median",
    progress: bool = True,
    **options: Any,
) -> RunResult:
    """Tune the training of one network (``archsearch tune``): a zoo ``model``, or ``arch``
    (an :class:`Architecture` or its JSON file). ``hyperparameters``: name → the flag's text
    (``{"lr": "1e-4:1e-1:log", "batch_size": "32,64"}``); none: the hyperparameters section of
    ``space=`` (default mobile) is searched. ``data`` and ``options`` as for :func:`search`;
    a Ctrl-C ends the tuning as it ends a search."""
    from .networks import pick_network
    from .runs.tune import tune as tune_fixed
    from .runs.tune import tune_config

    if isinstance(arch, Architecture):
        architecture, label = arch, arch.id
    else:
        picked = pick_network(model=model, arch=arch)
        architecture, label = picked.architecture, model or Path(arch or "arch").stem
    # what tune_config sets itself (one objective, accuracy; no proxies) is not an option here
    fixed = {"searcher", "pruner", "objectives", "proxies", *_GROUPS}
    _check_names(options, {f.name for f in fields(RunConfig)} - fixed, "a tuning run")
    config = tune_config(sampler, pruner, label=label, trials=trials, **options)
    dataset, written = dataset_text(data, config.run_dir)
    config = RunConfig.from_options(**{**config.options(), "dataset": dataset})
    texts = {k: str(v) for k, v in (hyperparameters or {}).items()}
    return _with_trial_bar(
        config,
        progress,
        written,
        lambda bar: tune_fixed(config, architecture, texts, progress=bar, finish_interrupted=True),
    )


def train_final(
    run: str | None = None, *, data: Any = None, progress: bool = True, **options: Any
) -> FinalResult:
    """Train one network to the end (``archsearch train``): ``run``'s trial ``trial=`` or, by
    default, its best for ``objective=`` (accuracy); or ``arch=`` (a JSON file) or ``model=``
    (a zoo name). ``data``: by default the run's own (arrays a search was given included: the
    run kept them), else as for :func:`search`. ``options``: :class:`~archsearch.runs.
    FinalConfig`'s fields (``epochs=30``, ``ema_decay=0.999``, ``hyperparameters={...}``,
    ``output="trained"``). The same call after a kill or Ctrl-C resumes from the last epoch."""
    from .runs import FinalConfig
    from .runs import train_final as train_network

    _check_names(options, {f.name for f in fields(FinalConfig)}, "a final training")
    output = Path(options.get("output", FinalConfig.output))
    dataset = None if data is None else dataset_text(data, output)[0]
    config = FinalConfig(run=run, dataset=dataset, **options)
    if not progress:
        return train_network(config)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()) as bar:
        task = bar.add_task("training", total=config.epochs)
        return train_network(
            config,
            on_start=lambda what, epochs: bar.update(task, description=what, total=epochs),
            on_progress=lambda result, _: bar.update(task, completed=result.epochs),
        )


def dataset_text(data: Any, folder: Path) -> tuple[str, Path | None]:
    """``data`` as a data-set name: a name as given; anything else checked and written once
    as ``folder/data-<digest>.npz`` (returned too when this call wrote it)."""
    if isinstance(data, str | PathLike):
        return str(data), None
    arrays = as_image_arrays(data)
    file = folder / f"data-{arrays.digest()}.npz"
    written = None if file.is_file() else save_npz(arrays, file)
    return f"npz:{file}", written


def _with_trial_bar(
    config: RunConfig,
    progress: bool,
    written: Path | None,
    start: Callable[[RunProgress | None], Result],
) -> Result:
    try:
        if not progress:
            return start(None)
        with _TrialBar(config.run_name, config.trials) as bar:
            return start(bar.progress)
    except ConfigError as err:
        if written is not None and err.field == "dataset":  # a run of other data: not ours
            written.unlink(missing_ok=True)
        raise


def _check_names(options: dict[str, Any], known: Iterable[str], what: str) -> None:
    """An option that is not one: one error naming it and the nearest names."""
    names = sorted(known)
    for name in options:
        if name not in names:
            near = difflib.get_close_matches(name, names, n=2)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            raise ConfigError(name, f"not an option of {what}{hint}")


class _TrialBar:
    """A progress bar of judged trials (rich: a terminal or a notebook), best values beside."""

    def __init__(self, name: str, trials: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[best]}"),
        )
        self.task = self.bar.add_task(f"run {name}", total=trials, best="")
        self.progress = RunProgress(
            on_start=lambda _, done, total: self.bar.update(
                self.task, completed=done, total=total
            ),
            on_trial=self._on_trial,
            on_message=self.bar.console.print,
        )

    def _on_trial(self, trial: Any, best: dict[str, float], done: int) -> None:
        from .study import format_value

        text = "  ".join(f"{k} {format_value(k, v)}" for k, v in best.items())
        self.bar.update(self.task, completed=done, best=text)

    def __enter__(self) -> _TrialBar:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()
