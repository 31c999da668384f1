"""The embedded default data set: a seeded synthetic catalog and query log with ESCI-graded judgements.

Each query is made from a product of the catalog (so it has at least one exact match) with one of six
intents: a category ("kitchen appliances"), a type ("running shoes"), brand + type ("acme sofa"),
attributes ("blue leather sofa", "running shoes size 10"), a synonym ("sneakers", "gray couch") and
long-tail combinations; `misspelling_rate` of them then get a typo in their main word. Its candidates mix
exact matches, substitutes, complements, the products sharing most words with the query (what a keyword
engine would retrieve: the negatives that fool BM25) and a few random products, in shuffled order so
that position says nothing.

Labels follow one rule, `judge`, applied to every candidate whatever pool it was drawn from:
- Exact (3): the wanted type (or category) with every named brand/colour/material/size;
- Substitute (2): the wanted type with one of brand/colour/material wrong, or a substitute type with none
  wrong; a wrong size is never a substitute (it does not fit);
- Complement (1): a type bought together with the wanted one (phone case for a smartphone query);
- Irrelevant (0): everything else, including the same type with two attributes wrong.

Leak-free splits: every query carries `group_id`, the labelling rule of its spec (intent and typo
aside), so near-duplicates ("frying pan 8 inch" / "fying pan 8 inch", "sneakers" / "running shoes")
land in one split. Open vocabulary: with `open_vocabulary_share` > 0, a tenth of the product types and
of the brands are held out of training queries; that share of the valid and test queries is made from
them (`split_hint` pins each to valid or test), so evaluation has words no training query has.

Why a learned ranker can beat BM25 here: on the default set BM25 scores NDCG@10 ~0.84, but ~0.97 when
each query is rewritten with the catalog's own words (canonical type and colour names, typo fixed). The
gap is vocabulary a model can learn from the training queries; complements and hard negatives that
share the query's words are left for it to tell apart on top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.config import SyntheticConfig
from model.data.products import Catalog, Tables, make_catalog, tables
from model.data.schema import COLUMNS, GROUP_COLUMN, SPLIT_COLUMN
from model.evaluation.bm25 import tokens

INTENTS: tuple[str, ...] = ("category", "type", "brand_type", "attribute", "synonym", "long_tail")
# Head intents are easy for keyword matching; synonyms and long-tail queries are where rankers differ.
_INTENT_P = np.array([0.06, 0.1, 0.14, 0.18, 0.28, 0.24])
_COLOUR_SYNONYM_RATE = 0.35
MISSPELLED = "misspelled"
# With an open-vocabulary share: this share of the product types and of the brands are held out of
# training queries (the catalog keeps them: their products are still candidates everywhere).
_HELD_OUT_SHARE = 0.1
# Share of each query's candidates drawn from each pool; what is left comes from random products.
_QUOTAS = {"exact": 0.2, "near": 0.2, "complement": 0.15, "hard": 0.35}
# Words the retriever ignores: they match nearly every listing.
_STOP = frozenset(
    {"by", "for", "in", "of", "with", "and", "the", "size", "on", "new", "best", "cheap", "sale"}
)


@dataclass(frozen=True)
class Spec:
    """What a query asks for; -1 means "not named in the query"."""

    intent: str
    category: int
    type: int = -1  # -1: any product of the category
    brand: int = -1
    colour: int = -1
    material: int = -1
    size: int = -1


@dataclass(frozen=True)
class SyntheticSet:
    catalog: pd.DataFrame  # one row per product with its structured attributes
    queries: pd.DataFrame  # query_id, query, intent, base_intent
    frame: pd.DataFrame  # the ranking set, exactly schema.COLUMNS


def judge(spec: Spec, cat: Catalog, tab: Tables, idx: np.ndarray) -> np.ndarray:
    """ESCI gains (3/2/1/0) of products `idx` for the query `spec` (rules in the module docstring)."""
    ptype = cat.type[idx]
    if spec.type < 0:
        in_cat = cat.category[idx] == spec.category
        comp = np.isin(ptype, tab.category_complements[spec.category])
        return np.select([in_cat, comp], [3.0, 1.0], 0.0)
    wrong = np.zeros(len(idx), dtype=np.int64)
    for wanted, have in ((spec.brand, cat.brand), (spec.colour, cat.colour), (spec.material, cat.material)):
        if wanted >= 0:
            wrong += have[idx] != wanted
    size_ok = cat.size[idx] == spec.size if spec.size >= 0 else np.ones(len(idx), dtype=bool)
    same = ptype == spec.type
    sub = np.isin(ptype, tab.substitutes[spec.type])
    exact = same & (wrong == 0) & size_ok
    substitute = ((same & (wrong == 1)) | (sub & (wrong == 0))) & size_ok
    comp = np.isin(ptype, tab.complements[spec.type])
    return np.select([exact, substitute, comp], [3.0, 2.0, 1.0], 0.0)


def _spec(intent: str, p: int, cat: Catalog, tab: Tables, rng: np.random.Generator) -> Spec:
    c, t = int(cat.category[p]), int(cat.type[p])
    if intent == "category":
        return Spec(intent, c)
    has_size = cat.size[p] >= 0
    named: set[str] = set()
    if intent == "brand_type":
        named = {"brand"}
    elif intent == "attribute":
        options = ["colour", "material"] + (["size"] if has_size else [])
        named = set(rng.choice(options, size=1 if rng.random() < 0.7 else 2, replace=False))
    elif intent == "synonym" and rng.random() < 0.4:
        named = {"colour"}
    elif intent == "long_tail":
        named = {"brand", "colour", "material"} | ({"size"} if has_size and rng.random() < 0.6 else set())

    def value(attribute: str, have: np.ndarray) -> int:
        return int(have[p]) if attribute in named else -1

    return Spec(
        intent,
        c,
        t,
        brand=value("brand", cat.brand),
        colour=value("colour", cat.colour),
        material=value("material", cat.material),
        size=value("size", cat.size),
    )


def _synonym(tab: Tables, t: int, rng: np.random.Generator) -> str:
    """A shopper's word for type t, mostly one sharing no word with its name ("couch" over "small couch"):
    a shared head word ("soap pump" / "soap dispenser") lets keyword matching find the type on its own."""
    synonyms = tab.types[t].synonyms
    own = set(tab.type_names[t].replace("-", " ").split())
    disjoint = [s for s in synonyms if not own & set(s.replace("-", " ").split())]
    return str(rng.choice(disjoint if disjoint and rng.random() < 0.7 else list(synonyms)))


def render(spec: Spec, tab: Tables, rng: np.random.Generator) -> tuple[str, str]:
    """(query text, its main words): the words a typo may hit."""
    vocab = tab.vocab
    if spec.type < 0:
        text = str(rng.choice(list(vocab.categories[spec.category].queries)))
        return text, text
    synonym = spec.intent == "synonym" or (spec.intent == "long_tail" and rng.random() < 0.4)
    name = _synonym(tab, spec.type, rng) if synonym else tab.type_names[spec.type]
    colour = vocab.colours[spec.colour] if spec.colour >= 0 else ""
    if colour in vocab.colour_synonyms and rng.random() < _COLOUR_SYNONYM_RATE:
        colour = str(rng.choice(list(vocab.colour_synonyms[colour])))
    words = [
        colour,
        tab.materials[spec.material] if spec.material >= 0 else "",
        name,
        tab.sizes[spec.size].lower() if spec.size >= 0 else "",
    ]
    if spec.brand >= 0:
        brand = vocab.brands[spec.brand].lower()
        words = [brand, *words] if rng.random() < 0.75 else [*words, "by", brand]
    text = " ".join(w for w in words if w)
    if spec.intent == "type" and rng.random() < 0.3:
        text = str(rng.choice(list(vocab.query_noise))).format(text)
    return text, name


def misspell(text: str, main: str, rng: np.random.Generator) -> str:
    """One typo (swap, drop, double or wrong vowel) in the longest main word of at least 4 letters."""
    candidates = [w for w in main.split() if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    word = max(candidates, key=len)
    i = int(rng.integers(1, len(word) - 1))
    op = int(rng.integers(4))
    if op == 0 and word[i] != word[i + 1]:
        typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    elif op == 2:
        typo = word[: i + 1] + word[i:]
    elif op == 3 and word[i] in "aeiou":
        typo = word[:i] + str(rng.choice([v for v in "aeiou" if v != word[i]])) + word[i + 1 :]
    else:
        typo = word[:i] + word[i + 1 :]
    return re.sub(rf"\b{re.escape(word)}\b", typo, text, count=1)


def _lexical(text: str, cat: Catalog, k: int, rng: np.random.Generator) -> np.ndarray:
    """The k products sharing the most words with the query, ties in random order: what a keyword
    search engine retrieves, hence the candidates a reranker sees and the ones that fool BM25."""
    words = {w for w in tokens(text) if w not in _STOP}
    hits = [cat.postings[w] for w in words if w in cat.postings]
    if not hits:
        return np.zeros(0, dtype=np.int64)
    overlap = np.bincount(np.concatenate(hits), minlength=len(cat.type))
    found = np.flatnonzero(overlap)
    keys = overlap[found] + rng.random(len(found))
    return found[np.argsort(-keys)[:k]]


def _pools(
    spec: Spec, text: str, cat: Catalog, tab: Tables, n: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Products to draw each query's candidates from; `judge` grades them afterwards, whatever the pool."""
    empty = np.zeros(0, dtype=np.int64)

    def union(type_ids: np.ndarray) -> np.ndarray:
        return np.concatenate([empty, *(cat.by_type[t] for t in type_ids)])

    whole_category = spec.type < 0
    same = cat.by_category[spec.category] if whole_category else cat.by_type[spec.type]
    near = np.concatenate([same, empty if whole_category else union(tab.substitutes[spec.type])])
    near_gain = judge(spec, cat, tab, near)
    comp_types = tab.category_complements[spec.category] if whole_category else tab.complements[spec.type]
    lexical = _lexical(text, cat, 3 * n, rng)
    return {
        "exact": near[near_gain == 3.0],
        "near": near[near_gain == 2.0],
        "complement": union(comp_types),
        # Same-type products that miss too much are hard negatives even when the retriever misses them.
        "hard": lexical if len(lexical) >= n else np.concatenate([lexical, near[near_gain == 0.0]]),
    }


def _candidates(
    spec: Spec, text: str, cat: Catalog, tab: Tables, n: int, rng: np.random.Generator
) -> np.ndarray:
    n = min(n, len(cat.type))
    chosen: dict[int, None] = {}  # insertion-ordered set: same seed, same order
    pools = _pools(spec, text, cat, tab, n, rng)
    for pool_name, share in _QUOTAS.items():
        pool = pools[pool_name]
        want = max(1, round(share * n)) if pool_name == "exact" else round(share * n)
        if len(pool) and want:
            for p in rng.choice(pool, size=min(len(pool), 2 * want + 4), replace=False):
                if want == 0 or len(chosen) >= n:
                    break
                if int(p) not in chosen:
                    chosen[int(p)] = None
                    want -= 1
    while len(chosen) < n:
        chosen.setdefault(int(rng.integers(len(cat.type))), None)
    return rng.permutation(np.fromiter(chosen, dtype=np.int64, count=len(chosen)))


def group_key(spec: Spec) -> str:
    """The labelling rule of a spec (intent aside: "sneakers" and "running shoes" judge alike): queries
    with one key are near-duplicates and must share a split."""
    return f"G{spec.category}-{spec.type}-{spec.brand}-{spec.colour}-{spec.material}-{spec.size}"


@dataclass(frozen=True)
class _Vocabulary:
    """Which products training queries may be made from, and which only held-out queries may."""

    closed: np.ndarray  # products of seen types and brands
    open_by_type: np.ndarray  # products of a held-out type
    open_by_brand: np.ndarray  # seen type, held-out brand


def _held_out(cfg: SyntheticConfig, cat: Catalog, rng: np.random.Generator) -> _Vocabulary:
    everything = np.arange(len(cat.type))
    if cfg.open_vocabulary_share == 0:
        return _Vocabulary(everything, everything[:0], everything[:0])
    types, brands = np.unique(cat.type), np.unique(cat.brand)
    held_types = rng.choice(types, size=max(1, round(_HELD_OUT_SHARE * len(types))), replace=False)
    held_brands = rng.choice(brands, size=max(1, round(_HELD_OUT_SHARE * len(brands))), replace=False)
    by_type, by_brand = np.isin(cat.type, held_types), np.isin(cat.brand, held_brands)
    return _Vocabulary(everything[~by_type & ~by_brand], everything[by_type], everything[~by_type & by_brand])


def _open_query(vocab: _Vocabulary, orng: np.random.Generator) -> tuple[int, str]:
    """A product and intent whose query names held-out vocabulary: a held-out type (any intent that
    names a type), or a held-out brand (an intent that names the brand)."""
    if len(vocab.open_by_brand) and (not len(vocab.open_by_type) or orng.random() < 0.4):
        return int(orng.choice(vocab.open_by_brand)), str(orng.choice(["brand_type", "long_tail"]))
    p = _INTENT_P[1:] / _INTENT_P[1:].sum()
    return int(orng.choice(vocab.open_by_type)), str(orng.choice(INTENTS[1:], p=p))


def _queries(
    cfg: SyntheticConfig, cat: Catalog, tab: Tables, rng: np.random.Generator, p_open: float, seed: int
) -> list[tuple[Spec, str, str, str]]:
    """(spec, text, intent, split hint) per query; texts are unique so no query text lands in two splits.

    A share `p_open` of the queries are made from held-out vocabulary and pinned to valid or test (the
    same for every query of a spec); the others never name a held-out type or brand. Decisions about
    held-out vocabulary use their own generator, so with open_vocabulary_share 0 the set is the one the
    generator made before it had the option."""
    orng = np.random.default_rng([seed, 2])
    vocab = _held_out(cfg, cat, orng)
    hints: dict[str, str] = {}
    out: list[tuple[Spec, str, str, str]] = []
    seen: set[str] = set()
    for _ in range(50 * cfg.queries):
        if len(out) == cfg.queries:
            return out
        is_open = bool(len(vocab.open_by_type) + len(vocab.open_by_brand)) and orng.random() < p_open
        if is_open:
            product, intent = _open_query(vocab, orng)
        else:
            # Intent before product: the order the generator always drew them in.
            intent = str(rng.choice(INTENTS, p=_INTENT_P))
            product = int(vocab.closed[int(rng.integers(len(vocab.closed)))])
        spec = _spec(intent, product, cat, tab, rng)
        text, main = render(spec, tab, rng)
        intent = spec.intent
        if rng.random() < cfg.misspelling_rate:
            typo = misspell(text, main, rng)
            text, intent = typo, (MISSPELLED if typo != text else intent)
        if text not in seen:
            seen.add(text)
            hint = hints.setdefault(group_key(spec), str(orng.choice(["valid", "test"]))) if is_open else ""
            out.append((spec, text, intent, hint))
    raise ValueError(f"could not make {cfg.queries} distinct queries from {len(cat.type)} products")


def generate_parts(cfg: SyntheticConfig, seed: int, evaluation_share: float = 0.2) -> SyntheticSet:
    """The catalog, the query log and the ranking frame; identical for the same (cfg, seed).

    `evaluation_share` is the share of queries the split will put in valid + test: the held-out
    vocabulary queries are `open_vocabulary_share` of those."""
    rng = np.random.default_rng(seed)
    tab = tables()
    cat = make_catalog(cfg.products, rng)
    queries = _queries(cfg, cat, tab, rng, cfg.open_vocabulary_share * evaluation_share, seed)
    qid, pid, gain = [], [], []
    for j, (spec, q, _, _) in enumerate(queries):
        idx = _candidates(spec, q, cat, tab, cfg.candidates_per_query, rng)
        qid.append(np.full(len(idx), j))
        pid.append(idx)
        gain.append(judge(spec, cat, tab, idx))
    rows_q, rows_p = np.concatenate(qid), np.concatenate(pid)
    qids = np.array([f"Q{j:05d}" for j in range(len(queries))], dtype=object)
    qtext = np.array([q for _, q, _, _ in queries], dtype=object)
    groups = np.array([group_key(spec) for spec, _, _, _ in queries], dtype=object)
    hints = np.array([hint for _, _, _, hint in queries], dtype=object)
    titles, descriptions = np.array(cat.title, dtype=object), np.array(cat.description, dtype=object)
    frame = pd.DataFrame(
        {
            "query_id": qids[rows_q],
            "query": qtext[rows_q],
            "product_id": np.char.add("P", np.char.zfill(rows_p.astype(str), 6)).astype(object),
            "title": titles[rows_p],
            "description": descriptions[rows_p],
            "gain": np.concatenate(gain),
            GROUP_COLUMN: groups[rows_q],
            SPLIT_COLUMN: hints[rows_q],
        },
        columns=[*COLUMNS, GROUP_COLUMN, SPLIT_COLUMN],
    )
    query_log = pd.DataFrame(
        {
            "query_id": qids,
            "query": qtext,
            "intent": [i for _, _, i, _ in queries],
            "base_intent": [s.intent for s, _, _, _ in queries],
            GROUP_COLUMN: groups,
            SPLIT_COLUMN: hints,
        }
    )
    return SyntheticSet(catalog=cat.frame(tab), queries=query_log, frame=frame)


def generate(cfg: SyntheticConfig, seed: int, evaluation_share: float = 0.2) -> pd.DataFrame:
    """The ranking frame (schema.COLUMNS plus group_id and split_hint) of the synthetic set for `seed`."""
    return generate_parts(cfg, seed, evaluation_share).frame
