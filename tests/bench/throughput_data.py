"""The throughput benchmark's data and network, shared by every contender (numpy and torch only,
so the skorch script can import it from its own virtual environment)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

FEATURES = 100
WIDTH = 256
BATCH = 256
LR = 1e-3


def make_data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` x 100 float32 standard normal features; a nonlinear binary target."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, FEATURES), dtype=np.float32)
    y = (X[:, :10].sum(axis=1) + np.sin(3 * X[:, 10]) > 0).astype(np.int64)
    return X, y


def make_network() -> nn.Module:
    """100-256-256-2 with ReLU: the network the issue names."""
    return nn.Sequential(nn.Linear(FEATURES, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH),
                         nn.ReLU(), nn.Linear(WIDTH, 2))


def bare_loop(X: np.ndarray, y: np.ndarray, epochs: int, device: str,
              amp: torch.dtype | None = None) -> None:
    """The hand-written anchor: tensors on the device once, shuffled index slices, Adam."""
    torch.manual_seed(0)
    model = make_network().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    X_t, y_t = torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)
    for _ in range(epochs):
        order = torch.randperm(len(X_t), device=device)
        for start in range(0, len(X_t), BATCH):
            index = order[start:start + BATCH]
            with torch.autocast(torch.device(device).type, dtype=amp, enabled=amp is not None):
                loss = loss_fn(model(X_t[index]), y_t[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
