"""Hyperparameter search with Optuna: search spaces from YAML, the study, workers and a sweeper.

``parse_space`` reads a model's ``search_space``; ``run_search`` runs the study inside one
experiment; ``open_storage`` opens the journal file or database a study lives in.
"""
