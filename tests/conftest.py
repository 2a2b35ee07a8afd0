from __future__ import annotations

import optuna
import pytest
import torch

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


TINY_SPACE = """\
name: tiny
description: two candidates wide, for end-to-end tests
input_sizes: [8]
stem: {out_channels: 8, kernel_size: 3}
stages:
  - out_channels: {choices: [8, 16]}
    depth: 1
    stride: 2
    block: {choices: [mbconv, dwsep]}
hyperparameters:
  lr: 0.1
  batch_size: 32
  epochs: 2
  optimizer: sgd
"""


@pytest.fixture
def tiny_space(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return path
