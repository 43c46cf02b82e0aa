"""The CI regression gate: ``python -m engine regress sweeps/ci.yaml``.

A suite (``suite.py``) names experiments and the metrics they guard; the runner (``runner.py``)
trains them, loading each dataset once; ``guards.py`` compares the measurements with the
baseline (``baseline.py``) and ``outcome_files.py`` writes the table, Markdown and JUnit XML.
"""
