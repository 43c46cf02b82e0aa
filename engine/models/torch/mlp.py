"""The shipped tabular network: numeric inputs plus embedded category codes, then an MLP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh,
               "leaky_relu": nn.LeakyReLU}
NORMS = ("none", "batch", "layer")
CODE_OFFSET = 2
"""Codes start at -2 (missing) and -1 (unseen), as the ``embeddings`` features encode them."""
UNSEEN = CODE_OFFSET - 1


class TabularMLP(nn.Module):
    """``depth`` hidden layers of ``width`` units over numeric columns and category embeddings.

    ``hidden_sizes`` (a list, e.g. ``[512, 256, 128]``) sets each hidden layer's units instead
    of ``width`` and ``depth``; ``width`` and ``depth`` are what a search space tunes best.
    ``categories`` lists ``(column index, number of codes)`` for each input column that holds
    category codes; each gets an embedding of ``embedding_dim`` (by default fastai's rule,
    at most 32). With ``residual`` each hidden layer after the first whose input is as wide as
    its output adds that input back.

    >>> TabularMLP(n_features=30, n_outputs=2, width=64, depth=2)(torch.zeros(8, 30)).shape
    torch.Size([8, 2])
    """

    numeric_index: torch.Tensor
    code_index: torch.Tensor

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        *,
        width: int = 256,
        depth: int = 2,
        activation: str = "relu",
        dropout: float = 0.0,
        norm: str = "none",
        residual: bool = False,
        hidden_sizes: Sequence[int] | None = None,
        categories: Sequence[tuple[int, int]] = (),
        embedding_dim: int | None = None,
    ) -> None:
        super().__init__()
        if depth < 0:
            raise ValueError(f"TabularMLP: depth must be >= 0 (0 is a linear model); got {depth}.")
        sizes = [int(size) for size in hidden_sizes] if hidden_sizes else [width] * depth
        _check_options(activation=activation, norm=norm, sizes=sizes, dropout=dropout)
        code_columns = [int(column) for column, _ in categories]
        numeric = [i for i in range(n_features) if i not in set(code_columns)]
        self.register_buffer("numeric_index", torch.tensor(numeric, dtype=torch.long))
        self.register_buffer("code_index", torch.tensor(code_columns, dtype=torch.long))
        embeddings = [
            nn.Embedding(int(count) + CODE_OFFSET, embedding_dim or _embedding_size(int(count)))
            for _, count in categories
        ]
        self.embeddings = nn.ModuleList(embeddings)
        width_in = len(numeric) + sum(e.embedding_dim for e in embeddings)
        self.hidden = nn.ModuleList()
        self.skips: list[bool] = []
        for layer, size in enumerate(sizes):
            block: list[nn.Module] = [nn.Linear(width_in, size)]
            if norm != "none":
                block.append(nn.BatchNorm1d(size) if norm == "batch" else nn.LayerNorm(size))
            block.append(ACTIVATIONS[activation]())
            if dropout > 0:
                block.append(nn.Dropout(dropout))
            self.hidden.append(nn.Sequential(*block))
            self.skips.append(residual and layer > 0 and width_in == size)
            width_in = size
        self.head = nn.Linear(width_in, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.embeddings):
            codes = x.index_select(1, self.code_index).long() + CODE_OFFSET
            parts = [x.index_select(1, self.numeric_index)]
            for column, module in enumerate(self.embeddings):
                embedding = cast(nn.Embedding, module)  # ModuleList yields plain Modules
                code = codes[:, column].clamp(min=0)
                unseen = torch.full_like(code, UNSEEN)  # codes above training's are unseen too
                parts.append(embedding(torch.where(code < embedding.num_embeddings, code, unseen)))
            x = torch.cat(parts, dim=1)
        for skip, block in zip(self.skips, self.hidden, strict=True):
            x = x + block(x) if skip else block(x)
        return self.head(x)


def _embedding_size(count: int) -> int:
    """fastai's rule of thumb for an embedding's width, capped at 32."""
    return min(32, max(2, round(1.6 * (count + CODE_OFFSET) ** 0.56)))


def _check_options(*, activation: str, norm: str, sizes: list[int], dropout: float) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"TabularMLP: unknown activation {activation!r}; "
                         f"valid options: {', '.join(ACTIVATIONS)}.")
    if norm not in NORMS:
        raise ValueError(f"TabularMLP: unknown norm {norm!r}; valid options: {', '.join(NORMS)}.")
    if any(size < 1 for size in sizes):
        raise ValueError(f"TabularMLP: every hidden layer needs at least 1 unit; got {sizes} "
                         "(from hidden_sizes, or width x depth).")
    if not 0 <= dropout < 1:
        raise ValueError(f"TabularMLP: dropout must be in [0, 1), got {dropout}.")
