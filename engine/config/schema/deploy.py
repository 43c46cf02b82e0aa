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
    alias: str | None = "challenger"
    description: str = ""
    path: str | None = None


class DeployConfig(Section):
    """The targets, and the options of those that take any."""

    targets: list[Target] = ["bundle"]
    quantize: Literal["int8"] | None = None
    rest: RestConfig = RestConfig()
    registry: RegistryConfig = RegistryConfig()
