"""The command line: Hydra runs experiments and sweeps; words such as ``predict`` are verbs.

Thin on purpose: parse argv, hand overrides to Hydra, print results. A user's mistake prints one
line and exits 2 (``ENGINE_TRACEBACK=1`` shows the traceback); bugs keep their traceback. Ctrl-C
prints one line and exits 130, its run recorded as ``interrupted``.
Nothing heavy is imported before it is needed, so ``--help`` and ``--cfg job`` stay fast.
"""

from __future__ import annotations

import gc
import math
import os
import sys
import traceback
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from engine.config.hydra_errors import USER_ERRORS, user_message
from engine.errors import EngineError, EvaluationError, did_you_mean
from engine.tracking.files import write_text

if TYPE_CHECKING:
    from hydra.conf import HydraConf
    from hydra.types import RunMode

VERBS = ("predict", "compare", "report", "regress", "serve", "registry", "schema", "monitor",
         "retrain", "lifecycle", "abtest", "card", "runs", "worker")
TRACEBACK_VARIABLE = "ENGINE_TRACEBACK"
INTERRUPTED_EXIT = 130  # 128 + SIGINT, as a shell reports a process stopped by Ctrl-C


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m engine`` and the ``engine`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None:  # the process's own entry point: a caller passing argv keeps its collector
        _pause_gc()
    try:
        if args and args[0] in VERBS:
            from engine.verbs import run_verb

            resume_gc()
            run_verb(args[0], args[1:])
        else:
            run_hydra(args)
    except USER_ERRORS as error:
        exit_for_user_error(error)
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C): the run stopped; a named study (tune.study_name) resumes "
              "where it stopped when the same command runs again.", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT)
    finally:
        resume_gc(freeze=False)  # on, even when start-up failed


_gc_paused = False


def _pause_gc() -> None:
    """No cyclic garbage collection until start-up is over: see :func:`resume_gc`."""
    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True


def resume_gc(*, freeze: bool = True) -> None:
    """Turn the cyclic garbage collector back on, once start-up is over.

    Start-up (scikit-learn, pandas and Hydra imported, the config composed) allocates hundreds
    of thousands of objects that live as long as the process; collecting them for cycles is
    wasted work. Frozen into the permanent generation, they are skipped by later collections
    and by the one at exit too: together about 0.4 s a run (tests/bench/bench_overhead.py).
    Only the first call acts, so a sweep's later jobs never freeze an earlier job's garbage.
    """
    global _gc_paused
    if _gc_paused:
        if freeze:
            gc.freeze()
        gc.enable()
        _gc_paused = False


def exit_for_user_error(error: Exception) -> NoReturn:
    """Print the one-line message (after the traceback, if ENGINE_TRACEBACK=1) and exit 2."""
    if os.environ.get(TRACEBACK_VARIABLE, "").lower() in ("1", "true", "yes"):
        traceback.print_exception(error)
    print(f"error: {user_message(error)}", file=sys.stderr)
    sys.exit(2)


def run_hydra(args: list[str]) -> None:
    """Hand the overrides to Hydra; a sweep's every job config is composed and checked first."""
    import hydra
    from hydra._internal.utils import get_args_parser

    from engine.config.compose import CONFIG_DIR, CONFIG_NAME, user_config_dir

    parsed = get_args_parser().parse_args(args)
    _refuse_stray_words(parsed.overrides)
    config_dir = user_config_dir(parsed.config_dir)
    if config_dir is not None:  # $ENGINE_CONFIG_DIR, or --config-dir made absolute
        args = [*args, "--config-dir", str(config_dir)]
        parsed.config_dir = str(config_dir)
    inspecting = parsed.help or parsed.hydra_help or parsed.cfg or parsed.info
    mode = None  # the config's hydra.mode: unset, unless the preflight finds it set
    if parsed.multirun and not (inspecting or parsed.shell_completion):
        from engine.sweep_preflight import preflight_sweep

        resume_gc()  # composing every job's config leaves garbage to collect
        preflight_sweep(parsed.overrides, config_dir=parsed.config_dir,
                        config_name=parsed.config_name or CONFIG_NAME)
    elif not (inspecting or parsed.shell_completion):
        from engine.sweep_preflight import preflight_run

        mode = preflight_run(parsed.overrides, config_dir=parsed.config_dir,
                             config_name=parsed.config_name or CONFIG_NAME)
    os.environ["HYDRA_FULL_ERROR"] = "1"
    sys.argv = ["engine", *args]
    with _mode_known(mode):
        hydra.main(config_path=str(CONFIG_DIR), config_name=CONFIG_NAME, version_base="1.3")(
            run_job
        )()


def _mode_known(mode: RunMode | None) -> AbstractContextManager[object]:
    """Hydra composes the whole config once more before a run or sweep only to read its
    ``hydra.mode`` (``Hydra.get_mode``, not public); the preflight has read it already (a sweep
    runs as one whatever the mode says). A quarter of a second of every run saved."""
    from unittest import mock

    from hydra._internal.hydra import Hydra

    return mock.patch.object(Hydra, "get_mode", lambda *_args, **_kwargs: mode)


def _refuse_stray_words(overrides: Sequence[str]) -> None:
    """A bare word is neither an override nor a verb: say so, with did-you-mean."""
    for word in overrides:
        if "=" not in word and not word.startswith("~"):
            raise EngineError(
                f"unknown command '{word}'.{did_you_mean(word, VERBS)} Commands: "
                f"{', '.join(VERBS)}; overrides look like key=value (e.g. model=random_forest)."
            )


def run_job(cfg: DictConfig) -> float:
    """Hydra's task function: run one experiment and return its primary metric.

    In a sweep a failing job is recorded in its run.json and the sweep goes on; Ctrl-C is
    recorded (status ``interrupted``) and stops the sweep.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        return _run(cfg, run_dir, hydra_cfg)
    except KeyboardInterrupt:
        _record_interruption(run_dir, hydra_cfg)
        raise
    except (EngineError, HydraException) as error:
        message = _record_failure(error, run_dir, hydra_cfg)
        if not in_sweep:
            exit_for_user_error(error)
    except Exception as error:
        message = _record_failure(error, run_dir, hydra_cfg)
        if not in_sweep:
            raise
    print(f"error: job {hydra_cfg.job.num}: {message}", file=sys.stderr)
    return math.nan


def _record_failure(error: Exception, run_dir: Path, hydra_cfg: HydraConf) -> str:
    """Write a failed run's run.json (and traceback, for a bug); return its one-line message."""
    from engine.config.compose import runtime_choices
    from engine.tracking.records import RUN_FILE, UnfinishedRunRecord, write_record

    message = user_message(error)
    if isinstance(error, EvaluationError):
        return message  # the run finished and its run.json already records the failed check
    if not isinstance(error, EngineError | HydraException):
        write_text(run_dir / "error.txt", traceback.format_exc())
        message = f"{type(error).__name__}: {message} (traceback in error.txt)"
    write_record(run_dir / RUN_FILE, UnfinishedRunRecord.model_validate(
        {"status": "failed", "error": message, "choices": runtime_choices(hydra_cfg)}))
    return message


def _record_interruption(run_dir: Path, hydra_cfg: HydraConf) -> None:
    """Write the run.json of a run stopped by Ctrl-C."""
    from engine.config.compose import runtime_choices
    from engine.tracking.records import RUN_FILE, UnfinishedRunRecord, write_record

    write_record(run_dir / RUN_FILE, UnfinishedRunRecord.model_validate(
        {"status": "interrupted", "error": "interrupted (Ctrl-C)",
         "choices": runtime_choices(hydra_cfg)}))


def _run(cfg: DictConfig, run_dir: Path, hydra_cfg: HydraConf) -> float:
    from hydra.types import RunMode

    from engine.budget import process_started
    from engine.config.compose import (
        config_dirs,
        resolved_config,
        runtime_choices,
        spec_from_hydra,
    )
    from engine.experiment import run_experiment
    from engine.tracking.records import RESOLVED_CONFIG_FILE
    from engine.tracking.summary import make_console

    resume_gc()

    spec = spec_from_hydra(cfg, runtime_choices(hydra_cfg), config_dirs(hydra_cfg))
    write_text(run_dir / RESOLVED_CONFIG_FILE,
               OmegaConf.to_yaml(OmegaConf.create(resolved_config(cfg))))
    # A single run's budget counts from the process's start; a sweep's job's, from its own.
    # A sweep's jobs wait for MLflow: the sweep's parent run closes after them, and helpers
    # left running would pile up.
    single = hydra_cfg.mode != RunMode.MULTIRUN
    result = run_experiment(
        spec, run_dir, project_dir=Path(hydra_cfg.runtime.cwd), console=make_console(),
        started=process_started() if single else None, log_in_background=single,
    )
    return result.objective
