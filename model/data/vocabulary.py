"""The catalog vocabulary behind the synthetic generator, read from `catalog.yaml` beside this file.

The relations are what make the synthetic labels need semantics rather than word overlap:
- `synonyms` are words shoppers type that titles do not contain ("sneakers" for running shoes), so BM25
  scores the exact matches of a synonym query near zero while a learned model can map one to the other;
- `substitutes` serve the same need (graded S); `complements` are bought together (graded C, both ways);
- `fits` makes an accessory's title say "for <target>", so "phone case for smartphone" shares the query
  words of a "smartphone" query yet is only a complement;
- many type names share words on purpose ("coffee table" / "coffee maker" / "coffee mug", "bath mat" /
  "yoga mat", "sleeping bag" / "tote bag"): hard negatives that BM25 ranks high.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProductType(_Frozen):
    name: str
    synonyms: tuple[str, ...] = Field(min_length=1)
    substitutes: tuple[str, ...] = ()
    complements: tuple[str, ...] = ()
    fits: str | None = None
    # Empty: the category's lists apply.
    materials: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()


class Category(_Frozen):
    name: str
    path: str
    queries: tuple[str, ...] = Field(min_length=1)
    materials: tuple[str, ...] = Field(min_length=1)
    # Empty: products of this category have no size (small appliances, tools).
    sizes: tuple[str, ...]
    price: tuple[float, float]
    types: tuple[ProductType, ...] = Field(min_length=2)


class Vocabulary(_Frozen):
    colours: tuple[str, ...] = Field(min_length=2)
    colour_synonyms: dict[str, tuple[str, ...]] = {}
    brands: tuple[str, ...] = Field(min_length=8)
    # Words a shopper adds that say nothing about the product; they never change a label.
    query_noise: tuple[str, ...]
    categories: tuple[Category, ...] = Field(min_length=20)

    @model_validator(mode="after")
    def _references_exist(self) -> Vocabulary:
        names = [t.name for c in self.categories for t in c.types]
        if len(set(names)) != len(names):
            raise ValueError("product type names must be unique")
        unknown_colours = set(self.colour_synonyms) - set(self.colours)
        if unknown_colours:
            raise ValueError(f"colour_synonyms name unknown colours {sorted(unknown_colours)}")
        known = set(names)
        for c in self.categories:
            for t in c.types:
                refs = [*t.substitutes, *t.complements, *([t.fits] if t.fits else [])]
                unknown = [r for r in refs if r not in known]
                if unknown:
                    raise ValueError(f"type {t.name!r} refers to unknown types {unknown}")
        return self


@lru_cache(maxsize=1)
def vocabulary(path: Path = CATALOG_FILE) -> Vocabulary:
    """The parsed, cross-checked vocabulary (cached: the generator calls this once per run)."""
    return Vocabulary.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
