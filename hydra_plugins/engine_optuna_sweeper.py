"""Hydra instantiates sweepers only from the ``hydra_plugins`` package: the engine's is named here.

engine/conf/hydra/sweeper/optuna.yaml targets this class; the code is engine.tuning.sweeper. Hydra
imports this module on every start, so it must stay light (no Optuna import). ``hydra_plugins`` is
a namespace package (no ``__init__.py``), as Hydra requires, and ships in the wheel beside engine.
"""

from __future__ import annotations

from engine.tuning.sweeper import OptunaSweeper as EngineOptunaSweeper


class OptunaSweeper(EngineOptunaSweeper):
    """engine.tuning.sweeper.OptunaSweeper, under the name Hydra requires of a plugin."""
