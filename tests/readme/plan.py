"""What the README runner changes about the README's commands, each with its reason: the commands
it skips, the exit statuses it expects besides 0, the budgets it shrinks, what it puts in place of
a placeholder, the servers it starts in the background, and the files a reader is assumed to
have.

Every skip, status, rewrite and placeholder must match a README command (``unused``), so none of
them outlives the command it was written for.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Skip:
    """A README command (exactly as the README has it) that the runner does not run."""

    command: str
    reason: str
    needs_shared_file: str | None = None  # skipped only when ../shared/data lacks this file


@dataclass(frozen=True)
class Status:
    """A README command whose documented outcome is a non-zero exit status."""

    command: str
    status: int
    reason: str


@dataclass(frozen=True)
class Rewrite:
    """``old`` replaced by ``new`` in every command that contains it; ``{port}`` in ``new`` is a
    free TCP port."""

    old: str
    new: str
    reason: str


@dataclass(frozen=True)
class Placeholder:
    """``token`` stands for the run directory printed by the latest run of ``source``."""

    token: str
    source: str


@dataclass(frozen=True)
class Server:
    """A command starting with ``prefix`` is a long-lived server: it is started in the background,
    counted as passing once ``probe`` answers 200 on its ``--port``, then stopped."""

    prefix: str
    probe: str


SHRINK = "a smaller budget, so the README step fits in a few minutes of CI"
FREE_PORT = "a free port: the README's 8080 may be taken on a shared machine"

CURL = ("a request to the server of the command above, which the runner stops once /ready "
        "answers; tests/deploy/test_read_rules.py posts the bundle's sample request to a real "
        "server")

SKIPS = (
    Skip("pytest", ".ci/run runs the default suite as its own step just before this one "
         "(8 to 10 minutes on 2 cores); twice would double it"),
    Skip("python -m engine experiment=german_credit_costs",
         "needs ../shared/data/german_credit.csv",
         needs_shared_file="german_credit.csv"),
    Skip("python -m engine predict outputs/runs/<german credit run> applicants.csv "
         "--what-if checking_status=A14", "needs the German credit run above",
         needs_shared_file="german_credit.csv"),
    Skip("python -m engine experiment=adult_hist_gbm", "needs ../shared/data/adult.csv",
         needs_shared_file="adult.csv"),
    Skip("python -m engine experiment=adult_fairness", "needs ../shared/data/adult.csv",
         needs_shared_file="adult.csv"),
    Skip("python -m engine dataset=adult model=mlp features=embeddings",
         "needs ../shared/data/adult.csv", needs_shared_file="adult.csv"),
    Skip("python -m engine dataset=titanic 'dataset.drop=[PassengerId,Name,Ticket]' "
         "report=false", "needs ../shared/data/titanic.csv", needs_shared_file="titanic.csv"),
    Skip("python -m engine dataset=titanic 'dataset.drop=[PassengerId,Name,Ticket]' "
         "quality.severity.missing_values=error", "needs ../shared/data/titanic.csv",
         needs_shared_file="titanic.csv"),
    Skip("python -m engine dataset=wine_quality_red tune=tpe tune.n_trials=20 "
         "'tune.models=[logistic_regression,hist_gbm]' tune.ensemble.size=10",
         "needs ../shared/data/wine_quality_red.csv", needs_shared_file="wine_quality_red.csv"),
    Skip("curl -s -H 'Content-Type: application/json' -d "
         "@outputs/runs/<churn run>/model/sample_request.json "
         "http://127.0.0.1:8080/invocations", CURL),
    Skip("curl -s -H 'Content-Type: application/json' -H 'X-Request-ID: order-1' -d "
         "@outputs/runs/<timestamp>/model/sample_request.json "
         "http://127.0.0.1:8080/invocations", CURL),
    Skip("python -m engine abtest http://127.0.0.1:8080",
         "reads the running server above and its log, after 400 labelled requests; "
         "tests/abtest/test_served_experiment.py and test_server_url.py run abtest against a "
         "real server's log"),
)

# A transcript whose output starts with `error:` is expected to exit 2 (the runner's rule); these
# are the other commands that must not exit 0.
STATUSES = (
    Status("python -m engine predict outputs/runs/<churn run> new.csv -o new_scored.csv --strict",
           2, "--strict refuses the unseen category, as the output shown says"),
    Status("python -m engine regress sweeps/ci.yaml --set features=passthrough", 1,
           "regress exits 1 when something regressed, and the output shown says it did"),
    Status("python -m engine monitor outputs/runs/<timestamp> week2.csv", 1,
           "monitor exits 1 when a threshold is crossed, and the output shown says week2 did"),
)

REWRITES = (
    Rewrite("python -m venv .venv", "python -m venv .venv && share_site_packages .venv",
            "the scratch environment also sees the runner's installed packages (a .pth file), so "
            "the install command resolves every dependency at once instead of downloading torch "
            "again (.ci/run has just installed them from scratch); the engine itself is installed "
            "into the scratch environment"),
    Rewrite("cd anywhere", 'cd "$(mktemp -d)"', "'anywhere' stands for any folder"),
    Rewrite(" [--metric accuracy] [--alpha 0.05]", "",
            "square brackets mark optional arguments; the output shown is without them"),
    Rewrite("tune.n_trials=50", "tune.n_trials=4", SHRINK),
    Rewrite("tune.timeout=120", "tune.timeout=20", SHRINK),
    Rewrite("tune.study_name=rf_bc", "tune.study_name=rf_bc tune.n_trials=4", SHRINK),
    Rewrite("'tune.pick={objective: fit_time, within: 0.005}'",
            "'tune.pick={objective: fit_time, within: 0.005}' tune.n_trials=4", SHRINK),
    Rewrite("model=mlp tune=tpe tune.pruner=median",
            "model=mlp tune=tpe tune.pruner=median tune.n_trials=3 model.max_epochs=5", SHRINK),
    Rewrite("dataset=adult model=mlp features=embeddings",
            "dataset=adult model=mlp features=embeddings model.max_epochs=2 split=holdout",
            SHRINK),
    Rewrite("python -m engine regress sweeps/ci.yaml --baseline other.json",
            "cp sweeps/baselines/ci.json other.json && "
            "python -m engine regress sweeps/ci.yaml --baseline other.json",
            "other.json: the baseline the --update-baseline line above wrote, by another name "
            "(its timings measured on this machine, as a baseline's must be)"),
    Rewrite("postgresql+psycopg://engine@db-host/studies", "outputs/studies/rf_workers.journal",
            "no PostgreSQL server in the runner: a journal file is a study storage the workers "
            "share on one machine; tests/tuning/test_workers_postgres.py runs three workers on a "
            "real PostgreSQL server"),
    Rewrite("--port 8080", "--port {port}", FREE_PORT),
    Rewrite("serve breast_cancer-hist_gbm@champion",
            "serve breast_cancer-hist_gbm@champion --port {port}", FREE_PORT),
    Rewrite("outputs/studies/rf_bc.journal", "outputs/studies/rf_bc.journal --port {port}",
            FREE_PORT),
    Rewrite("outputs/studies/rf_bc.db", "outputs/studies/rf_bc.db --port {port}", FREE_PORT),
)

PLACEHOLDERS = (
    Placeholder("outputs/runs/<timestamp>", "python -m engine"),
    Placeholder("outputs/runs/<b>", "python -m engine"),
    Placeholder("outputs/runs/<a>", "python -m engine model=logistic_regression"),
    Placeholder("outputs/runs/<carded run>",
                "python -m engine 'card.intended_use=rank biopsies for a second reading by a "
                "pathologist' 'card.out_of_scope=[a diagnosis without a pathologist]' "
                "'card.owners=[ml-team]' card.contact=ml-team@example.org card.license=apache-2.0"),
    Placeholder("outputs/runs/<churn run>",
                "python -m engine --config-dir conf dataset=telco_churn "
                "\"dataset.na_values=['?']\" 'dataset.drop=[customer_id,referral_code]' "
                "model=logistic_regression 'deploy.targets=[bundle,registry]'"),
    Placeholder("outputs/runs/<adult history run>",
                "python -m engine dataset=adult dataset.path=demo/history.csv model=hist_gbm "
                "report=false"),
    Placeholder("outputs/runs/<german credit run>",
                "python -m engine experiment=german_credit_costs"),
)

SERVERS = (
    Server("python -m engine serve ", "/ready"),
    Server("optuna-dashboard ", "/"),
)

# The model file the README's `$EDITOR my_project/conf/model/my_model.yaml` stands for.
MY_MODEL_YAML = """\
_target_:
  classification: sklearn.linear_model.LogisticRegression
C: 0.5
max_iter: 500
"""

# The package the README's `model.module={_target_: mypkg.nets.MyNet, hidden: 64}` names.
MY_NETWORK = '''\
"""A network of a user's own, as the README's model=torch line names it."""

from torch import nn


class MyNet(nn.Module):
    def __init__(self, n_features: int, n_outputs: int, hidden: int = 64) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(),
                                    nn.Linear(hidden, n_outputs))

    def forward(self, x):
        return self.layers(x)
'''


def unused(commands: list[str]) -> list[str]:
    """The skips, statuses, rewrites and placeholders that match none of ``commands``."""
    stale = [f"skip {skip.command!r}" for skip in SKIPS if skip.command not in commands]
    stale += [f"status {status.command!r}" for status in STATUSES
              if status.command not in commands]
    stale += [f"rewrite {rewrite.old!r}" for rewrite in REWRITES
              if not any(rewrite.old in command for command in commands)]
    stale += [f"placeholder {placeholder.token!r}" for placeholder in PLACEHOLDERS
              if not any(placeholder.token in command for command in commands)
              or placeholder.source not in commands]
    return stale


def rewrite(command: str) -> str:
    """``command`` with every declared rewrite applied (``{port}`` left for the runner)."""
    for change in REWRITES:
        command = command.replace(change.old, change.new)
    return command
