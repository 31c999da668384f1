"""WordPiece: the serving-side encoder equals Hugging Face `tokenizers` on the catalogs; vocabulary
training, persistence and saturation figures."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from pathlib import Path

import pytest
from tokenizers import models

from model.config import TokenizerConfig
from model.text.features import fit_texts
from model.text.saturation import saturation
from model.text.tokenizer import Tokenizer, TokenizerError
from model.text.vocabulary import fit_tokenizer
from model.text.wordpiece import SPECIAL_TOKENS, UNK_ID, encode_word
from tests.model.text.catalogs import CATALOGS, catalog

# Padded to the smallest id space a tokenizer takes (64) with pieces no test word uses.
VOCAB = [
    *SPECIAL_TOKENS,
    "shoe",
    "s",
    "##s",
    "##ing",
    "run",
    "r",
    "##u",
    "##n",
    *(f"#{i}" for i in range(50)),
]
INDEX = {p: i for i, p in enumerate(VOCAB)}


def test_greedy_longest_match_worked_by_hand() -> None:
    assert encode_word("shoes", INDEX) == [6, 8]  # shoe + ##s
    assert encode_word("running", INDEX) == [10, 13, 9]  # run + ##n + ##ing
    assert encode_word("sun", INDEX) == [7, 12, 13]  # s + ##u + ##n
    assert encode_word("shoex", INDEX) == [UNK_ID]  # "##x" has no piece: the whole word is unknown
    assert encode_word("x" * 101, INDEX) == [UNK_ID]


@pytest.mark.parametrize("name", CATALOGS)
def test_encoder_equals_the_library_on_the_catalog(name: str) -> None:
    frame = catalog(name)
    tok = fit_tokenizer(TokenizerConfig(kind="wordpiece", vocab_size=2048), fit_texts(frame))
    assert tok.vocab is not None and len(tok.vocab) <= 2048
    library = models.WordPiece({p: i for i, p in enumerate(tok.vocab)}, unk_token="[UNK]")
    words = {w for text in fit_texts(frame) for w in tok.words(text, 64)}
    # Words never seen in training too: misspellings and foreign characters.
    words |= {w[::-1] for w in list(words)[:500]} | {"ß" + w for w in list(words)[:100]}
    for word in sorted(words):
        assert encode_word(word, tok._index) == [t.id for t in library.tokenize(word)], word


def test_wordpiece_tokenizer_round_trips_through_json(tmp_path: Path) -> None:
    frame = catalog("synthetic")
    tok = fit_tokenizer(TokenizerConfig(kind="wordpiece", vocab_size=512), fit_texts(frame))
    tok.save(tmp_path / "tokenizer.json")
    loaded = Tokenizer.load(tmp_path / "tokenizer.json")
    assert loaded.vocab == tok.vocab and loaded.buckets == len(tok.vocab)
    assert (loaded.encode("blue sofa", ["a blue sofa"]) == tok.encode("blue sofa", ["a blue sofa"])).all()
    doc = json.loads((tmp_path / "tokenizer.json").read_text())
    doc["vocab"] = doc["vocab"][1:]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(TokenizerError, match=r"bad\.json: tokenizer: vocab must start with"):
        Tokenizer.load(tmp_path / "bad.json")


def test_hashed_files_keep_format_version_1() -> None:
    """Bundles made before wordpiece existed keep their bytes (and so their ids)."""
    doc = json.loads(Tokenizer.from_config(TokenizerConfig(kind="hashed")).to_json())
    assert doc["version"] == 1 and "kind" not in doc["settings"] and "vocab" not in doc


def test_saturation_of_a_tiny_hash_space_worked_by_hand() -> None:
    settings = {
        "buckets": 64 + 5,  # 64 usable ids
        "ngram_min": 3,
        "ngram_max": 3,
        "subtokens_per_word": 1,  # the word id only: keys = words
        "max_query_words": 4,
        "max_product_words": 4,
        "lowercase": True,
        "match_markers": False,
    }
    words = [f"w{i}" for i in range(200)]
    figures = saturation(Tokenizer(settings), [*words, *words[:10]])
    # Worked out independently: the id of a word is 5 + crc32("w\0" + word) mod 64.
    ids = Counter(zlib.crc32(f"w\x00{w}".encode()) % 64 for w in words)
    shared = sum(1 for w in words if ids[zlib.crc32(f"w\x00{w}".encode()) % 64] > 1)
    assert figures["distinct_words"] == 200 and figures["ids_used"] == len(ids) <= 64
    assert figures["word_collision_rate"] == shared / 200 > 0.8  # 200 keys in 64 ids: most share
    single = saturation(Tokenizer(settings), ["w1"])
    assert single["word_collision_rate"] == 0.0 and single["ids_used"] == 1


def test_wordpiece_saturation_counts_unknown_words() -> None:
    tok = Tokenizer(
        {
            **json.loads(Tokenizer.from_config(TokenizerConfig(kind="hashed")).to_json())["settings"],
            "kind": "wordpiece",
            "buckets": len(VOCAB),
        },
        VOCAB,
    )
    figures = saturation(tok, ["shoes running zebra zebra"])
    assert figures["distinct_words"] == 3
    assert figures["unknown_word_rate"] == pytest.approx(1 / 3)
    assert figures["unknown_occurrence_rate"] == pytest.approx(2 / 4)


def test_hybrid_rows_are_pieces_then_ngrams_after_the_vocabulary() -> None:
    settings = json.loads(Tokenizer.from_config(TokenizerConfig(kind="hashed")).to_json())["settings"]
    tok = Tokenizer(
        {**settings, "kind": "hybrid", "buckets": len(VOCAB) + 1000, "subtokens_per_word": 4}, VOCAB
    )
    # "running" = run ##n ##ing, but at most half of the 4 slots hold pieces; the rest are n-grams of
    # "<running>" hashed into the 1000 ids after the vocabulary (ids len(VOCAB) .. len(VOCAB) + 999).
    ids = tok.word_ids("running")
    assert ids[:2] == (10, 13) and len(ids) == 4
    grams = tok.grams("running")[:2]
    assert list(ids[2:]) == [len(VOCAB) + zlib.crc32(f"g\x00{g}".encode()) % 1000 for g in grams]
    with pytest.raises(TokenizerError, match="must exceed the vocab size"):
        Tokenizer({**settings, "kind": "hybrid", "buckets": len(VOCAB)}, VOCAB)
