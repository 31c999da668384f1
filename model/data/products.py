"""A seeded synthetic product catalog: structured attributes plus the title and description a shop shows.

Products are drawn uniformly over product types; each gets a brand from its category's brand list, a
colour, a material and a size from its type's (or category's) lists, and a price in the category's range.
The structured arrays are what the judge compares; the text is what rankers see.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from model.data.vocabulary import ProductType, Vocabulary, vocabulary
from model.evaluation.bm25 import tokens

BRANDS_PER_CATEGORY = 6
_ACRONYMS = {"tv": "TV", "pc": "PC", "usb-c": "USB-C", "led": "LED"}


@dataclass(frozen=True)
class Tables:
    """The vocabulary flattened into arrays indexed by type id, plus the relations as id sets."""

    vocab: Vocabulary
    types: tuple[ProductType, ...]
    type_names: tuple[str, ...]
    type_category: np.ndarray
    substitutes: tuple[np.ndarray, ...]
    complements: tuple[np.ndarray, ...]
    category_complements: tuple[np.ndarray, ...]
    fits: tuple[int, ...]  # -1: not an accessory
    materials: tuple[str, ...]
    sizes: tuple[str, ...]
    type_materials: tuple[np.ndarray, ...]
    type_sizes: tuple[np.ndarray, ...]  # empty: the type has no size
    word_types: dict[str, np.ndarray]  # word -> ids of the types whose name contains it


def _ids(names: tuple[str, ...], index: dict[str, int]) -> np.ndarray:
    return np.array(sorted({index[n] for n in names}), dtype=np.int64)


@lru_cache(maxsize=1)
def tables() -> Tables:
    vocab = vocabulary()
    types = [(ci, t) for ci, c in enumerate(vocab.categories) for t in c.types]
    index = {t.name: i for i, (_, t) in enumerate(types)}
    materials = sorted(
        {m for c in vocab.categories for m in c.materials} | {m for _, t in types for m in t.materials}
    )
    sizes = sorted({s for c in vocab.categories for s in c.sizes} | {s for _, t in types for s in t.sizes})
    # Complements hold both ways: the phone is a complement of a "phone case" query too.
    comp: list[set[str]] = [set(t.complements) | ({t.fits} if t.fits else set()) for _, t in types]
    subs: list[set[str]] = [set(t.substitutes) for _, t in types]
    for i, (_, t) in enumerate(types):
        for other in comp[i]:
            comp[index[other]].add(t.name)
        for other in subs[i]:
            subs[index[other]].add(t.name)
    category = np.array([ci for ci, _ in types], dtype=np.int64)
    comps = tuple(_ids(tuple(c), index) for c in comp)
    cat_comps = tuple(
        np.setdiff1d(
            np.concatenate([comps[i] for i in np.flatnonzero(category == ci)]), np.flatnonzero(category == ci)
        )
        for ci in range(len(vocab.categories))
    )
    words: dict[str, set[int]] = {}
    for i, (_, t) in enumerate(types):
        for w in t.name.replace("-", " ").split():
            words.setdefault(w, set()).add(i)
    m_index, s_index = {m: i for i, m in enumerate(materials)}, {s: i for i, s in enumerate(sizes)}
    return Tables(
        vocab=vocab,
        types=tuple(t for _, t in types),
        type_names=tuple(t.name for _, t in types),
        type_category=category,
        substitutes=tuple(_ids(tuple(s), index) for s in subs),
        complements=comps,
        category_complements=cat_comps,
        fits=tuple(index[t.fits] if t.fits else -1 for _, t in types),
        materials=tuple(materials),
        sizes=tuple(sizes),
        type_materials=tuple(_ids(t.materials or vocab.categories[ci].materials, m_index) for ci, t in types),
        type_sizes=tuple(_ids(t.sizes or vocab.categories[ci].sizes, s_index) for ci, t in types),
        word_types={w: np.array(sorted(ids), dtype=np.int64) for w, ids in words.items()},
    )


def display(name: str) -> str:
    """Title case as shops write it: "tv mount" -> "TV Mount", "t-shirt" -> "T-Shirt"."""
    return " ".join(_ACRONYMS.get(w, w.title() if "-" in w else w.capitalize()) for w in name.split())


@dataclass(frozen=True)
class Catalog:
    type: np.ndarray
    category: np.ndarray
    brand: np.ndarray
    colour: np.ndarray
    material: np.ndarray
    size: np.ndarray  # -1: no size
    price: np.ndarray
    title: list[str]
    description: list[str]
    by_type: tuple[np.ndarray, ...]
    by_category: tuple[np.ndarray, ...]
    by_brand: tuple[np.ndarray, ...]
    postings: dict[str, np.ndarray]

    def frame(self, tab: Tables) -> pd.DataFrame:
        """A readable table of the catalog (for inspection and tests; the pipeline uses the ranking frame)."""
        vocab = tab.vocab
        return pd.DataFrame(
            {
                "product_id": [f"P{i:06d}" for i in range(len(self.type))],
                "category": [vocab.categories[c].name for c in self.category],
                "type": [tab.type_names[t] for t in self.type],
                "brand": [vocab.brands[b] for b in self.brand],
                "colour": [vocab.colours[c] for c in self.colour],
                "material": [tab.materials[m] for m in self.material],
                "size": [tab.sizes[s] if s >= 0 else "" for s in self.size],
                "price": self.price,
                "title": self.title,
                "description": self.description,
            }
        )


def _title(brand: str, colour: str, material: str, kind: str, size: str, form: int) -> str:
    # Three layouts seen in real listings, so position alone never tells an attribute apart.
    if form == 0:
        head = f"{brand} {colour.capitalize()} {material.title()} {kind}"
        return f"{head}, {size}" if size else head
    if form == 1:
        tail = ", ".join(x for x in (colour.capitalize(), material.title(), size) if x)
        return f"{brand} {kind} - {tail}"
    head = f"{brand} {material.title()} {kind} in {colour.capitalize()}"
    return f"{head} ({size})" if size else head


def _kind(tab: Tables, t: int, cat_brands: list[np.ndarray], rng: np.random.Generator) -> str:
    """The type as titled; an accessory names what it fits, often with that product's brand
    ("Phone Case for Acme Smartphone"): the query words of a "acme smartphone" search, on a complement."""
    kind, target = display(tab.type_names[t]), tab.fits[t]
    if target < 0:
        return kind
    brand = tab.vocab.brands[int(rng.choice(cat_brands[int(tab.type_category[target])]))] + " "
    return f"{kind} for {brand if rng.random() < 0.6 else ''}{display(tab.type_names[target])}"


def _description(tab: Tables, i: int, c: Catalog, rng: np.random.Generator) -> str:
    vocab, t = tab.vocab, int(c.type[i])
    cat, ptype = vocab.categories[int(c.category[i])], tab.types[t]
    size = f" Size: {tab.sizes[c.size[i]]}." if c.size[i] >= 0 else ""
    text = (
        f"{display(ptype.name)} by {vocab.brands[c.brand[i]]} in {vocab.colours[c.colour[i]]}, made of "
        f"{tab.materials[c.material[i]]}.{size} Price ${c.price[i]:.2f}. Department: {cat.path}."
    )
    # Lines real listings carry: other colours on offer, a shopper's word for the type, a cross-sell.
    # Each puts query words on products that do not match them, which misleads bag-of-words rankers.
    if rng.random() < 0.5:
        others = rng.choice(
            [x for x in vocab.colours if x != vocab.colours[c.colour[i]]], size=2, replace=False
        )
        text += f" Also available in {others[0]} and {others[1]}."
    sizes = [tab.sizes[x] for x in tab.type_sizes[t] if x != c.size[i]]
    if sizes and rng.random() < 0.5:
        text += f" Other sizes: {', '.join(sizes)}."
    if rng.random() < 0.1:
        text += f" Also known as {rng.choice(list(ptype.synonyms))}."
    if len(tab.complements[t]) and rng.random() < 0.5:
        text += f" Pairs well with our {tab.type_names[int(rng.choice(tab.complements[t]))]}."
    return text


def _postings(texts: list[str]) -> dict[str, np.ndarray]:
    """Inverted index word -> ids of the products whose text contains it (the lexical retriever's view)."""
    lists: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        for word in set(tokens(text)):
            lists.setdefault(word, []).append(i)
    return {w: np.array(ids, dtype=np.int64) for w, ids in lists.items()}


def make_catalog(n: int, rng: np.random.Generator) -> Catalog:
    tab, vocab = tables(), tables().vocab
    n_types = len(tab.type_names)
    ptype = rng.integers(n_types, size=n)
    brand, material, size = (np.full(n, -1, dtype=np.int64) for _ in range(3))
    price = np.zeros(n)
    cat_brands = [rng.choice(len(vocab.brands), BRANDS_PER_CATEGORY, replace=False) for _ in vocab.categories]
    for t in range(n_types):
        idx = np.flatnonzero(ptype == t)
        ci = int(tab.type_category[t])
        brand[idx] = rng.choice(cat_brands[ci], size=len(idx))
        material[idx] = rng.choice(tab.type_materials[t], size=len(idx))
        if len(tab.type_sizes[t]):
            size[idx] = rng.choice(tab.type_sizes[t], size=len(idx))
        lo, hi = vocab.categories[ci].price
        price[idx] = np.floor(rng.uniform(lo, hi, size=len(idx))) + 0.99
    colour = rng.integers(len(vocab.colours), size=n)
    category = tab.type_category[ptype]
    forms = rng.integers(3, size=n)
    titles = [
        _title(
            vocab.brands[brand[i]],
            vocab.colours[colour[i]],
            tab.materials[material[i]],
            _kind(tab, int(ptype[i]), cat_brands, rng),
            tab.sizes[size[i]] if size[i] >= 0 else "",
            forms[i],
        )
        for i in range(n)
    ]
    cat = Catalog(
        type=ptype,
        category=category,
        brand=brand,
        colour=colour,
        material=material,
        size=size,
        price=price,
        title=titles,
        description=[],
        by_type=tuple(np.flatnonzero(ptype == t) for t in range(n_types)),
        by_category=tuple(np.flatnonzero(category == c) for c in range(len(vocab.categories))),
        by_brand=tuple(np.flatnonzero(brand == b) for b in range(len(vocab.brands))),
        postings={},
    )
    cat.description.extend(_description(tab, i, cat, rng) for i in range(n))
    cat.postings.update(_postings([f"{a} {b}" for a, b in zip(titles, cat.description, strict=True)]))
    return cat
