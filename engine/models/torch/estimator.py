"""scikit-learn estimators wrapping a ``torch.nn.Module``: ``TorchClassifier``, ``TorchRegressor``.

The constructor only stores its arguments; ``fit`` builds ``module_`` from ``module`` (a class)
with ``n_features``, ``n_outputs`` and every ``module__*`` parameter, and the optimizer with
``lr``, ``weight_decay`` and every ``optimizer__*`` parameter, so a tuner reaches any knob
through ``set_params`` (``model__module__width`` in the engine's Pipeline). ``epoch_callback``,
when given, is called as ``epoch_callback(epoch, loss)`` after each epoch with the loss early
stopping uses (the tuner's pruning hook); it is a plain parameter, so clear it before pickling a
model fitted with one that cannot be pickled.

Training uses this process's share of the cores (:mod:`engine.threads`): one intra-op thread
when a step is too small for threads to pay, restored to the previous count after the fit.

Saving (skops in a bundle, or pickle) keeps the constructor parameters and the weights as a
``torch.save``'d state dict; loading rebuilds the module from its class and loads the weights with
``torch.load(weights_only=True)``: no module object is ever unpickled.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from engine.config.binding import accepted_parameters
from engine.errors import ConfigError, did_you_mean
from engine.models.torch.devices import PRECISIONS, amp_dtype, resolve_device
from engine.models.torch.loop import SCHEDULES, LoopSettings, forward_all, train_module
from engine.models.torch.mlp import TabularMLP
from engine.threads import SMALL_STEP_WORK, threads_per_process, torch_threads

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
ROUTES = ("module", "optimizer")
MAX_CODES = 1000
"""``categorical_features=auto`` embeds an integer column only up to this many codes."""
SET_BY_ESTIMATOR = {"module": ("n_features", "n_outputs", "categories"),
                    "optimizer": ("params", "lr", "weight_decay")}


class TorchEstimator(BaseEstimator):
    """What the classifier and the regressor share: parameters, routing, fitting, pickling."""

    reports_epochs = True
    """Each epoch's loss goes to ``epoch_callback``, so the tuner can prune on epochs
    (``tune.prune_on``)."""

    takes_feature_frame = True
    """The engine hands this model its features as a DataFrame, so code columns keep their
    integer dtype (for embeddings) and errors can name columns."""

    _parameter_constraints: dict = {  # noqa: RUF012 - scikit-learn's own convention
        "module": [callable],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "schedule": [StrOptions(set(SCHEDULES))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 0, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "grad_clip": [Interval(Real, 0, None, closed="neither"), None],
        "categorical_features": [StrOptions({"auto"}), "array-like", None],
        "device": [str],
        "precision": [StrOptions(set(PRECISIONS))],
        "compile": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "epoch_callback": [callable, None],
    }

    def __init__(
        self,
        module: type[nn.Module] = TabularMLP,
        *,
        optimizer: str = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        schedule: str = "none",
        batch_size: int = 256,
        max_epochs: int = 100,
        patience: int | None = 10,
        validation_fraction: float = 0.1,
        grad_clip: float | None = None,
        categorical_features: str | list | None = "auto",
        device: str = "auto",
        precision: str = "auto",
        compile: bool = False,
        random_state: int | None = None,
        verbose: int = 0,
        epoch_callback: Callable[[int, float], None] | None = None,
        **routed: Any,
    ) -> None:
        self.module = module
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.grad_clip = grad_clip
        self.categorical_features = categorical_features
        self.device = device
        self.precision = precision
        self.compile = compile
        self.random_state = random_state
        self.verbose = verbose
        self.epoch_callback = epoch_callback
        self._routed = routed  # module__* and optimizer__*, stored unchanged

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {**super().get_params(deep=deep), **self._routed_params()}

    def set_params(self, **params: Any) -> TorchEstimator:
        routed = {k: v for k, v in params.items() if k.split("__")[0] in ROUTES and "__" in k}
        self._routed = {**self._routed, **routed}
        rest = {k: v for k, v in params.items() if k not in routed}
        return super().set_params(**rest) if rest else self

    def _routed_params(self) -> dict[str, Any]:
        return dict(self._routed)

    def _validate_params(self) -> None:
        """scikit-learn's checks, then every routed name against its owner's signature."""
        validate_parameter_constraints(self._parameter_constraints,
                                       self.get_params(deep=False), type(self).__name__)
        for name in self._routed_params():
            route, _, key = name.partition("__")
            if route not in ROUTES or not key:
                options = [*self._get_param_names(), "module__<name>", "optimizer__<name>"]
                raise ValueError(
                    f"{type(self).__name__} has no parameter '{name}'."
                    f"{did_you_mean(name, self._get_param_names())} Its parameters: "
                    f"{', '.join(options)}."
                )
            owner = self.module if route == "module" else OPTIMIZERS[self.optimizer]
            taken = accepted_parameters(owner)
            if key in SET_BY_ESTIMATOR[route]:
                fix = (f"use the '{key}' parameter" if route == "optimizer"
                       else "it is set from the data")
                raise ValueError(f"'{name}': {owner.__name__}'s {key} is set by "
                                 f"{type(self).__name__}; {fix}.")
            if taken is not None and key not in taken:
                own = sorted(taken - set(SET_BY_ESTIMATOR[route]))
                raise ValueError(
                    f"'{name}': {owner.__name__} has no parameter '{key}'."
                    f"{did_you_mean(key, taken, prefix=route + '__')} "
                    + (f"Its parameters: {', '.join(own)}." if own else
                       f"It takes none besides {', '.join(SET_BY_ESTIMATOR[route][:2])}.")
                )
        resolve_device(self.device)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.device not in ("cpu", "auto")
        return tags

    # fitting -------------------------------------------------------------------------------

    def _fit(self, X: np.ndarray, y: np.ndarray, codes: list[int], n_outputs: int,
             loss_fn: nn.Module, stratify: np.ndarray | None) -> None:
        self.categories_ = [(index, max(int(X[:, index].max()) + 1, 1)) for index in codes]
        self.n_outputs_ = n_outputs
        self.device_ = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        train, valid = self._holdout(len(X), stratify, seed)
        devices = ([torch.cuda.current_device() if self.device_.index is None
                    else self.device_.index] if self.device_.type == "cuda" else [])
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            self.module_ = self._build_module().to(self.device_)
            X_all, y_all = _tensor(X, self.device_), _tensor(y, self.device_)
            self._check_forward(X_all[:2])
            optimizer = OPTIMIZERS[self.optimizer](
                self.module_.parameters(), lr=self.lr, weight_decay=self.weight_decay,
                **self._route("optimizer"))
            settings = LoopSettings(
                batch_size=self.batch_size, max_epochs=self.max_epochs,
                patience=self.patience if valid is not None else None, lr=self.lr,
                schedule=self.schedule, grad_clip=self.grad_clip,
                amp_dtype=amp_dtype(self.precision, self.device_), verbose=self.verbose)
            # torch.compile wraps a Module in an OptimizedModule; its stubs say only Callable
            trained = cast(nn.Module, torch.compile(self.module_)) if self.compile else self.module_
            generator = torch.Generator(device=self.device_).manual_seed(seed)
            with torch_threads(self._fit_threads(len(train))):
                history = train_module(
                    trained, loss_fn.to(self.device_), optimizer,
                    (X_all[train], y_all[train]),
                    None if valid is None else (X_all[valid], y_all[valid]),
                    settings, generator, on_epoch=self.epoch_callback)
        self.module_.eval()
        self.train_loss_ = history.train_loss
        self.validation_loss_ = history.valid_loss
        self.best_epoch_ = history.best_epoch
        self.n_epochs_ = len(history.train_loss)

    def _fit_threads(self, rows: int) -> int:
        """Intra-op threads for training: this process's share of the cores, or one when a
        step (rows per batch x parameters) is too small for threads to pay."""
        step = min(self.batch_size, rows) * sum(p.numel() for p in self.module_.parameters())
        return threads_per_process(work=step, small=SMALL_STEP_WORK)

    def _training_input(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Validated float32 X and y, and the columns holding category codes."""
        dtypes = X.dtypes if isinstance(X, pd.DataFrame) else None
        X, y = validate_data(self, X, y, dtype=np.float32,
                             y_numeric=isinstance(self, RegressorMixin))
        return X, y, self._code_columns(X, dtypes)

    def _code_columns(self, X: np.ndarray, dtypes: pd.Series | None) -> list[int]:
        chosen = self.categorical_features
        if chosen is None:
            return []
        if isinstance(chosen, str):
            if dtypes is None:
                return []
            return [i for i, dtype in enumerate(dtypes)
                    if pd.api.types.is_integer_dtype(dtype) and _looks_like_codes(X[:, i])]
        names = list(getattr(self, "feature_names_in_", []))
        columns = []
        for item in chosen:
            if isinstance(item, Integral) and 0 <= int(item) < X.shape[1]:
                columns.append(int(item))
            elif item in names:
                columns.append(names.index(item))
            else:
                raise ConfigError(
                    f"model.categorical_features: no input column {item!r}."
                    f"{did_you_mean(str(item), names)} Name columns of the features' output "
                    f"or give indices below {X.shape[1]}."
                )
        bad = [self._column_name(c) for c in columns if (X[:, c] != np.round(X[:, c])).any()
               or X[:, c].min() < -2]
        if bad:
            raise ConfigError(f"model.categorical_features: column(s) {', '.join(bad)} hold "
                              "values that are not category codes (integers from -2 up).")
        return columns

    def _holdout(self, rows: int, stratify: np.ndarray | None,
                 seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        index = np.arange(rows)
        n_valid = round(rows * self.validation_fraction)
        if n_valid < 1 or rows - n_valid < 1:
            return index, None
        if stratify is not None and np.unique(stratify, return_counts=True)[1].min() < 2:
            stratify = None
        if stratify is not None and n_valid < len(np.unique(stratify)):
            stratify = None
        train, valid = train_test_split(index, test_size=n_valid, random_state=seed,
                                        stratify=stratify)
        return np.sort(train), np.sort(valid)

    def _build_module(self) -> nn.Module:
        kwargs = {"n_features": self.n_features_in_, "n_outputs": self.n_outputs_,
                  **self._route("module")}
        taken = accepted_parameters(self.module)
        if self.categories_ and (taken is None or "categories" in taken):
            kwargs["categories"] = self.categories_
        try:
            return self.module(**kwargs)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"model.module: {_name(self.module)}(...) fails: {error}") from None

    def _route(self, route: str) -> dict[str, Any]:
        prefix = route + "__"
        return {name[len(prefix):]: value for name, value in self._routed_params().items()
                if name.startswith(prefix)}

    def _check_forward(self, X: torch.Tensor) -> None:
        """One forward pass on two rows, so a shape mismatch names the columns, not matrices."""
        self.module_.eval()
        try:
            with torch.no_grad():
                out = self.module_(X)
        except RuntimeError as error:
            raise ConfigError(
                f"model.module: {_name(self.module)} cannot take the {self.n_features_in_} input "
                f"columns ({self._columns_text()}): {str(error).splitlines()[0]}. Its first layer "
                f"must take n_features={self.n_features_in_} inputs (the estimator passes it)."
            ) from None
        if tuple(out.shape) != (X.shape[0], self.n_outputs_):
            raise ConfigError(
                f"model.module: {_name(self.module)} returns outputs of shape "
                f"{tuple(out.shape)} for {X.shape[0]} rows, but the {self._target_text()} needs "
                f"({X.shape[0]}, {self.n_outputs_}); its last layer must have n_outputs units."
            )

    def _columns_text(self) -> str:
        names = [self._column_name(i) for i in range(self.n_features_in_)]
        return ", ".join(names[:8]) + (f", ... ({len(names) - 8} more)" if len(names) > 8 else "")

    def _column_name(self, index: int) -> str:
        names = getattr(self, "feature_names_in_", None)
        return str(names[index]) if names is not None else f"column {index}"

    def _target_text(self) -> str:
        return "target"

    def _outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "module_")
        X = validate_data(self, X, reset=False, dtype=np.float32)
        # Mixed precision is for training; predictions are float32, as the exports and a CPU
        # reload of a GPU-trained bundle compute them.
        outputs = forward_all(self.module_, _tensor(X, self.device_), None)
        return outputs.cpu().numpy().astype(np.float64)

    # pickling ------------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Plain values only, as skops (and pickle) can keep them: the weights as the bytes of
        a ``torch.save``'d state dict, the device as its name."""
        state = dict(super().__getstate__())  # object.__getstate__ gives __dict__ itself
        module = state.pop("module_", None)
        if module is not None:
            buffer = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, buffer)
            state["module_weights_"] = buffer.getvalue()
        if "device_" in state:
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("module_weights_", None)
        if "device_" in state:
            state = {**state, "device_": torch.device(state["device_"])}
        super().__setstate__(state)
        if weights is None:
            return
        if self.device_.type != "cpu":
            try:
                resolve_device(str(self.device_))
            except ValueError:
                self.device_ = torch.device("cpu")
        module = self._build_module()
        module.load_state_dict(torch.load(io.BytesIO(weights), weights_only=True,
                                          map_location="cpu"))
        self.module_ = module.to(self.device_).eval()


class TorchClassifier(ClassifierMixin, TorchEstimator):
    """A PyTorch classifier; cross-entropy over ``len(classes_)`` outputs.

    ``TorchClassifier(module__width=64, max_epochs=20).fit(X, y).predict_proba(X)``
    """

    _parameter_constraints: dict = {  # noqa: RUF012
        **TorchEstimator._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(self, module: type[nn.Module] = TabularMLP, *, class_weight: Any = None,
                 **params: Any) -> None:
        super().__init__(module, **params)
        self.class_weight = class_weight

    @classmethod
    def _get_param_names(cls) -> list[str]:
        return sorted({*TorchEstimator._get_param_names(), "class_weight"})

    def fit(self, X: Any, y: Any) -> TorchClassifier:
        self._validate_params()
        X, y, codes = self._training_input(X, y)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y; got only "
                             f"one class, {self.classes_[0]!r}.")
        weights = None
        if self.class_weight is not None:
            try:
                balance = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
            except ValueError as error:
                raise ConfigError(
                    f"model.class_weight: {str(error).splitlines()[0]} The classes are: "
                    f"{', '.join(map(str, self.classes_))}; name them, or use balanced."
                ) from None
            weights = torch.as_tensor(balance, dtype=torch.float32)
        self._fit(X, encoded.astype(np.int64), codes, len(self.classes_),
                  nn.CrossEntropyLoss(weight=weights), stratify=encoded)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = self._outputs(X)
        return torch.softmax(torch.from_numpy(logits), dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        outputs = self._outputs(X)
        return self.classes_[outputs.argmax(axis=1)]

    def _target_text(self) -> str:
        return f"{len(self.classes_)}-class target"


class TorchRegressor(RegressorMixin, TorchEstimator):
    """A PyTorch regressor; mean squared error on the target standardised over training rows."""

    def fit(self, X: Any, y: Any) -> TorchRegressor:
        self._validate_params()
        X, y, codes = self._training_input(X, y)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError(f"{type(self).__name__} takes a 1-d target; got shape {y.shape}.")
        self.y_mean_ = float(y.mean())
        self.y_scale_ = float(y.std()) or 1.0
        scaled = ((y - self.y_mean_) / self.y_scale_).astype(np.float32)[:, None]
        self._fit(X, scaled, codes, 1, nn.MSELoss(), stratify=None)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self._outputs(X)[:, 0] * self.y_scale_ + self.y_mean_


def _looks_like_codes(column: np.ndarray) -> bool:
    """Integers from -2 up to at most ``MAX_CODES`` and fewer than half the rows: category codes.

    A wide-ranging integer count or amount (``capital-gain``, ``fnlwgt``) fails this and stays a
    number; list columns in ``categorical_features`` to choose exactly which are codes.
    """
    if column.size == 0 or column.min() < -2:
        return False
    count = int(column.max()) + 1
    return count <= MAX_CODES and count <= max(len(column) // 2, 2)


def _tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """The array on ``device``; a read-only array (a pandas copy-on-write view) is copied."""
    return torch.as_tensor(array if array.flags.writeable else array.copy(), device=device)


def _name(owner: Any) -> str:
    return getattr(owner, "__name__", repr(owner))
