"""Hyperparameter search with Optuna: search spaces from YAML, the study, workers and a sweeper.

``space`` and ``pipeline_space`` read the ``search_space`` of models and features; ``search`` runs
the study inside one experiment with ``workers``; ``storage`` opens the journal file or database a
study lives in; ``sweeper`` is the Hydra sweeper (``hydra/sweeper=optuna``).
"""
