"""The decision as Markdown for the promote/rollback PR body and the job summary.

One section per analysed model: the verdict and its reason, a table of the newest evaluation (what was
measured for canary and stable, the threshold, the result), and one line per evaluation of the history.
The interleaving row (a model with an interleaving predictor) shows the impressions each team won; its
result names the ties and the sign test's p-value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from infra.canary.decide import INTERLEAVING, Check, Decision, Verdict

_HEADLINE = {
    Verdict.PROMOTE: "promote",
    Verdict.COMPLETE: "complete (the canary becomes stable)",
    Verdict.ROLLBACK: "ROLLBACK",
    Verdict.HOLD: "hold",
    Verdict.STALLED: "STALLED (progress deadline passed)",
}
_RESULT = {True: "ok", False: "**FAIL**", None: "n/a"}


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _value(check: Check, value: float | None) -> str:
    if value is None:
        return "—"
    if check.name == "error rate":
        return f"{value:.2%}"
    if check.name in ("requests", INTERLEAVING):
        return f"{value:.0f}"  # interleaving: impressions each team won
    if check.name == "p99 latency":
        return f"{value:.3g} ms"
    return f"{value:.3g}"


def _limit(check: Check) -> str:
    if check.limit_text:
        return check.limit_text
    if check.name == "requests":
        return f"≥ {check.limit:.0f} per version"
    return f"≤ {_value(check, check.limit)}"


def _weights(d: Decision) -> str:
    if d.verdict in (Verdict.HOLD, Verdict.STALLED):
        return f"canary stays at {d.weight} %"
    if d.verdict is Verdict.ROLLBACK:
        return f"canary {d.weight} % → removed, stable 100 %"
    if d.verdict is Verdict.COMPLETE:
        return f"canary {d.weight} % → stable 100 %"
    return f"canary {d.weight} % → {d.new_weight} %"


def model_section(d: Decision) -> str:
    a = d.analysis
    lines = [
        f"### `{d.model}`: {_HEADLINE[d.verdict]} — {_weights(d)}",
        "",
        f"canary `{d.canary_version}` vs stable `{d.stable_version}`. {d.reason}",
        "",
    ]
    if d.judgements:
        latest = d.judgements[0]
        lines += [
            f"Newest evaluation, window {a.window} ending {_when(latest.at)}:",
            "",
            "| check | source | canary | stable | threshold | result |",
            "|---|---|---|---|---|---|",
        ]
        for c in (latest.requests, *latest.checks):
            result = _RESULT[c.ok] if c.gating else "reported"
            if c.detail:
                result += f" ({c.detail})"
            stable = _value(c, c.stable) + (
                " (own offline)" if c.name == "score PSI" and c.stable is not None else ""
            )
            cells = (c.name, c.source, _value(c, c.canary), stable, _limit(c), result)
            lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            f"Evaluations (every {a.interval}, rollback after {a.failure_threshold} failures in a row):",
            "",
        ]
        lines += [f"- {_when(j.at)}: **{j.outcome.value}** — {j.why}" for j in d.judgements]
    lines += ["", f"Steps {' → '.join(f'{s} %' for s in a.steps)}.", ""]
    return "\n".join(lines)


def markdown(stack: str, decisions: Sequence[Decision]) -> str:
    verdicts = ", ".join(f"{d.model}: {d.verdict.value}" for d in decisions) or "no canary"
    head = [f"## Canary analysis of stack `{stack}`: {verdicts}", ""]
    return "\n".join(head) + "\n" + "\n".join(model_section(d) for d in decisions)
