"""How crowded the tokenizer's id space is on real text: the figure that sizes it.

hashed: every distinct key (a word, or a character n-gram the tokenizer keeps) is hashed into
`buckets - 5` ids; a key *collides* when another distinct key lands on its id, so the model cannot tell
them apart. wordpiece: nothing collides, but a word can fall to [UNK] or need more pieces than its slot
holds (the rest is cut).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from model.text.tokenizer import RESERVED_IDS, Tokenizer
from model.text.wordpiece import UNK_ID, encode_word


def saturation(tokenizer: Tokenizer, texts: Iterable[str]) -> dict[str, float]:
    """Figures over the distinct words of `texts` (and, weighted by occurrences, over the words)."""
    counts: Counter[str] = Counter()
    limit = max(tokenizer.max_query_words, tokenizer.max_product_words)
    for text in texts:
        counts.update(tokenizer.words(text, limit))
    out: dict[str, float] = {"distinct_words": len(counts), "id_space": tokenizer.buckets - RESERVED_IDS}
    if tokenizer.kind != "hashed":  # the word's identity is its pieces (hybrid n-grams aside)
        pieces = {w: encode_word(w, tokenizer._index) for w in counts}
        unk = {w for w, p in pieces.items() if p == [UNK_ID]}
        cut = {w for w, p in pieces.items() if len(p) > tokenizer.subtokens}
        used = {i for p in pieces.values() for i in p}
        total = sum(counts.values())
        out.update(
            ids_used=len(used),
            unknown_word_rate=len(unk) / max(len(counts), 1),
            unknown_occurrence_rate=sum(counts[w] for w in unk) / max(total, 1),
            truncated_word_rate=len(cut) / max(len(counts), 1),
            pieces_per_word=sum(len(p) for p in pieces.values()) / max(len(counts), 1),
        )
        return out
    keys: dict[tuple[str, str], int] = {}
    for word in counts:
        ids = tokenizer.word_ids(word)
        keys[("w", word)] = ids[0]
        keys.update(((("g", g), i) for g, i in zip(tokenizer.grams(word), ids[1:], strict=True)))
    per_id = Counter(keys.values())
    word_per_id = Counter(keys[("w", w)] for w in counts)
    shared = [w for w in counts if per_id[keys[("w", w)]] > 1]
    total = sum(counts.values())
    out.update(
        distinct_keys=len(keys),
        ids_used=len(per_id),
        # A word whose id another word also has: the model cannot tell the two apart by that id.
        word_word_collision_rate=sum(1 for w in counts if word_per_id[keys[("w", w)]] > 1)
        / max(len(counts), 1),
        # ... or any other key (word or n-gram) also has.
        word_collision_rate=len(shared) / max(len(counts), 1),
        occurrence_collision_rate=sum(counts[w] for w in shared) / max(total, 1),
        key_collision_rate=sum(1 for i in keys.values() if per_id[i] > 1) / max(len(keys), 1),
    )
    return out
