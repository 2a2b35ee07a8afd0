"""SynFlow (Tanaka et al., "Pruning neural networks without any data by iteratively conserving
synaptic flow", NeurIPS 2020), scored as in Abdelfattah et al. (ICLR 2021): every parameter
replaced by its absolute value, batch norm off, an all-ones input in float64, R = Σ output,
and the score Σ over the conv and linear weights of θ ⊙ ∂R/∂θ. No data, no labels.

For a network of L bias-free linear layers (ReLUs pass everything: all signals are positive)
R is homogeneous of degree one in each layer's weights, so by Euler's theorem each layer adds
R and the score is L·R: the closed form the tests check.
"""

from __future__ import annotations

import torch
from torch import nn

from ._layers import layer_weights
from .registry import ProxyBatch, register_proxy


def _without_batch_norm(model: nn.Module) -> nn.Module:
    for name, child in model.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(model, name, nn.Identity())
        else:
            _without_batch_norm(child)
    return model


@register_proxy("synflow", needs_labels=False, reference="Tanaka et al. 2020 (NeurIPS)")
def synflow(model: nn.Module, batch: ProxyBatch) -> float:
    model = _without_batch_norm(model).double()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.abs_()
    model.zero_grad(set_to_none=True)
    _, channels, height, width = batch.input_shape
    ones = torch.ones(1, channels, height, width, dtype=torch.float64, device=batch.inputs.device)
    model(ones).sum().backward()
    with torch.no_grad():
        total = sum(
            (weight * weight.grad).sum()
            for weight in layer_weights(model)
            if weight.grad is not None
        )
    return float(total)
