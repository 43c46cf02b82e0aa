"""``deploy``: where a trained model goes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from engine.config.schema.base import Section

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
