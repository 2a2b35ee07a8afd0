"""Reference networks: exact parameter counts of the canonical implementations."""

from __future__ import annotations

import pytest
import torch

from archsearch import build_model, zoo
from archsearch.build import count_parameters

# torchvision's counts (1000 classes, 3 input channels); se_resnet50 computed from Hu et al.'s
# layout: ResNet-50 + per block 2*C*C/16 + C/16 + C, C = 256/512/1024/2048 x 3/4/6/3 blocks.
# LeNet-5 at its own input (10 classes, 1 channel, 32x32): C1 6*(25+1) = 156, C3 16*(6*25+1)
# = 2,416, C5 400*120+120 = 48,120, F6 120*84+84 = 10,164, output 84*10+10 = 850.
# AlexNet (torchvision): convs 23,296 + 307,392 + 663,936 + 884,992 + 590,080, linears
# 9216*4096+4096 = 37,752,832, 4096*4096+4096 = 16,781,312, 4096*1000+1000 = 4,097,000.
EXACT = {
    "lenet5": 156 + 2_416 + 48_120 + 10_164 + 850,
    "alexnet": 23_296
    + 307_392
    + 663_936
    + 884_992
    + 590_080
    + 37_752_832
    + 16_781_312
    + 4_097_000,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "vgg16": 138_357_544,
    "googlenet": 6_624_904,
    "mobilenet_v1": 4_231_976,
    "mobilenet_v2": 3_504_872,
    "shufflenet_v2_x0_5": 1_366_792,
    "shufflenet_v2_x1_0": 2_278_604,
    "shufflenet_v2_x1_5": 3_503_624,
    "shufflenet_v2_x2_0": 7_393_996,
    "se_resnet50": 25_557_032 + 3 * 8_464 + 4 * 33_312 + 6 * 132_160 + 3 * 526_464,
}


def test_zoo_names() -> None:
    assert zoo.names() == list(zoo.names()) and set(zoo.names()) == set(EXACT)


def test_the_issues_canonical_counts() -> None:
    assert (EXACT["lenet5"], EXACT["alexnet"]) == (61_706, 61_100_840)


@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_parameter_count(name: str) -> None:
    entry = zoo.info(name)
    assert count_parameters(zoo.get(name), entry.num_classes, entry.in_channels) == EXACT[name]
    assert entry.params == EXACT[name]


def test_se_resnet50_matches_its_paper() -> None:
    # Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018, Table 2: 28.1M
    assert abs(EXACT["se_resnet50"] - 28.1e6) / 28.1e6 < 0.005


# the last feature map at the canonical input: 224 / 32 = 7 for the ImageNet networks;
# AlexNet 224 -> 55 (11x11/4, padding 2) -> 27 -> 13 -> 6; LeNet-5 32 -> 28 -> 14 -> 10 -> 5
LAST_MAP = {"alexnet": 6, "lenet5": 5}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_forward_at_the_canonical_input(name: str) -> None:
    arch, entry = zoo.get(name), zoo.info(name)
    shape = (1, entry.in_channels, entry.input_size, entry.input_size)
    with torch.device("meta"):
        model = build_model(arch, entry.num_classes, entry.in_channels, entry.input_size)
        logits = model(torch.empty(shape))
        features = model.forward_features(torch.empty(shape))
    assert logits.shape == (1, entry.num_classes)
    # the block shape inference agrees with what PyTorch computes
    side = LAST_MAP.get(name, 7)
    assert (
        tuple(features.shape[1:])
        == arch.infer_shapes(entry.in_channels, entry.input_size)[-1].out_shape
        == (features.shape[1], side, side)
    )


def test_a_zoo_network_really_runs_on_cpu() -> None:
    model = build_model(zoo.get("shufflenet_v2_x0_5"), num_classes=10).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_lenet5_is_tanh_average_pooling_without_padding() -> None:
    model = build_model(zoo.get("lenet5"), num_classes=10, in_channels=1)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.padding, c.bias is not None) for c in convs] == [
        ((5, 5), (0, 0), True)
    ] * 2
    assert sum(isinstance(m, torch.nn.Tanh) for m in model.modules()) == 4  # C1, C3, C5, F6
    assert sum(isinstance(m, torch.nn.AvgPool2d) for m in model.modules()) == 2
    with torch.inference_mode():
        assert model.eval()(torch.randn(3, 1, 32, 32)).shape == (3, 10)


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown zoo model 'resnet19'"):
        zoo.get("resnet19")
