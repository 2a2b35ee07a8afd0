"""What the proxies iterate over: the weighted layers, the activations, the loss's gradients."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .registry import ProxyBatch

#: layers whose weights the gradient proxies score (those of the papers' reference code)
WEIGHT_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear)
#: the nonlinearities whose on/off codes NASWOT reads (gates and identities excluded)
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Hardswish, nn.SiLU, nn.GELU)


def layer_weights(model: nn.Module) -> Iterator[torch.Tensor]:
    """The weights of the conv and linear layers (biases and norms left out, as the papers)."""
    for module in model.modules():
        if isinstance(module, WEIGHT_LAYERS) and module.weight.requires_grad:
            yield module.weight


def loss_backward(model: nn.Module, batch: ProxyBatch) -> torch.Tensor:
    """Cross-entropy of ``batch`` through ``model``, back-propagated into fresh gradients."""
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(batch.inputs), batch.targets)
    loss.backward()
    return loss.detach()
