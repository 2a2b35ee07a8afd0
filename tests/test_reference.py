"""The by-hand baseline: zoo networks fitted to a small input, trained as candidates."""

from __future__ import annotations

from pathlib import Path

import pytest

from archsearch import zoo
from archsearch.runs import RunConfig, run_search
from archsearch.searchers.reference import REFERENCE_NETWORKS
from archsearch.space import fit_to_input
from archsearch.study import completed, record_of


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "shufflenet_v2_x0_5"])
def test_at_imagenet_size_and_full_width_a_network_is_unchanged(name: str) -> None:
    # 224 px: the stem keeps its stride (>= 64) and max-pool (>= 128), and 224 / 32 = 7 >= 2
    assert fit_to_input(zoo.get(name), (224, 224), 1.0) == zoo.get(name)


def test_mobilenet_v2_fitted_to_8x8_digits() -> None:
    arch = fit_to_input(zoo.get("mobilenet_v2"), (8, 8), 0.25)
    # below 64 px the stem runs at stride 1; of the four stride-2 stages, 8 -> 4 -> 2 keeps
    # two, and the next would go below 2x2, so it runs at stride 1 (the space's rule)
    assert arch.stem[0].stride == 1
    strides = [block.stride for stage in arch.stages for block in stage]
    assert strides.count(2) == 2
    # widths x 0.25 rounded to a multiple of 8: 32 -> 8, 24 -> 8, 320 -> 80; head 1280 -> 320
    assert arch.stem[0].out_channels == 8
    assert arch.stages[1][0].out_channels == 8 and arch.stages[-1][0].out_channels == 80
    assert arch.head.conv_channels == 320
    arch.infer_shapes(1, (8, 8))  # a valid network


def test_zoo_searcher_trains_each_reference_network_once(tmp_path: Path) -> None:
    config = RunConfig(
        space="mobile",
        dataset="synthetic",
        searcher="zoo",
        epochs=1,
        device="cpu",
        name="z",
        runs_dir=str(tmp_path / "runs"),
        reports_dir=str(tmp_path / "reports"),
    )
    assert config.pruner_name == "none"
    study = run_search(config).study
    labels = [record_of(t)["reference_network"] for t in completed(study)]
    assert labels == [f"{name}@{m:g}" for name, m in REFERENCE_NETWORKS]
    again = run_search(config).study  # resumed: nothing trained twice
    assert len(again.trials) == len(REFERENCE_NETWORKS)
