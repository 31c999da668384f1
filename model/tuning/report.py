"""The search's report: a trials table (report.md), objective per trial with the best so far (trials.png)
and result.json (best value and settings, trial 0 = the config as given, trial counts)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import optuna

PARAMS = ("learning_rate", "batch_queries", "warmup_steps", "width", "layers", "dropout")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _plot(trials: list[optuna.trial.FrozenTrial], path: Path) -> None:
    # A pruned trial carries its last report as value: plot it apart, never as a best.
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(
        [t.number for t in done], [float(t.value or 0.0) for t in done], label="complete", color="tab:blue"
    )
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values]
    ax.scatter(
        [t.number for t in pruned],
        [t.intermediate_values[max(t.intermediate_values)] for t in pruned],
        label="pruned (last report)",
        color="tab:gray",
        marker="x",
    )
    best, running = [], float("-inf")
    for t in done:
        running = max(running, float(t.value or 0.0))
        best.append(running)
    ax.step([t.number for t in done], best, where="post", color="tab:orange", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("valid NDCG@10")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_tune_report(study: optuna.Study, directory: Path, seconds: float) -> Path:
    trials = study.trials
    states = {s.name.lower(): sum(t.state == s for t in trials) for s in optuna.trial.TrialState}
    given = trials[0].value if trials else None
    best = study.best_trial
    result = {
        "best_value": best.value,
        "best_trial": best.number,
        "best_params": best.params,
        "given_value": given,
        "trials": {k: v for k, v in states.items() if v},
        "seconds": seconds,
    }
    (directory / "result.json").write_text(
        json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    _plot(trials, directory / "trials.png")
    gain = f"{best.value - given:+.4f}" if given is not None and best.value is not None else "n/a"
    lines = [
        "# Hyperparameter search",
        "",
        f"Best valid NDCG@10 **{_fmt(best.value)}** (trial {best.number}); the config as given (trial 0): "
        f"{_fmt(given)}; gain {gain}. Trials: "
        + ", ".join(f"{v} {k}" for k, v in result["trials"].items())  # type: ignore[union-attr]
        + f"; this call took {seconds:.0f} s.",
        "",
        "![objective per trial](trials.png)",
        "",
        "| trial | state | valid NDCG@10 | " + " | ".join(PARAMS) + " |",
        "|" + "---|" * (3 + len(PARAMS)),
    ]
    for t in trials:
        row = [str(t.number), t.state.name.lower(), _fmt(t.value)] + [_fmt(t.params.get(p)) for p in PARAMS]
        lines.append("| " + " | ".join(row) + " |")
    report = directory / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report
