"""The hashed tokenizer: stable ids, misspelling robustness, layout, persistence, bad settings."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from model.text.tokenizer import (
    CLS_ID,
    EXACT_ID,
    FUZZY_ID,
    RESERVED_IDS,
    SEP_ID,
    Tokenizer,
    TokenizerError,
    product_text,
)

REPO = Path(__file__).resolve().parents[3]
SETTINGS = {
    "buckets": 4096,
    "ngram_min": 3,
    "ngram_max": 4,
    "subtokens_per_word": 6,
    "max_query_words": 4,
    "max_product_words": 6,
    "lowercase": True,
    "match_markers": True,
}


def make(**changes: object) -> Tokenizer:
    return Tokenizer({**SETTINGS, **changes})


def test_shape_dtype_and_fixed_slots() -> None:
    tokens = make().encode("red shoe", ["red running shoe", "lamp", ""])
    assert tokens.shape == (3, 2 + 4 + 6, 6) and tokens.dtype == np.int32
    assert (tokens[:, 0, 0] == CLS_ID).all() and (tokens[:, 0, 1:] == 0).all()
    assert (tokens[:, 5, 0] == SEP_ID).all()  # after the 4 query slots, whatever the query length
    assert (tokens[:, 3:5] == 0).all()  # unused query slots are padding
    assert (tokens[0, 6:9, 0] != 0).all() and (tokens[0, 9:] == 0).all()
    assert (tokens[2, 6:] == 0).all()  # empty product text: only padding
    assert (tokens[tokens > 0] < 4096).all()


def test_word_ids_are_crc32_of_the_word() -> None:
    # Worked out by hand: a word's first sub-token is RESERVED + crc32("w\0" + word) mod (buckets - RESERVED).
    expected = RESERVED_IDS + zlib.crc32(b"w\x00shoe") % (4096 - RESERVED_IDS)
    assert make().word_ids("shoe")[0] == expected


def test_ids_are_stable_across_processes() -> None:
    """Python's str hash is salted per process; ours must not be (training and serving are different
    processes, on different machines)."""
    code = (
        "import json, sys; from model.text.tokenizer import Tokenizer;"
        f"t = Tokenizer({SETTINGS!r});"
        "print(json.dumps(t.encode('Blue Wi-Fi keybaord', ['wireless keyboard, blue']).tolist()))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    here = make().encode("Blue Wi-Fi keybaord", ["wireless keyboard, blue"]).tolist()
    assert json.loads(runs[0]) == json.loads(runs[1]) == here


def test_misspelling_shares_ngrams_with_the_correct_word() -> None:
    # With room for every n-gram: "<cat>" and "<cart>" share exactly one 3-gram, "<ca" (by hand:
    # {<ca, cat, at>} vs {<ca, car, art, rt>}); "dog" shares none.
    tok = make(subtokens_per_word=16, ngram_min=3, ngram_max=3)
    cat, cart, dog = (set(tok.word_ids(w)[1:]) for w in ("cat", "cart", "dog"))
    assert len(cat & cart) == 1 and not cat & dog
    # Default-sized rows keep shared n-grams for a typical typo.
    tok = make()
    assert set(tok.word_ids("keyboard")[1:]) & set(tok.word_ids("keybaord")[1:])


def test_match_markers_exact_and_fuzzy() -> None:
    tok = make()
    tokens = tok.encode("wireless keybaord", ["keyboard wireless mouse"])[0]
    start = 2 + 4
    assert tokens[start + 1, 1] == EXACT_ID  # "wireless" in the product
    assert tokens[start, 1] == FUZZY_ID  # "keyboard" is one swap from "keybaord"
    assert EXACT_ID not in tokens[start + 2] and FUZZY_ID not in tokens[start + 2]  # "mouse"
    assert tokens[1, 1] == EXACT_ID and tokens[2, 1] == FUZZY_ID  # the query side is marked too
    # Short words are never fuzzy ("cat"/"car" are different products).
    assert FUZZY_ID not in tok.encode("cat", ["car"])[0, :, 1]
    plain = make(match_markers=False).encode("wireless keybaord", ["keyboard wireless mouse"])
    assert not np.isin(plain[..., 1:], [EXACT_ID, FUZZY_ID]).any()


def test_prepared_product_serves_every_query() -> None:
    """Serving caches `prepare(text)` per product and reuses it across queries: the query-dependent match
    markers must come from `encode_prepared`, never be written into the shared rows."""
    tok = make()
    text = "keyboard wireless mouse"
    product = tok.prepare(text)
    assert product.words == ("keyboard", "wireless", "mouse") and product.rows.shape == (3, 6)
    assert tuple(product.rows[1]) == tok.row("wireless")  # unmarked: its word hash, then n-grams
    for query in ("wireless keybaord", "lamp", "mouse mouse", ""):
        assert (tok.encode_prepared(query, [product, product]) == tok.encode(query, [text, text])).all()
    assert EXACT_ID not in product.rows and not product.rows.flags.writeable
    assert tok.prepare("").rows.shape == (0, 6)


def test_unicode_normalisation_and_case() -> None:
    tok = make()
    # NFKC folds full-width letters; lowercasing folds case.
    assert (tok.encode("ＳＨＯＥ", ["Shoe"]) == tok.encode("shoe", ["shoe"])).all()
    assert tok.words("Café-Crème, 2-Pack!", 10) == ["café", "crème", "2", "pack"]


def test_long_text_is_truncated_quickly() -> None:
    tok = make()
    huge = "word " * 200_000 + "x" * 1_000_000
    tokens = tok.encode(huge, [huge])
    assert tokens.shape == (1, 12, 6)
    assert tok.words("a" * 10_000, 5) == ["a" * 32]


def test_encode_no_candidates() -> None:
    assert make().encode("shoe", []).shape == (0, 12, 6)


def test_non_text_input_is_named() -> None:
    with pytest.raises(TokenizerError, match="query must be a string, got NoneType"):
        make().encode(None, ["shoe"])  # type: ignore[arg-type]
    with pytest.raises(TokenizerError, match="product text 1 must be a string, got float"):
        make().encode("shoe", ["red shoe", float("nan")])  # type: ignore[list-item]
    assert product_text("Red Shoe", float("nan")) == "Red Shoe"  # type: ignore[arg-type]


def test_product_text_uses_title_then_first_description_words() -> None:
    assert product_text("Red Shoe") == "Red Shoe"
    assert product_text("Red Shoe", "") == "Red Shoe"
    long = " ".join(f"w{i}" for i in range(20))
    assert product_text("Red Shoe", long) == "Red Shoe w0 w1 w2 w3 w4 w5 w6 w7"


def test_json_round_trip_gives_identical_tokens(tmp_path: Path) -> None:
    tok = make()
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    loaded = Tokenizer.load(path)
    assert loaded.settings == tok.settings
    texts = ["Zenith Espresso Machine - Brown", "mug", ""]
    assert (loaded.encode("brown expresso maker", texts) == tok.encode("brown expresso maker", texts)).all()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({**SETTINGS, "buckets": 10}, "buckets must be >= 64"),
        ({**SETTINGS, "lowercase": 1}, "lowercase must be bool"),
        ({**SETTINGS, "buckets": True}, "buckets must be int"),
        ({**SETTINGS, "ngram_min": 5}, "ngram_max must be >= ngram_min"),
        ({**SETTINGS, "colour": 1}, "unknown key 'colour'"),
        ({k: v for k, v in SETTINGS.items() if k != "buckets"}, "missing key 'buckets'"),
        ([1, 2], "must be a mapping"),
    ],
)
def test_bad_settings_are_named(settings: object, message: str) -> None:
    with pytest.raises(TokenizerError, match=message):
        Tokenizer(settings)  # type: ignore[arg-type]


def test_bad_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"tokenizer\.json: not valid JSON"):
        Tokenizer.load(bad)
    bad.write_text(json.dumps({"format": "rankship-hash-tokenizer", "version": 99, "settings": {}}))
    with pytest.raises(TokenizerError, match="format version 99 unsupported"):
        Tokenizer.load(bad)
    bad.write_text(
        json.dumps({"format": "rankship-hash-tokenizer", "version": 1, "settings": {"buckets": 1}})
    )
    with pytest.raises(TokenizerError, match=r"tokenizer\.json: tokenizer settings: buckets must be >= 64"):
        Tokenizer.load(bad)
    with pytest.raises(TokenizerError, match="cannot read tokenizer"):
        Tokenizer.load(tmp_path / "absent.json")


def test_module_imports_without_tensorflow_or_pydantic() -> None:
    """The serving virtualenv has neither; importing model.text.tokenizer must not pull them in."""
    code = (
        "import sys; import model.text.tokenizer;"
        "bad = [m for m in ('tensorflow', 'pydantic', 'pandas') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
