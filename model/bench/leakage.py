"""Leakage of the synthetic splits before and after issue 12, and bundle-id reproducibility, for
`make bench-model`.

Before: the generator without held-out vocabulary, split by query id (near-duplicates free to straddle
train and test). After: the default generator (open-vocabulary share) split by group. Both on the
default synthetic settings and seed; figures are model/evaluation/card.leakage of test against train.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from model.config import load_config
from model.data import load, split_by_query
from model.data.schema import GROUP_COLUMN, SPLIT_COLUMN
from model.evaluation.card import leakage


def before_after() -> list[str]:
    cfg = load_config(preset="default").data
    closed = cfg.model_copy(
        update={"synthetic": cfg.synthetic.model_copy(update={"open_vocabulary_share": 0.0})}
    )
    old_frame = load(closed)
    old = split_by_query(old_frame.drop(columns=[GROUP_COLUMN, SPLIT_COLUMN]), cfg.split, cfg.seed)
    groups = old_frame[["query_id", GROUP_COLUMN]].drop_duplicates()
    old_train, old_test = (f.merge(groups, on="query_id") for f in (old.train, old.test))
    new = split_by_query(load(cfg), cfg.split, cfg.seed)
    lines = ["== synthetic split leakage (test vs train) =="]
    for label, (train, test) in (("before", (old_train, old_test)), ("after", (new.train, new.test))):
        leak = leakage(train, test)
        lines.append(
            f"{label:6}: test queries sharing a spec with train {leak['groups_in_train']:.1%}; "
            f"test query words seen in train {leak['query_words_seen']:.1%}; queries with an unseen word "
            f"{leak['queries_with_unseen_word']:.1%}; test candidates seen in train {leak['candidates_seen']:.1%}"
        )
    return lines


def reproducibility(root: Path) -> list[str]:
    """The tiny pipeline twice, each in its own process: the same bundle id or not."""
    ids = []
    for i in range(2):
        out = root / f"repro-{i}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "model",
                "pipeline",
                "--preset",
                "tiny",
                "--out",
                str(out),
                "--no-progress",
            ],
            check=False,
            capture_output=True,
        )
        latest = out / "latest.json"
        ids.append(json.loads(latest.read_text())["bundle_id"] if latest.exists() else None)
    same = ids[0] is not None and ids[0] == ids[1]
    return [
        f"== bundle-id reproducibility (tiny preset, two processes): {'SAME' if same else 'DIFFERENT'} {ids}"
    ]


if __name__ == "__main__":
    print("\n".join(before_after()))
    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(reproducibility(Path(tmp))))
