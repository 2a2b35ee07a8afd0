"""Guideline findings fire on purpose-built bad layers and stay quiet on good ones."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from archsearch import Architecture, BlockSpec, build_model, zoo
from archsearch.blocks import create_block
from archsearch.profiler import profile_model
from archsearch.profiler.guidelines import g1_excess, g2_increase


def guidelines(result) -> list[str]:
    return [f.guideline for f in result.findings]


def test_g1_fires_on_a_1_to_12_pointwise_conv() -> None:
    result = profile_model(nn.Conv2d(9, 108, 1, bias=False), (1, 9, 56, 56))
    (finding,) = result.findings
    assert finding.guideline == "G1" and finding.layer == ""
    # hw = 3136, B = 3136*9*108: MAC = 3136*117 + 972 = 367884;
    # bound = 2*sqrt(3136*B) + B/3136 = 2*3136*sqrt(972) + 972 = 196518.6 -> +87.2%
    mac, excess = g1_excess(3136, 9, 108)
    assert mac == 367_884 and excess == pytest.approx(87.2, abs=0.1)
    assert finding.figure == round(excess, 1)


def test_g1_quiet_on_balanced_and_mild_ratios() -> None:
    assert profile_model(nn.Conv2d(64, 64, 1, bias=False), (1, 64, 28, 28)).findings == []
    assert profile_model(nn.Conv2d(45, 90, 1, bias=False), (1, 45, 28, 28)).findings == []


def test_g2_fires_on_eight_groups() -> None:
    conv = nn.Conv2d(64, 64, 1, groups=8, bias=False)
    (finding,) = profile_model(conv, (1, 64, 28, 28)).findings
    assert finding.guideline == "G2"
    # grouped: 784*64 + 512 + 784*64 = 100864; dense at equal FLOPs (8 outputs): 784*64 + 512
    # + 784*8 = 56960 -> +77.1%
    assert g2_increase(784, 784, 64, 64, 8, 1) == pytest.approx(100 * (100864 / 56960 - 1))
    assert finding.figure == pytest.approx(77.1, abs=0.05)
    assert profile_model(nn.Conv2d(64, 64, 1, groups=1), (1, 64, 28, 28)).findings == []


def test_g3_fires_on_four_parallel_fragments() -> None:
    inception = Architecture(
        stem=(BlockSpec.make("plain", 32),), stages=((BlockSpec.make("inception", 64),),)
    )
    result = profile_model(inception, (1, 3, 16, 16), num_classes=10)
    (block,) = [b for b in result.blocks if b.block == "stages.0.0"]
    # 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | pool -> 1x1: four fragments read the input; two in series
    assert (block.parallel, block.serial, block.fragments) == (4, 2, 7)
    assert [f.layer for f in result.findings if f.guideline == "G3"] == ["stages.0.0"]


def test_balanced_shufflenet_v2_unit_has_no_findings() -> None:
    unit = nn.Sequential(create_block("shuffle", 116, 116, 1))
    result = profile_model(unit, (1, 116, 28, 28))
    assert result.findings == []
    assert [(b.parallel, b.serial) for b in result.blocks] == [(1, 3)]


def test_g4_share_and_summary() -> None:
    result = profile_model(zoo.get("resnet50"), (1, 3, 224, 224))
    summary = result.summary()
    kinds = result.by_operator()
    elementwise = kinds.loc[["norm", "activation", "elementwise add"], "mac"].sum()
    assert summary["elementwise_mac_share"] == pytest.approx(elementwise / result.mac)
    assert summary["mac_per_flop"] == pytest.approx(result.mac / result.flops)
    assert "G4" in guidelines(result)  # BN + ReLU + adds are 55% of ResNet-50's traffic
    assert summary["max_parallel_branches"] == 2  # the projection shortcut


def test_views_sum_to_the_totals() -> None:
    result = profile_model(zoo.get("mobilenet_v2"), (1, 3, 224, 224))
    kinds = result.by_operator()
    modules = result.by_module()
    assert kinds["flops"].sum() == modules["flops"].sum() == result.flops
    assert kinds["mac"].sum() == modules["mac"].sum() == result.mac
    assert kinds.loc["depthwise conv", "ops"] == 17
    top = result.by_module(depth=1)
    assert list(top.index) == ["stem", "stages", "head"]


def test_timed_run_splits_measured_time_by_kind() -> None:
    from archsearch.profiler.latency import time_by_kind

    threads = torch.get_num_threads()
    shares = time_by_kind(build_model(zoo.get("resnet18"), 10), (1, 3, 32, 32), "cpu", threads=1)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert set(shares) == {"conv", "norm", "activation", "elementwise add", "pooling", "linear"}
    assert shares["conv"] > 0.3
    assert torch.get_num_threads() == threads  # the thread count is restored
