"""`python -m model tune`: hyperparameter search over the ranker and training settings.

Optuna's TPE sampler (seeded) proposes settings within `tune:`'s bounds; each trial trains on the run's
train split and reports valid NDCG@10 after every epoch, so the median pruner stops trials that fall
behind. Trial 0 is the config as given (the baseline the search must beat). The test split is never
looked at. Outputs in `<out>/tune/`: best.yaml (a full config for `pipeline --config`), result.json,
report.md and trials.png (model/tuning/report.py).

Resuming honestly (model/tuning/resume.py): the study in `<out>/tune/study.db` (SQLite) is named by a
fingerprint of the search space, the settings it does not search and the data, so a changed space or
data set starts a new study instead of mixing trials of two questions. One process runs a study at a
time (a lock file); a trial left RUNNING by a killed process is marked FAILED and its settings are
queued again, and the sampler's state (its random generator) is saved after every suggestion and
restored, so an interrupted search proposes what an uninterrupted one would have.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import optuna
import yaml

from model import console
from model import pipeline as pl
from model.config import PipelineConfig
from model.tuning import resume

if TYPE_CHECKING:  # TensorFlow: imported by the training objective only, not by a search driver
    from model.ranker.train import EpochRecord

STUDY_PREFIX = "rankship-tune"


@dataclass(frozen=True)
class TuneResult:
    study: optuna.Study
    best_config: Path
    report: Path
    seconds: float


def suggest(trial: optuna.Trial, cfg: PipelineConfig) -> PipelineConfig:
    """`cfg` with the trial's choice of every searched setting."""
    t = cfg.tune
    train = {
        "learning_rate": trial.suggest_float(
            "learning_rate", t.learning_rate.low, t.learning_rate.high, log=True
        ),
        "batch_queries": trial.suggest_int(
            "batch_queries", int(t.batch_queries.low), int(t.batch_queries.high), log=True
        ),
        "warmup_steps": trial.suggest_int("warmup_steps", int(t.warmup_steps.low), int(t.warmup_steps.high)),
    }
    ranker = {
        "width": trial.suggest_categorical("width", list(t.widths)),
        "layers": trial.suggest_int("layers", int(t.layers.low), int(t.layers.high)),
        "dropout": trial.suggest_float("dropout", t.dropout.low, t.dropout.high),
    }
    return apply_params(cfg, {**train, **ranker})


def apply_params(cfg: PipelineConfig, params: dict[str, Any]) -> PipelineConfig:
    train_keys = ("learning_rate", "batch_queries", "warmup_steps")
    train = cfg.train.model_copy(update={k: params[k] for k in train_keys if k in params})
    ranker = cfg.ranker.model_copy(
        update={k: params[k] for k in ("width", "layers", "dropout") if k in params}
    )
    # model_copy skips validation: validate the combination (width vs heads, ranges) like a loaded file.
    return PipelineConfig.model_validate(
        {**cfg.model_dump(), "train": train.model_dump(), "ranker": ranker.model_dump()}
    )


def _as_given(cfg: PipelineConfig) -> dict[str, Any]:
    """Trial 0's parameters: the config itself (categorical choices must be one of the listed widths)."""
    params = {
        "learning_rate": cfg.train.learning_rate,
        "batch_queries": cfg.train.batch_queries,
        "warmup_steps": cfg.train.warmup_steps,
        "layers": cfg.ranker.layers,
        "dropout": cfg.ranker.dropout,
    }
    if cfg.ranker.width in cfg.tune.widths:
        params["width"] = cfg.ranker.width
    return params


Evaluate = Callable[[optuna.Trial, PipelineConfig], float]


def training_objective(cfg: PipelineConfig, ws: pl.Workspace, progress: bool) -> Evaluate:
    """Train with a trial's settings; valid NDCG@10 after every epoch feeds the pruner."""
    from model.ranker.train import train_ranker
    from model.text.features import fit_texts
    from model.text.vocabulary import fit_tokenizer

    splits = pl.load_splits(ws)
    tokenizer = fit_tokenizer(cfg.tokenizer, fit_texts(splits.train, splits.valid, splits.test))

    def run(trial: optuna.Trial, trial_cfg: PipelineConfig) -> float:
        def report(record: EpochRecord) -> None:
            trial.report(record.valid_ndcg, record.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"valid NDCG@10 {record.valid_ndcg:.4f} after epoch {record.epoch}")

        result = train_ranker(trial_cfg, tokenizer, splits.train, splits.valid, progress, on_epoch=report)
        trial.set_user_attr("best_epoch", result.best_epoch)
        return result.best_valid_ndcg

    return run


def objective(cfg: PipelineConfig, ws: pl.Workspace, progress: bool) -> Any:
    """suggest + train, as one Optuna objective (for a study driven directly)."""
    evaluate = training_objective(cfg, ws, progress)
    return lambda trial: evaluate(trial, suggest(trial, cfg))


def search(
    cfg: PipelineConfig, directory: Path, evaluate: Evaluate, data_fingerprint: str, progress: bool = False
) -> optuna.Study:
    """Run (or resume) the study of this search space and data until `tune.trials` trials finished."""
    with resume.locked(directory):
        name = f"{STUDY_PREFIX}-{resume.fingerprint(cfg, data_fingerprint)[:12]}"
        sampler = resume.load_sampler(directory, name) or optuna.samplers.TPESampler(seed=cfg.tune.seed)
        study = open_study(cfg, directory, name, sampler)
        if not study.trials:
            study.enqueue_trial(_as_given(cfg))
        resume.requeue_killed(study)
        done = [t for t in study.trials if t.state in resume.FINISHED]
        remaining = cfg.tune.trials - len(done)

        def run(trial: optuna.Trial) -> float:
            trial_cfg = suggest(trial, cfg)
            resume.save_sampler(directory, name, study.sampler)  # after this trial's draws
            return evaluate(trial, trial_cfg)

        if remaining > 0:
            with console.progress(remaining, "tune", "trial", progress) as bar:

                def tick(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
                    value = "" if trial.value is None else f", valid NDCG@10 {trial.value:.4f}"
                    console.note(bar, f"tune trial {trial.number}: {trial.state.name.lower()}{value}")
                    done = [
                        t.value for t in study.trials if t.state.name == "COMPLETE" and t.value is not None
                    ]
                    bar.set_postfix_str(f"best {max(done):.4f}" if done else "", refresh=False)
                    bar.update()

                study.optimize(run, n_trials=remaining, timeout=cfg.tune.timeout_s, callbacks=[tick])
        return study


def open_study(
    cfg: PipelineConfig, directory: Path, name: str, sampler: optuna.samplers.BaseSampler
) -> optuna.Study:
    directory.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t = cfg.tune
    return optuna.create_study(
        study_name=name,
        storage=f"sqlite:///{(directory / 'study.db').resolve()}",
        load_if_exists=True,
        direction="maximize",
        sampler=sampler,
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=t.prune_startup_trials, n_warmup_steps=t.prune_warmup_epochs
        ),
    )


def tune(cfg: PipelineConfig, ws: pl.Workspace, progress: bool = True) -> TuneResult:
    """Run (or resume) the search until `tune.trials` trials exist; write best.yaml and the report."""
    from model.steps import step_data
    from model.tuning.report import write_tune_report

    start = time.perf_counter()
    if not (ws.data / "summary.json").exists() or not ws.lineage.exists():
        step_data(cfg, ws)
    data_fingerprint = str(json.loads(ws.lineage.read_text(encoding="utf-8"))["data_fingerprint"])
    directory = ws.out / "tune"
    # One display for the search (trials are its unit); each trial's own training stays quiet.
    study = search(cfg, directory, training_objective(cfg, ws, False), data_fingerprint, progress)
    best = apply_params(cfg, study.best_trial.params)
    best_config = directory / "best.yaml"
    tmp = best_config.with_name(".best.yaml.tmp")
    tmp.write_text(
        "# Best settings of `python -m model tune`; use with `python -m model pipeline --config`.\n"
        + yaml.safe_dump(best.model_dump(mode="json"), sort_keys=False),
        encoding="utf-8",
    )
    tmp.replace(best_config)
    seconds = time.perf_counter() - start
    report = write_tune_report(study, directory, seconds)
    return TuneResult(study, best_config, report, seconds)
