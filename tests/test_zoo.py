"""Reference networks: exact parameter counts of the canonical implementations."""

from __future__ import annotations

import pytest
import torch

from archsearch import build_model, zoo
from archsearch.build import count_parameters

# torchvision's counts (1000 classes, 3 input channels); se_resnet50 computed from Hu et al.'s
# layout: ResNet-50 + per block 2*C*C/16 + C/16 + C, C = 256/512/1024/2048 x 3/4/6/3 blocks
EXACT = {
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


@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_parameter_count(name: str) -> None:
    assert count_parameters(zoo.get(name), num_classes=1000, in_channels=3) == EXACT[name]
    assert zoo.info(name).params == EXACT[name]


def test_se_resnet50_matches_its_paper() -> None:
    # Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018, Table 2: 28.1M
    assert abs(EXACT["se_resnet50"] - 28.1e6) / 28.1e6 < 0.005


@pytest.mark.parametrize("name", sorted(EXACT))
def test_forward_at_224_gives_1000_logits(name: str) -> None:
    arch = zoo.get(name)
    with torch.device("meta"):
        model = build_model(arch, num_classes=1000, in_channels=3, input_size=224)
        logits = model(torch.empty(1, 3, 224, 224))
    assert logits.shape == (1, 1000)
    # the block shape inference agrees with what PyTorch computes
    with torch.device("meta"):
        features = model.forward_features(torch.empty(1, 3, 224, 224))
    assert (
        tuple(features.shape[1:])
        == arch.infer_shapes(3, 224)[-1].out_shape
        == (features.shape[1], 7, 7)
    )


def test_a_zoo_network_really_runs_on_cpu() -> None:
    model = build_model(zoo.get("shufflenet_v2_x0_5"), num_classes=10).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown zoo model 'resnet19'"):
        zoo.get("resnet19")
