"""Each formula of the operator table, with the arithmetic beside the expected value."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from archsearch.blocks.helpers import ChannelShuffle
from archsearch.profiler import profile_model


def profile(module: nn.Module, shape: tuple[int, ...]):
    return profile_model(module, shape)


def only(result, kind: str):
    rows = result.layers[result.layers["kind"] == kind]
    assert len(rows) == 1, result.layers
    return rows.iloc[0]


def test_conv() -> None:
    r = profile(nn.Conv2d(3, 16, 3, padding=1, bias=False), (2, 3, 8, 8))
    row = only(r, "conv")
    # 2 * 16 * 8 * 8 outputs, each 3 * 3 * 3 multiply-adds = 2048 * 27 = 55296
    assert row["flops"] == 55_296
    # reads: input 2*3*8*8 = 384, weight 16*3*3*3 = 432; writes 2*16*8*8 = 2048
    assert (row["reads"], row["writes"], row["mac"]) == (816, 2048, 2864)
    assert r.params == 432 and r.flops == 55_296 and r.mac == 2864


def test_conv_bias_is_read_not_counted_as_flops() -> None:
    row = only(profile(nn.Conv2d(4, 8, 1), (1, 4, 5, 5)), "conv")
    # 8*5*5 = 200 outputs x 4 = 800 multiply-adds; reads 100 + 32 + 8 (bias)
    assert (row["flops"], row["reads"], row["writes"]) == (800, 140, 200)


def test_depthwise_conv() -> None:
    row = only(
        profile(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), (1, 16, 10, 10)),
        "depthwise conv",
    )
    # 16*10*10 = 1600 outputs x (16/16) * 3*3 = 14400
    assert row["flops"] == 14_400
    # reads 1600 + 16*1*3*3 = 1744, writes 1600
    assert row["mac"] == 1744 + 1600


def test_grouped_conv() -> None:
    row = only(
        profile(nn.Conv2d(32, 64, 3, stride=2, padding=1, groups=4, bias=False), (1, 32, 8, 8)),
        "group conv",
    )
    # out 64*4*4 = 1024 elements x (32/4) * 9 = 73728
    assert row["flops"] == 73_728
    # reads 32*64 + 64*8*9 = 2048 + 4608, writes 1024
    assert row["mac"] == 2048 + 4608 + 1024


def test_linear() -> None:
    r = profile(nn.Sequential(nn.Flatten(), nn.Linear(12, 5)), (3, 12, 1, 1))
    row = only(r, "linear")
    # (3 x 12) @ (12 x 5): 3*12*5 = 180 multiply-adds
    assert row["flops"] == 180
    # reads bias 5 + input 36 + weight 60, writes 15
    assert (row["reads"], row["writes"]) == (101, 15)


def test_batch_norm_and_activation_counted_as_other() -> None:
    r = profile(nn.Sequential(nn.BatchNorm2d(4), nn.ReLU(inplace=True)), (1, 4, 3, 3))
    norm, act = only(r, "norm"), only(r, "activation")
    # 36 elements: 2 ops each (scale, shift) = 72; reads 36 + 4 stats x 4 channels
    assert (norm["flops"], norm["flops_other"], norm["reads"], norm["writes"]) == (0, 72, 52, 36)
    # ReLU: 1 op per element; reads 36, writes 36 (in place still writes)
    assert (act["flops_other"], act["mac"]) == (36, 72)
    assert r.flops == 0 and r.flops_other == 108 and r.flops_all == 108


def test_max_and_global_pooling() -> None:
    r = profile(nn.Sequential(nn.MaxPool2d(3, 2, 1), nn.AdaptiveAvgPool2d(1)), (1, 2, 8, 8))
    rows = r.layers[r.layers["kind"] == "pooling"]
    maxpool, mean = rows.iloc[0], rows.iloc[1]
    # 2*4*4 = 32 outputs x 3*3 window = 288 compares; reads 128, writes 32
    assert (maxpool["flops_other"], maxpool["reads"], maxpool["writes"]) == (288, 128, 32)
    # global mean over 2*4*4 = 32 inputs into 2 outputs
    assert (mean["flops_other"], mean["reads"], mean["writes"]) == (32, 32, 2)


class _AddCat(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x + x, x * 2.0], 1)


def test_add_mul_concat() -> None:
    r = profile(_AddCat(), (1, 3, 4, 4))
    add, mul, cat = only(r, "elementwise add"), only(r, "elementwise mul"), only(r, "concat")
    # add: 48 outputs, reads 48 + 48, writes 48
    assert (add["flops_other"], add["mac"]) == (48, 144)
    # mul by a scalar: reads 48, writes 48
    assert (mul["flops_other"], mul["mac"]) == (48, 96)
    # concat: reads 48 + 48, writes 96, no arithmetic
    assert (cat["flops_other"], cat["mac"]) == (0, 192)


def test_channel_shuffle_is_one_copy() -> None:
    r = profile(ChannelShuffle(2), (1, 8, 4, 4))
    row = only(r, "channel shuffle")
    # views are free; the transpose's contiguous copy reads 128 and writes 128
    assert (row["flops_other"], row["mac"]) == (0, 256)
    assert len(r.layers) == 1


def test_peak_activation_memory_of_a_chain() -> None:
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 2, 3, padding=1))
    r = profile(net, (1, 1, 10, 10))
    # input 100, conv1 out 800, conv2 out 200 floats. Live: input+conv1 = 900, then the input
    # is still held by the caller while conv2 runs: 100 + 800 + 200 = 1100 floats = 4400 bytes
    assert r.peak_activation_bytes == 4 * 1100


def test_bytes_follow_the_dtype() -> None:
    conv = nn.Conv2d(4, 4, 1, bias=False)
    r32 = profile_model(conv, (1, 4, 2, 2))
    r16 = profile_model(conv, (1, 4, 2, 2), dtype="bfloat16")
    # mac: 16 + 16 + 16 = 48 elements: 192 bytes in float32, 96 in bfloat16
    assert (r32.mac, r32.mac_bytes, r16.mac_bytes) == (48, 192, 96)


class _Cumsum(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.cumsum(1)


def test_unsupported_ops_are_reported_and_warned() -> None:
    with pytest.warns(UserWarning, match=r"aten::cumsum x1"):
        r = profile(_Cumsum(), (1, 3, 2, 2))
    assert r.unsupported_ops == {"aten::cumsum": 1}
    assert r.to_dict()["unsupported_ops"] == {"aten::cumsum": 1}


def test_views_of_module_state_are_not_touched() -> None:
    conv = nn.Conv2d(3, 3, 1)
    before = conv.weight.detach().clone()
    profile(conv, (1, 3, 4, 4))
    assert not conv.weight.is_meta and torch.equal(conv.weight, before) and conv.training
