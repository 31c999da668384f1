"""Hyperparameter search: the search space, pruning wired to per-epoch validation, and a 3-trial tiny
search whose best.yaml the pipeline loads and which resumes from its SQLite study."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from pathlib import Path

import optuna
import pytest
import yaml

from model import pipeline as pl
from model.__main__ import main
from model.config import ConfigError, load_config
from model.data.schema import Splits
from model.tuning.search import apply_params, objective, suggest
from tests.model.ranker_toy import toy_config, toy_frame


def test_suggest_applies_every_searched_setting() -> None:
    cfg = load_config(preset="tiny")
    params = {
        "learning_rate": 1e-3,
        "batch_queries": 5,
        "warmup_steps": 3,
        "width": 16,
        "layers": 2,
        "dropout": 0.2,
    }
    tuned = suggest(optuna.trial.FixedTrial(params), cfg)
    assert (tuned.train.learning_rate, tuned.train.batch_queries, tuned.train.warmup_steps) == (1e-3, 5, 3)
    assert (tuned.ranker.width, tuned.ranker.layers, tuned.ranker.dropout) == (16, 2, 0.2)
    assert tuned.data == cfg.data and tuned.train.epochs == cfg.train.epochs  # nothing else moves


def test_tpe_suggestions_stay_within_the_bounds() -> None:
    cfg = load_config(preset="tiny")
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    for _ in range(12):
        trial = study.ask()
        tuned = suggest(trial, cfg)
        study.tell(trial, 0.0)
        t = cfg.tune
        assert t.learning_rate.low <= tuned.train.learning_rate <= t.learning_rate.high
        assert t.batch_queries.low <= tuned.train.batch_queries <= t.batch_queries.high
        assert tuned.ranker.width in t.widths and t.layers.low <= tuned.ranker.layers <= t.layers.high


def test_bad_search_space_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"ranker": {"heads": 4}, "tune": {"widths": [32, 30]}}))
    with pytest.raises(ConfigError, match=r"tune\.widths \[30\]"):
        load_config(bad)
    bad.write_text(yaml.safe_dump({"tune": {"dropout": {"low": 0.5, "high": 0.1}}}))
    with pytest.raises(ConfigError, match=r"tune\.dropout"):
        load_config(bad)
    with pytest.raises(Exception, match="learning_rate"):
        apply_params(load_config(preset="tiny"), {"learning_rate": -1.0})


def test_a_trial_below_the_bar_is_pruned_after_its_first_epoch(tmp_path: Path) -> None:
    """A pruner whose bar no NDCG can reach (> 1) stops the trial at the first epoch report."""
    cfg = toy_config(epochs=3)
    ws = pl.Workspace(tmp_path)
    pl.save_splits(
        ws, Splits(toy_frame(16, 6, seed=1), toy_frame(4, 6, seed=2), toy_frame(4, 6, seed=3)), "toy"
    )
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=1.5))
    study.enqueue_trial({"width": 16, "layers": 1})
    study.optimize(
        objective(cfg.model_copy(update={"tune": cfg.tune.model_copy(update={"widths": (16,)})}), ws, False),
        n_trials=1,
    )
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [1]  # epochs 2 and 3 never ran
    assert 0.0 < trial.intermediate_values[1] <= 1.0


@pytest.mark.slow
def test_tiny_search_writes_a_loadable_best_config_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["tune", "--preset", "tiny", "--out", str(out), "--no-progress"]) == 0
    result = json.loads((out / "tune" / "result.json").read_text())
    assert sum(result["trials"].values()) == 3  # complete or pruned
    best = load_config(out / "tune" / "best.yaml")
    assert best.ranker.width == result["best_params"]["width"]
    assert best.train.learning_rate == pytest.approx(result["best_params"]["learning_rate"])
    assert best.preset == "tiny" and best.data == load_config(preset="tiny").data
    # Trial 0 is the config as given; the best is never worse than it.
    storage = f"sqlite:///{out / 'tune' / 'study.db'}"
    (name,) = optuna.get_all_study_names(storage)  # one study: this search space and data
    study = optuna.load_study(study_name=name, storage=storage)
    first, values = study.trials[0], [t.value for t in study.trials]
    assert first.params["learning_rate"] == load_config(preset="tiny").train.learning_rate
    assert result["given_value"] == first.value <= result["best_value"]
    report = (out / "tune" / "report.md").read_text()
    assert (
        all(f"| {n} | " in report for n in range(3)) and (out / "tune" / "trials.png").stat().st_size > 1000
    )
    # Asking for 4 trials in all runs one more and keeps the first three.
    more = tmp_path / "more.yaml"
    more.write_text(yaml.safe_dump({"preset": "tiny", "tune": {"trials": 4}}))
    assert main(["tune", "--config", str(more), "--out", str(out), "--no-progress"]) == 0
    assert optuna.get_all_study_names(storage) == [name]  # a larger budget is the same question
    resumed = optuna.load_study(study_name=name, storage=storage)
    assert len(resumed.trials) == 4
    assert [t.value for t in resumed.trials[:3]] == values


@pytest.mark.e2e
def test_a_killed_search_resumes_as_if_never_interrupted(tmp_path: Path) -> None:
    """Kill a search (SIGKILL) in the middle of trial 3; the resumed search marks it FAILED, runs its
    settings again, and goes on proposing exactly what an uninterrupted search proposed."""
    import signal
    import subprocess
    import sys
    import time

    from tests.model.tuning import fake_search

    reference = fake_search.run(tmp_path / "whole")
    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.model.tuning.fake_search", str(interrupted), "--hang-at", "3"],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (interrupted / "hanging").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the search never reached trial 3"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    resumed = fake_search.run(interrupted)
    states = {t.number: t.state for t in resumed.trials}
    assert states[3] == optuna.trial.TrialState.FAIL
    (retry,) = [t for t in resumed.trials if t.user_attrs.get("retry_of") == 3]
    assert retry.state == optuna.trial.TrialState.COMPLETE and retry.params == resumed.trials[3].params

    def completed(study: optuna.Study) -> list[dict[str, object]]:
        return [t.params for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]

    assert len(completed(resumed)) == fake_search.TRIALS
    assert completed(resumed) == completed(reference)
