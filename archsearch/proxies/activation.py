"""The proxies read from the activations of one forward pass: NASWOT's binary codes and MeCo's
feature-map correlations. No labels, no gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ._layers import ACTIVATIONS
from .registry import ProxyBatch, register_proxy


def forward_watching(
    model: nn.Module,
    modules: list[nn.Module],
    hook: Callable[[nn.Module, object, Any], None],
    inputs: torch.Tensor,
) -> None:
    """One forward pass without gradients, ``hook`` called on each of ``modules``' outputs."""
    handles = [module.register_forward_hook(hook) for module in modules]
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()


@register_proxy("naswot", needs_labels=False, reference="Mellor et al. 2021 (ICML)")
def naswot(model: nn.Module, batch: ProxyBatch) -> float:
    """log|det K|, K = Σ over the activation layers of c cᵀ + (1 − c)(1 − c)ᵀ, with c the
    binary codes (activation > 0) of each image: K_ij = N_A − Hamming(c_i, c_j), N_A the
    number of activations. Images whose codes coincide make K singular: no score."""
    n = len(batch.targets)
    kernel = torch.zeros(n, n, dtype=torch.float64, device=batch.inputs.device)

    def count(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        # float32 sums of 0/1 are exact below 2**24 units per layer; one product, not two:
        # (1 - c)(1 - c)ᵀ = N - s_i - s_j + (c cᵀ)_ij, with s the codes' row sums
        codes = (output.detach().reshape(n, -1) > 0).float()
        units = codes.shape[1]
        if units >= 2**24:
            codes = codes.double()
        ones = codes.sum(dim=1, keepdim=True)
        kernel.add_((2 * codes @ codes.T - ones - ones.T + units).double())

    activations = [m for m in model.modules() if isinstance(m, ACTIVATIONS)]
    if not activations:
        raise ValueError("naswot needs activation layers, and the network has none")
    forward_watching(model, activations, count, batch.inputs)
    sign, logdet = torch.linalg.slogdet(kernel)
    if sign <= 0:
        raise ValueError("the activation codes' kernel is singular (images with equal codes)")
    return float(logdet)


@register_proxy("meco", needs_labels=False, reference="Jiang et al. 2023 (NeurIPS)")
def meco(model: nn.Module, batch: ProxyBatch) -> float:
    """Σ over every module with a feature-map output (N, C, H, W) of the minimum eigenvalue of
    the channels' Pearson correlation matrix (C × C over the H·W positions) for the batch's
    first image, as MeCo's reference code (undefined correlations of constant channels set to
    zero)."""
    minima: list[torch.Tensor] = []

    def correlate(_module: nn.Module, _inputs: object, output: object) -> None:
        if not isinstance(output, torch.Tensor) or output.dim() != 4:
            return
        if output.shape[2] * output.shape[3] < 2:
            minima.append(output.new_zeros((), dtype=torch.float64))  # all undefined: zeros
            return
        features = output[0].detach().reshape(output.shape[1], -1).double()
        correlation = torch.corrcoef(features)
        correlation = torch.nan_to_num(correlation, nan=0.0, posinf=0.0, neginf=0.0)
        minima.append(torch.linalg.eigvalsh(correlation)[0])

    forward_watching(
        model, [m for m in model.modules() if m is not model], correlate, batch.inputs
    )
    if not minima:
        raise ValueError("meco needs feature maps, and the network has none")
    return float(torch.stack(minima).sum())
