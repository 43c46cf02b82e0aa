"""A Hydra app whose task returns (x - 2) ** 2 at once: the objective of bench_sweeper.py.

It imports only Hydra, so the same file runs under this project's interpreter (the engine's
sweeper) and under a separate virtualenv holding hydra-optuna-sweeper 1.3.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def objective(cfg: DictConfig) -> float:
    return (cfg.x - 2) ** 2


if __name__ == "__main__":
    objective()
