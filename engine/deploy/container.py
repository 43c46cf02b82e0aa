"""A container for the REST service of a run: ``<run>/container/`` holds a Dockerfile, pinned
requirements, the engine's source and a copy of the bundle, so ``docker build`` works anywhere
without this repository.
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import engine
from engine.deploy.bundle import Bundle, load_bundle
from engine.tracking.files import write_text

CONTAINER_DIR = "container"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
DOCKERFILE = """\
# The REST service of {model} (python -m engine serve): build with
#   docker build -t {tag} {directory}
# and run with
#   docker run -p {port}:{port} {tag}
FROM {base_image}
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt{index}
COPY engine /app/engine
COPY model /app/model
ENV PYTHONPATH=/app
EXPOSE {port}
HEALTHCHECK CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/ready')"]
CMD ["python", "-m", "engine", "serve", "/app/model", "--host", "0.0.0.0", "--port", "{port}"]
"""


def write_container(run_dir: Path, *, port: int = 8080,
                    base_image: str = "python:3.11-slim") -> dict[str, Any]:
    """Write the container directory for the run's bundle; the record of what it holds."""
    bundle = load_bundle(run_dir)
    directory = run_dir / CONTAINER_DIR
    if directory.exists():
        shutil.rmtree(directory)
    shutil.copytree(bundle.directory, directory / "model")
    shutil.copytree(Path(engine.__file__).parent, directory / "engine",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    needs_torch = uses_torch(bundle)
    requirements = pinned_requirements(bundle, include_torch=needs_torch)
    write_text(directory / "requirements.txt", "\n".join(requirements) + "\n")
    tag = re.sub(r"[^a-z0-9_.-]", "-", bundle.metadata.model.lower())
    write_text(directory / "Dockerfile", DOCKERFILE.format(
        model=bundle.metadata.model, tag=f"engine-{tag}", directory=directory, port=port,
        base_image=base_image, index=f" --extra-index-url {TORCH_INDEX}" if needs_torch else ""))
    return {"directory": str(directory), "port": port, "requirements": len(requirements),
            "torch": needs_torch}


def uses_torch(bundle: Bundle) -> bool:
    """Whether any estimator in the bundle's pipeline is one of the engine's PyTorch ones."""
    pipeline = bundle.pipeline
    parts = [pipeline, *pipeline.get_params(deep=True).values()]
    return any(type(part).__module__.startswith("engine.models.torch") for part in parts)


def pinned_requirements(bundle: Bundle, *, include_torch: bool) -> list[str]:
    """The engine's runtime requirements and the packages the bundle recorded, pinned to the
    versions it was trained with (else the ones installed here): a pipeline saved by one
    scikit-learn, numpy or skops need not load, or predict the same, under another."""
    trained_with = {name.lower(): version for name, version in
                    bundle.metadata.packages.items()}
    names = {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()
             for requirement in metadata.requires("engine") or [] if "extra ==" not in requirement}
    names |= set(trained_with) - {"python", "engine"}
    if not include_torch:
        names.discard("torch")
    return sorted(f"{name}=={trained_with.get(name) or metadata.version(name)}" for name in names)
