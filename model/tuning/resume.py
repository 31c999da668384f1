"""What makes an interrupted search resume as if it had never stopped (see model/tuning/search.py).

- `fingerprint`: sha256 of the search space (tune: minus the budget, trials and timeout), every setting
  a trial does not search (data, tokenizer, training...) and the data fingerprint; the study is named by
  it, so asking a different question never reuses another question's trials;
- `locked`: one process per study directory (an flock on `.lock`), which is what makes a RUNNING trial
  found at start-up certainly dead;
- `requeue_killed`: such trials are marked FAILED and their settings queued again (once per killed
  trial, marked with the user attribute `retry_of`);
- `save_sampler` / `load_sampler`: the sampler (with its seeded random generator) pickled after every
  suggestion, as Optuna's FAQ recommends for resuming a seeded search.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import optuna
from optuna.trial import TrialState

from model.config import PipelineConfig

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# Budget settings: more trials or time answer the same question, so they keep the same study.
_BUDGET = ("trials", "timeout_s")


class SearchBusyError(RuntimeError):
    """Another process is running a search in the same directory."""


def fingerprint(cfg: PipelineConfig, data_fingerprint: str) -> str:
    settings = cfg.model_dump(mode="json")
    space = {k: v for k, v in settings.pop("tune").items() if k not in _BUDGET}
    # Gate and evaluation settings do not change what a trial measures (valid NDCG@10 of training).
    for key in ("preset", "gate", "evaluate"):
        settings.pop(key, None)
    payload = json.dumps({"space": space, "fixed": settings, "data": data_fingerprint}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise SearchBusyError(f"{directory}: another `python -m model tune` is running here") from e
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def requeue_killed(study: optuna.Study) -> list[int]:
    """Mark trials left RUNNING (their process is gone: we hold the lock) FAILED and queue their
    settings again; returns the numbers of the trials marked."""
    marked = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
        marked.append(trial.number)
    return marked


def _sampler_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.sampler.pkl"


def save_sampler(directory: Path, name: str, sampler: optuna.samplers.BaseSampler) -> None:
    path = _sampler_path(directory, name)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(pickle.dumps(sampler))
    tmp.replace(path)


def load_sampler(directory: Path, name: str) -> optuna.samplers.BaseSampler | None:
    """The sampler saved by an earlier run of this study; None for a new study."""
    path = _sampler_path(directory, name)
    if not path.exists():
        return None
    # Our own file, written by save_sampler in this directory.
    sampler: optuna.samplers.BaseSampler = pickle.loads(path.read_bytes())
    return sampler
