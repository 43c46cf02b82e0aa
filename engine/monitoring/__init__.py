"""Watching a deployed model: the reference profile a bundle keeps (``profile``), the prediction
log serving writes (``prediction_log``), drift statistics (``drift``), performance measured and
estimated (``performance``) and the ``monitor`` command that puts them together."""
