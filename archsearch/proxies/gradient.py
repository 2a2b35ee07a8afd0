"""The proxies read from gradients at initialisation: of the loss with respect to the weights
(grad_norm, snip, zico) or of the output with respect to the input (jacob_cov)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._layers import layer_weights, loss_backward
from .registry import ProxyBatch, register_proxy

ZICO_SPLITS = 2  # minibatches the gradient statistics are taken over (ZiCo's reference: 2)
JACOB_COV_EPS = 1e-5  # Mellor et al.'s k


@register_proxy("grad_norm", needs_labels=True, reference="Abdelfattah et al. 2021 (ICLR)")
def grad_norm(model: nn.Module, batch: ProxyBatch) -> float:
    """Σ over the conv and linear layers of ‖∂L/∂W‖₂ (cross-entropy on the batch)."""
    loss_backward(model, batch)
    grads = [weight.grad for weight in layer_weights(model) if weight.grad is not None]
    return float(sum(grad.norm() for grad in grads))


@register_proxy("snip", needs_labels=True, reference="Lee et al. 2019 (ICLR)")
def snip(model: nn.Module, batch: ProxyBatch) -> float:
    """Σ |θ ⊙ ∂L/∂θ| over the conv and linear weights: SNIP's connection sensitivity, summed
    (its |∂L/∂mask| at mask = 1 is exactly this)."""
    loss_backward(model, batch)
    with torch.no_grad():
        return float(
            sum(
                (weight * weight.grad).abs().sum()
                for weight in layer_weights(model)
                if weight.grad is not None
            )
        )


@register_proxy("zico", needs_labels=True, reference="Li et al. 2023 (ICLR)")
def zico(model: nn.Module, batch: ProxyBatch) -> float:
    """Σ over layers of log Σ_θ mean|g| / std(g), the gradient statistics taken over
    ``ZICO_SPLITS`` minibatches of the batch (weights where std is zero left out, a layer
    whose sum is zero adds nothing), as ZiCo's reference code."""
    n = len(batch.targets)
    if n < 2 * ZICO_SPLITS:
        raise ValueError(f"zico needs at least {2 * ZICO_SPLITS} images, got {n}")
    weights = list(layer_weights(model))
    grads: list[list[torch.Tensor]] = [[] for _ in weights]
    for split in range(ZICO_SPLITS):
        part = slice(split * n // ZICO_SPLITS, (split + 1) * n // ZICO_SPLITS)
        loss_backward(model, ProxyBatch(batch.inputs[part], batch.targets[part]))
        for i, weight in enumerate(weights):
            if weight.grad is not None:
                grads[i].append(weight.grad.detach().flatten().clone())
    score = 0.0
    for layer_grads in grads:
        if len(layer_grads) < ZICO_SPLITS:
            continue
        stacked = torch.stack(layer_grads).double()
        std = stacked.std(dim=0, unbiased=False)  # numpy's std, as the reference
        kept = std != 0
        total = float((stacked.abs().mean(dim=0)[kept] / std[kept]).sum())
        if total != 0:
            score += float(np.log(total))
    return score


@register_proxy("jacob_cov", needs_labels=False, reference="Mellor et al. 2020 (arXiv v1)")
def jacob_cov(model: nn.Module, batch: ProxyBatch) -> float:
    """From the Jacobians J of Σ output with respect to each input image: the eigenvalues v of
    J's correlation matrix (images × images), scored -Σ log(v + k) + 1/(v + k), k = 1e-5."""
    inputs = batch.inputs.clone().requires_grad_(True)
    model.zero_grad(set_to_none=True)
    output = model(inputs)
    output.backward(torch.ones_like(output))
    assert inputs.grad is not None  # the input requires grad
    jacobian = inputs.grad.detach().reshape(len(inputs), -1).double().cpu().numpy()
    correlation = np.corrcoef(jacobian)
    if not np.isfinite(correlation).all():
        raise ValueError("an image's Jacobian is constant (its correlation is undefined)")
    values = np.linalg.eigvalsh(correlation)
    return float(-np.sum(np.log(values + JACOB_COV_EPS) + 1.0 / (values + JACOB_COV_EPS)))
