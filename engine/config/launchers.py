"""Hydra's launchers the engine ships as extras, and the message when one is not installed.

``hydra/launcher=joblib`` (jobs in parallel on this machine), ``hydra/launcher=slurm`` (each job
a SLURM job, through submitit) and ``hydra/launcher=ray_cluster`` (each job a task on a Ray
cluster); the last two are the engine's configs (engine/conf/hydra/launcher/) over the plugins'.
"""

from __future__ import annotations

import importlib.util

from engine.errors import ConfigError

# The plugin's config names (and the engine's own over them) -> the extra that installs it.
LAUNCHER_EXTRAS = {"joblib": "joblib", "submitit_local": "slurm", "submitit_slurm": "slurm",
                   "slurm": "slurm", "ray": "ray", "ray_aws": "ray", "ray_cluster": "ray"}
PLUGINS = {"joblib": ("hydra-joblib-launcher", "hydra_plugins.hydra_joblib_launcher"),
           "slurm": ("hydra-submitit-launcher", "hydra_plugins.hydra_submitit_launcher"),
           "ray": ("hydra-ray-launcher", "hydra_plugins.hydra_ray_launcher")}


def missing_launcher(missing_config: str | None) -> ConfigError | None:
    """The error for a launcher config Hydra could not find because its plugin is not
    installed (``missing_config`` is e.g. ``hydra/launcher/joblib``); None for anything else."""
    group, _, option = (missing_config or "").rpartition("/")
    if group != "hydra/launcher" or option not in LAUNCHER_EXTRAS:
        return None
    extra = LAUNCHER_EXTRAS[option]
    package, module = PLUGINS[extra]
    if importlib.util.find_spec(module) is not None:
        return None
    return ConfigError(
        f"hydra/launcher={option}: the {extra} launcher is not installed. Install it with "
        f"pip install -e \".[{extra}]\" (the {package} plugin), or leave hydra/launcher out "
        "to run the sweep's jobs one after another."
    )
