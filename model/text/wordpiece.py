"""WordPiece encoding of one word with a trained vocabulary (BERT's greedy longest-match-first).

The vocabulary is trained with Hugging Face `tokenizers` (model/text/vocabulary.py, training side only);
encoding a word with it is the dozen lines below, so the serving runtime needs no extra dependency.
tests/model/text/test_wordpiece.py checks these ids against the library's own WordPiece model on the
Crowdflower and synthetic catalogs. Stdlib only: imported by the serving runtime.
"""

from __future__ import annotations

from collections.abc import Mapping

# Ids 0..5 in this order in every vocabulary: the tokenizer's reserved ids, then the unknown piece.
SPECIAL_TOKENS = ("[PAD]", "[CLS]", "[SEP]", "[EXACT]", "[FUZZY]", "[UNK]")
UNK_ID = SPECIAL_TOKENS.index("[UNK]")
CONTINUATION = "##"
# The library's default: a longer word is one [UNK] (our words are cut at 32 characters anyway).
MAX_INPUT_CHARS = 100


def encode_word(word: str, index: Mapping[str, int]) -> list[int]:
    """Piece ids of `word`: the longest vocabulary prefix, then the longest "##"-continuation, and so
    on; the whole word is [UNK] when some remainder has no piece (as in BERT and `tokenizers`)."""
    if len(word) > MAX_INPUT_CHARS:
        return [UNK_ID]
    ids: list[int] = []
    start = 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = word[start:end] if start == 0 else CONTINUATION + word[start:end]
            found = index.get(piece)
            if found is not None:
                break
            end -= 1
        if found is None:
            return [UNK_ID]
        ids.append(found)
        start = end
    return ids


def check_vocab(vocab: object, source: str) -> list[str]:
    """A vocabulary list (index = id) with the special tokens first and no duplicates, or ValueError."""
    if not isinstance(vocab, list) or not all(isinstance(p, str) and p for p in vocab):
        raise ValueError(f"{source}: vocab must be a list of non-empty strings")
    if tuple(vocab[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
        raise ValueError(f"{source}: vocab must start with {list(SPECIAL_TOKENS)}")
    if len(set(vocab)) != len(vocab):
        raise ValueError(f"{source}: vocab has duplicate pieces")
    return vocab
