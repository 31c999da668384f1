"""Surviving mutants that change nothing a caller can observe, each with the reason (`make mutation` leaves
them out of its second score and lists them). Matched by function and by the exact line the mutant changes
(stripped; several lines joined by " / "), so renumbering elsewhere does not break an entry.

Add an entry only with a reason a reviewer can check; a survivor that a caller *could* notice needs a test.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Equivalent:
    function: str  # module.function
    before: str  # the original line
    after: tuple[str, ...]  # the mutated lines this reason covers
    why: str


_METRICS = "model.evaluation.metrics"
_BINCOUNT_WHY = (
    "codes always hold every group 0..n_groups-1 (pd.factorize codes, or all zeros for one query), so "
    "bincount's natural length is n_groups already"
)
_PSI = "infra.canary.psi"
_RENDER = "infra.gitops.render"

EQUIVALENT: tuple[Equivalent, ...] = (
    # -- ranking metrics ----------------------------------------------------------------------------------
    Equivalent(
        f"{_METRICS}._grouped",
        "n_groups = int(codes.max()) + 1 if len(codes) else 0",
        ("n_groups = int(codes.max()) + 1 if len(codes) else 1",),
        "an empty frame then gets one NaN per metric under an empty index: pandas keeps the frame empty, and "
        "_one returns NaN for an empty query before reading the arrays",
    ),
    Equivalent(
        f"{_METRICS}._grouped",
        "sizes = np.bincount(codes, minlength=n_groups)",
        ("sizes = np.bincount(codes, )",),
        _BINCOUNT_WHY,
    ),
    Equivalent(
        f"{_METRICS}._grouped",
        "dcg = np.bincount(codes[order], weights=(2.0 ** gains[order] - 1.0) * discount, minlength=n_groups)",
        ("dcg = np.bincount(codes[order], weights=(2.0 ** gains[order] - 1.0) * discount, )",),
        _BINCOUNT_WHY,
    ),
    Equivalent(
        f"{_METRICS}._grouped",
        "idcg = np.bincount(codes[ideal], weights=(2.0 ** gains[ideal] - 1.0) * discount, minlength=n_groups)",
        ("idcg = np.bincount(codes[ideal], weights=(2.0 ** gains[ideal] - 1.0) * discount, )",),
        _BINCOUNT_WHY,
    ),
    Equivalent(
        f"{_METRICS}._grouped",
        "n_relevant = np.bincount(codes[order], weights=relevant, minlength=n_groups)",
        ("n_relevant = np.bincount(codes[order], weights=relevant, )",),
        _BINCOUNT_WHY,
    ),
    Equivalent(
        f"{_METRICS}._grouped",
        "hits = np.bincount(codes[order], weights=relevant & top, minlength=n_groups)",
        ("hits = np.bincount(codes[order], weights=relevant & top, )",),
        _BINCOUNT_WHY,
    ),
    Equivalent(
        f"{_METRICS}._grouped",
        "discount = np.where(top, 1.0 / np.log2(rank + 2.0), 0.0)",
        ("discount = np.where(top, 2.0 / np.log2(rank + 2.0), 0.0)",),
        "the same discount weighs the DCG and the ideal DCG, and NDCG is their ratio",
    ),
    Equivalent(
        f"{_METRICS}._grouped",
        'with np.errstate(divide="ignore", invalid="ignore"):',
        ('with np.errstate(divide=None, invalid="ignore"):', 'with np.errstate(invalid="ignore"):'),
        "no division here has a non-zero numerator over zero (dcg, hits and 1 over rank+1 are 0 or finite "
        "where the denominator is 0), so only 'invalid' (0/0) can be raised; the test of no warnings covers it",
    ),
    Equivalent(
        f"{_METRICS}._grouped",
        "ndcg = np.where(idcg > 0, dcg / idcg, np.nan)",
        ("ndcg = np.where(idcg >= 0, dcg / idcg, np.nan)",),
        "the ideal DCG is 0 only when every gain is 0; then the DCG is 0 too, and 0/0 is NaN like the fallback",
    ),
    Equivalent(
        f"{_METRICS}._grouped",
        "recall = np.where(n_relevant > 0, hits / n_relevant, np.nan)",
        ("recall = np.where(n_relevant >= 0, hits / n_relevant, np.nan)",),
        "no relevant item means no hit: 0/0 is NaN like the fallback",
    ),
    Equivalent(
        f"{_METRICS}.reciprocal_rank",
        "return _one(gains, scores, 1, relevant_gain)[1]",
        ("return _one(gains, scores, 2, relevant_gain)[1]",),
        "the reciprocal rank reads the rank of the first relevant item, which k does not cut",
    ),
    Equivalent(
        f"{_METRICS}.per_query_metrics",
        'codes, uniques = pd.factorize(frame["query_id"], sort=False)',
        (
            'codes, uniques = pd.factorize(frame["query_id"], sort=None)',
            'codes, uniques = pd.factorize(frame["query_id"], )',
        ),
        "pandas' default is sort=False (and None is falsy); sort=True is killed by the first-appearance test",
    ),
    Equivalent(
        f"{_METRICS}.ranking_metrics",
        'return float(values.mean()) if len(values) else float("nan")',
        (
            'return float(values.mean()) if (len(values)) or True else float("nan")',
            'return float(values.mean()) if len(values) else float("NAN")',
        ),
        "the mean of an empty Series is NaN already, and float('NAN') is NaN",
    ),
    # -- PSI ------------------------------------------------------------------------------------------------
    Equivalent(
        f"{_PSI}.psi",
        "for c_n, s_n in zip(c, s, strict=True):",
        (
            "for c_n, s_n in zip(c, s, strict=None):",
            "for c_n, s_n in zip(c, s, strict=False):",
            "for c_n, s_n in zip(c, s, ):",
        ),
        "both lists come from bucket_counts over the same edges, so they always have the same length",
    ),
    # -- canary decision -----------------------------------------------------------------------------------
    Equivalent(
        "infra.canary.decide._interleaving",
        "result.why, text, required=False),",
        ("result.why, text, required=None),",),
        "`required` is only read for its truth (`c.required and c.ok is None`), and None is falsy like False",
    ),
    # -- policy rules -----------------------------------------------------------------------------------------
    Equivalent(
        "infra.policy.rules._is_gpu_node_group",
        'ami = str(props.get("amiType") or "")',
        ('ami = str(props.get("amiType") or "XXXX")',),
        "the default is only searched for 'NVIDIA' and 'GPU', which 'XXXX' does not contain either",
    ),
    Equivalent(
        "infra.policy.rules._is_interleaving",
        'return str((predictor.get("graph") or {}).get("type") or "") == "COMBINER"',
        ('return str((predictor.get("graph") or {}).get("type") or "XXXX") == "COMBINER"',),
        "the default is only compared with 'COMBINER', which 'XXXX' is not either",
    ),
    Equivalent(
        "infra.policy.rules.images_pinned_by_digest",
        'if not _DIGEST.search(str(c.get("image") or ""))',
        ('if not _DIGEST.search(str(c.get("image") or "XXXX"))',),
        "the default only has to fail the digest pattern, which 'XXXX' does too (the message shows the "
        "container's own image, None)",
    ),
    Equivalent(
        "infra.policy.rules.is_gpu_instance_type",
        'family = instance_type.split(".", 1)[0]',
        (
            'family = instance_type.split(".", )[0]',
            'family = instance_type.split(".", 2)[0]',
            'family = instance_type.rsplit(".", 1)[0]',
        ),
        "the first piece of a split is the same for any maxsplit; rsplit differs only with two or more dots, "
        "and EC2 instance types have one (family.size)",
    ),
    # -- render -----------------------------------------------------------------------------------------------
    Equivalent(
        f"{_RENDER}.write_atomically",
        "retired = target.parent / f\".{target.name}.old-{staging.name.rsplit('-', 1)[-1]}\"",
        (
            "retired = target.parent / f\".{target.name}.old-{staging.name.rsplit('-', )[-1]}\"",
            "retired = target.parent / f\".{target.name}.old-{staging.name.rsplit('-', 2)[-1]}\"",
            "retired = target.parent / f\".{target.name}.old-{staging.name.rsplit('-', 1)[+1]}\"",
        ),
        "mkdtemp's random part has no '-' (letters, digits, '_'), so every maxsplit, and [1] of a two-part "
        "split, picks the same suffix",
    ),
    Equivalent(
        f"{_RENDER}.write_atomically",
        '(staging / name).write_text(text, encoding="utf-8")',
        (
            '(staging / name).write_text(text, encoding="UTF-8")',
            "(staging / name).write_text(text, encoding=None)",
            "(staging / name).write_text(text, )",
        ),
        "'UTF-8' is the same codec; without it the locale's encoding is used, UTF-8 wherever this runs "
        "(Linux runners and images; Python coerces the C locale to UTF-8, PEP 538)",
    ),
    Equivalent(
        f"{_RENDER}.write_atomically",
        "shutil.rmtree(staging, ignore_errors=True)",
        (
            "shutil.rmtree(staging, ignore_errors=None)",
            "shutil.rmtree(staging, )",
            "shutil.rmtree(staging, ignore_errors=False)",
        ),
        "the except branch runs only while the staging folder exists (made before the try, moved only by the "
        "last rename, the one that failed), so removing it raises nothing either way",
    ),
)
