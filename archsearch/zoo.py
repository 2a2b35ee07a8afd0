"""Reference networks written as :class:`Architecture` data, with their published sizes.

Each entry builds exactly the canonical implementation's layout (torchvision's where one
exists), so parameter counts for its canonical input (1000 classes, 3 channels at 224x224 for
the ImageNet networks; 10 classes, 1 channel at 32x32 for LeNet-5) match to the unit. The
``paper_flops`` figures (multiply-adds at that input) are the papers', for the profiler's tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .architecture import Architecture, BlockSpec, Head
from .errors import ArchsearchError

B = BlockSpec.make


@dataclass(frozen=True)
class ZooEntry:
    name: str
    build: Callable[[], Architecture]
    paper: str
    params: int  # the canonical implementation's count at the canonical input below
    paper_flops: float  # multiply-adds at the canonical input as the paper reports them
    num_classes: int = 1000
    in_channels: int = 3
    input_size: int = 224


_ZOO: dict[str, ZooEntry] = {}


def _register(
    name: str, paper: str, params: int, paper_flops: float, **canonical_input: int
) -> Callable[[Callable[[], Architecture]], Callable[[], Architecture]]:
    def decorate(fn: Callable[[], Architecture]) -> Callable[[], Architecture]:
        if name in _ZOO:
            raise RuntimeError(f"duplicate zoo entry '{name}'")
        _ZOO[name] = ZooEntry(name, fn, paper, params, paper_flops, **canonical_input)
        return fn

    return decorate


def names() -> list[str]:
    """Names of the reference networks, in registration order."""
    return list(_ZOO)


def catalogue(num_classes: int = 1000, in_channels: int = 3) -> list[dict[str, object]]:
    """Every network with its parameter count for ``num_classes`` outputs and its paper."""
    from .build import count_parameters

    return [
        {
            "name": name,
            "params": count_parameters(get(name), num_classes, in_channels),
            "paper": info(name).paper,
        }
        for name in names()
    ]


def info(name: str) -> ZooEntry:
    try:
        return _ZOO[name]
    except KeyError:
        raise ArchsearchError(f"unknown zoo model '{name}' (known: {', '.join(_ZOO)})") from None


def get(name: str) -> Architecture:
    """The reference network ``name`` as an :class:`Architecture`."""
    return info(name).build()


# --- LeNet-5 and AlexNet: where every CNN course starts -------------------------------------
@_register(
    "lenet5",
    'LeCun et al., "Gradient-Based Learning Applied to Document Recognition", Proc. IEEE 1998'
    " (the classic variant: full C3 connections, average-pool subsampling, tanh)",
    61_706,
    416_520,
    num_classes=10,
    in_channels=1,
    input_size=32,
)
def lenet5() -> Architecture:
    # C1 6@28x28 (5x5, no padding) S2 → 14, C3 16@10x10 S4 → 5; C5 (a 5x5 conv over the 5x5
    # maps, i.e. a linear layer of 400 → 120), F6 84, output 10. Params: 156 + 2,416 + 48,120
    # + 10,164 + 850 = 61,706.
    conv = {"kernel_size": 5, "padding": 0, "norm": "none", "activation": "tanh"}
    pool = B("avgpool", None, 2, kernel_size=2)
    stages = ((B("plain", 6, 1, **conv), pool), (B("plain", 16, 1, **conv), pool))
    return Architecture(
        stem=(), stages=stages, head=Head(pool_size=5, hidden=(120, 84), activation="tanh")
    )


@_register(
    "alexnet",
    'Krizhevsky et al., "ImageNet Classification with Deep Convolutional Neural Networks",'
    " NeurIPS 2012 (torchvision's single-tower layout, 0.71G multiply-adds)",
    61_100_840,
    0.71e9,
)
def alexnet() -> Architecture:
    # torchvision's features: 11x11/4 (padding 2) 64, pool, 5x5 192, pool, 3x3 384, 256, 256,
    # pool; 6x6 adaptive pooling, then 9216 → 4096 → 4096 → classes with dropout 0.5 (here each
    # hidden layer is linear → ReLU → dropout; torchvision drops out before each linear: the
    # same layers and parameters).
    pool = B("maxpool", None, 2, kernel_size=3)
    convs = (B("plain", width, 1, kernel_size=3, norm="none") for width in (384, 256, 256))
    stages = (
        (B("plain", 64, 4, kernel_size=11, padding=2, norm="none"), pool),
        (B("plain", 192, 1, kernel_size=5, norm="none"), pool),
        (*convs, pool),
    )
    head = Head(pool_size=6, hidden=(4096, 4096), dropout=0.5)
    return Architecture(stem=(), stages=stages, head=head)


# --- ResNet ----------------------------------------------------------------------------------
HE_2016 = 'He et al., "Deep Residual Learning for Image Recognition", CVPR 2016'
RESNET_STEM = (
    B("plain", 64, 2, kernel_size=7),
    B("maxpool", None, 2, kernel_size=3, padding=1),
)


def _resnet(
    block: str, depths: tuple[int, ...], widths: tuple[int, ...], **options: object
) -> Architecture:
    stages = tuple(
        tuple(
            B(block, width, 2 if i == 0 and s > 0 else 1, **options)  # type: ignore[arg-type]
            for i in range(depth)
        )
        for s, (depth, width) in enumerate(zip(depths, widths, strict=True))
    )
    return Architecture(stem=RESNET_STEM, stages=stages, head=Head())


@_register("resnet18", HE_2016, 11_689_512, 1.8e9)
def resnet18() -> Architecture:
    return _resnet("residual", (2, 2, 2, 2), (64, 128, 256, 512))


@_register("resnet34", HE_2016, 21_797_672, 3.6e9)
def resnet34() -> Architecture:
    return _resnet("residual", (3, 4, 6, 3), (64, 128, 256, 512))


@_register("resnet50", HE_2016 + " (torchvision layout: stride on the 3x3)", 25_557_032, 4.1e9)
def resnet50() -> Architecture:
    return _resnet("bottleneck", (3, 4, 6, 3), (256, 512, 1024, 2048))


@_register(
    "se_resnet50",
    'Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018 (28.1M params, 3.87G)',
    28_088_024,
    3.87e9,
)
def se_resnet50() -> Architecture:
    return _resnet("bottleneck", (3, 4, 6, 3), (256, 512, 1024, 2048), se=True, se_ratio=0.0625)


# --- VGG -------------------------------------------------------------------------------------
@_register(
    "vgg16",
    'Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image'
    ' Recognition", ICLR 2015 (configuration D)',
    138_357_544,
    15.5e9,
)
def vgg16() -> Architecture:
    stages = []
    for depth, width in ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)):
        convs = [B("plain", width, 1, kernel_size=3, norm="none") for _ in range(depth)]
        stages.append((*convs, B("maxpool", None, 2, kernel_size=2)))
    head = Head(pool="avg", pool_size=7, hidden=(4096, 4096), dropout=0.5)
    return Architecture(stem=(), stages=tuple(stages), head=head)


# --- GoogLeNet -------------------------------------------------------------------------------
def _inception(c1: int, c3r: int, c3: int, c5r: int, c5: int, pool: int) -> BlockSpec:
    return B(
        "inception",
        c1 + c3 + c5 + pool,
        1,
        ch1x1=c1,
        ch3x3red=c3r,
        ch3x3=c3,
        ch5x5red=c5r,
        ch5x5=c5,
        pool_proj=pool,
        large_branch="3x3",
    )


@_register(
    "googlenet",
    'Szegedy et al., "Going Deeper with Convolutions", CVPR 2015 (torchvision layout, no'
    " auxiliary heads)",
    6_624_904,
    1.5e9,
)
def googlenet() -> Architecture:
    pool = B("maxpool", None, 2, kernel_size=3, ceil_mode=True)
    stem = (
        B("plain", 64, 2, kernel_size=7),
        pool,
        B("plain", 64, 1, kernel_size=1),
        B("plain", 192, 1, kernel_size=3),
        pool,
    )
    stages = (
        (_inception(64, 96, 128, 16, 32, 32), _inception(128, 128, 192, 32, 96, 64), pool),
        (
            _inception(192, 96, 208, 16, 48, 64),
            _inception(160, 112, 224, 24, 64, 64),
            _inception(128, 128, 256, 24, 64, 64),
            _inception(112, 144, 288, 32, 64, 64),
            _inception(256, 160, 320, 32, 128, 128),
            B("maxpool", None, 2, kernel_size=2, ceil_mode=True),
        ),
        (_inception(256, 160, 320, 32, 128, 128), _inception(384, 192, 384, 48, 128, 128)),
    )
    return Architecture(stem=stem, stages=stages, head=Head(dropout=0.2))


# --- MobileNets ------------------------------------------------------------------------------
@_register(
    "mobilenet_v1",
    'Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision'
    ' Applications", 2017 (569M mult-adds, 4.2M params)',
    4_231_976,
    569e6,
)
def mobilenet_v1() -> Architecture:
    plan = (
        (64, 1),
        (128, 2),
        (128, 1),
        (256, 2),
        (256, 1),
        (512, 2),
        *[(512, 1)] * 5,
        (1024, 2),
        (1024, 1),
    )
    blocks = tuple(B("dwsep", width, stride, kernel_size=3) for width, stride in plan)
    return Architecture(stem=(B("plain", 32, 2, kernel_size=3),), stages=(blocks,), head=Head())


@_register(
    "mobilenet_v2",
    'Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018'
    " (300M mult-adds, 3.4M params; torchvision layout)",
    3_504_872,
    300e6,
)
def mobilenet_v2() -> Architecture:
    # (expansion t, width c, repeats n, first stride s): Table 2 of the paper
    plan = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )
    stages = tuple(
        tuple(
            B("mbconv", c, s if i == 0 else 1, kernel_size=3, expansion=t, activation="relu6")
            for i in range(n)
        )
        for t, c, n, s in plan
    )
    head = Head(conv_channels=1280, dropout=0.2, activation="relu6")
    stem = (B("plain", 32, 2, kernel_size=3, activation="relu6"),)
    return Architecture(stem=stem, stages=stages, head=head)


# --- ShuffleNetV2 ----------------------------------------------------------------------------
MA_2018 = (
    'Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",'
    " ECCV 2018"
)


def _shufflenet_v2(widths: tuple[int, int, int, int, int]) -> Architecture:
    stem = (
        B("plain", widths[0], 2, kernel_size=3),
        B("maxpool", None, 2, kernel_size=3, padding=1),
    )
    stages = tuple(
        tuple(B("shuffle", width, 2 if i == 0 else 1, kernel_size=3) for i in range(repeats))
        for repeats, width in zip((4, 8, 4), widths[1:4], strict=True)
    )
    return Architecture(stem=stem, stages=stages, head=Head(conv_channels=widths[4]))


@_register("shufflenet_v2_x0_5", MA_2018 + " (0.5x: 41M)", 1_366_792, 41e6)
def shufflenet_v2_x0_5() -> Architecture:
    return _shufflenet_v2((24, 48, 96, 192, 1024))


@_register("shufflenet_v2_x1_0", MA_2018 + " (1.0x: 146M)", 2_278_604, 146e6)
def shufflenet_v2_x1_0() -> Architecture:
    return _shufflenet_v2((24, 116, 232, 464, 1024))


@_register("shufflenet_v2_x1_5", MA_2018 + " (1.5x: 299M)", 3_503_624, 299e6)
def shufflenet_v2_x1_5() -> Architecture:
    return _shufflenet_v2((24, 176, 352, 704, 1024))


@_register("shufflenet_v2_x2_0", MA_2018 + " (2.0x: 591M)", 7_393_996, 591e6)
def shufflenet_v2_x2_0() -> Architecture:
    return _shufflenet_v2((24, 244, 488, 976, 2048))
