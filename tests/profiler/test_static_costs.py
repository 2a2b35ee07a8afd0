"""The search loop's cached block-by-block totals (from a built network, or straight from an
Architecture) equal the whole-network profile."""

from __future__ import annotations

import pytest
import torch

import archsearch
from archsearch import build_model, zoo
from archsearch.architecture import Architecture, BlockSpec, Head
from archsearch.profiler import ELEMENTWISE_KINDS, profile_model
from archsearch.profiler import static as static_module
from archsearch.profiler.static import StaticCosts, architecture_costs, static_costs


def whole_network(model: torch.nn.Module, shape: tuple[int, int, int, int]) -> StaticCosts:
    profile = profile_model(model, shape)
    elementwise = profile.layers.loc[profile.layers["kind"].isin(ELEMENTWISE_KINDS), "mac"]
    return StaticCosts(
        profile.params,
        profile.flops,
        profile.mac,
        int(elementwise.sum()),
        tuple(sorted(profile.unsupported_ops)),
    )


@pytest.mark.parametrize("space", ["mobile", "resnet", "inception", "mixed"])
def test_block_by_block_totals_equal_the_whole_network(space: str) -> None:
    for size, channels in ((8, 1), (32, 3)):
        for arch in archsearch.load_space(space).sample(6, seed=5, input_size=size):
            model = build_model(arch, 10, channels)
            shape = (1, channels, size, size)
            assert static_costs(model, shape) == whole_network(model, shape), str(arch)


@pytest.mark.parametrize("space", ["mobile", "resnet", "inception", "mixed"])
def test_costs_from_the_architecture_alone_equal_the_whole_network(space: str) -> None:
    for size, channels in ((8, 1), (28, 3)):
        static_module._CACHE.clear()  # every block built on its own here, not taken from a net
        for arch in archsearch.load_space(space).sample(6, seed=7, input_size=size):
            shape = (1, channels, size, size)
            expected = whole_network(build_model(arch, 10, channels), shape)
            assert architecture_costs(arch, shape, 10) == expected, str(arch)
            assert architecture_costs(arch, shape, 10) == expected  # from the cache


def test_costs_from_the_architecture_of_a_zoo_network() -> None:
    static_module._CACHE.clear()
    arch = zoo.get("resnet18")
    with torch.device("meta"):
        model = build_model(arch, 1000)
    # torchvision's ResNet-18: 11,689,512 parameters, 1.81G multiply-adds at 224x224 (its docs)
    costs = architecture_costs(arch, (1, 3, 224, 224), 1000)
    assert costs == whole_network(model, (1, 3, 224, 224))
    assert costs.params == 11_689_512
    assert round(costs.flops / 1e9, 2) == 1.81


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "shufflenet_v2_x1_0"])
def test_zoo_totals_equal_the_whole_network(name: str) -> None:
    with torch.device("meta"):
        model = build_model(zoo.get(name), 1000)
    shape = (1, 3, 64, 64)
    assert static_costs(model, shape) == whole_network(model, shape)


def test_a_block_seen_before_is_not_counted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    static_module._CACHE.clear()
    counted: list[tuple[int, ...]] = []
    real_count = static_module._count

    def spy(module: torch.nn.Module, shape: tuple[int, ...]) -> StaticCosts:
        counted.append(shape)
        return real_count(module, shape)

    monkeypatch.setattr(static_module, "_count", spy)
    conv = BlockSpec.make("plain", 8, kernel_size=3)

    def network(*stage: BlockSpec) -> Architecture:
        return Architecture(stem=(conv,), stages=(stage,), head=Head())

    first = static_costs(build_model(network(conv, conv), 10, 1), (1, 1, 8, 8))
    # stem (1x8x8 in), stage block (8x8x8 in; its twin hits the cache), head
    assert counted == [(1, 1, 8, 8), (1, 8, 8, 8), (1, 8, 8, 8)]
    counted.clear()
    second = static_costs(build_model(network(conv, conv, conv), 10, 1), (1, 1, 8, 8))
    assert counted == []  # every block and the head seen before
    # one more 3x3 conv 8→8 on 8x8: 8*8*3*3 * 8*8 = 36,864 multiply-adds, 584 params
    # (576 weights + BatchNorm's 8 scales and 8 shifts)
    assert second.flops - first.flops == 8 * 8 * 3 * 3 * 8 * 8
    assert second.params - first.params == 8 * 8 * 3 * 3 + 16
