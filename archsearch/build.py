"""``build_model``: the one front door from an :class:`Architecture` to an ``nn.Module``."""

from __future__ import annotations

import torch
from torch import nn

from .architecture import Architecture, Head
from .blocks import ConvBnAct, create_act, create_block


class ClassifierHead(nn.Module):
    """Optional 1x1 conv → adaptive pool → flatten → hidden linears → dropout → linear."""

    def __init__(self, head: Head, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = (
            ConvBnAct(in_channels, head.conv_channels, 1, activation=head.activation)
            if head.conv_channels
            else nn.Identity()
        )
        channels = head.conv_channels or in_channels
        pool = nn.AdaptiveAvgPool2d if head.pool == "avg" else nn.AdaptiveMaxPool2d
        self.pool = pool(head.pool_size)
        self.flatten = nn.Flatten(1)
        features = channels * head.pool_size**2
        layers: list[nn.Module] = []
        for width in head.hidden:
            layers += [nn.Linear(features, width), create_act(head.activation)]
            layers.append(nn.Dropout(head.dropout))
            features = width
        if not head.hidden and head.dropout > 0:
            layers.append(nn.Dropout(head.dropout))
        self.hidden = nn.Sequential(*layers)
        self.fc = nn.Linear(features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.hidden(self.flatten(self.pool(self.conv(x)))))


class Network(nn.Module):
    """A network built from an :class:`Architecture`: ``stem``, ``stages``, ``head``.

    Module paths match :meth:`Architecture.blocks` (``stem.0``, ``stages.2.1``), so profiler
    rows and error messages point at the same place.
    """

    def __init__(self, arch: Architecture, num_classes: int, in_channels: int) -> None:
        super().__init__()
        shapes = arch.infer_shapes(in_channels)
        self.arch = arch
        built = {
            shape.location: create_block(
                shape.block.type,
                shape.in_shape[0],
                shape.out_shape[0],
                shape.block.stride,
                **shape.block.kwargs,
            )
            for shape in shapes
        }
        self.stem = nn.Sequential(*(built[f"stem.{i}"] for i in range(len(arch.stem))))
        self.stages = nn.Sequential(
            *(
                nn.Sequential(*(built[f"stages.{s}.{i}"] for i in range(len(stage))))
                for s, stage in enumerate(arch.stages)
            )
        )
        self.head = ClassifierHead(arch.head, shapes[-1].out_shape[0], num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def init_weights(model: nn.Module) -> None:
    """He-normal convs (fan-out), unit BN, small normal linears: torchvision's ResNet init."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.01)
            nn.init.zeros_(module.bias)


def build_model(
    arch: Architecture,
    num_classes: int = 10,
    in_channels: int = 3,
    input_size: tuple[int, int] | int | None = None,
) -> Network:
    """Build ``arch`` as an ``nn.Module``.

    Channels, strides, block arguments and — when ``input_size`` is given — the feature-map
    sizes are checked first, so an impossible architecture raises
    :class:`~archsearch.errors.ArchitectureError` before any weight is allocated. Build under
    ``torch.device("meta")`` to get a weightless model for counting and static profiling.

    Example:
        >>> import archsearch
        >>> model = archsearch.build_model(archsearch.zoo.get("resnet18"), num_classes=1000)
        >>> sum(p.numel() for p in model.parameters())
        11689512
    """
    if input_size is not None:
        arch.infer_shapes(in_channels, input_size)
    model = Network(arch, num_classes, in_channels)
    if not any(p.is_meta for p in model.parameters()):
        init_weights(model)
    return model


def count_parameters(arch: Architecture, num_classes: int = 10, in_channels: int = 3) -> int:
    """Parameters of ``arch`` counted on the meta device: no weight memory is allocated."""
    with torch.device("meta"):
        model = build_model(arch, num_classes, in_channels)
    return sum(p.numel() for p in model.parameters())
