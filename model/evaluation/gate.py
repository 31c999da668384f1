"""The quality gate, with TFX/TFMA threshold semantics.

Three kinds of check per variant, all on the selection split (valid; the test split is never judged):

* absolute bounds: `ndcg@10 >= 0.5` (or `<=` for lower-is-better metrics such as latency); none by
  default: quality is bounded against references measured on the same split instead;
* change bounds against a reference (`vs_lexical`: the strongest lexical baseline; `vs_fp32`: the fp32
  model of the same run; `vs_baseline`: the bundle in production), each with an `absolute` and/or
  `relative` part, where `relative = (candidate - reference) / reference`. For a higher-is-better metric
  the change must be at least the bound (a bound of -0.01 allows a 1 % drop); for lower-is-better it must
  be at most the bound. With `judge_on: ci_low` the pessimistic end of the change's paired-bootstrap
  interval is compared instead of the point estimate;
* budgets: p99 latency (the median over latency rounds), p99 relative to the float LiteRT export measured
  in the same rounds, and gzipped size. Both latency budgets read the clock `latency_clock` names: CPU
  time per call by default (`latency_cpu_p99_ms`), which a loaded shared runner hardly stretches.

Change bounds against a reference that is absent (no baseline bundle yet) are *skipped*, not failed, as
TFMA does for a first model. A metric the candidate lacks fails its check: a gate that cannot measure
must not pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from model.config import Bound, GateConfig

Metrics = Mapping[str, float]
# check name ("vs_fp32", "vs_lexical", "vs_baseline") -> metric -> (low, high) of the absolute change
Intervals = Mapping[str, Mapping[str, tuple[float, float]]]
LATENCY_RATIO = "latency_p99_vs_reference"
CPU_LATENCY_RATIO = "latency_cpu_p99_vs_reference"


def latency_metrics(cfg: GateConfig) -> tuple[str, str]:
    """The metrics the latency budgets judge: (p99, p99 vs the float LiteRT export) on cfg's clock."""
    if cfg.latency_clock == "cpu":
        return "latency_cpu_p99_ms", CPU_LATENCY_RATIO
    return "latency_p99_ms", LATENCY_RATIO


@dataclass(frozen=True)
class Check:
    name: str
    metric: str
    value: float | None
    threshold: float | None
    status: str  # "pass" | "fail" | "skip"
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"


@dataclass(frozen=True)
class Verdict:
    variant: str
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not any(c.failed for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.failed)


# Values within this distance of a bound count as on it: 0.792 vs 0.80 is -1 % on paper but
# -1.0000000000000012 % in floating point, and a gate must not flip on rounding.
_EPS = 1e-9


def _better_or_equal(value: float, bound: float, lower_is_better: bool) -> bool:
    return value <= bound + _EPS if lower_is_better else value >= bound - _EPS


def _absolute_checks(metrics: Metrics, cfg: GateConfig) -> list[Check]:
    bounds: dict[str, float] = dict(cfg.absolute)
    p99, ratio = latency_metrics(cfg)
    if cfg.latency_p99_ms is not None:
        bounds[p99] = cfg.latency_p99_ms
    if cfg.size_gzip_bytes is not None:
        bounds["size_gzip_bytes"] = float(cfg.size_gzip_bytes)
    if cfg.latency_vs_fp32_tflite is not None:
        bounds[ratio] = 1.0 + cfg.latency_vs_fp32_tflite
    checks = []
    for metric, bound in bounds.items():
        lower = metric in cfg.lower_is_better or metric in (LATENCY_RATIO, CPU_LATENCY_RATIO)
        op = "<=" if lower else ">="
        value = metrics.get(metric)
        if value is None:
            checks.append(Check("absolute", metric, None, bound, "fail", f"{metric} was not measured"))
            continue
        ok = _better_or_equal(value, bound, lower)
        detail = f"{metric} = {value:.4g} {'' if ok else 'not '}{op} {bound:.4g}"
        checks.append(Check("absolute", metric, value, bound, "pass" if ok else "fail", detail))
    return checks


def _change_checks(
    name: str,
    metrics: Metrics,
    reference: Metrics | None,
    bounds: Mapping[str, Bound],
    cfg: GateConfig,
    intervals: Mapping[str, tuple[float, float]] | None = None,
) -> list[Check]:
    checks = []
    for metric, bound in bounds.items():
        lower = metric in cfg.lower_is_better
        value = metrics.get(metric)
        if reference is None:
            checks.append(Check(name, metric, value, None, "skip", f"no {name} reference to compare with"))
            continue
        ref = reference.get(metric)
        if value is None:
            checks.append(Check(name, metric, None, None, "fail", f"{metric} was not measured"))
            continue
        if ref is None:
            checks.append(Check(name, metric, value, None, "skip", f"{name} reference has no {metric}"))
            continue
        if bound.judge_on == "ci_low":
            interval = (intervals or {}).get(metric)
            if interval is None:
                detail = f"{metric}: no confidence interval of the change was measured"
                checks.append(Check(name, metric, None, None, "fail", detail))
                continue
            # The pessimistic end: the lowest plausible change of a higher-is-better metric.
            value = ref + (interval[1] if lower else interval[0])
        checks.extend(_bound_checks(name, metric, value, ref, bound, lower))
    return checks


def _bound_checks(name: str, metric: str, value: float, ref: float, bound: Bound, lower: bool) -> list[Check]:
    checks = []
    change = value - ref
    op = "<=" if lower else ">="
    metric_label = f"{metric} CI {'high' if lower else 'low'}" if bound.judge_on == "ci_low" else metric
    if bound.absolute is not None:
        ok = _better_or_equal(change, bound.absolute, lower)
        detail = (
            f"{metric_label} change {change:+.4g} {'' if ok else 'not '}{op} {bound.absolute:+.4g} "
            f"(vs {ref:.4g})"
        )
        checks.append(Check(name, metric, change, bound.absolute, "pass" if ok else "fail", detail))
    if bound.relative is not None:
        if ref == 0:
            checks.append(
                Check(
                    name, metric, None, bound.relative, "skip", f"{metric} reference is 0: relative undefined"
                )
            )
        else:
            rel = change / abs(ref)
            ok = _better_or_equal(rel, bound.relative, lower)
            detail = (
                f"{metric_label} change {rel:+.2%} {'' if ok else 'not '}{op} {bound.relative:+.2%} "
                f"(vs {ref:.4g})"
            )
            checks.append(Check(name, metric, rel, bound.relative, "pass" if ok else "fail", detail))
    return checks


def judge(
    variant: str,
    metrics: Metrics,
    cfg: GateConfig,
    fp32: Metrics | None,
    baseline: Metrics | None,
    lexical: Metrics | None = None,
    intervals: Intervals | None = None,
) -> Verdict:
    """Every check of one variant. `fp32`, `baseline` (production) and `lexical` (the strongest lexical
    baseline) are the references' metrics, None if absent; `intervals` the changes' bootstrap intervals
    for `judge_on: ci_low` bounds."""
    iv = intervals or {}
    checks = _absolute_checks(metrics, cfg)
    checks += _change_checks("vs_lexical", metrics, lexical, cfg.vs_lexical, cfg, iv.get("vs_lexical"))
    checks += _change_checks("vs_fp32", metrics, fp32, cfg.vs_fp32, cfg, iv.get("vs_fp32"))
    checks += _change_checks("vs_baseline", metrics, baseline, cfg.vs_baseline, cfg, iv.get("vs_baseline"))
    return Verdict(variant=variant, checks=tuple(checks))


def choose_shipped(verdicts: Mapping[str, Verdict], sizes: Mapping[str, float]) -> str | None:
    """The smallest (gzipped) passing variant among the shippable ones given in `sizes`; None if none."""
    passing = [name for name in sizes if name in verdicts and verdicts[name].passed]
    if not passing:
        return None
    return min(passing, key=lambda name: (sizes[name], name))
