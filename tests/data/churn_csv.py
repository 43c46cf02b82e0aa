"""A customer-churn CSV as a user exports it: typed the way only a reader can guess.

``monthly_charges`` is numeric but has ``?`` where the charge is unknown; ``signup_date`` is an
ISO date with about 900 distinct days; ``referral_code`` is a code with about 600 distinct values
in 1,000 rows; ``plan`` and ``support_calls`` are ordinary; ``churned`` (yes/no) is the target
and depends on the charges, the tenure (from the signup date) and the support calls.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

N_ROWS = 1000
UNKNOWN_CHARGES = 12  # rows whose monthly_charges is "?"
REFERENCE_DAY = pd.Timestamp("2024-06-30")


def churn_frame(n_rows: int = N_ROWS, *, seed: int = 0) -> pd.DataFrame:
    """The rows, seeded; values as strings where a CSV writer would write them."""
    rng = np.random.default_rng(seed)
    signup = REFERENCE_DAY - pd.to_timedelta(rng.integers(0, 5000, n_rows), unit="D")
    tenure_years = (REFERENCE_DAY - signup).days.to_numpy() / 365.0
    charges = rng.normal(70, 25, n_rows).clip(15, 150).round(2)
    calls = rng.poisson(1.5, n_rows)
    plan = rng.choice(["basic", "standard", "premium"], n_rows, p=[0.5, 0.3, 0.2])
    logit = 0.03 * (charges - 70) - 0.25 * tenure_years + 0.6 * calls - 0.5
    churned = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    charge_text = charges.astype(str).astype(object)
    charge_text[rng.choice(n_rows, UNKNOWN_CHARGES, replace=False)] = "?"
    return pd.DataFrame({
        "customer_id": [f"C{100000 + i}" for i in range(n_rows)],
        "signup_date": signup.strftime("%Y-%m-%d"),
        "plan": plan,
        "monthly_charges": charge_text,
        "support_calls": calls,
        "referral_code": [f"R{code:03d}" for code in rng.integers(0, 900, n_rows)],
        "churned": np.where(churned, "yes", "no"),
    })


def write_churn_csv(path: Path, n_rows: int = N_ROWS, *, seed: int = 0) -> Path:
    """Write :func:`churn_frame` to ``path`` as CSV; returns the path."""
    churn_frame(n_rows, seed=seed).to_csv(path, index=False)
    return path


if __name__ == "__main__":  # python -m tests.data.churn_csv PATH: the README's "own CSV"
    write_churn_csv(Path(sys.argv[1]))
