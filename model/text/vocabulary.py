"""Fit the tokenizer to a catalog: a WordPiece vocabulary trained with Hugging Face `tokenizers`.

Training side only (the serving runtime reads the vocabulary from tokenizer.json and encodes with
model/text/wordpiece.py). The trainer sees the words exactly as the tokenizer splits them (NFKC,
lowercase, the same word pattern), so every trained piece can occur at encoding time.

What the vocabulary is trained on is the caller's choice; the pipeline passes the catalog's product
texts and the *training* split's queries (never validation or test queries).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from model.text.tokenizer import Tokenizer
from model.text.wordpiece import CONTINUATION, MAX_INPUT_CHARS, SPECIAL_TOKENS


def _words(tokenizer: Tokenizer, texts: Iterable[str], limit: int) -> Iterator[str]:
    for text in texts:
        yield " ".join(tokenizer.words(text, limit))


def train_wordpiece(tokenizer: Tokenizer, texts: Iterable[str], vocab_size: int) -> list[str]:
    """A vocabulary (index = id) of at most `vocab_size` pieces, SPECIAL_TOKENS first."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, pre_tokenizers, trainers

    hf = HFTokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=MAX_INPUT_CHARS))
    hf.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        continuing_subword_prefix=CONTINUATION,
        show_progress=False,
    )
    limit = max(tokenizer.max_query_words, tokenizer.max_product_words)
    hf.train_from_iterator(_words(tokenizer, texts, limit), trainer)
    by_id = sorted(hf.get_vocab().items(), key=lambda kv: kv[1])
    vocab = [piece for piece, _ in by_id]
    if [i for _, i in by_id] != list(range(len(vocab))) or tuple(
        vocab[: len(SPECIAL_TOKENS)]
    ) != SPECIAL_TOKENS:
        raise RuntimeError("tokenizers returned a vocabulary with gaps or misplaced special tokens")
    return vocab


def fit_tokenizer(config: Any, texts: Sequence[str]) -> Tokenizer:
    """The tokenizer `config` (a TokenizerConfig) describes, fitted to `texts` when it has a vocabulary."""
    hashed = Tokenizer.from_config(config.model_copy(update={"kind": "hashed"}))
    if config.kind == "hashed":
        return hashed  # nothing to fit
    return Tokenizer.from_config(config, vocab=train_wordpiece(hashed, texts, config.vocab_size))
