"""Ranking a sweep's jobs."""

from __future__ import annotations

from engine.tracking.leaderboard import rank_jobs


def job(name: str, dataset: str, objective: float | None, status: str = "ok") -> dict:
    return {"job": name, "dataset": dataset, "primary": "neg_mean_absolute_error",
            "objective": objective, "status": status}


def test_jobs_rank_best_first_within_each_dataset_and_failures_last() -> None:
    rows = rank_jobs([
        job("0", "a", -0.5), job("1", "a", 0.0), job("2", "a", -0.1),
        job("3", "b", -2.0), job("4", "a", None, status="failed"),
    ])
    assert [(r["job"], r["rank"]) for r in rows] == [
        ("1", 1), ("2", 2), ("0", 3), ("3", 1), ("4", ""),
    ]
