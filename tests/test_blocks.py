"""Every registered block: forward/backward, shapes, argument validation, published layouts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from archsearch.blocks import create_block, get_block, list_blocks, register_block
from archsearch.blocks.helpers import channel_shuffle, make_divisible
from archsearch.blocks.registry import Block
from archsearch.errors import BlockArgumentError
from tests.conftest import n_params

# in -> out channels and stride each block is exercised with (width-keeping blocks keep width)
CASES = {
    "plain": (8, 16, 2),
    "residual": (8, 16, 2),
    "bottleneck": (8, 32, 2),
    "inception": (8, 32, 2),
    "dwsep": (8, 16, 2),
    "mbconv": (8, 16, 2),
    "shuffle": (8, 16, 2),
    "se": (8, 8, 1),
    "maxpool": (8, 8, 2),
    "avgpool": (8, 8, 2),
    "skip": (8, 8, 1),
}


def test_registry_has_the_issue_blocks() -> None:
    assert set(CASES) == set(list_blocks())
    assert list_blocks("*pool") == ["avgpool", "maxpool"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_backward_and_declared_output_size(name: str) -> None:
    in_ch, out_ch, stride = CASES[name]
    block = create_block(name, in_ch, out_ch, stride)
    x = torch.randn(2, in_ch, 9, 9, requires_grad=True)
    y = block(x)
    info = get_block(name)
    expected = info.cls.output_size(9, stride, **info.defaults)
    assert y.shape == (2, out_ch, expected, expected)
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize(
    "name", ["residual", "bottleneck", "inception", "dwsep", "mbconv", "shuffle"]
)
def test_se_option_adds_exactly_one_squeeze_excite(name: str) -> None:
    in_ch, out_ch, stride = CASES[name]
    plain = create_block(name, in_ch, out_ch, stride)
    with_se = create_block(name, in_ch, out_ch, stride, se=True, se_ratio=0.25)
    se_layers = [m for m in with_se.modules() if type(m).__name__ == "SqueezeExcite"]
    assert len(se_layers) == 1
    se = se_layers[0]
    channels = se.reduce.in_channels
    reduced = make_divisible(channels * 0.25)
    # two 1x1 convs with bias: c*r + r + r*c + c
    assert n_params(with_se) - n_params(plain) == 2 * channels * reduced + reduced + channels
    assert with_se(torch.randn(1, in_ch, 8, 8)).shape == plain(torch.randn(1, in_ch, 8, 8)).shape


def test_dwsep_parameter_arithmetic() -> None:
    block = create_block("dwsep", 16, 32, 1, kernel_size=3)
    # dw 16*3*3 = 144, BN 2*16 = 32, pw 16*32 = 512, BN 2*32 = 64 -> 752
    assert n_params(block) == 752


def test_mbconv_residual_only_when_shapes_match() -> None:
    assert create_block("mbconv", 16, 16, 1).use_residual
    assert not create_block("mbconv", 16, 16, 2).use_residual
    assert not create_block("mbconv", 16, 24, 1).use_residual
    # expansion 1 leaves out the expansion conv (MobileNetV2's first block)
    block = create_block("mbconv", 16, 16, 1, expansion=1)
    assert isinstance(block.conv_pw, nn.Identity)
    # dw 16*9=144 + BN 32, pwl 16*16=256 + BN 32 -> 464
    assert n_params(block) == 464


def test_mbconv_projection_has_no_activation() -> None:
    block = create_block("mbconv", 8, 8, 1, expansion=6)
    assert isinstance(block.conv_pwl.act, nn.Identity)


def test_bottleneck_shortcut_projection_only_when_shape_changes() -> None:
    same = create_block("bottleneck", 64, 64, 1)
    assert isinstance(same.shortcut, nn.Identity)
    projected = create_block("bottleneck", 64, 256, 1)
    assert isinstance(projected.shortcut[0], nn.Conv2d)
    # inner width = 256 / 4 = 64: 64*64 + 64*64*9 + 64*256 + BN 2*(64+64+256)
    # + projection 64*256 + BN 2*256 = 4096 + 36864 + 16384 + 768 + 16384 + 512 = 75008
    assert n_params(projected) == 75008


def test_residual_basic_block_parameter_arithmetic() -> None:
    block = create_block("residual", 64, 64, 1)
    # two 3x3 convs 64->64: 2 * 36864, two BN: 2 * 128 -> 73984 (torchvision BasicBlock)
    assert n_params(block) == 73984


def test_shuffle_unit_splits_and_shuffles() -> None:
    unit = create_block("shuffle", 8, 8, 1)
    assert unit.split and not hasattr(unit, "branch1")
    x = torch.randn(1, 8, 4, 4)
    y = unit(x)
    # the kept half (channels 0..3) lands on the even output channels after the shuffle
    assert torch.equal(y[:, 0::2], x[:, :4])
    down = create_block("shuffle", 8, 16, 2)
    assert not down.split and down(x).shape == (1, 16, 2, 2)


def test_channel_shuffle_interleaves() -> None:
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]


def test_inception_branch_widths_concatenate() -> None:
    block = create_block(
        "inception",
        192,
        256,
        1,
        ch1x1=64,
        ch3x3red=96,
        ch3x3=128,
        ch5x5red=16,
        ch5x5=32,
        pool_proj=32,
    )
    assert block(torch.randn(1, 192, 7, 7)).shape == (1, 256, 7, 7)
    double = create_block("inception", 16, 32, 1, large_branch="double3x3")
    assert len(double.branch3) == 3


@pytest.mark.parametrize(
    ("name", "args", "options", "argument"),
    [
        ("plain", (8, 16, 1), {"kernel_size": 4}, "kernel_size"),
        ("plain", (8, 16, 1), {"groups": 3}, "groups"),
        ("plain", (8, 16, 1), {"activation": "tanhh"}, "activation"),
        ("plain", (8, 16, 0), {}, "stride"),
        ("plain", (8, 0, 1), {}, "out_channels"),
        ("mbconv", (8, 16, 1), {"expansion": 0.5}, "expansion"),
        ("mbconv", (8, 16, 1), {"se_ratio": 2.0}, "se_ratio"),
        ("mbconv", (8, 16, 1), {"se": "yes"}, "se"),
        ("dwsep", (8, 16, 1), {"expansion": 6}, "expansion"),
        ("shuffle", (8, 15, 2), {}, "out_channels"),
        ("bottleneck", (8, 30, 1), {}, "out_channels"),
        ("inception", (8, 32, 1), {"ch1x1": 8}, "ch3x3red"),
        (
            "inception",
            (8, 33, 1),
            {"ch1x1": 8, "ch3x3red": 8, "ch3x3": 16, "ch5x5red": 4, "ch5x5": 4, "pool_proj": 4},
            "out_channels",
        ),
        ("se", (8, 16, 1), {}, "out_channels"),
        ("skip", (8, 8, 2), {}, "stride"),
        ("maxpool", (8, 8, 2), {"kernel_size": 2, "padding": 2}, "padding"),
    ],
)
def test_invalid_arguments_name_the_argument(
    name: str, args: tuple[int, int, int], options: dict, argument: str
) -> None:
    with pytest.raises(BlockArgumentError) as info:
        create_block(name, *args, **options)
    assert info.value.argument == argument
    assert f"argument '{argument}'" in str(info.value)


def test_direct_construction_validates_too() -> None:
    from archsearch.blocks.mobilenet import InvertedResidual

    with pytest.raises(BlockArgumentError, match="kernel_size"):
        InvertedResidual(8, 8, 1, kernel_size=2)


def test_duplicate_registration_raises() -> None:
    with pytest.raises(RuntimeError, match="duplicate"):

        @register_block("plain", abbrev="x")
        class Again(Block):
            def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
                super().__init__()


def test_pool_output_size_follows_pytorch_ceil_mode() -> None:
    for size in range(1, 20):
        for kernel, stride, padding, ceil in [(3, 2, 1, False), (3, 2, 0, True), (2, 2, 0, True)]:
            info = get_block("maxpool")
            if size + 2 * padding < kernel:
                assert (
                    info.cls.output_size(
                        size, stride, kernel_size=kernel, padding=padding, ceil_mode=ceil
                    )
                    < 1
                )
                continue
            pool = nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil)
            real = pool(torch.zeros(1, 1, size, size)).shape[-1]
            assert (
                info.cls.output_size(
                    size, stride, kernel_size=kernel, padding=padding, ceil_mode=ceil
                )
                == real
            )
