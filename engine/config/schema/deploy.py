"""``deploy``: where a trained model goes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from engine.config.schema.base import Section
from engine.config.schema.rules import refuse
from engine.errors import ConfigError

Target = Literal["bundle", "onnx", "torchscript", "rest", "registry"]


class RestConfig(Section):
    """The REST service's container."""

    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    base_image: str = "python:3.11-slim"


class RegistryConfig(Section):
    """The registry entry: ``name`` null is <dataset>-<model>; ``path`` null is the default."""

    name: str | None = None
    """null: <dataset>-<model>, e.g. breast_cancer-hist_gbm."""
    alias: str | None = "challenger"
    """The alias pointed at the new version; null for none."""
    description: str = ""
    path: str | None = None
    """null: $ENGINE_REGISTRY, else <outputs>/registry.db."""


class ExperimentBlock(Section):
    """An online experiment as ``serve``'s flags declare it, for ``serve --experiment`` (a YAML
    file holding it, or a run whose ``deploy.experiment`` holds it)."""

    variants: Annotated[list[str], Field(min_length=1)]
    """The live models, the control first: run directories, NAME@ALIAS or NAME/VERSION."""
    split: list[Annotated[float, Field(ge=0, le=100)]] | None = None
    """Each variant's percentage of keys, summing to 100, e.g. [90, 10]."""
    key: str | None = None
    """The column whose value picks a row's variant; none: each request at random."""
    seed: int = 0
    """The assignment's seed: the same seed puts a key on the same variant everywhere."""
    shadow: str | None = None
    """A model fed the same rows off the live path; its answers logged, never returned."""
    canary: str | None = None
    """A model taking a growing share of keys from the one variant, by ``ramp``."""
    ramp: str | None = None
    """The canary's shares and how long each lasts, e.g. 5,25,50@10m."""

    @model_validator(mode="after")
    def _fits(self) -> ExperimentBlock:
        """The split fits the variants and sums to 100; a canary has its ramp and no split."""
        from engine.deploy.variants import SHARE_TOLERANCE, even_split, parse_ramp

        count = len(self.variants)
        if self.canary is None:
            if self.ramp is not None:
                refuse("experiment.ramp: a ramp is a canary's schedule; add experiment.canary: "
                       "NAME@ALIAS")
            if self.split is None and count > 1:
                refuse(f"experiment.split is required for {count} variants: one percentage "
                       f"each, e.g. split: [{', '.join(even_split(count))}]")
        else:
            if count != 1 or self.split is not None:
                refuse("experiment.canary: declare one variant (the control) beside the canary, "
                       "and no split (the canary's share follows experiment.ramp)")
            if self.ramp is None:
                refuse("experiment.ramp is required with a canary: how its share grows, e.g. "
                       "ramp: 5,25,50@10m (5 % for ten minutes, then 25 %, then 50 %)")
            try:
                parse_ramp(self.ramp)
            except ConfigError as error:
                refuse(f"experiment.ramp: {str(error).partition(': ')[2]}")
        if self.split is not None and len(self.split) != count:
            refuse(f"experiment.split: {len(self.split)} share(s) for {count} variant(s); give "
                   f"one per variant, e.g. split: [{', '.join(even_split(count))}]")
        if self.split is not None and abs(sum(self.split) - 100) > SHARE_TOLERANCE:
            shares = ", ".join(f"{share:g}" for share in self.split)
            refuse(f"experiment.split: [{shares}] sums to {sum(self.split):g}, not 100; e.g. "
                   f"split: [{', '.join(even_split(count))}]")
        return self

    @property
    def split_text(self) -> str | None:
        """The split as ``serve --split`` writes it (``90/10``)."""
        return None if self.split is None else "/".join(f"{share:g}" for share in self.split)


class DeployConfig(Section):
    """The targets, and the options of those that take any."""

    targets: list[Target] = ["bundle"]
    """Any of bundle, onnx, torchscript, rest, registry."""
    quantize: Literal["int8"] | None = None
    """int8 (PyTorch models, with onnx): also exports/model.int8.onnx, dynamic int8
    quantization, its accuracy change and speed-up reported."""
    rest: RestConfig = RestConfig()
    """The REST service's container (target rest)."""
    registry: RegistryConfig = RegistryConfig()
    """The registry entry (target registry)."""
    experiment: ExperimentBlock | None = None
    """An online experiment to serve this run's model in (``serve --experiment RUN``): variants,
    split, key, seed, shadow, canary, ramp; null for none."""
