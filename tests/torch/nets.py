"""Networks of a user's own, for the tests that point ``module._target_`` outside the engine."""

from __future__ import annotations

import torch
from torch import nn

AS_MODEL_TORCH = ("model.module={_target_: tests.torch.nets.TwoLayerNet, hidden: 32}",
                  "allowed_targets=[tests.]", "model.lr=0.01")
"""Overrides that make ``model=torch`` (whose ``module`` is the user's to name) runnable."""


class TwoLayerNet(nn.Module):
    """The smallest network the estimators can build: n_features -> hidden -> n_outputs."""

    def __init__(self, n_features: int, n_outputs: int, hidden: int = 16) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(n_features, hidden), nn.Tanh(),
                                    nn.Linear(hidden, n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class TenInputNet(nn.Module):
    """A network that ignores n_features and always expects ten inputs."""

    def __init__(self, n_features: int, n_outputs: int) -> None:
        super().__init__()
        self.layer = nn.Linear(10, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class OneOutputNet(TwoLayerNet):
    """A network with a single output, whatever the task needs."""

    def __init__(self, n_features: int, n_outputs: int) -> None:
        super().__init__(n_features, 1)
