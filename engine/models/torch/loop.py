"""The training loop: tensors on the device once, batches by index slicing, no per-sample work.

Each epoch shuffles row indices on the device, slices each batch out of the resident tensors,
and only syncs with the host once per epoch (the summed loss, checked for NaN). After each epoch
the validation loss drives early stopping (the best weights are restored), the plateau schedule
and the epoch callback (the tuner's pruning hook).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.optim import lr_scheduler

from engine.errors import EngineError

PREDICT_BATCH = 8192
SCHEDULES = ("none", "cosine", "onecycle", "plateau")


class TrainingDiverged(EngineError):
    """The loss became NaN or infinite: the learning rate or the data's scale is off."""


@dataclass(frozen=True)
class LoopSettings:
    """What one fit's loop needs beyond the module and the data."""

    batch_size: int
    max_epochs: int
    patience: int | None
    lr: float
    schedule: str
    grad_clip: float | None
    amp_dtype: torch.dtype | None
    verbose: int = 0


@dataclass
class History:
    """Per-epoch losses and where training stopped."""

    train_loss: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0


def train_module(
    module: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: tuple[torch.Tensor, torch.Tensor],
    valid: tuple[torch.Tensor, torch.Tensor] | None,
    settings: LoopSettings,
    generator: torch.Generator,
    on_epoch: Callable[[int, float], None] | None = None,
) -> History:
    """Train ``module`` in place; ``on_epoch(epoch, loss)`` gets the loss early stopping uses."""
    X, y = train
    size = settings.batch_size
    # A last batch of one row would break batch norm; that row (a different one each epoch,
    # as the rows are shuffled) waits for the next epoch instead.
    rows = X.shape[0] - 1 if X.shape[0] % size == 1 and X.shape[0] > 1 else X.shape[0]
    steps = math.ceil(rows / size)
    scheduler = _scheduler(optimizer, settings, steps)
    device = X.device
    autocast = _autocast(device, settings.amp_dtype)
    scaler = torch.amp.GradScaler(device.type) if settings.amp_dtype == torch.float16 else None
    history, best_state, best_loss, waited = History(), None, math.inf, 0
    for epoch in range(settings.max_epochs):
        module.train()
        total = torch.zeros((), device=device)
        order = torch.randperm(X.shape[0], device=device, generator=generator)
        for start in range(0, rows, size):
            index = order[start:start + size]
            with autocast:
                loss = loss_fn(module(X.index_select(0, index)), y.index_select(0, index))
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            if settings.grad_clip:
                nn.utils.clip_grad_norm_(module.parameters(), settings.grad_clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            if isinstance(scheduler, lr_scheduler.OneCycleLR):
                scheduler.step()
            total += loss.detach()
        train_loss = total.item() / steps
        _check_finite(train_loss, "training", epoch, optimizer)
        history.train_loss.append(train_loss)
        loss = train_loss
        if valid is not None:
            loss = evaluate_loss(module, loss_fn, valid, autocast)
            _check_finite(loss, "validation", epoch, optimizer)
            history.valid_loss.append(loss)
        if isinstance(scheduler, lr_scheduler.CosineAnnealingLR):
            scheduler.step()
        elif isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            scheduler.step(loss)
        if settings.verbose:
            print(f"epoch {epoch:>3}  train loss {train_loss:.5f}  loss {loss:.5f}")
        if loss < best_loss:
            best_loss, waited, history.best_epoch = loss, 0, epoch
            if settings.patience is not None:
                best_state = copy.deepcopy(module.state_dict())
        else:
            waited += 1
        if on_epoch is not None:
            on_epoch(epoch, loss)
        if settings.patience is not None and waited > settings.patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        history.best_epoch = len(history.train_loss) - 1  # no early stopping: the last epoch's
    return history


@torch.no_grad()
def evaluate_loss(module: nn.Module, loss_fn: nn.Module,
                  data: tuple[torch.Tensor, torch.Tensor],
                  autocast: AbstractContextManager[object]) -> float:
    """The mean loss over ``data`` in eval mode, in large batches."""
    module.eval()
    X, y = data
    total = torch.zeros((), device=X.device)
    for start in range(0, X.shape[0], PREDICT_BATCH):
        with autocast:
            out = module(X[start:start + PREDICT_BATCH])
        total += loss_fn(out.float(), y[start:start + PREDICT_BATCH]) * out.shape[0]
    return total.item() / X.shape[0]


@torch.no_grad()
def forward_all(module: nn.Module, X: torch.Tensor, amp_dtype: torch.dtype | None) -> torch.Tensor:
    """The module's float32 outputs for every row, in eval mode and large batches."""
    module.eval()
    autocast = _autocast(X.device, amp_dtype)
    outputs = []
    for start in range(0, X.shape[0], PREDICT_BATCH):
        with autocast:
            outputs.append(module(X[start:start + PREDICT_BATCH]).float())
    return torch.cat(outputs) if outputs else torch.zeros((0,), device=X.device)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager[object]:
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def _scheduler(optimizer: torch.optim.Optimizer, settings: LoopSettings,
               steps: int) -> lr_scheduler.LRScheduler | None:
    if settings.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.max_epochs)
    if settings.schedule == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=settings.lr,
                                       total_steps=settings.max_epochs * steps)
    if settings.schedule == "plateau":
        patience = max(1, (settings.patience or 10) // 2)
        return lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=patience)
    return None


def _check_finite(loss: float, which: str, epoch: int, optimizer: torch.optim.Optimizer) -> None:
    if math.isfinite(loss):
        return
    lr = optimizer.param_groups[0]["lr"]
    raise TrainingDiverged(
        f"model: the {which} loss became {loss} at epoch {epoch} (learning rate {lr:.3g}). "
        "Lower model.lr, set model.grad_clip (e.g. 1.0), or scale the features "
        "(features=auto standardises them)."
    )
