"""An online experiment as ``serve`` declares it: the variants, pinned to registered versions,
their split (or a canary's ramp), the assignment key and a shadow, checked before a server
starts.

``serve churn@champion churn@challenger --split 90/10 --key user_id --shadow churn@candidate``
resolves each alias to the version it names now and pins it (``churn/3``), so a promotion
during the test cannot change what a variant answers with. The variants must read the same
input columns with the same types (else a request could not be checked once for all), and the
key must be a column the rows carry: an input column or one the training dropped (an id).

The same experiment can be declared in a YAML file (``serve --experiment FILE``)::

    experiment:
      variants: [churn@champion, churn@challenger]
      split: [90, 10]
      key: user_id
      shadow: churn@candidate
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config.schema import parse_section
from engine.config.schema.base import Section
from engine.config.schema.deploy import ExperimentBlock
from engine.deploy.variants import Ramp, parse_ramp, parse_split
from engine.errors import ConfigError, did_you_mean
from engine.monitoring.columns import SHADOW_PREFIX

if TYPE_CHECKING:
    from engine.deploy.bundle import Bundle

CONTROL, CHALLENGER, CANARY = "control", "challenger", "canary"


@dataclass(frozen=True)
class Variant:
    """One model of an experiment: its name, the reference given, its bundle and lineage."""

    name: str
    reference: str
    bundle: Bundle
    lineage: dict[str, Any]

    @property
    def version(self) -> int | None:
        version = (self.lineage.get("registered") or {}).get("version")
        return int(version) if version is not None else None

    @property
    def pinned(self) -> str:
        """``name/version`` for a registered model, else the run directory."""
        registered = self.lineage.get("registered")
        return (f"{registered['name']}/{registered['version']}" if registered else
                str(self.lineage.get("run_dir", self.reference)))


@dataclass(frozen=True)
class Experiment:
    """The live ``variants`` (the first is the control), their fixed ``shares`` in percent or a
    canary's ``ramp`` (the second variant's share over time), the ``key`` column, the ``seed``
    of the assignment and an optional ``shadow``."""

    variants: tuple[Variant, ...]
    shares: tuple[float, ...] | None
    ramp: Ramp | None
    key: str | None
    seed: int
    shadow: Variant | None

    def shares_at(self, elapsed_s: float) -> list[float]:
        """Each live variant's share in percent, ``elapsed_s`` seconds after the start."""
        if self.ramp is not None:
            canary = self.ramp.share_at(elapsed_s)
            return [100.0 - canary, canary]
        assert self.shares is not None
        return list(self.shares)

    def describe(self) -> str:
        """The startup line's account of the experiment."""
        split = (f"canary ramp {self.ramp.describe()}" if self.ramp else
                 "split " + "/".join(f"{share:g}" for share in self.shares or ()))
        variants = ", ".join(f"{variant.name} {variant.pinned} ({variant.reference})"
                             for variant in self.variants)
        shadow = (f"; shadow {self.shadow.pinned} ({self.shadow.reference}), logged as "
                  f"{self.shadow.name}" if self.shadow else "")
        keyed = (f"by a seeded hash of '{self.key}' (seed {self.seed}; a request without it "
                 "is placed at random)" if self.key else f"at random per request (seed "
                 f"{self.seed})")
        return (f"experiment: {variants}{shadow}; {split} {keyed}; versions pinned, aliases "
                "not followed")


class _ExperimentFile(Section):
    experiment: ExperimentBlock


def read_experiment_file(path: Path) -> ExperimentBlock:
    """The ``experiment`` block of a YAML file, or the ``deploy.experiment`` a run was trained
    with (``path`` a run directory); a ConfigError naming the file and the key."""
    import yaml

    from engine.config.hydra_errors import yaml_syntax_error

    if path.is_dir():
        return _run_experiment(path)
    if not path.is_file():
        raise ConfigError(f"serve --experiment: no file '{path}'; give a YAML file holding an "
                          "experiment block (variants, split, key, ...), or a run directory "
                          "trained with deploy.experiment.")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise yaml_syntax_error(error, path) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping holding an experiment block, e.g. "
                          "experiment: {variants: [churn@champion, churn@challenger], split: "
                          f"[90, 10]}}; got {raw!r}.")
    try:
        return parse_section(_ExperimentFile, raw).experiment
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def _run_experiment(run_dir: Path) -> ExperimentBlock:
    from engine.config.schema.deploy import DeployConfig
    from engine.tracking.files import read_yaml
    from engine.tracking.records import RESOLVED_CONFIG_FILE

    path = run_dir / RESOLVED_CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"serve --experiment {run_dir}: not a run directory (no "
                          f"{RESOLVED_CONFIG_FILE}); give a run trained with "
                          "deploy.experiment, or a YAML file holding an experiment block.")
    config = read_yaml(path)
    deploy = parse_section(DeployConfig, (config.get("deploy") if isinstance(config, dict)
                                          else None) or {})
    if deploy.experiment is None:
        raise ConfigError(f"serve --experiment {run_dir}: the run declares no deploy.experiment; "
                          "train one with a deploy.experiment block (variants and split, as an "
                          "experiment file holds them), or give a YAML file.")
    return deploy.experiment


def plan_declared(block: ExperimentBlock, *, registry: Path | None,
                  trust_pickle: bool = False) -> Experiment | None:
    """The experiment a file declares, planned as :func:`plan_experiment` plans the flags'."""
    return plan_experiment(block.variants, split=block.split_text, canary=block.canary,
                           ramp=block.ramp, key=block.key, shadow=block.shadow, seed=block.seed,
                           registry=registry, trust_pickle=trust_pickle)


def plan_experiment(references: Sequence[str], *, split: str | None, canary: str | None,
                    ramp: str | None, key: str | None, shadow: str | None, seed: int,
                    registry: Path | None, trust_pickle: bool = False) -> Experiment | None:
    """The experiment ``serve`` declares, each reference resolved and pinned; None for a plain
    one-model server. A ConfigError (one line) for a split that does not fit the variants, an
    unknown alias, variants whose input columns differ, or a key no row carries."""
    experimenting = len(references) > 1 or canary or ramp or shadow or split or key
    if not experimenting:
        return None
    if ramp is not None and canary is None:
        raise ConfigError("serve --ramp: a ramp is a canary's schedule; add --canary "
                          "NAME@ALIAS")
    if canary is not None:
        if len(references) != 1 or split is not None:
            raise ConfigError("serve --canary: serve one model (the control) beside the canary, "
                              "and no --split (the canary's share follows --ramp)")
        if ramp is None:
            raise ConfigError("serve --canary: say how its share grows, e.g. --ramp "
                              "5,25,50@10m (5 % for ten minutes, then 25 %, then 50 %)")
        names = [CONTROL, CANARY]
        references = [*references, canary]
    else:
        names = [CONTROL, CHALLENGER] if len(references) == 2 else \
            [CONTROL, *(f"{CHALLENGER}{index}" for index in range(1, len(references)))]
    shares = None
    if canary is None:
        if split is None and len(references) > 1:
            raise ConfigError(f"serve: {len(references)} models need --split, one percentage "
                              "each, e.g. --split 90/10")
        shares = tuple(parse_split(split or "100", len(references)))
    variants = tuple(_resolved(name, reference, registry, trust_pickle)
                     for name, reference in zip(names, references, strict=True))
    shadowed = None if shadow is None else _resolved(
        _shadow_name(shadow), shadow, registry, trust_pickle)
    for variant in (*variants[1:], *([shadowed] if shadowed else [])):
        _check_compatible(variants[0], variant)
    if key is not None:
        _check_key(key, variants[0].bundle)
    return Experiment(variants, shares, None if ramp is None else parse_ramp(ramp), key, seed,
                      shadowed)


def _shadow_name(reference: str) -> str:
    return SHADOW_PREFIX + Path(reference).name if Path(reference).exists() else \
        SHADOW_PREFIX + reference.removeprefix("models:/")


def _resolved(name: str, reference: str, registry: Path | None, trust_pickle: bool) -> Variant:
    """The variant ``reference`` names, pinned: an alias read once, to its version now."""
    from engine.deploy.registry import resolve_model

    bundle, lineage = resolve_model(reference, registry, trust_pickle=trust_pickle)
    return Variant(name, reference, bundle, lineage)


def _check_compatible(control: Variant, other: Variant) -> None:
    """Refuse a variant that reads other input columns, or the same ones with other types."""
    ours = {column["name"]: column for column in control.bundle.schema["columns"]}
    theirs = {column["name"]: column for column in other.bundle.schema["columns"]}
    for name in sorted(ours.keys() ^ theirs.keys()):
        which = control if name in ours else other
        raise ConfigError(
            f"serve: {other.name} {other.reference} cannot serve beside {control.name} "
            f"{control.reference}: input column '{name}' is read only by {which.name} "
            f"({which.reference}); the variants of an experiment must read the same columns.")
    for name, column in ours.items():
        kinds = [(found["kind"], found["dtype"]) for found in (column, theirs[name])]
        if kinds[0] != kinds[1]:
            raise ConfigError(
                f"serve: {other.name} {other.reference} cannot serve beside {control.name} "
                f"{control.reference}: input column '{name}' is {kinds[1][0]} "
                f"({kinds[1][1]}) there and {kinds[0][0]} ({kinds[0][1]}) in the control; the "
                "variants of an experiment must read the same columns with the same types.")


def _check_key(key: str, bundle: Bundle) -> None:
    """The key must be a column rows carry: an input column, or an id the training dropped."""
    carried = [column["name"] for column in bundle.schema["columns"]]
    carried += list(bundle.metadata.reading.drop or ())
    if key not in carried:
        raise ConfigError(f"serve --key: '{key}' is not a column the rows carry."
                          f"{did_you_mean(key, carried)} Give an input column or an id the "
                          f"training dropped: {', '.join(carried)}.")
