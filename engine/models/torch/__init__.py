"""PyTorch models behind the scikit-learn estimator contract, and the shipped tabular MLP."""

from engine.models.torch.estimator import TorchClassifier, TorchRegressor
from engine.models.torch.mlp import TabularMLP

__all__ = ["TabularMLP", "TorchClassifier", "TorchRegressor"]
